// One sweep of the artifacts volume, for the operator's periodic cleanup
// reconciler. It is cleanupDirs confined to a volume: the pattern is relative
// to the volume root, and the outcome is a plain, serialisable report the
// reconciler turns into metrics and an Event.
import path from 'node:path';

import { cleanupDirs, SKIP_REASONS, UNSAFE_SKIP_REASONS, type DirCleanupReport, type SkipReason } from '../cleanup/dirs.js';

export interface ArtifactsSweepOptions {
  /** Root of the artifacts volume, e.g. /var/lib/ajo/artifacts. */
  volume: string;
  /** Glob relative to the volume (default `*`: every top-level entry). */
  pattern?: string;
  gracePeriodMinutes: number;
  excludeStrings?: readonly string[];
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
  now?: Date;
}

export interface SweepCounts {
  removed: number;
  skipped: Record<SkipReason, number>;
  errors: number;
  bytesFreed: number;
}

export interface SweepReport extends DirCleanupReport {
  volume: string;
  startedAt: string;
  durationMs: number;
  counts: SweepCounts;
}

export class SweepConfigError extends Error {
  override name = 'SweepConfigError';
}

function assertRelativePattern(pattern: string): void {
  if (path.isAbsolute(pattern)) throw new SweepConfigError(`sweep pattern must be relative to the artifacts volume, got ${pattern}`);
  if (pattern.split('/').includes('..')) throw new SweepConfigError(`sweep pattern may not contain '..': ${pattern}`);
  if (pattern.trim() === '') throw new SweepConfigError('sweep pattern is empty');
}

function countSkips(report: DirCleanupReport): Record<SkipReason, number> {
  const counts = Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<SkipReason, number>;
  for (const s of report.skipped) counts[s.reason] += 1;
  return counts;
}

export async function sweepArtifacts(options: ArtifactsSweepOptions): Promise<SweepReport> {
  const pattern = options.pattern ?? '*';
  assertRelativePattern(pattern);
  if (!path.isAbsolute(options.volume)) throw new SweepConfigError(`artifacts volume must be an absolute path, got ${options.volume}`);
  const started = options.now ?? new Date();
  const t0 = performance.now();
  const report = await cleanupDirs({
    pattern: path.join(options.volume, pattern),
    gracePeriodMinutes: options.gracePeriodMinutes,
    excludeStrings: options.excludeStrings ?? [],
    dryRun: options.dryRun ?? false,
    now: started,
  });
  return {
    ...report,
    volume: options.volume,
    startedAt: started.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    counts: { removed: report.removed.length, skipped: countSkips(report), errors: report.errors.length, bytesFreed: report.bytesFreed },
  };
}

/** One line for a Kubernetes Event: Normal when the sweep went through, Warning otherwise. */
export function sweepEvent(report: SweepReport): { type: 'Normal' | 'Warning'; reason: string; message: string } {
  if (report.refusal) return { type: 'Warning', reason: 'CleanupRefused', message: report.refusal.message.replace(/\n/g, ' ') };
  const skipped = Object.entries(report.counts.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  const unsafe = report.skipped.filter((s) => UNSAFE_SKIP_REASONS.has(s.reason));
  const message =
    `${report.dryRun ? 'would remove' : 'removed'} ${report.counts.removed} dir(s) (${report.counts.bytesFreed} bytes) in ${report.volume}` +
    (skipped ? `; skipped ${skipped}` : '') +
    (unsafe.length ? `; unsafe: ${unsafe.map((s) => `${s.path}: ${s.detail}`).join('; ')}` : '') +
    (report.errors.length ? `; ${report.errors.length} error(s): ${report.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}` : '');
  if (report.errors.length) return { type: 'Warning', reason: 'CleanupFailed', message };
  if (unsafe.length) return { type: 'Warning', reason: 'CleanupSkippedUnsafe', message };
  return { type: 'Normal', reason: 'CleanupSwept', message };
}
