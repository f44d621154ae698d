/**
 * What the compose program tests share: git repositories made by real git, ConfigMap and
 * Secret volumes laid out the way the kubelet lays them out, `ajo compose` run as a program,
 * and its stream run through `ajo worker | ajo process`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../helpers/fixtures.js';

export const AJO = path.join(repoRoot, 'operator', 'dist', 'cli', 'main.js');

/** Why these tests cannot run here, or null. */
export function composeSkipReason(): string | null {
  if (!existsSync(AJO)) return `needs the built CLI ${AJO} (npm run build)`;
  for (const [program, args] of [['git', ['--version']], ['ansible-playbook', ['--version']], ['ansible-galaxy', ['--version']], ['unzip', ['-v']]] as const) {
    const probe = spawnSync(program, args, { stdio: 'ignore' });
    if (probe.status !== 0) return `needs ${program} (${probe.error?.message ?? `exit ${probe.status}`})`;
  }
  return null;
}

const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', LANG: 'C' };

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=ajo test', '-c', 'user.email=test@ajo.invalid', ...args], { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/** Write files (path → content; a `{ link }` value makes a symlink) under dir. */
export function writeTree(dir: string, files: Record<string, string | { link: string }>): void {
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === 'string') writeFileSync(file, content);
    else symlinkSync(content.link, file);
  }
}

/** A work repository with one commit per entry of `commits`, and its bare clone; returns the shas. */
export function makeRepo(dir: string, commits: Array<{ files: Record<string, string | { link: string }>; tag?: string }>, branch = 'main'): { bare: string; url: string; shas: string[] } {
  const work = path.join(dir, 'work');
  mkdirSync(work, { recursive: true });
  git(work, 'init', '-q', '-b', branch);
  const shas = commits.map((commit, i) => {
    writeTree(work, commit.files);
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', `commit ${i}`);
    if (commit.tag) git(work, 'tag', '-a', commit.tag, '-m', commit.tag);
    return git(work, 'rev-parse', 'HEAD');
  });
  const bare = path.join(dir, 'repo.git');
  git(dir, 'clone', '-q', '--bare', work, bare);
  return { bare, url: `file://${bare}`, shas };
}

/** `<root>/<name>/<key>` as the kubelet makes it: keys link into `..data`, which links to a timestamped dir. */
export function kubeVolume(root: string, name: string, data: Record<string, string>): void {
  const dir = path.join(root, name);
  const stamp = '..2026_12_01_10_00_00.000000001';
  mkdirSync(path.join(dir, stamp), { recursive: true });
  for (const [key, value] of Object.entries(data)) {
    writeFileSync(path.join(dir, stamp, key), value);
    symlinkSync(path.join('..data', key), path.join(dir, key));
  }
  symlinkSync(stamp, path.join(dir, '..data'));
}

export interface ComposeRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The termination log's content, parsed. */
  termination: Record<string, unknown> | null;
  terminationText: string;
  output: string;
  workDir: string;
}

/** Run `ajo compose` on `source` with volumes under `dir`. */
export function runCompose(dir: string, source: unknown, extraArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): ComposeRun {
  const { args, paths } = composeArgs(dir, source, extraArgs);
  const result = spawnSync(process.execPath, [AJO, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...extraEnv } });
  return composeRun(paths, result.status, result.stdout, result.stderr);
}

/** runCompose without blocking: for tests whose servers run in the test's own process. */
export async function runComposeAsync(dir: string, source: unknown, extraArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<ComposeRun> {
  const { args, paths } = composeArgs(dir, source, extraArgs);
  const child = spawn(process.execPath, [AJO, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extraEnv } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return composeRun(paths, status, stdout, stderr);
}

/** The command line of `ajo compose` for a source, with its files under dir. */
export function composeArgs(dir: string, source: unknown, extraArgs: string[] = []) {
  const sourceFile = path.join(dir, 'source.json');
  writeFileSync(sourceFile, JSON.stringify(source));
  const paths = { workDir: path.join(dir, 'work-dir'), output: path.join(dir, 'stream'), terminationLog: path.join(dir, 'termination-log') };
  for (const volume of ['configmaps', 'secrets']) mkdirSync(path.join(dir, volume), { recursive: true });
  const args = ['compose', '--source', sourceFile, '--configmaps', path.join(dir, 'configmaps'), '--secrets', path.join(dir, 'secrets')];
  args.push('--work-dir', paths.workDir, '--output', paths.output, '--termination-log', paths.terminationLog, ...extraArgs);
  return { args, paths };
}

export function composeRun(paths: { workDir: string; output: string; terminationLog: string }, status: number | null, stdout: string, stderr: string): ComposeRun {
  const { workDir, output, terminationLog } = paths;
  const terminationText = existsSync(terminationLog) ? readFileSync(terminationLog, 'utf8') : '';
  return {
    status,
    stdout,
    stderr,
    termination: terminationText ? (JSON.parse(terminationText) as Record<string, unknown>) : null,
    terminationText,
    output,
    workDir,
  };
}

export interface JobRun {
  status: string;
  rc: string;
  events: Array<Record<string, unknown>>;
  stdout: string;
}

/** `ajo worker < stream | ajo process out`: the job the stream describes, run for real. */
export function runStream(stream: string, outDir: string): JobRun {
  const ajo = `'${process.execPath}' '${AJO}'`;
  const result = spawnSync('/bin/bash', ['-c', `set -o pipefail; ${ajo} worker < '${stream}' | ${ajo} process '${outDir}'`], {
    encoding: 'utf8',
    timeout: 180_000,
    env: { HOME: process.env.HOME ?? '/root', PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
  });
  const artifacts = path.join(outDir, 'artifacts');
  const read = (name: string): string => (existsSync(path.join(artifacts, name)) ? readFileSync(path.join(artifacts, name), 'utf8') : '');
  const eventsDir = path.join(artifacts, 'job_events');
  const events = existsSync(eventsDir)
    ? readdirSync(eventsDir)
        .filter((file) => file.endsWith('.json'))
        .map((file) => JSON.parse(readFileSync(path.join(eventsDir, file), 'utf8')) as Record<string, unknown>)
        .sort((a, b) => (a.counter as number) - (b.counter as number))
    : [];
  return { status: read('status'), rc: read('rc'), events, stdout: result.stdout + result.stderr };
}

/** The names of the tasks that ran ok, in order. */
export const okTasks = (job: JobRun): string[] =>
  job.events.filter((event) => event.event === 'runner_on_ok').map((event) => (event.event_data as { task: string }).task);

/** The members of the zip a transmit stream carries (the kwargs line, `{"zipfile": N}`, N bytes in base64, eof). */
export function streamMembers(stream: string, scratch: string): string[] {
  const text = readFileSync(stream, 'latin1');
  const header = /\n\{"zipfile": (\d+)\}\n/.exec(text);
  if (!header) return [];
  const start = header.index + header[0].length;
  const zip = path.join(scratch, 'data.zip');
  writeFileSync(zip, Buffer.from(text.slice(start, start + 4 * Math.ceil(Number(header[1]) / 3)), 'base64'));
  return execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n').sort();
}
