/** Temporary directories that a test file removes when its tests are done. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TempDirs {
  /** A fresh directory, `<os tmpdir>/<prefix>XXXXXX`, with this file's prefix or another. */
  (prefix?: string): string;
  /** Remove this directory too (one a helper made elsewhere); returns it. */
  adopt(dir: string): string;
}

/**
 * Call at the top level of a test file (or in a describe): it registers an afterAll that
 * removes every directory made or adopted, whatever the tests left inside them.
 */
export function tempDirs(prefix: string): TempDirs {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const adopt = (dir: string): string => {
    made.push(dir);
    return dir;
  };
  return Object.assign((other?: string) => adopt(mkdtempSync(path.join(os.tmpdir(), other ?? prefix))), { adopt });
}
