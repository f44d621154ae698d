// Directory cleanup with the semantics of `ansible-runner worker cleanup
// --file-pattern` (2.3.1), minus its bugs: the pid liveness test is the right
// way round, dangerous patterns are refused more broadly, symlinks are never
// followed, and ident names from artifacts/ are not used as glob patterns.
// One unsafe match (a symlink, a dir reached through a symlink outside the
// pattern's base, a tree that cannot be read in full or that holds a mount) is
// skipped and reported while the rest is cleaned: a refusal of the whole run
// is kept for patterns that name system dirs.
import { readFileSync, readlinkSync } from 'node:fs';
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { processExists } from '../job/pid.js';
import { pythonGlob } from './glob.js';
import { checkPattern, matchLocation, outsideBaseReason, protectedPaths, resolvedBase, type Refusal } from './safety.js';

export const GRACE_PERIOD_DEFAULT_MINUTES = 60;

/** ansible_runner.defaults.registry_auth_prefix */
const REGISTRY_AUTH_PREFIX = 'ansible_runner_registry_';
/** tempfile.mkdtemp's random suffix: 8 characters of [a-z0-9_]. */
const MKDTEMP_SUFFIX = /^[a-z0-9_]{8}$/;

export interface DirCleanupOptions {
  /** A Python glob (see glob.ts), absolute or relative to cwd. */
  pattern: string;
  /** Matches whose path contains any of these substrings are kept. */
  excludeStrings?: readonly string[];
  /** Keep dirs modified less than this many minutes ago; 0 disables the age filter. */
  gracePeriodMinutes?: number;
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
  now?: Date;
  cwd?: string;
  /** Where ansible-runner made its registry auth dirs (its gettempdir()). */
  tempDir?: string;
  /** Receives the progress lines ansible-runner prints (and dry-run's "Would remove" lines). */
  log?: (line: string) => void;
}

