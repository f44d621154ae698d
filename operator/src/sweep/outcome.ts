// What one cleanup sweep did, and how it is reported: Prometheus metrics in the
// operator's registry and, when something was removed or went wrong, one
// Kubernetes Event. Plain data and pure functions, so the reporting is tested
// without a cluster.
import { EVENT_MESSAGE_LIMIT } from '../kube/events.js';
import { Counter, Gauge, type Registry } from '../kube/metrics.js';

export { EVENT_MESSAGE_LIMIT };

export const REMOVED_KINDS = ['pod', 'ansiblejob', 'artifacts_dir', 'image', 'dangling_image'] as const;
export type RemovedKind = (typeof REMOVED_KINDS)[number];

export interface SweepFailure {
  kind: RemovedKind;
  message: string;
}

export interface SweepOutcome {
  startedAt: string;
  durationMs: number;
  /** Per kind: `namespace/name` of objects, paths of dirs, image references or ids. */
  removed: Record<RemovedKind, string[]>;
  /** Bytes of artifacts dirs removed plus the space the engine reclaimed. */
  bytesFreed: number;
  errors: SweepFailure[];
  /** The artifacts pattern was refused as dangerous; nothing was removed from the volume. */
  refusal?: string;
  /**
   * Artifacts entries left alone because touching them is unsafe (a symlink, a
   * path outside the volume, an unreadable dir, a mount): `path: why`. The rest
   * of the volume was still swept.
   */
  unsafeSkips: string[];
}

export function emptyOutcome(startedAt: Date): SweepOutcome {
  return {
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    removed: { pod: [], ansiblejob: [], artifacts_dir: [], image: [], dangling_image: [] },
    bytesFreed: 0,
    errors: [],
    unsafeSkips: [],
  };
}

export const removedCount = (outcome: SweepOutcome) => REMOVED_KINDS.reduce((sum, kind) => sum + outcome.removed[kind].length, 0);
export const isFailed = (outcome: SweepOutcome) => outcome.errors.length > 0 || outcome.refusal !== undefined;

export interface SweepEvent {
  type: 'Normal' | 'Warning';
  reason: 'CleanupSwept' | 'CleanupFailed' | 'CleanupRefused' | 'CleanupSkippedUnsafe';
  message: string;
}

const NAMES_SHOWN = 5;

const KIND_NOUNS: Record<RemovedKind, string> = {
  pod: 'orphaned pod(s)',
  ansiblejob: 'expired AnsibleJob(s)',
  artifacts_dir: 'artifacts dir(s)',
  image: 'image tag(s)',
  dangling_image: 'dangling image(s)',
};

function listed(names: readonly string[]): string {
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  return names.length > NAMES_SHOWN ? `${shown}, and ${names.length - NAMES_SHOWN} more` : shown;
}

/** The Event for a sweep; none for a sweep that changed nothing and failed nowhere. */
export function sweepEventOf(outcome: SweepOutcome): SweepEvent | undefined {
  const removedParts = REMOVED_KINDS.filter((kind) => outcome.removed[kind].length > 0).map(
    (kind) => `${outcome.removed[kind].length} ${KIND_NOUNS[kind]} (${listed(outcome.removed[kind])})`,
  );
  if (removedParts.length === 0 && !isFailed(outcome) && outcome.unsafeSkips.length === 0) return undefined;
  const parts = [removedParts.length > 0 ? `removed ${removedParts.join('; ')}` : 'removed nothing'];
  if (outcome.bytesFreed > 0) parts.push(`${outcome.bytesFreed} bytes freed`);
  if (outcome.refusal) parts.push(`artifacts sweep refused: ${outcome.refusal}`);
  if (outcome.errors.length > 0) parts.push(`${outcome.errors.length} error(s): ${outcome.errors.map((e) => `${e.kind}: ${e.message}`).join('; ')}`);
  if (outcome.unsafeSkips.length > 0) parts.push(`skipped ${outcome.unsafeSkips.length} unsafe artifacts path(s): ${outcome.unsafeSkips.join('; ')}`);
  let message = parts.join('; ').replace(/\s*\n\s*/g, ' ');
  if (message.length > EVENT_MESSAGE_LIMIT) message = `${message.slice(0, EVENT_MESSAGE_LIMIT - 1)}…`;
  if (outcome.refusal) return { type: 'Warning', reason: 'CleanupRefused', message };
  if (outcome.errors.length > 0) return { type: 'Warning', reason: 'CleanupFailed', message };
  if (outcome.unsafeSkips.length > 0) return { type: 'Warning', reason: 'CleanupSkippedUnsafe', message };
  return { type: 'Normal', reason: 'CleanupSwept', message };
}

