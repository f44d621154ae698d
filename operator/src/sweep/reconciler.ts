// The operator's cleanup reconciler: a periodic, level-based sweep that runs
// only while this operator instance holds the leader lease (operator.ts starts
// and stops it with the controller). Each sweep
//   1. observes the labelled worker pods (metadata only) and the AnsibleJobs,
//   2. deletes finished AnsibleJobs whose ttlSecondsAfterFinished passed a grace
//      ago - the controller deletes them on time, this is the safety net,
//   3. deletes worker pods that no remaining AnsibleJob owns (payload Secrets are
//      owned by their job from the start and left to the garbage collector),
//   4. sweeps the artifacts volume, when one is mounted (pattern + grace period),
//      keeping the dirs of jobs that have not finished,
//   5. removes or prunes images, only when an engine endpoint is configured,
// and reports itself as metrics and, when it removed or failed anything, one Event.
//
// Every delete carries uid and resourceVersion preconditions: an object that was
// replaced or changed after it was judged is left for the next sweep to judge again.
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { KIND } from '../api/ansible-job.js';
import { isConflict, isNotFound, paths, type KubeClient } from '../kube/client.js';
import { EventRecorder, type EventSubject } from '../kube/events.js';
import type { Logger } from '../kube/log.js';
import type { Registry } from '../kube/metrics.js';
import { UNSAFE_SKIP_REASONS } from '../cleanup/dirs.js';
import { connectEngine, dockerOptions } from '../cleanup/engine.js';
import { pruneImages, removeImages, untilCutoff } from '../cleanup/images.js';
import { observeCluster } from './observe.js';
import { expiredJobs, findOrphans, liveArtifactStrings, type DependentFacts, type JobFacts, type SweepPolicy } from './orphans.js';
import { sweepArtifacts } from './artifacts-sweep.js';
import {
  cleanupMetrics,
  emptyOutcome,
  recordSweepMetrics,
  removedCount,
  sweepEventOf,
  type CleanupMetrics,
  type RemovedKind,
  type SweepEvent,
  type SweepOutcome,
} from './outcome.js';

export const DEFAULT_CLEANUP_INTERVAL_SECONDS = 600;
export const DEFAULT_ORPHAN_MIN_AGE_SECONDS = 300;
export const DEFAULT_TTL_GRACE_SECONDS = 60;
export const DEFAULT_ARTIFACTS_PATTERN = 'artifacts/*';

export interface ArtifactsCleanup {
  /** Where the artifacts volume is mounted in the operator's pod. */
  dir: string;
  /** Glob relative to dir; the process sidecar writes `[subPath/]artifacts/<ident>/`. */
  pattern: string;
  gracePeriodMinutes: number;
}

export interface ImageCleanup {
  /** unix:///path.sock or tcp://host:port of a Docker or Podman engine; there is no default. */
  endpoint: string;
  /** Image references to remove (Podman: untag; Docker: rmi without force). */
  remove: string[];
  prune: boolean;
  pruneLabels: string[];
  pruneUntil?: string;
}

export interface CleanupConfig {
  intervalMs: number;
  orphanMinAgeMs: number;
  ttlGraceMs: number;
  artifacts?: ArtifactsCleanup;
  images?: ImageCleanup;
}

/** The object the sweep's Events are about (see eventTargetFor); its uid is looked up. */
export type EventTarget = Omit<EventSubject, 'uid' | 'resourceVersion'>;

export interface CleanupReconcilerOptions {
  config: CleanupConfig;
  client: KubeClient;
  /** Namespaces to sweep; empty = all, like the controller. */
  namespaces: string[];
  logger: Logger;
  registry: Registry;
  eventTarget?: EventTarget;
  /** Reported as the Event's reportingInstance. */
  identity?: string;
  now?: () => number;
}

export class CleanupConfigError extends Error {
  override name = 'CleanupConfigError';
}

const LABEL_FILTER = /^!?[^=!\s]+(=[^\s]*)?$/;