export const SKIP_REASONS = [
  'excluded',
  'within-grace-period',
  'live-process',
  'not-a-directory',
  'symlink',
  'vanished',
  'outside-base',
  'unreadable',
  'other-filesystem',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/**
 * Skips that say something is wrong on disk, as opposed to the ordinary ones
 * (excluded, young, running, a plain file, gone): they are reported one by
 * one on stderr and make the operator's sweep Event a Warning.
 */
export const UNSAFE_SKIP_REASONS: ReadonlySet<SkipReason> = new Set(['symlink', 'outside-base', 'unreadable', 'other-filesystem']);

export interface RemovedDir {
  path: string;
  bytes: number;
  registryAuthDirs: string[];
}

export interface SkippedPath {
  path: string;
  reason: SkipReason;
  detail: string;
}

export interface CleanupFailure {
  path: string;
  message: string;
}

export interface DirCleanupReport {
  pattern: string;
  dryRun: boolean;
  /** Set when the pattern was refused; then nothing was removed. */
  refusal?: Refusal;
  /** Removed dirs (with dryRun: the ones that would be removed). */
  removed: RemovedDir[];
  skipped: SkippedPath[];
  errors: CleanupFailure[];
  /** Bytes freed by removed dirs and their registry auth dirs (with dryRun: would be freed). */
  bytesFreed: number;
  /** True when something was actually deleted (never with dryRun). */
  changed: boolean;
}

type Verdict = { remove: true } | { remove: false; reason: SkipReason; detail: string };

interface Criteria {
  /** The pattern's base, symlinks resolved; matches must lie below it. */
  base: string;
  cwd: string;
  excludeStrings: readonly string[];
  gracePeriodMinutes: number;
  now: Date;
}

/** ansible-runner's order: exclude strings, then age, then the pid file. */
async function judge(match: string, onDisk: string, opts: Criteria): Promise<Verdict> {
  const excludedBy = opts.excludeStrings.find((s) => match.includes(s));
  if (excludedBy !== undefined) return { remove: false, reason: 'excluded', detail: `path contains '${excludedBy}'` };
  let st;
  try {
    st = await lstat(onDisk);
  } catch {
    return { remove: false, reason: 'vanished', detail: 'no longer exists' };
  }
  if (st.isSymbolicLink()) return { remove: false, reason: 'symlink', detail: `a symlink${linkTarget(onDisk)}; symlinks are never followed or removed` };
  if (!st.isDirectory()) return { remove: false, reason: 'not-a-directory', detail: 'only directories are removed' };
  const outside = outsideBaseReason(matchLocation(match, opts.cwd), opts.base);
  if (outside !== undefined) return { remove: false, reason: 'outside-base', detail: `${outside} (reached through a symlinked dir)` };
  if (opts.gracePeriodMinutes > 0) {
    const cutoff = opts.now.getTime() - opts.gracePeriodMinutes * 60_000;
    if (st.mtimeMs > cutoff) {
      return { remove: false, reason: 'within-grace-period', detail: `modified ${new Date(st.mtimeMs).toISOString()}, after ${new Date(cutoff).toISOString()}` };
    }
  }
  const pid = pidFileState(onDisk);
  if (pid.kind === 'alive') return { remove: false, reason: 'live-process', detail: `pid ${pid.pid} is running` };
  if (pid.kind === 'unreadable') return { remove: false, reason: 'unreadable', detail: `cannot read ${path.join(onDisk, 'pid')} (${pid.code}), so a running job cannot be ruled out` };
  return { remove: true };
}

function linkTarget(p: string): string {
  try {
    return ` to ${readlinkSync(p)}`;
  } catch {
    return '';
  }
}

/** `<tempDir>/ansible_runner_registry_<ident>_XXXXXXXX` dirs for every `<dir>/artifacts/<ident>`. */
async function registryAuthDirs(dir: string, tempDir: string): Promise<string[]> {
  let idents: string[];
  let tempEntries: string[];
  try {
    idents = await readdir(path.join(dir, 'artifacts'));
    tempEntries = await readdir(tempDir);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const ident of idents) {
    const prefix = `${REGISTRY_AUTH_PREFIX}${ident}_`;
    for (const name of tempEntries) {
      if (!name.startsWith(prefix) || !MKDTEMP_SUFFIX.test(name.slice(prefix.length))) continue;
      const candidate = path.join(tempDir, name);
      const st = await lstat(candidate).catch(() => undefined);
      if (st?.isDirectory()) found.push(candidate);
    }
  }
  return found.sort();
}

function validateGracePeriod(minutes: number): void {
  if (!Number.isInteger(minutes) || minutes < 0) throw new RangeError(`grace period must be a non-negative integer number of minutes, got ${minutes}`);
}

export async function cleanupDirs(options: DirCleanupOptions): Promise<DirCleanupReport> {
  const gracePeriodMinutes = options.gracePeriodMinutes ?? GRACE_PERIOD_DEFAULT_MINUTES;
  validateGracePeriod(gracePeriodMinutes);
  const cwd = options.cwd ?? process.cwd();
  const tempDir = options.tempDir ?? tmpdir();
  const dryRun = options.dryRun ?? false;
  const log = options.log ?? (() => {});
  const report: DirCleanupReport = { pattern: options.pattern, dryRun, removed: [], skipped: [], errors: [], bytesFreed: 0, changed: false };

  const matches = pythonGlob(options.pattern, cwd);
  const refusal = checkPattern(options.pattern, matches, cwd, protectedPaths(tempDir));
  if (refusal) return { ...report, refusal };

  const criteria: Criteria = {
    base: resolvedBase(options.pattern, cwd),
    cwd,
    excludeStrings: options.excludeStrings ?? [],
    gracePeriodMinutes,
    now: options.now ?? new Date(),
  };
  const skip = (match: string, reason: SkipReason, detail: string) => report.skipped.push({ path: match, reason, detail });
  for (const match of matches) {
    const onDisk = path.resolve(cwd, match);
    const verdict = await judge(match, onDisk, criteria);
    if (!verdict.remove) {
      if (verdict.reason === 'live-process') log(`Excluding running project ${match} from cleanup`);
      skip(match, verdict.reason, verdict.detail);
      continue;
    }
    try {
      const removed = await removePrivateDataDir(match, onDisk, tempDir, dryRun, log);
      report.removed.push(removed);
      report.bytesFreed += removed.bytes;
    } catch (err) {
      if (err instanceof UnsafeTreeError) skip(match, err.reason, err.message);
      else report.errors.push({ path: match, message: (err as Error).message });
    }
  }
  report.changed = !dryRun && report.removed.length > 0;
  return report;
}

async function removePrivateDataDir(match: string, onDisk: string, tempDir: string, dryRun: boolean, log: (line: string) => void): Promise<RemovedDir> {
  // Every tree is scanned before anything is deleted, so a dir that cannot be
  // read in full, or that holds a mount, is skipped whole instead of half emptied.
  const tree = await scanTree(onDisk);
  const registryDirs = await registryAuthDirs(onDisk, tempDir);
  const registryTrees = await Promise.all(registryDirs.map((dir) => scanTree(dir)));
  let bytes = 0;
  for (const [i, registryDir] of registryDirs.entries()) {
    bytes += registryTrees[i]!.bytes;
    if (!dryRun) await deleteScanned(registryTrees[i]!);
    log(`${dryRun ? 'Would remove' : 'Removed'} associated registry auth dir ${registryDir}`);
  }
  bytes += tree.bytes;
  if (!dryRun) await deleteScanned(tree);
  if (dryRun) log(`Would remove private data dir ${match}`);
  return { path: match, bytes, registryAuthDirs: registryDirs };
}

// --- Liveness: a live pid protects its dir. ---

export type PidFileState =
  | { kind: 'none' }
  | { kind: 'invalid'; content: string }
  | { kind: 'unreadable'; code: string }
  | { kind: 'dead'; pid: number }
  | { kind: 'alive'; pid: number };

/**
 * Read `<dir>/pid` the way ansible-runner writes it (the pid on the first line)
 * and test the process. ansible-runner 2.3.1 inverts this test; here a live
 * pid protects its dir. Only positive integers count: kill(0) and kill(-1)
 * would probe process groups, not a job.
 */
export function pidFileState(dir: string): PidFileState {
  let content: string;
  try {
    content = readFileSync(path.join(dir, 'pid'), 'utf8');
  } catch (err) {
    const code = errorCode(err) ?? 'unknown error';
    // A pid file that exists but cannot be read may name a live job.
    return ACCESS_DENIED.has(code) ? { kind: 'unreadable', code } : { kind: 'none' };
  }
  const firstLine = content.split('\n', 1)[0]!.trim();
  if (!/^\d+$/.test(firstLine)) return { kind: 'invalid', content: firstLine };
  const pid = Number(firstLine);
  if (!Number.isSafeInteger(pid) || pid < 1) return { kind: 'invalid', content: firstLine };
  return processExists(pid) ? { kind: 'alive', pid } : { kind: 'dead', pid };
}

// --- Removing a tree without following links or crossing filesystems. ---

/** A tree that must not be removed: part of it cannot be read, or it holds another filesystem. */
export class UnsafeTreeError extends Error {
  override name = 'UnsafeTreeError';
  constructor(
    readonly reason: 'unreadable' | 'other-filesystem',
    message: string,
  ) {
    super(message);
  }
}

interface ScannedTree {
  /** Apparent size of every non-directory entry (what `du --apparent-size` counts). */
  bytes: number;
  /** Files and links first, then each dir after its contents: the order to delete in. */
  deleteOrder: Array<{ path: string; isDir: boolean }>;
}

const ACCESS_DENIED = new Set(['EACCES', 'EPERM']);

/** The error code of a failed fs call, if it has one. */
const errorCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * Walk a directory tree without following symlinks - a link is an entry to
 * unlink, never entered - and list what deleting it means. Throws an
 * UnsafeTreeError for a dir that cannot be read (its contents are unknown) or a
 * mount inside (a volume or host path that a removal would empty).
 */
async function scanTree(root: string): Promise<ScannedTree> {
  const rootStat = await lstat(root);
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a directory`);
  const scanned: ScannedTree = { bytes: 0, deleteOrder: [] };
  await scanDir(root, rootStat.dev, scanned);
  return scanned;
}

async function scanDir(dir: string, device: number, into: ScannedTree): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = errorCode(err);
    if (code !== undefined && ACCESS_DENIED.has(code)) throw new UnsafeTreeError('unreadable', `cannot read ${dir} (${code}); nothing in it was removed`);
    throw err;
  }
  for (const name of names) {
    const entry = path.join(dir, name);
    const st = await lstat(entry);
    if (st.isDirectory()) {
      if (st.dev !== device) throw new UnsafeTreeError('other-filesystem', `${entry} is a mount point (another filesystem); nothing in it was removed`);
      await scanDir(entry, device, into);
    } else {
      into.bytes += st.size;
      into.deleteOrder.push({ path: entry, isDir: false });
    }
  }
  into.deleteOrder.push({ path: dir, isDir: true });
}

async function deleteScanned(tree: ScannedTree): Promise<void> {
  for (const entry of tree.deleteOrder) {
    if (entry.isDir) await rmdir(entry.path);
    else await unlink(entry.path);
  }
}
