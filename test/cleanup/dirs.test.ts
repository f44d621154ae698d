// Directory cleanup on real directories in temp dirs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { cleanupDirs, type DirCleanupOptions } from '../../operator/src/cleanup/dirs.js';
import { sweepArtifacts, sweepEvent, SweepConfigError, type SweepReport } from '../../operator/src/sweep/artifacts-sweep.js';
import { describeOrSkip, testOrSkip } from '../helpers/skip.js';
import { handOver, unprivileged } from './unprivileged.js';

const MINUTE = 60_000;
const NOW = new Date('2026-06-01T12:00:00.000Z');

let root: string;
let registryTemp: string;

function makeDir(name: string, ageMs = 2 * 60 * MINUTE, files: Record<string, string> = { 'env/extravars': 'x: 1\n' }): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  setAge(dir, ageMs);
  return dir;
}

/** mtime = NOW - ageMs; whole seconds so the boundary is exact on every filesystem. */
function setAge(p: string, ageMs: number): void {
  const seconds = (NOW.getTime() - ageMs) / 1000;
  utimesSync(p, seconds, seconds);
}

function clean(options: Partial<DirCleanupOptions> = {}) {
  return cleanupDirs({ pattern: path.join(root, 'pdd_*'), now: NOW, tempDir: registryTemp, ...options });
}

const names = (paths: Array<{ path: string }>) => paths.map((p) => path.basename(p.path)).sort();

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'ajo-cleanup-'));
  registryTemp = mkdtempSync(path.join(tmpdir(), 'ajo-cleanup-tmp-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(registryTemp, { recursive: true, force: true });
});