/** Every problem with a cleanup configuration, as precise messages (empty = valid). */
export function cleanupConfigProblems(config: CleanupConfig): string[] {
  const problems: string[] = [];
  if (!Number.isFinite(config.intervalMs) || config.intervalMs < 1000) problems.push('the cleanup interval must be at least 1 second');
  if (!(config.orphanMinAgeMs >= 0)) problems.push('the orphan minimum age must be >= 0');
  if (!(config.ttlGraceMs >= 0)) problems.push('the TTL grace must be >= 0');
  const { artifacts, images } = config;
  if (artifacts) {
    if (!path.isAbsolute(artifacts.dir)) problems.push(`--artifacts-dir must be an absolute path, got ${JSON.stringify(artifacts.dir)}`);
    if (artifacts.pattern.trim() === '') problems.push('--cleanup-pattern is empty');
    else if (path.isAbsolute(artifacts.pattern)) problems.push(`--cleanup-pattern must be relative to --artifacts-dir, got ${JSON.stringify(artifacts.pattern)}`);
    else if (artifacts.pattern.split('/').includes('..')) problems.push(`--cleanup-pattern may not contain '..': ${JSON.stringify(artifacts.pattern)}`);
    if (!Number.isInteger(artifacts.gracePeriodMinutes) || artifacts.gracePeriodMinutes < 0) problems.push('--cleanup-grace-period must be a whole number of minutes >= 0');
  }
  if (images) {
    try {
      dockerOptions({ url: images.endpoint, source: 'flag' });
    } catch (error) {
      problems.push(`--image-cleanup-endpoint: ${(error as Error).message}`);
    }
    if (images.remove.length === 0 && !images.prune) problems.push('--image-cleanup-endpoint needs --image-cleanup-remove or --image-prune: there is nothing to do');
    for (const label of images.pruneLabels) if (!LABEL_FILTER.test(label)) problems.push(`--image-prune-label: ${JSON.stringify(label)} is not KEY, KEY=VALUE, !KEY or !KEY=VALUE`);
    if (images.pruneUntil !== undefined && untilCutoff(images.pruneUntil) === undefined) {
      problems.push(`--image-prune-until: ${JSON.stringify(images.pruneUntil)} is not a duration (24h), unix seconds, or an RFC 3339 time`);
    }
  }
  return problems;
}

export function assertCleanupConfig(config: CleanupConfig): void {
  const problems = cleanupConfigProblems(config);
  if (problems.length > 0) throw new CleanupConfigError(problems.join('; '));
}

/**
 * Where the sweep's Events go. The sweep's subjects are deleted objects, which
 * cannot carry Events, and a namespace has no object of its own to hang them on.
 * So they are about the operator itself:
 *  - with leader election, the leader Lease: only the leader sweeps, the Lease
 *    exists whenever it does, and it outlives the operator's pods, so
 *    `kubectl describe lease` shows the sweep history across restarts and failovers;
 *  - without, the operator's own Pod (POD_NAME and POD_NAMESPACE from the downward API);
 *  - otherwise none, and the JSON log and metrics are the record.
 */
export function eventTargetFor(leaderElection: { namespace: string; leaseName: string } | undefined, env: NodeJS.ProcessEnv = process.env): EventTarget | undefined {
  if (leaderElection) return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: leaderElection.namespace, name: leaderElection.leaseName };
  if (env.POD_NAME && env.POD_NAMESPACE) return { apiVersion: 'v1', kind: 'Pod', namespace: env.POD_NAMESPACE, name: env.POD_NAME };
  return undefined;
}

const pathOf = (target: EventTarget) =>
  target.kind === 'Lease' ? paths.lease(target.namespace, target.name) : paths.pod(target.namespace, target.name);

type DeleteResult = 'deleted' | 'gone' | 'changed';

/** Deletes in flight at once: a backlog of thousands clears in seconds without flooding the API server. */
const DELETE_CONCURRENCY = 8;

