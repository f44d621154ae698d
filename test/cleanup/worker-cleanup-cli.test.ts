// `ajo worker cleanup` as a process: output lines and exit codes, checked
// against the real ansible-runner 2.3.1 where both should behave the same.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';

import { runCleanupCli } from './cli.js';
import { describeOrSkip } from '../helpers/skip.js';
import { handOver, unprivileged } from './unprivileged.js';

const HOUR_AGO = Date.now() / 1000 - 2 * 3600;

let work: string;
let fakeTmp: string;

function tree(names: string[], mtime = HOUR_AGO): string {
  const dir = mkdtempSync(path.join(work, 'tree-'));
  for (const n of names) {
    mkdirSync(path.join(dir, n), { recursive: true });
    utimesSync(path.join(dir, n), mtime, mtime);
  }
  return dir;
}

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'ajo-cleanup-cli-'));
  fakeTmp = path.join(work, 'tmp');
  mkdirSync(fakeTmp);
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

/** Both CLIs see TMPDIR=fakeTmp, so registry auth dirs and "the tmp dir" live in the test dir. */
const ours = (args: string[]) => runCleanupCli(args, { TMPDIR: fakeTmp });

const runnerMissing = spawnSync('ansible-runner', ['--version'], { encoding: 'utf8' }).status === 0 ? null : 'ansible-runner is not installed';

