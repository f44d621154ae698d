/**
 * The job's command, environment, working directory and limits, built the way
 * ansible-runner 2.3.1 builds them for a worker: Worker.update_paths, then
 * interface.init_runner's dump_artifacts, then RunnerConfig.prepare
 * (SPEC.md §4.4). Every step that shows in the `starting` status or in the
 * `command` artifact follows the runner, including its quirks; deviations are
 * security limits and are called out where they happen.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PyValue } from '../protocol/pyjson.js';
import type { RunnerKwargs } from '../protocol/kwargs.js';
import { findDisplayCallbackDir } from './executables.js';
import { dumpArtifact, isFile, jsonForFile, loadMapping, loadText, pddPath, toPyObject } from './pdd-files.js';
import { args2cmdline, pyStr, shlexSplit } from './python-compat.js';
import { compilePasswordPrompts, type PasswordPrompt } from './passwords.js';
import { dumps } from '../protocol/pyjson.js';

export class JobConfigError extends Error {
  override name = 'JobConfigError';
}

export interface JobConfig {
  ident: string;
  privateDataDir: string;
  artifactDir: string;
  /** The command as reported (status `starting`, `command` artifact). */
  command: string[];
  cwd: string;
  /** Insertion-ordered like the runner's dict, since it is serialised as is. */
  env: Map<string, string>;
  jobTimeoutSeconds: number | null;
  idleTimeoutSeconds: number | null;
  suppressOutputFile: boolean;
  checkJobEventData: boolean;
  rotateArtifacts: number;
  passwordPrompts: PasswordPrompt[];
  /** Key for the ssh-agent wrapper, fed through a FIFO at `sshKeyFifo`. */
  sshKey: { data: string; fifo: string } | null;
}

export interface PrepareOptions {
  privateDataDir: string;
  kwargs: RunnerKwargs;
  /** The worker's own environment, which the runner copies into the job (os.environ.copy()). */
  baseEnv: NodeJS.ProcessEnv;
}

type Settings = Map<string, PyValue>;

function isEmptyValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false || value === 0) return true;
  if (typeof value === 'object') return Object.keys(value as object).length === 0;
  return false;
}

/** Keeps a name we put into a path from leaving its directory. */
function assertPathComponent(what: string, value: string): void {
  if (value === '' || value === '.' || value === '..' || value.includes('/') || value.includes('\0')) {
    throw new JobConfigError(`${what} ${JSON.stringify(value)} cannot be used as a directory name`);
  }
}

function assertInside(what: string, dir: string, root: string): void {
  const relative = path.relative(root, dir);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new JobConfigError(`${what} ${dir} is outside the private data dir ${root}; ajo only writes inside it`);
  }
}

function settingNumber(settings: Settings, key: string): number | null {
  const value = settings.get(key);
  if (value === undefined || value === null || value === false || value === 0) return null;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new JobConfigError(`env/settings ${key} must be a number of seconds, got ${pyStr(value)}`);
  return n;
}

function settingFlag(settings: Settings, key: string, fallback: boolean): boolean {
  const value = settings.get(key);
  return value === undefined ? fallback : !isEmptyValue(value);
}

/** Worker.update_paths: the transmit side's relative paths are taken inside the worker's private data dir. */
function updatePaths(kwargs: RunnerKwargs, pdd: string): RunnerKwargs {
  const adjusted: RunnerKwargs = { ...kwargs };
  const roles = kwargs.envvars?.['ANSIBLE_ROLES_PATH'];
  if (kwargs.envvars && roles !== undefined) {
    adjusted.envvars = { ...kwargs.envvars, ANSIBLE_ROLES_PATH: path.join(pdd, 'roles', String(roles)) };
  }
  if (typeof kwargs.inventory === 'string' && kwargs.inventory) adjusted.inventory = path.join(pdd, kwargs.inventory);
  else if (Array.isArray(kwargs.inventory)) adjusted.inventory = kwargs.inventory.map((i) => path.join(pdd, i));
  else if (kwargs.inventory && typeof kwargs.inventory === 'object') {
    throw new JobConfigError('inventory must be a path (or a list of paths) inside the private data dir, not a mapping');
  }
  return adjusted;
}