describe('grace period', () => {
  test('a dir exactly grace minutes old goes, one a second younger stays', async () => {
    makeDir('pdd_boundary', 60 * MINUTE);
    makeDir('pdd_young', 60 * MINUTE - 1000);
    makeDir('pdd_old', 61 * MINUTE);
    const report = await clean({ gracePeriodMinutes: 60 });
    expect(names(report.removed)).toEqual(['pdd_boundary', 'pdd_old']);
    expect(report.skipped).toEqual([expect.objectContaining({ path: path.join(root, 'pdd_young'), reason: 'within-grace-period' })]);
    expect(existsSync(path.join(root, 'pdd_young'))).toBe(true);
    expect(report.changed).toBe(true);
  });

  test('the default is 60 minutes', async () => {
    makeDir('pdd_59', 59 * MINUTE);
    makeDir('pdd_61', 61 * MINUTE);
    expect(names((await clean()).removed)).toEqual(['pdd_61']);
  });

  test('0 disables the age filter', async () => {
    makeDir('pdd_new', 0);
    expect(names((await clean({ gracePeriodMinutes: 0 })).removed)).toEqual(['pdd_new']);
  });

  test("only the dir's own mtime counts, not a fresh file inside", async () => {
    const dir = makeDir('pdd_stale', 2 * 60 * MINUTE);
    writeFileSync(path.join(dir, 'env', 'extravars'), 'fresh\n'); // the file is new; dir mtime unchanged below
    setAge(dir, 2 * 60 * MINUTE);
    expect(names((await clean()).removed)).toEqual(['pdd_stale']);
  });

  test('negative or fractional grace periods are rejected', async () => {
    await expect(clean({ gracePeriodMinutes: -1 })).rejects.toThrow(RangeError);
    await expect(clean({ gracePeriodMinutes: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe('exclude strings', () => {
  test('a substring anywhere in the path keeps the dir', async () => {
    makeDir('pdd_keep_me');
    makeDir('pdd_a');
    makeDir('pdd_b-protected');
    const report = await clean({ excludeStrings: ['keep', 'protected'] });
    expect(names(report.removed)).toEqual(['pdd_a']);
    expect(report.skipped.map((s) => [path.basename(s.path), s.reason]).sort()).toEqual([
      ['pdd_b-protected', 'excluded'],
      ['pdd_keep_me', 'excluded'],
    ]);
  });

  test('the substring is matched against the whole path, like ansible-runner', async () => {
    makeDir('pdd_a');
    const report = await clean({ excludeStrings: [path.basename(root)] });
    expect(report.removed).toEqual([]);
  });
});

describe('pid files', () => {
  let live: ChildProcess;

  beforeAll(() => {
    live = spawn('sleep', ['600'], { stdio: 'ignore' });
  });

  afterAll(() => {
    live.kill('SIGKILL');
  });

  async function deadPid(): Promise<number> {
    const child = spawn('true', { stdio: 'ignore' });
    await new Promise((resolve) => child.on('exit', resolve));
    return child.pid!;
  }

  test('a live pid keeps the dir and prints the runner message; a dead pid does not', async () => {
    makeDir('pdd_live', undefined, { pid: `${live.pid}\n` });
    makeDir('pdd_dead', undefined, { pid: `${await deadPid()}\n` });
    makeDir('pdd_nopid', undefined, {});
    const lines: string[] = [];
    const report = await clean({ log: (l) => lines.push(l) });
    expect(names(report.removed)).toEqual(['pdd_dead', 'pdd_nopid']);
    expect(report.skipped).toEqual([{ path: path.join(root, 'pdd_live'), reason: 'live-process', detail: `pid ${live.pid} is running` }]);
    expect(lines).toEqual([`Excluding running project ${path.join(root, 'pdd_live')} from cleanup`]);
  });

  test('pid files that name no single process (0, -1, garbage) do not protect a dir', async () => {
    makeDir('pdd_zero', undefined, { pid: '0\n' });
    makeDir('pdd_minus', undefined, { pid: '-1\n' });
    makeDir('pdd_garbage', undefined, { pid: 'not a pid\n' });
    expect(names((await clean()).removed)).toEqual(['pdd_garbage', 'pdd_minus', 'pdd_zero']);
  });
});

describe('refused patterns (nothing is deleted)', () => {
  const refusal = async (pattern: string, options: Partial<DirCleanupOptions> = {}) => {
    const report = await cleanupDirs({ pattern, gracePeriodMinutes: 0, now: NOW, ...options });
    expect(report.removed).toEqual([]);
    expect(report.changed).toBe(false);
    return report.refusal;
  };

  test('/ with the ansible-runner message', async () => {
    const r = await refusal('/');
    expect(r).toMatchObject({ kind: 'system-path', paths: ['/'] });
    expect(r?.message).toBe('Provided pattern could result in deleting system folders:\n/\nRefusing to continue for user system safety.');
  });

  test('/etc/* (which ansible-runner 2.3.1 would let through)', async () => {
    const r = await refusal('/etc/*');
    expect(r?.kind).toBe('system-path');
    expect(r?.paths).toContain('/etc/passwd');
  });

  test.each(['/tmp', '/tmp/', '/var/*', '/var/lib/*', '/usr/lib', '/usr/local/*', '/home/*', '/root', '/*'])('%s', async (pattern) => {
    expect((await refusal(pattern))?.kind).toBe('system-path');
  });

  test('the tmp dir itself, also when TMPDIR points elsewhere', async () => {
    expect((await refusal(root, { tempDir: root }))?.kind).toBe('system-path');
    expect((await refusal(tmpdir()))?.kind).toBe('system-path');
  });

  test('an ancestor of the tmp dir', async () => {
    const nestedTemp = path.join(root, 'my-tmp');
    mkdirSync(nestedTemp);
    expect((await refusal(path.join(root), { tempDir: nestedTemp }))?.message).toMatch(/^Provided pattern could result in deleting system folders:/);
  });

  test('.. escapes', async () => {
    makeDir('pdd_a');
    mkdirSync(path.join(root, 'sub'));
    const pattern = `${root}/sub/../pdd_*`; // not path.join: that would normalise the '..' away
    const r = await refusal(pattern);
    expect(r).toMatchObject({ kind: 'parent-segment' });
    expect(r?.message).toBe(`Provided pattern contains a '..' path segment: ${pattern}\nRefusing to continue for user system safety.`);
    expect(existsSync(path.join(root, 'pdd_a'))).toBe(true);
  });

  test('a pattern whose literal part is a symlink to a system dir is still refused', async () => {
    symlinkSync('/etc', path.join(root, 'looks-harmless'));
    const r = await refusal(path.join(root, 'looks-harmless', '*'));
    expect(r?.kind).toBe('system-path');
    expect(r?.paths).toContain(path.join(root, 'looks-harmless', 'passwd'));
  });

  test('a pattern naming a system symlink itself (/lib on a merged-/usr system) is refused', async () => {
    const linkedSystemDir = ['/lib', '/bin', '/sbin'].find((d) => lstatSync(d, { throwIfNoEntry: false })?.isSymbolicLink());
    if (linkedSystemDir === undefined) {
      console.warn('no symlinked system dir on this machine (not a merged-/usr system): checking /lib as a dir instead');
    }
    const r = await refusal(linkedSystemDir ?? '/lib');
    expect(r).toMatchObject({ kind: 'system-path', paths: [linkedSystemDir ?? '/lib'] });
  });
});

describe('unsafe matches are skipped and reported, the rest is cleaned', () => {
  let outside: string;
  beforeEach(() => {
    outside = mkdtempSync(path.join(tmpdir(), 'ajo-cleanup-outside-'));
  });
  afterEach(() => rmSync(outside, { recursive: true, force: true }));

  test('a symlinked dir pointing outside the pattern base is skipped, its neighbours go', async () => {
    writeFileSync(path.join(outside, 'precious'), 'data');
    makeDir('pdd_real');
    symlinkSync(outside, path.join(root, 'pdd_link'));
    const report = await clean();
    expect(report.refusal).toBeUndefined();
    expect(names(report.removed)).toEqual(['pdd_real']);
    expect(report.skipped).toEqual([{ path: path.join(root, 'pdd_link'), reason: 'symlink', detail: `a symlink to ${outside}; symlinks are never followed or removed` }]);
    expect(readdirSync(outside)).toEqual(['precious']);
    expect(lstatSync(path.join(root, 'pdd_link')).isSymbolicLink()).toBe(true);
  });

  test('a symlink to a system dir among the matches is skipped, not a reason to refuse', async () => {
    makeDir('pdd_real');
    symlinkSync('/etc', path.join(root, 'pdd_etc'));
    const report = await clean();
    expect(report.refusal).toBeUndefined();
    expect(names(report.removed)).toEqual(['pdd_real']);
    expect(report.skipped).toEqual([expect.objectContaining({ path: path.join(root, 'pdd_etc'), reason: 'symlink' })]);
    expect(existsSync('/etc/passwd')).toBe(true);
  });

  test('a dir reached through an intermediate symlink that leads outside is skipped as outside-base', async () => {
    mkdirSync(path.join(outside, 'pdd_victim'));
    setAge(path.join(outside, 'pdd_victim'), 2 * 60 * MINUTE);
    symlinkSync(outside, path.join(root, 'hop'));
    makeDir('inner/pdd_mine');
    const report = await clean({ pattern: path.join(root, '*', 'pdd_*') });
    expect(report.refusal).toBeUndefined();
    expect(report.removed.map((r) => r.path)).toEqual([path.join(root, 'inner', 'pdd_mine')]);
    expect(report.skipped).toEqual([
      {
        path: path.join(root, 'hop', 'pdd_victim'),
        reason: 'outside-base',
        detail: `resolves to ${path.join(outside, 'pdd_victim')}, outside ${root} (reached through a symlinked dir)`,
      },
    ]);
    expect(existsSync(path.join(outside, 'pdd_victim'))).toBe(true);
  });

  test('an intermediate symlink to a system dir is skipped too (the pattern does not name it)', async () => {
    symlinkSync('/', path.join(root, 'hop'));
    makeDir('inner/etc');
    const report = await clean({ pattern: path.join(root, '*', 'etc') });
    expect(report.refusal).toBeUndefined();
    expect(report.removed.map((r) => r.path)).toEqual([path.join(root, 'inner', 'etc')]);
    expect(report.skipped).toEqual([expect.objectContaining({ path: path.join(root, 'hop', 'etc'), reason: 'outside-base' })]);
    expect(existsSync('/etc/passwd')).toBe(true);
  });
});

describe('deleting', () => {
  test('symlinks inside a removed dir are unlinked, never followed', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'ajo-cleanup-outside-'));
    try {
      writeFileSync(path.join(outside, 'precious'), 'data');
      const dir = makeDir('pdd_links');
      symlinkSync(outside, path.join(dir, 'dirlink'));
      symlinkSync(path.join(outside, 'precious'), path.join(dir, 'filelink'));
      setAge(dir, 2 * 60 * MINUTE);
      const report = await clean();
      expect(names(report.removed)).toEqual(['pdd_links']);
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(outside)).toEqual(['precious']);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a matching symlink to a dir inside the base is skipped, its target judged on its own', async () => {
    makeDir('pdd_target');
    symlinkSync(path.join(root, 'pdd_target'), path.join(root, 'pdd_alias'));
    const report = await clean();
    expect(report.skipped).toEqual([expect.objectContaining({ path: path.join(root, 'pdd_alias'), reason: 'symlink' })]);
    expect(names(report.removed)).toEqual(['pdd_target']);
  });

  test('plain files are neither removed nor counted', async () => {
    writeFileSync(path.join(root, 'pdd_file'), 'x');
    const report = await clean();
    expect(report.removed).toEqual([]);
    expect(report.skipped).toEqual([expect.objectContaining({ reason: 'not-a-directory' })]);
    expect(existsSync(path.join(root, 'pdd_file'))).toBe(true);
  });

  test('registry auth dirs of each artifacts/<ident> go too, with the runner message', async () => {
    makeDir('pdd_job', undefined, { 'artifacts/abc/status': 'successful', 'artifacts/abc_def/status': 'failed' });
    const mine = path.join(registryTemp, 'ansible_runner_registry_abc_k2j4h1x9');
    const other = path.join(registryTemp, 'ansible_runner_registry_abcd_k2j4h1x9');
    const nested = path.join(registryTemp, 'ansible_runner_registry_abc_def_q1w2e3r4');
    for (const d of [mine, other, nested]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'auth.json'), '{}');
    }
    const lines: string[] = [];
    const report = await clean({ log: (l) => lines.push(l) });
    expect(report.removed[0]?.registryAuthDirs).toEqual([nested, mine]);
    expect(lines).toEqual([`Removed associated registry auth dir ${nested}`, `Removed associated registry auth dir ${mine}`]);
    expect(existsSync(mine)).toBe(false);
    expect(existsSync(nested)).toBe(false);
    expect(existsSync(other)).toBe(true);
  });

  test('bytes freed counts file contents', async () => {
    makeDir('pdd_sized', undefined, { a: 'x'.repeat(1000), 'sub/b': 'y'.repeat(234) });
    const report = await clean();
    expect(report.bytesFreed).toBe(1234);
    expect(report.removed[0]?.bytes).toBe(1234);
  });

  test('idempotence: a second run changes nothing', async () => {
    makeDir('pdd_a');
    makeDir('pdd_b');
    expect((await clean()).changed).toBe(true);
    const second = await clean();
    expect(second).toMatchObject({ changed: false, removed: [], errors: [] });
  });

  test('dry run lists what would go and deletes nothing', async () => {
    makeDir('pdd_a', undefined, { f: '12345' });
    makeDir('pdd_young', 0);
    const registry = path.join(registryTemp, 'ansible_runner_registry_id1_abcdefgh');
    mkdirSync(registry);
    makeDir('pdd_b', undefined, { 'artifacts/id1/rc': '0' });
    const lines: string[] = [];
    const report = await clean({ dryRun: true, log: (l) => lines.push(l) });
    expect(names(report.removed)).toEqual(['pdd_a', 'pdd_b']);
    expect(report.changed).toBe(false);
    expect(report.bytesFreed).toBe(6);
    expect(lines).toEqual([
      `Would remove private data dir ${path.join(root, 'pdd_a')}`,
      `Would remove associated registry auth dir ${registry}`,
      `Would remove private data dir ${path.join(root, 'pdd_b')}`,
    ]);
    for (const d of ['pdd_a', 'pdd_b', 'pdd_young']) expect(existsSync(path.join(root, d))).toBe(true);
    expect(existsSync(registry)).toBe(true);
  });

  const rootMissing = process.getuid?.() === 0 ? null : 'mounting a tmpfs needs root';
  testOrSkip('a mount inside a private data dir is not emptied: that dir is skipped whole, the others still go', rootMissing, async () => {
    const dir = makeDir('pdd_mounted');
    const mountPoint = path.join(dir, 'mnt');
    mkdirSync(mountPoint);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ajo-test', mountPoint], { encoding: 'utf8' });
    expect(mount.stderr).toBe('');
    try {
      writeFileSync(path.join(mountPoint, 'on-tmpfs'), 'keep');
      writeFileSync(path.join(dir, 'beside-the-mount'), 'also kept: the dir is scanned before anything goes');
      setAge(dir, 2 * 60 * MINUTE);
      makeDir('pdd_fine');
      const report = await clean();
      expect(names(report.removed)).toEqual(['pdd_fine']);
      expect(report.errors).toEqual([]);
      expect(report.skipped).toEqual([
        { path: dir, reason: 'other-filesystem', detail: `${mountPoint} is a mount point (another filesystem); nothing in it was removed` },
      ]);
      expect(existsSync(path.join(mountPoint, 'on-tmpfs'))).toBe(true);
      expect(existsSync(path.join(dir, 'beside-the-mount'))).toBe(true);
      expect(existsSync(path.join(dir, 'env', 'extravars'))).toBe(true);
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });
});

describe('sweepArtifacts (reconciler)', () => {
  test('sweeps a volume with pattern and grace period into a report for metrics and Events', async () => {
    makeDir('job-1', 3 * 60 * MINUTE, { 'artifacts/job-1/stdout': 'ok' });
    makeDir('job-2', 10 * MINUTE);
    makeDir('keep-job', 3 * 60 * MINUTE);
    writeFileSync(path.join(root, 'job-file'), '');
    const report = await sweepArtifacts({ volume: root, pattern: 'job-*', gracePeriodMinutes: 60, now: NOW });
    expect(report.counts).toEqual({
      removed: 1,
      skipped: {
        excluded: 0,
        'within-grace-period': 1,
        'live-process': 0,
        'not-a-directory': 1,
        symlink: 0,
        vanished: 0,
        'outside-base': 0,
        unreadable: 0,
        'other-filesystem': 0,
      },
      errors: 0,
      bytesFreed: 2,
    });
    expect(names(report.removed)).toEqual(['job-1']);
    expect(existsSync(path.join(root, 'keep-job'))).toBe(true);
    expect(sweepEvent(report)).toEqual({
      type: 'Normal',
      reason: 'CleanupSwept',
      message: `removed 1 dir(s) (2 bytes) in ${root}; skipped 1 within-grace-period, 1 not-a-directory`,
    });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  test('patterns must stay inside the volume', async () => {
    await expect(sweepArtifacts({ volume: root, pattern: '../*', gracePeriodMinutes: 0 })).rejects.toThrow(SweepConfigError);
    await expect(sweepArtifacts({ volume: root, pattern: '/etc/*', gracePeriodMinutes: 0 })).rejects.toThrow(SweepConfigError);
  });

  test('a symlink planted in the volume is skipped and reported as a Warning; the other dirs still go', async () => {
    symlinkSync('/etc', path.join(root, 'job-evil'));
    makeDir('job-old', 3 * 60 * MINUTE);
    const report = await sweepArtifacts({ volume: root, pattern: 'job-*', gracePeriodMinutes: 0, now: NOW });
    expect(report.refusal).toBeUndefined();
    expect(names(report.removed)).toEqual(['job-old']);
    expect(report.counts.skipped.symlink).toBe(1);
    expect(sweepEvent(report)).toEqual({
      type: 'Warning',
      reason: 'CleanupSkippedUnsafe',
      message: `removed 1 dir(s) (5 bytes) in ${root}; skipped 1 symlink; unsafe: ${path.join(root, 'job-evil')}: a symlink to /etc; symlinks are never followed or removed`,
    });
    expect(existsSync('/etc/passwd')).toBe(true);
  });
});

describeOrSkip(`sweepArtifacts with unreadable entries, run as ${unprivileged.user?.name ?? 'an unprivileged user'}`, unprivileged.skipReason, () => {
  const compiledSweep = path.resolve('operator/dist/sweep/artifacts-sweep.js');

  test('an unreadable job dir is skipped and counted; the readable ones are swept', () => {
    const user = unprivileged.user!;
    makeDir('job-readable', 3 * 60 * MINUTE, { stdout: 'ok' });
    makeDir('job-locked', 3 * 60 * MINUTE, { stdout: 'secret' });
    chmodSync(root, 0o755);
    handOver(root, user);
    chmodSync(path.join(root, 'job-locked'), 0o000);
    const program = `import(${JSON.stringify(compiledSweep)}).then(async ({ sweepArtifacts, sweepEvent }) => {
      const report = await sweepArtifacts({ volume: ${JSON.stringify(root)}, pattern: 'job-*', gracePeriodMinutes: 0 });
      process.stdout.write(JSON.stringify({ report, event: sweepEvent(report) }));
    });`;
    const run = spawnSync(process.execPath, ['-e', program], { uid: user.uid, gid: user.gid, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const { report, event } = JSON.parse(run.stdout) as { report: SweepReport; event: ReturnType<typeof sweepEvent> };
    expect(names(report.removed)).toEqual(['job-readable']);
    expect(report.counts.skipped.unreadable).toBe(1);
    expect(report.skipped).toEqual([
      { path: path.join(root, 'job-locked'), reason: 'unreadable', detail: `cannot read ${path.join(root, 'job-locked', 'pid')} (EACCES), so a running job cannot be ruled out` },
    ]);
    expect(event).toMatchObject({ type: 'Warning', reason: 'CleanupSkippedUnsafe' });
    chmodSync(path.join(root, 'job-locked'), 0o755);
    expect(readdirSync(path.join(root, 'job-locked'))).toEqual(['stdout']);
  });
});
