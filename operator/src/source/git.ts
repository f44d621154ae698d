/**
 * The git project of a compose: a shallow fetch of the revision into a checkout, with the
 * Secret's credentials handed to git through files and the environment (never the command
 * line or the URL), every failure classified (git-errors.ts) and the commit recorded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as z from 'zod';
import type { GitProject } from '../api/source.js';
import { ComposeError, invalidSource } from './errors.js';
import { classifyGitFailure, gitMessage, redactUrlCredentials } from './git-errors.js';
import type { DataRef, ReadData } from './plan.js';
import { runProgram } from './run-program.js';

export type UrlKind = 'ssh' | 'https' | 'http' | 'git' | 'file';

/** What kind of transport a clone URL uses; InvalidSource for anything git should not be handed. */
export function urlKind(url: string): UrlKind {
  if (url.startsWith('-') || /[\0\r\n]/.test(url)) throw invalidSource(`git url '${url}' is not a URL`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    // scp-like `[user@]host:path`: a colon before any slash (git's own rule); `transport::address` is not.
    if (/^(?:[^@/:\s]+@)?(?:\[[^\]/]+\]|[^/:\s]+):(?!:)/.test(url)) return 'ssh';
    throw invalidSource(`git url '${url}' is neither a URL nor user@host:path`);
  }
  if (scheme === 'ssh' || scheme === 'git+ssh' || scheme === 'ssh+git') return 'ssh';
  if (scheme === 'https' || scheme === 'http' || scheme === 'git' || scheme === 'file') return scheme;
  throw invalidSource(`git url '${url}': the ${scheme}:// transport is not supported (ssh, https, http, git, file)`);
}

const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** Seconds ssh waits for a connection and for a silent server, so that no fetch hangs. */
export const SSH_CONNECT_TIMEOUT_SECONDS = 20;

/**
 * GIT_SSH_COMMAND: only the Secret's key and known_hosts count (no user config, no agent, no
 * global known hosts, no prompt), and a host key that is not listed fails: no trust on first use.
 */
