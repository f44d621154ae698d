/** Temp dirs a test file makes, removed after its last test: some hold hundreds of megabytes. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Scratch {
  /** A new dir under the system's temp dir. */
  dir(prefix: string): string;
  /** A path something else made, to remove with the rest. */
  add(made: string): void;
}

/** Call once at the top of a test file: registers the afterAll that removes everything. */
export function scratchSpace(): Scratch {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: (prefix) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    add: (dir) => void made.push(dir),
  };
}
