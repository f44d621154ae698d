// Runs `ajo worker cleanup` as a real process through cli-harness.mjs, which
// imports the compiled CLI (operator/dist): run `npm run build` first.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = path.join(here, 'cli-harness.mjs');
const compiledCli = path.join(here, '../../operator/dist/cli/worker-cleanup.js');

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Run the CLI as another user (see unprivileged.ts); default: as this process. */
export interface RunAsUser {
  uid: number;
  gid: number;
}

export async function runCleanupCli(args: string[], env: NodeJS.ProcessEnv = {}, runAs?: RunAsUser): Promise<CliResult> {
  if (!existsSync(compiledCli)) throw new Error(`${compiledCli} is missing: run \`npm run build\` before the cleanup tests`);
  const result = await execa(process.execPath, [harness, 'cleanup', ...args], {
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    env: { ...env },
    extendEnv: true,
    reject: false,
    timeout: 120_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
}
