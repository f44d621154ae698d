/**
 * Failing cleanly, with real programs and real file systems: a full disk under `ajo run`
 * cancels the play and leaves no temp files; SIGTERM during the unpack never starts
 * ansible-playbook; `process --follow` stops when its file is deleted; two `process` runs
 * never share an artifacts directory.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { listTree } from '../helpers/hostile.js';
import { tempDirs } from '../helpers/temp.js';
import { testOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';
import { AJO, SCRUBBED_ENV } from './pipeline.js';

const scratch = tempDirs('ajo-conformance-');
const INVENTORY = 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n';

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code (or 128 + signal), once the process has ended. */
  exited: Promise<number>;
}

const started: ChildProcess[] = [];
// A test that fails may leave its ajo running (that is what some of them test): stop it.
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(args: string[], env: NodeJS.ProcessEnv = SCRUBBED_ENV): Running {
  const child = spawn(process.execPath, [AJO, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with the exit code, or fails the test if the process is still running after a minute. */
async function exitOf(running: Running, what: string): Promise<number> {
  let code: number | undefined;
  void running.exited.then((c) => (code = c));
  return waitFor(what, async () => code, 60_000, 50);
}

function dataDir(playbook: string): string {
  const dir = scratch('ajo-failing-');
  mkdirSync(path.join(dir, 'project'));
  mkdirSync(path.join(dir, 'inventory'));
  writeFileSync(path.join(dir, 'inventory', 'hosts'), INVENTORY);
  writeFileSync(path.join(dir, 'project', 'site.yml'), playbook);
  return dir;
}

/** Pids of live processes whose environment holds `needle` (every process a job starts inherits TMPDIR). */
function processesWithEnv(needle: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const notRoot = process.getuid?.() === 0 ? null : 'mounting a small tmpfs needs root';

describe('a full disk under ajo run', () => {
  testOrSkip('cancels the play, names the path and the cause, and leaves no temp files', notRoot, async () => {
    const base = scratch('ajo-enospc-');
    const tmp = path.join(base, 'tmp');
    mkdirSync(tmp);
    const marker = path.join(base, 'the-play-ran-to-its-end');
    // The first task's event (3 MB of output) cannot fit the 2 MiB artifacts volume; the second
    // holds the play for ten minutes, so only a cancel can end it soon.
    const dir = dataDir(`- hosts: all
  gather_facts: false
  tasks:
    - debug: { msg: "{{ 'x' * 3000000 }}" }
    - shell: sleep 600
    - file: { path: "${marker}", state: touch }
`);
    const artifacts = path.join(dir, 'artifacts');
    mkdirSync(artifacts);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', artifacts]);
    try {
      const run = start(['run', dir, '-p', 'site.yml', '-q'], { ...SCRUBBED_ENV, TMPDIR: tmp });
      const code = await exitOf(run, 'ajo run to stop after the disk filled');
      expect(run.stderr()).toMatch(
        new RegExp(`^ajo run: processing failed: no space left on device: ${artifacts}/job_events/\\d+-[0-9a-f-]+\\.json$`, 'm'),
      );
      expect(run.stderr()).not.toMatch(/zip archive is invalid/);
      expect(code).toBe(1);
      await waitFor('every process of the play to be gone', async () => (processesWithEnv(`TMPDIR=${tmp}`).length === 0 ? true : undefined));
      expect(existsSync(marker)).toBe(false);
      // The worker's private data dir, its staged artifacts zip and process's received zip all lived
      // here. Node's own compile cache (cli/compile-cache.ts) lives there too, and is meant to stay.
      expect(readdirSync(tmp).filter((name) => name !== 'node-compile-cache')).toEqual([]);
    } finally {
      // Only needed when the play was left running: its processes are ours, found by their TMPDIR.
      for (const pid of processesWithEnv(`TMPDIR=${tmp}`)) process.kill(pid, 'SIGKILL');
      execFileSync('umount', ['--lazy', artifacts]);
    }
  });
});

describe('SIGTERM while the worker unpacks the payload', () => {
  test('stops the unpack and never starts ansible-playbook', async () => {
    const marker = path.join(scratch('ajo-sigterm-marker-'), 'ansible-playbook-ran');
    const source = dataDir(`- hosts: all
  gather_facts: false
  tasks:
    - file: { path: "${marker}", state: touch }
`);
    const FILES = 2000;
    mkdirSync(path.join(source, 'project', 'files'));
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(source, 'project', 'files', `f${i}`), randomBytes(4096));
    const stream = path.join(scratch('ajo-sigterm-stream-'), 'job.stream');
    const transmitted = spawnSync(process.execPath, [AJO, 'transmit', source, '-p', 'site.yml'], { env: SCRUBBED_ENV, maxBuffer: 64 * 1024 * 1024 });
    expect(transmitted.status).toBe(0);
    writeFileSync(stream, transmitted.stdout);

    const target = scratch('ajo-sigterm-target-');
    const unpacked = (): number => (existsSync(path.join(target, 'project', 'files')) ? readdirSync(path.join(target, 'project', 'files')).length : 0);
    const worker = start(['worker', '--private-data-dir', target, '--input', stream]);
    // Look only while the worker is stopped, so what is seen is where it is: once the unpack
    // has begun and has far to go, SIGTERM is queued before it may run on.
    for (;;) {
      worker.child.kill('SIGSTOP');
      const count = unpacked();
      if (count > 0 && count <= FILES / 2) {
        worker.child.kill('SIGTERM');
        worker.child.kill('SIGCONT');
        break;
      }
      worker.child.kill('SIGCONT');
      if (count > FILES / 2) throw new Error(`the worker unpacked ${count} of ${FILES} files between two looks; make the payload larger`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const code = await exitOf(worker, 'the worker to stop after SIGTERM');

    // The whole result stream: no status of a started job, no events, no artifacts zip.
    expect(worker.stdout()).toBe('{"status": "canceled", "job_explanation": "canceled before the job started (while receiving and unpacking it)"}\n{"eof": true}\n');
    expect(worker.stderr()).toMatch(/^ajo worker: canceled before the job started/m);
    expect(code).toBe(254);
    expect(unpacked()).toBeLessThan(FILES);
    // No job: no artifacts dir, and the playbook's first task never ran.
    expect(existsSync(path.join(target, 'artifacts'))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });
});

const recorded = readFileSync(fixture('demo_run', 'worker.stream')).toString('latin1');
const eventLines = recorded.split('\n').filter((l) => l.startsWith('{"uuid"'));
/** The recorded stream up to and including its tenth event. */
const firstTenEvents = recorded.slice(0, recorded.indexOf(eventLines[9]!) + eventLines[9]!.length + 1);
const jobEventCount = (out: string): number => {
  const dir = path.join(out, 'artifacts', 'job_events');
  return existsSync(dir) ? readdirSync(dir).length : 0;
};

/** `process OUT --follow FILE` with the first ten events in FILE, once it has written them. */
async function followingTenEvents(): Promise<{ followed: string; out: string; processing: Running }> {
  const work = scratch('ajo-follow-');
  const followed = path.join(work, 'worker.out');
  const out = path.join(work, 'out');
  writeFileSync(followed, firstTenEvents);
  const processing = start(['process', out, '--follow', followed, '-q']);
  await waitFor('process to write the first ten events', async () => (jobEventCount(out) === 10 ? true : undefined));
  return { followed, out, processing };
}

describe('process --follow', () => {
  test('exits with an error when the followed file is deleted before eof', async () => {
    const { followed, out, processing } = await followingTenEvents();
    unlinkSync(followed);
    const code = await exitOf(processing, 'process to notice the deletion');
    expect(processing.stderr()).toMatch(new RegExp(`^ajo process: processing failed: ${followed} was deleted while being followed, after \\d+ bytes and before the stream's end$`, 'm'));
    expect(code).toBe(1);
    expect(jobEventCount(out)).toBe(10);
  });
});

describe('process reading stdin', () => {
  test('SIGTERM ends it at once with "canceled", though the writer never ends the stream', async () => {
    const out = scratch('ajo-process-sigterm-');
    const statusFile = path.join(out, 'status.json');
    const child = spawn(process.execPath, [AJO, 'process', out, '-q', '--status-file', statusFile], { env: SCRUBBED_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0))));
    // The first line makes process load, take its signal handlers and publish a document; stdin then stays open.
    child.stdin!.write('{"status": "starting", "runner_ident": "sig"}\n');
    await waitFor('process to publish its first status document', async () =>
      existsSync(statusFile) && readFileSync(statusFile, 'utf8').includes('"starting"') ? true : undefined,
    );
    child.kill('SIGTERM');
    const code = await exitOf({ child, stdout: () => '', stderr: () => stderr, exited }, 'process to stop after SIGTERM');
    expect(stderr).toMatch(new RegExp(`^ajo process: canceled by a signal before the result stream's eof; what arrived is in ${out}$`, 'm'));
    expect(code).toBe(254);
  });
});

describe('two process runs into one artifacts directory', () => {
  const lockFile = (out: string): string => path.join(out, 'artifacts', '.ajo-process.lock');

  test('the second fails with a clear "in use" message; the first completes its directory', async () => {
    const { followed, out, processing: first } = await followingTenEvents();

    const second = spawnSync(process.execPath, [AJO, 'process', out, '-q'], { input: recorded, env: SCRUBBED_ENV, encoding: 'utf8' });
    expect(second.stderr).toMatch(
      new RegExp(`^ajo process: the artifacts directory ${out}/artifacts is in use by another ajo process \\(pid ${first.child.pid}\\); wait for it, or write elsewhere`, 'm'),
    );
    expect(second.status).toBe(1);
    expect(jobEventCount(out)).toBe(10);

    appendFileSync(followed, recorded.slice(firstTenEvents.length));
    expect(await exitOf(first, 'the first process to finish')).toBe(0);
    expect(jobEventCount(out)).toBe(eventLines.length);
    expect(readFileSync(path.join(out, 'artifacts', 'status'), 'utf8')).toBe('successful');
    expect(existsSync(lockFile(out))).toBe(false);
  });

  test('a lock left by a dead process on this host is taken over; one from another host is not', () => {
    const out = scratch('ajo-lock-stale-');
    mkdirSync(path.join(out, 'artifacts'));
    const gone = spawnSync('/bin/true');
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    writeFileSync(lockFile(out), `${gone.pid}\n${os.hostname()}\n${pidNamespace}\n`);
    const taken = spawnSync(process.execPath, [AJO, 'process', out, '-q'], { input: recorded, env: SCRUBBED_ENV, encoding: 'utf8' });
    expect(taken.stderr).not.toMatch(/ajo process:/);
    expect(taken.status).toBe(0);
    expect(existsSync(lockFile(out))).toBe(false);

    writeFileSync(lockFile(out), `${gone.pid}\nsome-other-host\n${pidNamespace}\n`);
    const refused = spawnSync(process.execPath, [AJO, 'process', out, '-q'], { input: recorded, env: SCRUBBED_ENV, encoding: 'utf8' });
    expect(refused.stderr).toMatch(
      new RegExp(`^ajo process: the artifacts directory ${out}/artifacts is in use by an ajo process on some-other-host \\(pid ${gone.pid}\\); if it is gone, remove ${lockFile(out)}$`, 'm'),
    );
    expect(refused.status).toBe(1);
    expect(listTree(path.join(out, 'artifacts'))).toContain('.ajo-process.lock');
  });
});