/**
 * interface.init_runner's dump_artifacts: API values for env files become
 * files under env/ (unless one is already there) and leave the kwargs, so the
 * command then reads them from the files (`-e @env/extravars`).
 */
function dumpArtifacts(kwargs: RunnerKwargs, pdd: string): RunnerKwargs {
  const adjusted: RunnerKwargs = { ...kwargs };
  const envDir = path.join(pdd, 'env');
  if (typeof adjusted.inventory === 'string' && adjusted.inventory && !existsSync(adjusted.inventory)) {
    // 2.3.1 writes the (missing) inventory path itself as inventory/hosts.
    adjusted.inventory = dumpArtifact(adjusted.inventory, path.join(pdd, 'inventory'), 'hosts');
  }
  if (adjusted.suppress_env_files) return adjusted;
  for (const key of ['envvars', 'extravars', 'passwords', 'settings'] as const) {
    const value = adjusted[key];
    if (!isEmptyValue(value) && !existsSync(path.join(envDir, key))) {
      dumpArtifact(jsonForFile(value), envDir, key);
      delete adjusted[key];
    }
  }
  for (const key of ['ssh_key', 'cmdline'] as const) {
    const value = adjusted[key];
    if (!isEmptyValue(value) && !existsSync(path.join(envDir, key))) {
      dumpArtifact(String(value), envDir, key);
      delete adjusted[key];
    }
  }
  return adjusted;
}

function loadSettings(kwargs: RunnerKwargs, pdd: string): Settings {
  const fromFile = loadMapping(pdd, 'env/settings');
  if (!isEmptyValue(kwargs.settings)) {
    // The runner merges the file over the API settings, but a missing file
    // makes it drop both (its except clause resets settings to {}).
    if (!fromFile) return new Map();
    const merged = toPyObject(kwargs.settings!);
    for (const [k, v] of fromFile) merged.set(k, v);
    return merged;
  }
  return fromFile ?? new Map();
}

function loadPasswords(kwargs: RunnerKwargs, pdd: string): Map<string, PyValue> | null {
  const fromFile = loadMapping(pdd, 'env/passwords');
  if (!isEmptyValue(kwargs.passwords)) {
    const merged = toPyObject(kwargs.passwords!);
    if (fromFile) for (const [k, v] of fromFile) merged.set(k, v);
    return merged;
  }
  return fromFile;
}

/**
 * Ansible's async jobs are written by async_wrapper to `~/.ansible_async`
 * expanded with $HOME, but looked up by async_status with the passwd home of
 * the user. When the two differ (HOME unset or changed, or an arbitrary uid
 * without a passwd entry, as in many Kubernetes pods) `async_status` reports
 * "could not find job". An absolute ANSIBLE_ASYNC_DIR is used verbatim by
 * both, so we set one in exactly those cases, leaving the runner's env
 * untouched when HOME already agrees with passwd.
 */
export function asyncDirOverride(env: Map<string, string>): string | null {
  if (env.has('ANSIBLE_ASYNC_DIR')) return null;
  const home = env.get('HOME');
  let passwdHome: string | null = null;
  try {
    passwdHome = os.userInfo().homedir || null;
  } catch {
    passwdHome = null;
  }
  if (home && passwdHome && path.resolve(home) === path.resolve(passwdHome)) return null;
  if (home && isWritableDir(home)) return path.join(path.resolve(home), '.ansible_async');
  const uid = process.getuid?.() ?? 'user';
  return path.join(os.tmpdir(), `ajo-ansible-async-${uid}`);
}

function isWritableDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && (os.userInfo().uid === 0 || (statSync(dir).mode & 0o200) !== 0);
  } catch {
    return false;
  }
}

/** `-e {"k":json,...}` exactly as RunnerConfig spells API extravars (keys are not escaped). */
function extravarsArgument(extravars: Record<string, unknown>): string {
  return '{' + Object.entries(extravars).map(([k, v]) => `"${k}":${dumps(v)}`).join(',') + '}';
}

