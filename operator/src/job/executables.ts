/**
 * Finding programs: `which` as pexpect does it (the job's own PATH), and the
 * directory of the `awx_display` callback shipped with the ansible-runner
 * that belongs to the Python running ansible.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * pexpect's `which(command, env)`: a name with a slash is checked as is
 * (relative to `cwd`), anything else is searched in the job's PATH.
 */
export function which(command: string, envPath: string | undefined, cwd: string): string | null {
  if (command.includes('/')) {
    const candidate = path.resolve(cwd, command);
    return isExecutableFile(candidate) ? command : null;
  }
  const searchPath = envPath ?? '/bin:/usr/bin';
  for (const dir of searchPath.split(':')) {
    const candidate = path.join(dir || '.', command);
    if (isExecutableFile(path.resolve(cwd, candidate))) return candidate;
  }
  return null;
}

/** The interpreter named by a script's `#!` line, resolving `/usr/bin/env NAME` through PATH. */
function shebangInterpreter(script: string, envPath: string | undefined, cwd: string): string | null {
  let head: string;
  try {
    const fd = openSync(script, 'r');
    try {
      const buffer = Buffer.alloc(256);
      head = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  if (!head.startsWith('#!')) return null;
  const words = head.slice(2).split('\n')[0]!.trim().split(/\s+/);
  const [interpreter, firstArg] = words;
  if (!interpreter) return null;
  if (path.basename(interpreter) === 'env' && firstArg) return which(firstArg, envPath, cwd);
  return interpreter;
}

export class DisplayCallbackNotFound extends Error {
  override name = 'DisplayCallbackNotFound';
}

const FIND_CALLBACK = [
  'import importlib.util, os, sys',
  // `python -c` puts the current directory first on sys.path; ansible-playbook (a script) does not.
  "sys.path[:] = [p for p in sys.path if p != '']",
  "spec = importlib.util.find_spec('ansible_runner')",
  "print(os.path.join(spec.submodule_search_locations[0], 'display_callback', 'callback') if spec else '')",
].join('\n');

/** What decides where a Python finds its packages, besides the interpreter itself. */
const IMPORT_ENV = ['PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYTHONNOUSERSITE', 'HOME'] as const;

/** Lookups by interpreter and import environment; a promise, so a prefetch and the real ask share one Python run. */
const callbackDirLookups = new Map<string, Promise<string | null>>();

function callbackDirOf(python: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  const key = JSON.stringify([python, ...IMPORT_ENV.map((name) => env[name] ?? null)]);
  let lookup = callbackDirLookups.get(key);
  if (!lookup) {
    lookup = askPython(python, env);
    callbackDirLookups.set(key, lookup);
  }
  return lookup;
}

async function askPython(python: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  try {
    // find_spec locates the package without importing it (importing ansible_runner is slow).
    const { stdout } = await execFileAsync(python, ['-c', FIND_CALLBACK], { env, timeout: 30_000 });
    const dir = stdout.trim();
    return dir && existsSync(path.join(dir, 'awx_display.py')) ? dir : null;
  } catch {
    return null;
  }
}

function candidatePythons(programs: string[], envPath: string | undefined, cwd: string): string[] {
  const pythons: string[] = [];
  for (const program of programs) {
    const resolved = which(program, envPath, cwd);
    const interpreter = resolved && shebangInterpreter(path.resolve(cwd, resolved), envPath, cwd);
    if (interpreter) pythons.push(interpreter);
  }
  for (const name of ['python3', '/usr/bin/python3']) {
    const resolved = which(name, envPath, cwd);
    if (resolved) pythons.push(resolved);
  }
  return [...new Set(pythons)];
}

/**
 * Start asking ansible-playbook's Python for the callback before the job is
 * known. Asking takes a Python start-up (~50-100 ms), which a worker would
 * otherwise spend between receiving its payload and starting the playbook;
 * started here, it overlaps with waiting for and unpacking the payload. The
 * job's own environment usually matches, and then findDisplayCallbackDir
 * reuses the answer; when it does not, it asks again.
 */
export function prefetchDisplayCallbackDir(env: NodeJS.ProcessEnv = process.env): void {
  if (env.AJO_DISPLAY_CALLBACK_DIR || env.AWX_LIB_DIRECTORY) return;
  const [python] = candidatePythons(['ansible-playbook'], env.PATH, process.cwd());
  if (python) void callbackDirOf(python, env);
}

/**
 * The callback must come from the ansible-runner installed next to the ansible
 * that runs the job: ask the Python of `programs` (first the job's binary,
 * then ansible-playbook, then python3 on the job's PATH) where its
 * ansible_runner package lives.
 */
export async function findDisplayCallbackDir(programs: string[], env: Map<string, string>, cwd: string): Promise<string> {
  const pythons = candidatePythons(programs, env.get('PATH'), cwd);
  const childEnv = Object.fromEntries(env);
  for (const python of pythons) {
    const dir = await callbackDirOf(python, childEnv);
    if (dir) return dir;
  }
  throw new DisplayCallbackNotFound(
    `cannot find the awx_display callback of ansible-runner (asked ${pythons.join(', ') || 'no Python found'}); ` +
      'install ansible-runner next to ansible, or set AJO_DISPLAY_CALLBACK_DIR to its display_callback/callback directory',
  );
}