async function theirs(args: string[]) {
  const r = await execa('ansible-runner', ['worker', 'cleanup', ...args], { env: { TMPDIR: fakeTmp }, reject: false });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

describeOrSkip('same output and exit code as ansible-runner 2.3.1', runnerMissing, () => {
  async function compare(names: string[], args: (dir: string) => string[]) {
    const a = tree(names);
    const b = tree(names);
    const mine = await ours(args(a));
    const real = await theirs(args(b));
    expect(mine.exitCode).toBe(real.exitCode);
    expect(mine.stdout).toBe(real.stdout.replaceAll(b, a));
    expect(readdirSync(a).sort()).toEqual(readdirSync(b).sort());
    return mine;
  }

  test('exclude strings with grace period 0', async () => {
    const r = await compare(['a', 'b', 'c-keep'], (d) => [`--file-pattern=${d}/*`, '--exclude-strings', 'keep', '--grace-period', '0']);
    expect(r.stdout).toMatch(/^Removed 2 private data dir\(s\) in pattern .*\/\*\n\(changed: True\)$/);
  });

  test('default grace period keeps fresh dirs', async () => {
    const fresh = Date.now() / 1000;
    const a = tree(['x'], fresh);
    const b = tree(['x'], fresh);
    expect((await ours([`--file-pattern=${a}/*`])).stdout).toBe('(changed: False)');
    expect((await theirs([`--file-pattern=${b}/*`])).stdout).toBe('(changed: False)');
  });

  test('second run is changed False', async () => {
    const d = tree(['a']);
    expect((await ours([`--file-pattern=${d}/*`, '--grace-period', '0'])).stdout).toBe(`Removed 1 private data dir(s) in pattern ${d}/*\n(changed: True)`);
    expect(await ours([`--file-pattern=${d}/*`, '--grace-period', '0'])).toMatchObject({ exitCode: 0, stdout: '(changed: False)' });
  });

  test('no flags at all', async () => {
    expect(await ours([])).toMatchObject({ exitCode: 0, stdout: '(changed: False)' });
    expect((await theirs([])).stdout).toBe('(changed: False)');
  });

  test('the tmp dir itself is refused with the same message on stderr and exit 1', async () => {
    const mine = await ours([`--file-pattern=${fakeTmp}`]);
    const real = await theirs([`--file-pattern=${fakeTmp}`]);
    expect(mine).toEqual({ ...real, stdout: '' });
    expect(mine.stderr).toBe(`Provided pattern could result in deleting system folders:\n${fakeTmp}\nRefusing to continue for user system safety.`);
    expect(mine.exitCode).toBe(1);
  });

  test('registry auth dirs: same message', async () => {
    const names = ['job'];
    const a = tree(names);
    mkdirSync(path.join(a, 'job', 'artifacts', 'id7'), { recursive: true });
    utimesSync(path.join(a, 'job'), HOUR_AGO, HOUR_AGO);
    const registry = path.join(fakeTmp, 'ansible_runner_registry_id7_ab12cd34');
    mkdirSync(registry);
    const mine = await ours([`--file-pattern=${a}/*`]);
    expect(mine.stdout).toBe(`Removed associated registry auth dir ${registry}\nRemoved 1 private data dir(s) in pattern ${a}/*\n(changed: True)`);

    const b = tree(names);
    mkdirSync(path.join(b, 'job', 'artifacts', 'id7'), { recursive: true });
    utimesSync(path.join(b, 'job'), HOUR_AGO, HOUR_AGO);
    mkdirSync(registry);
    const real = await theirs([`--file-pattern=${b}/*`]);
    expect(real.stdout).toBe(mine.stdout.replaceAll(a, b));
  });

  test('a bad --grace-period is a usage error, exit 2 (like argparse)', async () => {
    const mine = await ours(['--grace-period', 'soon']);
    const real = await theirs(['--grace-period', 'soon']);
    expect(real.exitCode).toBe(2);
    expect(mine.exitCode).toBe(2);
    expect(real.stderr).toContain("argument --grace-period: invalid int value: 'soon'");
    expect(mine.stderr).toBe("error: argument --grace-period: invalid int value: 'soon'");
  });
});

describe('where ajo deliberately differs from ansible-runner 2.3.1', () => {
  test('a live pid protects its dir, a dead pid does not (2.3.1 has it backwards)', async () => {
    const d = tree(['live', 'dead']);
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    const finished = spawn('true');
    await new Promise((r) => finished.on('exit', r));
    try {
      writeFileSync(path.join(d, 'live', 'pid'), `${sleeper.pid}\n`);
      writeFileSync(path.join(d, 'dead', 'pid'), `${finished.pid}\n`);
      for (const n of ['live', 'dead']) utimesSync(path.join(d, n), HOUR_AGO, HOUR_AGO);
      const r = await ours([`--file-pattern=${d}/*`]);
      expect(r.stdout).toBe(`Excluding running project ${d}/live from cleanup\nRemoved 1 private data dir(s) in pattern ${d}/*\n(changed: True)`);
      expect(readdirSync(d)).toEqual(['live']);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  test('/etc/* is refused (2.3.1 would delete /etc subdirectories)', async () => {
    const r = await ours(['--file-pattern=/etc/*', '--grace-period', '0']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Provided pattern could result in deleting system folders:\n.*\/etc\/passwd.*\nRefusing to continue for user system safety\.$/);
    expect(existsSync('/etc/passwd')).toBe(true);
  });

  test('`/` is refused', async () => {
    const r = await ours(['--file-pattern=/']);
    expect(r).toEqual({ exitCode: 1, stdout: '', stderr: 'Provided pattern could result in deleting system folders:\n/\nRefusing to continue for user system safety.' });
  });

  test('.. escapes are refused', async () => {
    const d = tree(['a']);
    const r = await ours([`--file-pattern=${d}/../${path.basename(d)}/*`, '--grace-period', '0']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`Provided pattern contains a '..' path segment: ${d}/../${path.basename(d)}/*\nRefusing to continue for user system safety.`);
    expect(existsSync(path.join(d, 'a'))).toBe(true);
  });

  test('negative grace periods are usage errors (Python would delete everything)', async () => {
    const r = await ours(['--grace-period', '-5']);
    expect(r).toMatchObject({ exitCode: 2, stderr: 'error: argument --grace-period: must be 0 or more minutes, got -5' });
  });

  test('unknown options and executables are usage errors (exit 2)', async () => {
    expect((await ours(['--bogus'])).exitCode).toBe(2);
    const r = await ours(['--process-isolation-executable', 'crun', '--image-prune']);
    expect(r).toMatchObject({ exitCode: 2, stderr: "error: argument --process-isolation-executable: invalid choice: 'crun' (choose from 'docker', 'podman')" });
  });

  test('--dry-run lists and deletes nothing', async () => {
    const d = tree(['a', 'b']);
    const r = await ours([`--file-pattern=${d}/*`, '--dry-run']);
    expect(r.stdout).toBe(`Would remove private data dir ${d}/a\nWould remove private data dir ${d}/b\nWould remove 2 private data dir(s) in pattern ${d}/*\n(changed: False)`);
    expect(readdirSync(d).sort()).toEqual(['a', 'b']);
  });

  const asRoot = process.getuid?.() === 0;
  if (!asRoot) console.warn('SKIPPED unremovable-dir CLI test: mounting a tmpfs needs root');
  (asRoot ? test : test.skip)('a dir holding a mount is skipped whole and reported, the others go (exit 0)', async () => {
    const d = tree(['mounted', 'plain']);
    const mountPoint = path.join(d, 'mounted', 'mnt');
    mkdirSync(mountPoint);
    utimesSync(path.join(d, 'mounted'), HOUR_AGO, HOUR_AGO);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ajo-test', mountPoint], { encoding: 'utf8' });
    expect(mount.stderr).toBe('');
    try {
      const r = await ours([`--file-pattern=${d}/*`]);
      expect(r).toEqual({
        exitCode: 0,
        stdout: `Removed 1 private data dir(s) in pattern ${d}/*\nSkipped 1 unsafe path(s) in pattern ${d}/*\n(changed: True)`,
        stderr: `Skipping ${d}/mounted (other-filesystem): ${mountPoint} is a mount point (another filesystem); nothing in it was removed`,
      });
      expect(readdirSync(d)).toEqual(['mounted']);
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });

  test('a dangling symlink is skipped as a symlink, never called a system folder', async () => {
    // TMPDIR naming a link whose dir was deleted: the tmp dir is protected, but there is nothing behind it.
    const d = tree(['job']);
    const link = path.join(d, 'tmp-link');
    symlinkSync(path.join(d, 'deleted'), link);
    const r = await runCleanupCli([`--file-pattern=${d}/*`, '--grace-period', '0'], { TMPDIR: link });
    expect(r).toEqual({
      exitCode: 0,
      stdout: `Removed 1 private data dir(s) in pattern ${d}/*\nSkipped 1 unsafe path(s) in pattern ${d}/*\n(changed: True)`,
      stderr: `Skipping ${link} (symlink): a symlink to ${path.join(d, 'deleted')}; symlinks are never followed or removed`,
    });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('a dangling symlink under a symlinked base dir does not make the pattern "resolve outside" it', async () => {
    const real = tree(['job-old']);
    symlinkSync(path.join(real, 'job-gone'), path.join(real, 'job-dangling'));
    const via = path.join(work, 'via');
    symlinkSync(real, via);
    const r = await ours([`--file-pattern=${via}/job-*`, '--grace-period', '0']);
    expect(r).toEqual({
      exitCode: 0,
      stdout: `Removed 1 private data dir(s) in pattern ${via}/job-*\nSkipped 1 unsafe path(s) in pattern ${via}/job-*\n(changed: True)`,
      stderr: `Skipping ${via}/job-dangling (symlink): a symlink to ${path.join(real, 'job-gone')}; symlinks are never followed or removed`,
    });
    expect(readdirSync(real)).toEqual(['job-dangling']);
  });

  test('lists are space separated like argparse: a,b is one exclude string', async () => {
    const d = tree(['a', 'b', 'a,b']);
    const r = await ours([`--file-pattern=${d}/*`, '--exclude-strings', 'a,b', '--grace-period', '0']);
    expect(r.stdout).toBe(`Removed 2 private data dir(s) in pattern ${d}/*\n(changed: True)`);
    expect(readdirSync(d)).toEqual(['a,b']);
  });
});

describe('one unsafe entry does not stop the run (issue #16: a periodic sweep must keep freeing space)', () => {
  test('a symlink to /etc among the matches is skipped with a line on stderr; the rest goes (exit 0)', async () => {
    const d = tree(['old-1', 'old-2']);
    symlinkSync('/etc', path.join(d, 'planted'));
    const r = await ours([`--file-pattern=${d}/*`, '--grace-period', '0']);
    expect(r).toEqual({
      exitCode: 0,
      stdout: `Removed 2 private data dir(s) in pattern ${d}/*\nSkipped 1 unsafe path(s) in pattern ${d}/*\n(changed: True)`,
      stderr: `Skipping ${d}/planted (symlink): a symlink to /etc; symlinks are never followed or removed`,
    });
    expect(readdirSync(d)).toEqual(['planted']);
    expect(existsSync('/etc/passwd')).toBe(true);
  });

  test('a pattern that names a system dir through a symlinked parent is still refused (exit 1)', async () => {
    const d = tree([]);
    symlinkSync('/etc', path.join(d, 'conf'));
    const r = await ours([`--file-pattern=${d}/conf/*`, '--grace-period', '0']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^Provided pattern could result in deleting system folders:\n/);
    expect(existsSync('/etc/passwd')).toBe(true);
  });

  describeOrSkip(`unreadable entries, with the CLI run as ${unprivileged.user?.name ?? 'an unprivileged user'}`, unprivileged.skipReason, () => {
    test('a mode-000 dir and a dir with a mode-000 subdir are skipped whole; the readable one goes', async () => {
      const user = unprivileged.user!;
      const d = tree(['readable/env', 'locked/env', 'partly/deep']);
      writeFileSync(path.join(d, 'partly', 'beside'), 'kept: the tree is scanned before anything goes');
      writeFileSync(path.join(d, 'locked', 'env', 'extravars'), 'x: 1');
      for (const n of ['readable', 'locked', 'partly']) utimesSync(path.join(d, n), HOUR_AGO, HOUR_AGO);
      chmodSync(work, 0o755);
      chmodSync(d, 0o755);
      handOver(d, user);
      chmodSync(path.join(d, 'locked'), 0o000);
      chmodSync(path.join(d, 'partly', 'deep'), 0o000);
      const r = await runCleanupCli([`--file-pattern=${d}/*`, '--grace-period', '0'], { TMPDIR: fakeTmp }, user);
      expect(r).toEqual({
        exitCode: 0,
        stdout: `Removed 1 private data dir(s) in pattern ${d}/*\nSkipped 2 unsafe path(s) in pattern ${d}/*\n(changed: True)`,
        stderr: [
          `Skipping ${d}/locked (unreadable): cannot read ${d}/locked/pid (EACCES), so a running job cannot be ruled out`,
          `Skipping ${d}/partly (unreadable): cannot read ${d}/partly/deep (EACCES); nothing in it was removed`,
        ].join('\n'),
      });
      expect(readdirSync(d).sort()).toEqual(['locked', 'partly']);
      expect(readdirSync(path.join(d, 'partly')).sort()).toEqual(['beside', 'deep']);
      chmodSync(path.join(d, 'locked'), 0o755);
      expect(readdirSync(path.join(d, 'locked', 'env'))).toEqual(['extravars']);
    });
  });
});