export async function prepareJobConfig({ privateDataDir, kwargs: rawKwargs, baseEnv }: PrepareOptions): Promise<JobConfig> {
  const pdd = path.resolve(privateDataDir);
  mkdirSync(pdd, { recursive: true, mode: 0o700 });
  const kwargs = dumpArtifacts(updatePaths(rawKwargs, pdd), pdd);

  if (kwargs.playbook && kwargs.module) throw new JobConfigError('Only one of playbook and module options are allowed');

  const ident = kwargs.ident != null && kwargs.ident !== '' ? String(kwargs.ident) : randomUUID().replace(/-/g, '');
  assertPathComponent('ident', ident);
  const artifactsRoot = kwargs.artifact_dir ? path.resolve(pdd, kwargs.artifact_dir) : path.join(pdd, 'artifacts');
  assertInside('artifact_dir', artifactsRoot, pdd);
  const artifactDir = path.join(artifactsRoot, ident);
  mkdirSync(artifactDir, { recursive: true, mode: 0o700 });
  const projectDir = kwargs.project_dir ? path.resolve(pdd, kwargs.project_dir) : path.join(pdd, 'project');

  const factCacheType = kwargs.fact_cache_type === undefined ? 'jsonfile' : kwargs.fact_cache_type;
  let factCache = factCacheType === 'jsonfile' ? path.join(artifactDir, kwargs.fact_cache || 'fact_cache') : null;

  // ---- BaseConfig._prepare_env
  const settings = loadSettings(kwargs, pdd);
  const passwords = loadPasswords(kwargs, pdd);
  const jobTimeoutSeconds = kwargs.timeout ? Math.trunc(kwargs.timeout) : settingNumber(settings, 'job_timeout');
  const idleTimeoutSeconds = settingNumber(settings, 'idle_timeout');
  if (settingFlag(settings, 'process_isolation', kwargs.process_isolation ?? false)) {
    throw new JobConfigError('process_isolation (bwrap/podman/docker wrapping) is not supported by ajo; the job pod is the isolation');
  }

  const env = new Map<string, string>();
  for (const [k, v] of Object.entries(baseEnv)) if (v !== undefined) env.set(k, v);
  if (kwargs.envvars && !isEmptyValue(kwargs.envvars)) for (const [k, v] of Object.entries(kwargs.envvars)) env.set(k, pyStr(v));
  const fileEnvvars = loadMapping(pdd, 'env/envvars');
  if (fileEnvvars) for (const [k, v] of fileEnvvars) env.set(k, pyStr(v));

  const sshKeyData = kwargs.ssh_key ?? loadText(pdd, 'env/ssh_key');
  const sshKey = sshKeyData ? { data: sshKeyData, fifo: path.join(artifactDir, 'ssh_key_data') } : null;

  const suppressOutputFile = settingFlag(settings, 'suppress_output_file', false);
  if (settings.has('fact_cache')) {
    const viaSettings = path.join(artifactDir, pyStr(settings.get('fact_cache')));
    if (!settings.has('fact_cache_type') || settings.get('fact_cache_type') === 'jsonfile') factCache = viaSettings;
  }
  assertInside('fact_cache', factCache ?? artifactDir, artifactDir);

  const isAdhoc = kwargs.binary == null && kwargs.module != null;
  const baseProgram = kwargs.binary ?? (kwargs.module ? 'ansible' : 'ansible-playbook');
  const callbackDir =
    env.get('AWX_LIB_DIRECTORY') ??
    baseEnv.AWX_LIB_DIRECTORY ??
    baseEnv.AJO_DISPLAY_CALLBACK_DIR ??
    (await findDisplayCallbackDir([baseProgram, 'ansible-playbook'], env, existsSync(projectDir) ? projectDir : pdd));
  env.set('ANSIBLE_CALLBACK_PLUGINS', [env.get('ANSIBLE_CALLBACK_PLUGINS'), callbackDir].filter(Boolean).join(':'));
  const originalStdoutCallback = env.get('ANSIBLE_STDOUT_CALLBACK');
  if (originalStdoutCallback) env.set('ORIGINAL_STDOUT_CALLBACK', originalStdoutCallback);
  if (isAdhoc) {
    env.set('ANSIBLE_LOAD_CALLBACK_PLUGINS', '1');
    if (!env.has('AD_HOC_COMMAND_ID')) env.set('AD_HOC_COMMAND_ID', '1');
  }
  env.set('ANSIBLE_STDOUT_CALLBACK', 'awx_display');
  env.set('ANSIBLE_RETRY_FILES_ENABLED', 'False');
  if (!env.has('ANSIBLE_HOST_KEY_CHECKING')) env.set('ANSIBLE_HOST_KEY_CHECKING', 'False');
  env.set('AWX_ISOLATED_DATA_DIR', artifactDir);
  if (factCacheType === 'jsonfile') {
    env.set('ANSIBLE_CACHE_PLUGIN', 'jsonfile');
    env.set('ANSIBLE_CACHE_PLUGIN_CONNECTION', factCache!);
  }

  // ---- RunnerConfig.prepare_env
  const cwd = env.has('AD_HOC_COMMAND_ID') || !existsSync(projectDir) ? pdd : projectDir;
  if (kwargs.roles_path) env.set('ANSIBLE_ROLES_PATH', Array.isArray(kwargs.roles_path) ? kwargs.roles_path.join(':') : kwargs.roles_path);
  env.set('RUNNER_OMIT_EVENTS', pyStr(kwargs.omit_event_data ?? false));
  env.set('RUNNER_ONLY_FAILED_EVENTS', pyStr(kwargs.only_failed_event_data ?? false));
  const asyncDir = asyncDirOverride(env);
  if (asyncDir) env.set('ANSIBLE_ASYNC_DIR', asyncDir);

  // ---- prepare_inventory / prepare_command
  const inventory = kwargs.inventory ?? (existsSync(path.join(pdd, 'inventory')) ? path.join(pdd, 'inventory') : null);
  let command: string[];
  const argsOverride = loadText(pdd, 'args');
  if (argsOverride !== null) {
    command = splitOrFail('args', argsOverride);
  } else {
    if (!kwargs.binary && !kwargs.module && !kwargs.playbook) throw new JobConfigError('Runner playbook required when running ansible-playbook');
    command = [baseProgram];
    const cmdline = kwargs.cmdline || loadText(pdd, 'env/cmdline');
    if (cmdline) command.push(...splitOrFail('cmdline', cmdline));
    if (typeof inventory === 'string') command.push('-i', inventory);
    else if (Array.isArray(inventory)) for (const i of inventory) command.push('-i', i);
    if (kwargs.limit != null) command.push('--limit', kwargs.limit);
    if (isFile(pddPath(pdd, 'env/extravars'))) command.push('-e', `@${pddPath(pdd, 'env/extravars')}`);
    if (kwargs.extravars && !isEmptyValue(kwargs.extravars)) command.push('-e', extravarsArgument(kwargs.extravars));
    if (kwargs.verbosity) command.push('-' + 'v'.repeat(kwargs.verbosity));
    if (kwargs.tags) command.push('--tags', kwargs.tags);
    if (kwargs.skip_tags) command.push('--skip-tags', kwargs.skip_tags);
    if (kwargs.forks) command.push('--forks', String(kwargs.forks));
    if (!kwargs.binary) {
      if (kwargs.module) {
        command.push('-m', kwargs.module);
        if (kwargs.module_args != null) command.push('-a', kwargs.module_args);
        if (kwargs.host_pattern != null) command.push(kwargs.host_pattern);
      } else {
        command.push(kwargs.playbook!);
      }
    }
  }
  if (sshKey) {
    // wrap_args_with_ssh_agent: the trap removes the FIFO even when ssh-add fails.
    const cleanup = `rm -f ${sshKey.fifo}`;
    const script = [args2cmdline('trap', cleanup, 'EXIT'), args2cmdline('ssh-add', sshKey.fifo), cleanup, args2cmdline(...command)].join(' && ');
    command = ['ssh-agent', 'sh', '-c', script];
  }

  return {
    ident,
    privateDataDir: pdd,
    artifactDir,
    command,
    cwd,
    env,
    jobTimeoutSeconds,
    idleTimeoutSeconds,
    suppressOutputFile,
    checkJobEventData: kwargs.check_job_event_data ?? false,
    rotateArtifacts: kwargs.rotate_artifacts ?? 0,
    passwordPrompts: compilePasswordPrompts(passwords),
    sshKey,
  };
}

function splitOrFail(what: string, text: string): string[] {
  try {
    return shlexSplit(text);
  } catch (error) {
    throw new JobConfigError(`cannot split ${what} into words: ${(error as Error).message}`);
  }
}
