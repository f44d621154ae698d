// Where things are, and the environment every measured command runs in.
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const ajoCli = path.join(repoRoot, 'operator', 'dist', 'cli', 'main.js');
export const runnerBin = '/usr/bin/ansible-runner';
export const ansiblePlaybookBin = '/usr/bin/ansible-playbook';

/** Generated inputs survive between runs: they take minutes to make and must not change between tools. */
export const cacheDir = path.join(process.env.AJO_CACHE_DIR || path.join(homedir(), '.cache', 'ajo'), 'bench');

/**
 * The fixtures' scrubbed environment (SPEC.md): both workers copy their environment into the
 * stream, so an inherited environment would make the two tools' streams differ in size.
 */
export const scrubbedEnv = {
  HOME: process.env.HOME || homedir(),
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
};

/** The ajo CLI as a shell word list: node by absolute path, because PATH is scrubbed. */
export const ajo = (...args) => [process.execPath, ajoCli, ...args];
export const runner = (...args) => [runnerBin, ...args];

export const shellQuote = (word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${String(word).replace(/'/g, `'\\''`)}'`);