export interface CleanupMetrics {
  sweeps: Counter<'result'>;
  removed: Counter<'kind'>;
  errors: Counter<'kind'>;
  bytesFreed: Counter;
  lastSweepTimestamp: Gauge;
  lastSweepDuration: Gauge;
  lastSweepRemoved: Gauge;
  unsafeSkips: Counter;
}

const registered = new WeakMap<Registry, CleanupMetrics>();

/**
 * The cleanup metrics in an operator's registry, registered once per registry
 * (an instance that loses and regains leadership keeps its counters).
 */
export function cleanupMetrics(registry: Registry): CleanupMetrics {
  const existing = registered.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: CleanupMetrics = {
    sweeps: new Counter({ name: 'ajo_cleanup_sweeps_total', help: 'Cleanup sweeps by result (ok, failed).', labelNames: ['result'], registers }),
    removed: new Counter({ name: 'ajo_cleanup_removed_total', help: 'Objects removed by the cleanup sweep, by kind.', labelNames: ['kind'], registers }),
    errors: new Counter({
      name: 'ajo_cleanup_errors_total',
      help: 'Cleanup failures (a list, a delete, a dir, an engine request), by kind.',
      labelNames: ['kind'],
      registers,
    }),
    bytesFreed: new Counter({ name: 'ajo_cleanup_freed_bytes_total', help: 'Bytes freed by removing artifacts dirs and images.', registers }),
    lastSweepTimestamp: new Gauge({ name: 'ajo_cleanup_last_sweep_timestamp_seconds', help: 'Unix time the last cleanup sweep started.', registers }),
    lastSweepDuration: new Gauge({ name: 'ajo_cleanup_last_sweep_duration_seconds', help: 'How long the last cleanup sweep took.', registers }),
    lastSweepRemoved: new Gauge({ name: 'ajo_cleanup_last_sweep_removed', help: 'Objects the last cleanup sweep removed, all kinds.', registers }),
    unsafeSkips: new Counter({
      name: 'ajo_cleanup_unsafe_skips_total',
      help: 'Artifacts entries the sweep left alone as unsafe (symlink, outside the volume, unreadable, a mount).',
      registers,
    }),
  };
  // Zero series from the start, so rate() and absent-alerts work before the first removal
  // (metrics without labels start at zero by themselves).
  for (const kind of REMOVED_KINDS) {
    metrics.removed.inc({ kind }, 0);
    metrics.errors.inc({ kind }, 0);
  }
  for (const result of ['ok', 'failed']) metrics.sweeps.inc({ result }, 0);
  registered.set(registry, metrics);
  return metrics;
}

export function recordSweepMetrics(metrics: CleanupMetrics, outcome: SweepOutcome): void {
  metrics.sweeps.inc({ result: isFailed(outcome) ? 'failed' : 'ok' });
  for (const kind of REMOVED_KINDS) {
    if (outcome.removed[kind].length > 0) metrics.removed.inc({ kind }, outcome.removed[kind].length);
  }
  for (const failure of outcome.errors) metrics.errors.inc({ kind: failure.kind });
  if (outcome.refusal) metrics.errors.inc({ kind: 'artifacts_dir' });
  if (outcome.bytesFreed > 0) metrics.bytesFreed.inc(outcome.bytesFreed);
  if (outcome.unsafeSkips.length > 0) metrics.unsafeSkips.inc(outcome.unsafeSkips.length);
  metrics.lastSweepTimestamp.set(Date.parse(outcome.startedAt) / 1000);
  metrics.lastSweepDuration.set(outcome.durationMs / 1000);
  metrics.lastSweepRemoved.set(removedCount(outcome));
}