export function sshCommand(keyFile: string | undefined, knownHostsFile: string): string {
  const options = [
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    ...(keyFile ? ['-o', `IdentityFile=${keyFile}`] : ['-o', 'IdentityFile=/dev/null']),
    '-o', `UserKnownHostsFile=${knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `ConnectTimeout=${SSH_CONNECT_TIMEOUT_SECONDS}`,
    '-o', 'ServerAliveInterval=15',
    '-o', 'ServerAliveCountMax=4',
  ];
  return ['ssh', ...options].map(shellQuote).join(' ');
}

/** `http.<origin>/.extraHeader`: Basic credentials for this server only, passed through the environment. */
export function basicAuthConfig(url: string, username: string, password: string): Record<string, string> {
  const origin = new URL(url).origin;
  const token = Buffer.from(`${username}:${password}`).toString('base64');
  return { [`http.${origin}/.extraHeader`]: `Authorization: Basic ${token}` };
}

/** Settings git takes from its environment (GIT_CONFIG_COUNT), so no secret shows on a command line. */
export function configEnvironment(config: Record<string, string>): Record<string, string> {
  const entries = Object.entries(config);
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** Variables a pod may need to reach its git server: proxies and extra CAs. */
const PASSED_THROUGH = ['GIT_SSL_CAINFO', 'GIT_SSL_CAPATH', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY', 'ALL_PROXY', 'all_proxy'];

export interface GitAccess {
  /** The environment git (and ansible-galaxy's git) runs with. */
  env: NodeJS.ProcessEnv;
}

/**
 * The environment for git and ansible-galaxy: home and temp dir inside the work dir, no
 * system or user config, no prompts, English messages, slow transfers aborted, only the
 * ordinary transports, and no SSH host trusted.
 */
export function baseEnvironment(workDir: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const home = path.join(workDir, 'home');
  const tmp = path.join(workDir, 'tmp');
  for (const dir of [home, tmp]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    PATH: base.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    TMPDIR: tmp,
    // English messages (git-errors.ts reads them) in UTF-8, which ansible-galaxy insists on.
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: 'ssh:https:http:git:file',
    GIT_HTTP_LOW_SPEED_LIMIT: '1000',
    GIT_HTTP_LOW_SPEED_TIME: '30',
    GIT_SSH_COMMAND: sshCommand(undefined, '/dev/null'),
  };
  for (const name of PASSED_THROUGH) if (base[name] !== undefined) env[name] = base[name];
  return env;
}

/** baseEnvironment plus the credentials of the project's authSecret, written to a private dir of the work dir. */
export function gitAccess(project: z.infer<typeof GitProject>, read: ReadData, workDir: string, base: NodeJS.ProcessEnv): GitAccess {
  const kind = urlKind(project.url);
  const credentials = path.join(workDir, 'credentials');
  mkdirSync(credentials, { recursive: true, mode: 0o700 });
  const env = baseEnvironment(workDir, base);
  const secret = project.authSecret;
  const ref = (key: string): DataRef => ({ kind: 'Secret', name: secret!, key });
  let knownHosts = '/dev/null';
  let keyFile: string | undefined;
  if (kind === 'ssh') {
    if (!secret) {
      throw invalidSource(`git url '${project.url}' is SSH: name an authSecret with ssh-privatekey and known_hosts (there is no trust on first use)`);
    }
    knownHosts = path.join(credentials, 'known_hosts');
    writeFileSync(knownHosts, read(ref('known_hosts')), { mode: 0o600 });
    keyFile = path.join(credentials, 'id');
    const key = read(ref('ssh-privatekey')).toString('utf8');
    writeFileSync(keyFile, key.endsWith('\n') ? key : key + '\n', { mode: 0o600 });
  } else if (secret && (kind === 'https' || kind === 'http')) {
    if (kind === 'http') throw invalidSource(`git url '${project.url}': credentials are not sent over plain http; use https`);
    const password = read(ref('password')).toString('utf8').replace(/[\r\n]+$/, '');
    let username = 'git';
    try {
      username = read(ref('username')).toString('utf8').replace(/[\r\n]+$/, '') || username;
    } catch (err) {
      if (!(err instanceof ComposeError)) throw err; // username is optional
    }
    Object.assign(env, configEnvironment(basicAuthConfig(project.url, username, password)));
  }
  env.GIT_SSH_COMMAND = sshCommand(keyFile, knownHosts);
  return { env };
}

export interface FetchOptions {
  url: string;
  revision?: string;
  /** The (empty or missing) directory to check out into. */
  dir: string;
  access: GitAccess;
  deadline: number;
  signal?: AbortSignal;
}

/** A revision that could be an abbreviated (or full) commit name. */
const COMMITISH = /^[0-9a-f]{4,64}$/i;

/** Fetch and check out the revision; returns the commit sha. Throws ComposeError. */
export async function fetchRevision(options: FetchOptions): Promise<string> {
  const { url, revision, dir } = options;
  if (revision !== undefined && (revision.startsWith('-') || /[\0\s]/.test(revision))) throw invalidSource(`revision '${revision}' is not a git revision`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const git = async (what: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string; reason: string }> => {
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) throw new ComposeError('SourceUnavailable', `git ${what}: the compose timed out before it could start`);
    const result = await runProgram('git', args, { cwd: dir, env: options.access.env, timeoutMs: remaining, signal: options.signal }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new ComposeError('ComposeFailed', 'git is not installed (no git on PATH)');
      throw err;
    });
    if (result.timedOut) throw new ComposeError('SourceUnavailable', `git ${what} of ${redactUrlCredentials(url)} did not finish in time (killed)\n${gitMessage(result.stderr)}`.trim());
    return { ok: result.code === 0, stdout: result.stdout, stderr: result.stderr, reason: what };
  };
  const fail = (what: string, stderr: string): never => {
    throw new ComposeError(classifyGitFailure(stderr), `git ${what} of ${redactUrlCredentials(url)}${revision ? ` at '${revision}'` : ''} failed: ${gitMessage(stderr)}`);
  };

  const init = await git('init', ['init', '-q', '.']);
  if (!init.ok) throw new ComposeError('ComposeFailed', `git init failed: ${gitMessage(init.stderr)}`);
  // Shallow by name first: branches, tags and (protocol v2 servers) full commit names.
  const shallow = await git('fetch', ['fetch', '-q', '--depth=1', '--no-tags', '--', url, revision ?? 'HEAD']);
  let commitSpec = 'FETCH_HEAD';
  if (!shallow.ok) {
    const reason = classifyGitFailure(shallow.stderr);
    if (reason !== 'RevisionNotFound' || revision === undefined || !COMMITISH.test(revision)) fail('fetch', shallow.stderr);
    // An abbreviated commit is no ref a server can look up: fetch the branches and tags, then find it.
    const full = await git('fetch', ['fetch', '-q', '--no-tags', '--', url, '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*']);
    if (!full.ok) fail('fetch', full.stderr);
    const found = await git('rev-parse', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`]);
    if (!found.ok) throw new ComposeError('RevisionNotFound', `no branch, tag or commit '${revision}' in ${redactUrlCredentials(url)}: ${gitMessage(shallow.stderr)}`);
    commitSpec = found.stdout.trim();
  }
  const sha = await git('rev-parse', ['rev-parse', '--verify', '--end-of-options', `${commitSpec}^{commit}`]);
  if (!sha.ok) throw new ComposeError('RevisionNotFound', `'${revision ?? 'HEAD'}' of ${redactUrlCredentials(url)} is not a commit: ${gitMessage(sha.stderr)}`);
  const commit = sha.stdout.trim();
  const checkout = await git('checkout', ['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', commit]);
  if (!checkout.ok) throw new ComposeError('ComposeFailed', `git checkout of ${commit} failed: ${gitMessage(checkout.stderr)}`);
  return commit;
}