/** Runs `task` over `items`, at most `limit` at a time; `task` must not throw. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class CleanupReconciler {
  private readonly metrics: CleanupMetrics;
  private readonly now: () => number;
  private readonly events: EventRecorder;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepOutcome> | undefined;
  private readonly abort = new AbortController();
  private targetUid: string | undefined;

  constructor(private readonly options: CleanupReconcilerOptions) {
    assertCleanupConfig(options.config);
    this.metrics = cleanupMetrics(options.registry);
    this.now = options.now ?? Date.now;
    this.events = new EventRecorder({ client: options.client, logger: options.logger, instance: options.identity, now: this.now });
  }

  /** Sweeps now and then every interval after the previous sweep ended; sweeps never overlap. */
  start(): void {
    if (this.timer || this.abort.signal.aborted) return;
    const loop = async () => {
      await this.sweep().catch((error) => this.options.logger.error('cleanup sweep failed', { error }));
      if (!this.abort.signal.aborted) this.timer = setTimeout(loop, this.options.config.intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops the timer and any sweep in flight, between two deletes. */
  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep; concurrent callers share the sweep in flight. */
  sweep(): Promise<SweepOutcome> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private get stopped() {
    return this.abort.signal.aborted;
  }

  private async sweepOnce(): Promise<SweepOutcome> {
    const { config, client, namespaces } = this.options;
    const started = performance.now();
    const outcome = emptyOutcome(new Date(this.now()));
    const policy: SweepPolicy = { now: this.now(), orphanMinAgeMs: config.orphanMinAgeMs, ttlGraceMs: config.ttlGraceMs };

    const observed = await observeCluster(client, namespaces, this.abort.signal);
    if (observed.pods instanceof Error) outcome.errors.push({ kind: 'pod', message: `listing pods: ${observed.pods.message}` });

    if (observed.jobs instanceof Error) {
      // Without the jobs nothing can be judged: every pod would look orphaned.
      outcome.errors.push({ kind: 'ansiblejob', message: `listing ansiblejobs: ${observed.jobs.message}; nothing was judged` });
    } else {
      const gone = await this.deleteExpiredJobs(expiredJobs(observed.jobs, policy), outcome);
      const remaining = observed.jobs.filter((job) => !gone.has(job.uid));
      const orphans = findOrphans({ pods: observed.pods instanceof Error ? [] : observed.pods, jobs: remaining }, policy);
      await eachLimited(orphans.pods, DELETE_CONCURRENCY, ({ object, reason }) => this.deleteOrphanedPod(object, reason, outcome));
      if (config.artifacts && !this.stopped) await this.sweepArtifactsVolume(config.artifacts, liveArtifactStrings(remaining), outcome);
    }
    if (config.artifacts && observed.jobs instanceof Error) {
      outcome.errors.push({ kind: 'artifacts_dir', message: 'skipped: without the AnsibleJobs, the dirs of running jobs cannot be told apart' });
    }
    if (config.images && !this.stopped) await this.cleanImages(config.images, outcome);

    outcome.durationMs = Math.round(performance.now() - started);
    await this.report(outcome);
    return outcome;
  }

  private async deleteObject(objectPath: string, uid: string, resourceVersion: string): Promise<DeleteResult> {
    try {
      await this.options.client.request('DELETE', objectPath, {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid, resourceVersion } },
        signal: this.abort.signal,
      });
      return 'deleted';
    } catch (error) {
      if (isNotFound(error)) return 'gone';
      // A failed precondition: the object was replaced or changed since it was judged.
      if (isConflict(error)) return 'changed';
      throw error;
    }
  }

  /** Deletes the jobs; returns the uids that no longer exist. */
  private async deleteExpiredJobs(jobs: JobFacts[], outcome: SweepOutcome): Promise<Set<string>> {
    const gone = new Set<string>();
    for (const job of jobs) {
      if (this.stopped) break;
      const ref = `${job.namespace}/${job.name}`;
      try {
        const result = await this.deleteObject(paths.ansibleJob(job.namespace, job.name), job.uid, job.resourceVersion);
        if (result !== 'changed') gone.add(job.uid);
        if (result === 'deleted') {
          outcome.removed.ansiblejob.push(ref);
          this.options.logger.info('cleanup: deleted AnsibleJob past ttlSecondsAfterFinished', {
            job: ref,
            uid: job.uid,
            completionTime: job.completionTime,
            ttlSecondsAfterFinished: job.ttlSecondsAfterFinished,
          });
        }
      } catch (error) {
        outcome.errors.push({ kind: 'ansiblejob', message: `deleting ${KIND} ${ref}: ${errorMessage(error)}` });
      }
    }
    return gone;
  }

  private async deleteOrphanedPod(object: DependentFacts, reason: string, outcome: SweepOutcome): Promise<void> {
    if (this.stopped) return;
    const ref = `${object.namespace}/${object.name}`;
    try {
      if ((await this.deleteObject(paths.pod(object.namespace, object.name), object.uid, object.resourceVersion)) === 'deleted') {
        outcome.removed.pod.push(ref);
        this.options.logger.info('cleanup: deleted orphaned pod', { object: ref, uid: object.uid, reason, labels: object.labels });
      }
    } catch (error) {
      outcome.errors.push({ kind: 'pod', message: `deleting pod ${ref}: ${errorMessage(error)}` });
    }
  }

  private async sweepArtifactsVolume(artifacts: ArtifactsCleanup, liveArtifacts: string[], outcome: SweepOutcome): Promise<void> {
    try {
      const info = await stat(artifacts.dir);
      if (!info.isDirectory()) throw new Error('not a directory');
    } catch (error) {
      outcome.errors.push({ kind: 'artifacts_dir', message: `artifacts volume ${artifacts.dir} is not usable: ${errorMessage(error)}` });
      return;
    }
    try {
      const report = await sweepArtifacts({
        volume: artifacts.dir,
        pattern: artifacts.pattern,
        gracePeriodMinutes: artifacts.gracePeriodMinutes,
        excludeStrings: liveArtifacts,
        now: new Date(this.now()),
      });
      if (report.refusal) outcome.refusal = report.refusal.message;
      outcome.removed.artifacts_dir.push(...report.removed.map((dir) => dir.path));
      outcome.bytesFreed += report.bytesFreed;
      for (const failure of report.errors) outcome.errors.push({ kind: 'artifacts_dir', message: `${failure.path}: ${failure.message}` });
      for (const skip of report.skipped) {
        if (UNSAFE_SKIP_REASONS.has(skip.reason)) outcome.unsafeSkips.push(`${skip.path}: ${skip.detail}`);
      }
    } catch (error) {
      outcome.errors.push({ kind: 'artifacts_dir', message: errorMessage(error) });
    }
  }

  private async cleanImages(images: ImageCleanup, outcome: SweepOutcome): Promise<void> {
    let engine;
    try {
      engine = await connectEngine('docker', { url: images.endpoint, source: 'flag' });
    } catch (error) {
      outcome.errors.push({ kind: images.remove.length > 0 ? 'image' : 'dangling_image', message: errorMessage(error) });
      return;
    }
    if (images.remove.length > 0) {
      try {
        const report = await removeImages(engine, images.remove);
        outcome.removed.image.push(...report.untagged);
        for (const kept of report.kept) this.options.logger.info('cleanup: keeping image a container uses', { image: kept.reference, reason: kept.reason });
      } catch (error) {
        outcome.errors.push({ kind: 'image', message: errorMessage(error) });
      }
    }
    if (images.prune && !this.stopped) {
      try {
        const report = await pruneImages(engine, { labels: images.pruneLabels, ...(images.pruneUntil !== undefined ? { until: images.pruneUntil } : {}) });
        outcome.removed.dangling_image.push(...report.deleted);
        outcome.bytesFreed += report.spaceReclaimed;
      } catch (error) {
        outcome.errors.push({ kind: 'dangling_image', message: errorMessage(error) });
      }
    }
  }

  private async report(outcome: SweepOutcome): Promise<void> {
    recordSweepMetrics(this.metrics, outcome);
    const fields = { removed: removedCount(outcome), bytesFreed: outcome.bytesFreed, durationMs: outcome.durationMs, errors: outcome.errors.length };
    if (outcome.errors.length > 0 || outcome.refusal) this.options.logger.warn('cleanup sweep had failures', { ...fields, failures: outcome.errors, refusal: outcome.refusal });
    if (outcome.unsafeSkips.length > 0) this.options.logger.warn('cleanup sweep skipped unsafe artifacts paths', { ...fields, skipped: outcome.unsafeSkips });
    else this.options.logger.info('cleanup sweep', fields);
    const event = sweepEventOf(outcome);
    if (event) await this.recordEvent(event);
  }

  private async recordEvent(event: SweepEvent): Promise<void> {
    const target = this.options.eventTarget;
    if (!target) return;
    // kubectl describe matches Events by the object's uid too; without it the Event still lists by name.
    this.targetUid ??= await this.options.client
      .getOrUndefined<{ metadata?: { uid?: string } }>(pathOf(target))
      .then((object) => object?.metadata?.uid)
      .catch(() => undefined);
    await this.events.record({ ...target, ...(this.targetUid ? { uid: this.targetUid } : {}) }, { ...event, action: 'Cleanup' });
  }
}

export { cleanupMetrics };
export type { RemovedKind, SweepOutcome };
