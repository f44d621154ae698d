// `ajo worker cleanup` end to end: the same steps, output lines and exit codes
// as ansible_runner.cleanup.run_cleanup, except that failures end in one
// precise message on stderr and exit 1 instead of a traceback.
import { cleanupDirs, UNSAFE_SKIP_REASONS, type DirCleanupReport } from './dirs.js';
import { connectEngine, resolveEngineEndpoint, type Engine, type Executable } from './engine.js';
import { pruneImages, removeImages, type ImageRemovalReport, type PruneReport } from './images.js';

export interface WorkerCleanupOptions {
  filePattern?: string | undefined;
  excludeStrings: readonly string[];
  gracePeriodMinutes: number;
  removeImages: readonly string[];
  imagePrune: boolean;
  imagePruneLabels: readonly string[];
  imagePruneUntil?: string | undefined;
  processIsolationExecutable: Executable;
  engineHost?: string | undefined;
  dryRun: boolean;
}

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface WorkerCleanupResult {
  exitCode: 0 | 1;
  changed: boolean;
  dirs?: DirCleanupReport;
  images?: ImageRemovalReport;
  prune?: PruneReport;
}

function printDirOutcome(report: DirCleanupReport, io: Output): void {
  for (const e of report.errors) io.err(`Error removing ${e.path}: ${e.message}`);
  // Unsafe entries are skipped, not fatal: one planted symlink must not stop every later sweep.
  const unsafe = report.skipped.filter((s) => UNSAFE_SKIP_REASONS.has(s.reason));
  for (const s of unsafe) io.err(`Skipping ${s.path} (${s.reason}): ${s.detail}`);
  const n = report.removed.length;
  if (n > 0) io.out(report.dryRun ? `Would remove ${n} private data dir(s) in pattern ${report.pattern}` : `Removed ${n} private data dir(s) in pattern ${report.pattern}`);
  if (unsafe.length > 0) io.out(`Skipped ${unsafe.length} unsafe path(s) in pattern ${report.pattern}`);
}

function printImageOutcome(report: ImageRemovalReport, dryRun: boolean, io: Output): void {
  for (const ref of dryRun ? report.untagged : []) io.out(`Would untag image ${ref}`);
  for (const k of report.kept) io.out(`Keeping image ${k.reference}: ${k.reason}`);
  if (!dryRun && report.untagged.length > 0) io.out(`Removed ${report.untagged.length} image(s)`);
}

function printPruneOutcome(report: PruneReport, dryRun: boolean, io: Output): void {
  if (dryRun) {
    for (const id of report.deleted) io.out(`Would prune image ${id}`);
  } else if (report.changed) {
    io.out('Pruned images');
  }
}

export async function runWorkerCleanup(options: WorkerCleanupOptions, io: Output): Promise<WorkerCleanupResult> {
  const result: WorkerCleanupResult = { exitCode: 0, changed: false };
  const fail = (message: string): WorkerCleanupResult => {
    io.err(message);
    return { ...result, exitCode: 1 };
  };

  if (options.filePattern) {
    const dirs = await cleanupDirs({
      pattern: options.filePattern,
      excludeStrings: options.excludeStrings,
      gracePeriodMinutes: options.gracePeriodMinutes,
      dryRun: options.dryRun,
      log: io.out,
    });
    result.dirs = dirs;
    if (dirs.refusal) return fail(dirs.refusal.message);
    printDirOutcome(dirs, io);
    // Dirs that could not be removed are per-path failures, not a reason to skip the
    // image steps or the (changed: ...) line that tools parse: they only set the exit code.
    if (dirs.errors.length > 0) result.exitCode = 1;
  }

  if (options.removeImages.length > 0 || options.imagePrune) {
    let engine: Engine;
    try {
      const endpoint = resolveEngineEndpoint(options.processIsolationExecutable, { explicit: options.engineHost });
      engine = await connectEngine(options.processIsolationExecutable, endpoint);
    } catch (err) {
      return fail((err as Error).message);
    }
    try {
      if (options.removeImages.length > 0) {
        result.images = await removeImages(engine, options.removeImages, { dryRun: options.dryRun });
        printImageOutcome(result.images, options.dryRun, io);
      }
      if (options.imagePrune) {
        result.prune = await pruneImages(engine, { labels: options.imagePruneLabels, until: options.imagePruneUntil, dryRun: options.dryRun });
        printPruneOutcome(result.prune, options.dryRun, io);
      }
    } catch (err) {
      return fail((err as Error).message);
    }
  }

  result.changed = Boolean(result.dirs?.changed || result.images?.changed || result.prune?.changed);
  io.out(`(changed: ${result.changed ? 'True' : 'False'})`);
  return result;
}
