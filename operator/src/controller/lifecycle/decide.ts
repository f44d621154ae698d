/**
 * The reconcile decision for one AnsibleJob: given what is observed now (the job, its
 * current pod, maybe a fresh status document), return the status the job should have and
 * the actions that bring the world there. Pure and level-based: the same observation always
 * gives the same plan, so a restarted operator simply decides again.
 *
 * The controller applies a plan in a fixed order (controller.ts, `apply`): status first
 * (with optimistic concurrency), then the Events of that transition, then pod deletion, pod
 * creation, and job deletion. So a pod is only ever created for an attempt that status
 * already records, and a failed pod action is retried without recording its Events twice.
 */
import {
  ANNOTATION_REFRESH,
  effectivePoll,
  isTerminal,
  type AnsibleJobStatus,
  type Condition,
  type Phase,
  type StoredAnsibleJob,
} from '../../api/ansible-job.js';
import { artifactsLocation, buildWorkerPod, identFor, podNameFor, type PodBuildOptions } from '../pod/pod-spec.js';
import type { Pod, PodManifest } from '../pod/pod-types.js';
import type { StatusDocument, TerminationSummary } from '../../protocol/status-document.js';
import { classifyPod, PROCESS_GRACE_MS, summaryOf, type PodObservation } from './classify.js';

export const STDOUT_TAIL_CHARS = 2048;

export interface KubeEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Plan {
  /** The complete new status, when it differs from the stored one. */
  status?: AnsibleJobStatus;
  createPod?: PodManifest;
  deletePod?: string;
  deleteJob?: boolean;
  events: KubeEvent[];
  requeueAfterMs?: number;
}

export interface Observation {
  job: StoredAnsibleJob;
  /** The pod named by status.podName; undefined means it does not exist (confirmed live). */
  pod: Pod | undefined;
  /** A status document fetched from the sidecar during this reconcile, if a poll was due. */
  statusDocument?: StatusDocument;
  /**
   * The newest Warning the kubelet reported for a scheduled pod that has not started (e.g.
   * FailedMount: a ConfigMap or Secret the job names does not exist); see podNeedsWarnings.
   */
  podWarning?: { reason: string; message: string };
  now: number;
  podOptions: PodBuildOptions;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function setCondition(
  conditions: Condition[] | undefined,
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  now: number,
): Condition[] {
  const existing = conditions?.find((condition) => condition.type === type);
  const lastTransitionTime = existing && existing.status === status ? existing.lastTransitionTime : iso(now);
  const next: Condition = { type, status, reason, message: message.slice(0, 32768), lastTransitionTime };
  return [...(conditions ?? []).filter((condition) => condition.type !== type), next];
}

function tail(text: string): string {
  return text.length > STDOUT_TAIL_CHARS ? text.slice(text.length - STDOUT_TAIL_CHARS) : text;
}

/** Progress and result fields from the sidecar's document or its termination summary. */
export function progressFields(document: Partial<StatusDocument> | TerminationSummary | undefined): Partial<AnsibleJobStatus> {
  if (!document) return {};
  const fields: Partial<AnsibleJobStatus> = {};
  if (document.status) fields.runnerStatus = document.status;
  if (typeof document.rc === 'number') fields.rc = document.rc;
  if (document.hostCounts) fields.hostCounts = document.hostCounts;
  if (typeof document.eventCount === 'number') fields.eventCount = document.eventCount;
  if (document.lastEvent) fields.lastEvent = `${document.lastEvent.counter} ${document.lastEvent.event}`.slice(0, 253);
  if (typeof document.stdoutTail === 'string' && document.stdoutTail !== '') fields.stdoutTail = tail(document.stdoutTail);
  return fields;
}

/** When the async budget runs out, counted from the first launch; undefined without spec.async. */
export function asyncDeadline(job: StoredAnsibleJob): number | undefined {
  const start = job.status?.startTime ? Date.parse(job.status.startTime) : undefined;
  if (job.spec.async === undefined || start === undefined || Number.isNaN(start)) return undefined;
  return start + job.spec.async * 1000;
}

/** Whether the controller should fetch the sidecar's status document in this reconcile. */
export function isPollDue(job: StoredAnsibleJob, pod: Pod | undefined, now: number): boolean {
  if (isTerminal(job.status?.phase) || pod?.status?.phase !== 'Running' || !pod.status.podIP) return false;
  const poll = effectivePoll(job.spec);
  if (poll === 0) {
    const requested = job.metadata.annotations?.[ANNOTATION_REFRESH];
    return requested !== undefined && requested !== job.status?.lastRefreshRequest;
  }
  const last = job.status?.lastPollTime ? Date.parse(job.status.lastPollTime) : Number.NaN;
  return Number.isNaN(last) || now - last >= poll * 1000;
}

class PlanBuilder {
  status: AnsibleJobStatus;
  readonly events: KubeEvent[] = [];
  createPod?: PodManifest;
  deletePod?: string;
  deleteJob = false;
  private wakeAt: number[] = [];

  constructor(
    readonly observation: Observation,
    private readonly original: AnsibleJobStatus,
  ) {
    this.status = { ...original };
  }

  get job() {
    return this.observation.job;
  }
  get now() {
    return this.observation.now;
  }

  wakeUpAt(ms: number | undefined) {
    if (ms !== undefined) this.wakeAt.push(ms);
  }

  event(type: KubeEvent['type'], reason: string, message: string) {
    this.events.push({ type, reason, message });
  }

  condition(type: string, status: Condition['status'], reason: string, message: string) {
    this.status.conditions = setCondition(this.status.conditions, type, status, reason, message, this.now);
  }

  build(): Plan {
    const changed = JSON.stringify(this.status) !== JSON.stringify(this.original);
    const wake = this.wakeAt.length > 0 ? Math.max(0, Math.min(...this.wakeAt) - this.now) : undefined;
    return {
      ...(changed ? { status: this.status } : {}),
      ...(this.createPod ? { createPod: this.createPod } : {}),
      ...(this.deletePod ? { deletePod: this.deletePod } : {}),
      ...(this.deleteJob ? { deleteJob: true } : {}),
      events: this.events,
      ...(wake !== undefined ? { requeueAfterMs: wake } : {}),
    };
  }
}

const TERMINAL_EVENT_TYPE: Record<Phase, KubeEvent['type']> = {
  Queued: 'Normal',
  Pending: 'Normal',
  Running: 'Normal',
  Succeeded: 'Normal',
  Failed: 'Warning',
  TimedOut: 'Warning',
  Cancelled: 'Warning',
};

function finish(plan: PlanBuilder, phase: Phase, reason: string, message: string, fields: Partial<AnsibleJobStatus> = {}) {
  Object.assign(plan.status, fields, { phase, completionTime: iso(plan.now) });
  plan.condition('Running', 'False', reason, message);
  plan.condition('Finished', 'True', reason, message);
  plan.event(TERMINAL_EVENT_TYPE[phase], phase, `${reason}: ${message}`);
  scheduleTtl(plan);
}

function scheduleTtl(plan: PlanBuilder) {
  const ttl = plan.job.spec.ttlSecondsAfterFinished;
  const completed = plan.status.completionTime ? Date.parse(plan.status.completionTime) : Number.NaN;
  if (ttl === undefined || Number.isNaN(completed)) return;
  const due = completed + ttl * 1000;
  if (plan.now >= due) plan.deleteJob = true;
  else plan.wakeUpAt(due);
}

function launch(plan: PlanBuilder, attempt: number, why: string) {
  const { job, now } = plan;
  const startTime = plan.status.startTime ?? iso(now);
  const budgetEnd = job.spec.async === undefined ? undefined : Date.parse(startTime) + job.spec.async * 1000;
  const activeDeadline = budgetEnd === undefined ? undefined : Math.max(1, Math.ceil((budgetEnd - now) / 1000));
  const built = buildWorkerPod(job, attempt, plan.observation.podOptions, activeDeadline);
  if (!built.ok) {
    finish(plan, 'Failed', 'PodTemplateRejected', `the pod would break the restricted pod security profile: ${built.violations.join('; ')}`);
    return;
  }
  const podName = podNameFor(job.metadata.name, attempt);
  Object.assign(plan.status, {
    phase: 'Pending' satisfies Phase,
    attempts: attempt,
    podName,
    startTime,
    artifacts: artifactsLocation(job.spec, identFor(job.metadata.name, attempt)),
  });
  delete plan.status.podUID;
  // Each attempt composes anew (a branch may have moved): status.source tells what this one ran.
  delete plan.status.source;
  plan.condition('Launched', 'True', attempt === 1 ? 'Launched' : 'Retrying', `${why}: pod ${podName} (attempt ${attempt})`);
  plan.event('Normal', 'Launched', `${why}: creating pod ${podName} (attempt ${attempt})`);
  plan.createPod = built.pod;
  plan.wakeUpAt(budgetEnd);
}

function retryOrFail(plan: PlanBuilder, observation: Extract<PodObservation, { kind: 'interrupted' }>) {
  const attempts = plan.status.attempts ?? 1;
  const awaited = plan.status.conditions?.find((condition) => condition.type === CONDITION_AWAITING_TERMINATION)?.status === 'True';
  // One Event per interruption: an awaited one had its Event when the wait began.
  if (awaited) plan.condition(CONDITION_AWAITING_TERMINATION, 'False', 'Ended', `attempt ${attempts}: its pod has ended`);
  else plan.event('Warning', 'Interrupted', `${observation.reason}: ${observation.message}`);
  const retriesUsed = attempts - 1;
  plan.condition('Interrupted', 'True', observation.reason, `attempt ${attempts}: ${observation.message}`);
  if (retriesUsed < plan.job.spec.backoffLimit) {
    launch(plan, attempts + 1, `retry after ${observation.reason}`);
    return;
  }
  finish(
    plan,
    'Failed',
    'BackoffLimitExceeded',
    `interrupted ${attempts} time(s), backoffLimit ${plan.job.spec.backoffLimit}; last: ${observation.reason}: ${observation.message}`,
  );
}

/** The condition that shows an interrupted attempt waiting for its pod to end before the next. */
export const CONDITION_AWAITING_TERMINATION = 'AwaitingTermination';

/**
 * podReplacementPolicy Failed: the pod is Terminating, but until it has ended its play may be
 * running (a kubelet that lost its API server keeps its containers), so the next attempt waits.
 * It starts when the pod has ended or is gone (decide, `!pod`); the Event is sent once.
 */
function awaitTermination(plan: PlanBuilder, pod: Pod, observed: Extract<PodObservation, { kind: 'interrupted' }>) {
  const current = plan.status.conditions?.find((condition) => condition.type === CONDITION_AWAITING_TERMINATION);
  if (current?.status === 'True') return;
  const attempt = plan.status.attempts ?? 1;
  plan.event('Warning', 'Interrupted', `${observed.reason}: ${observed.message}; the next attempt starts once it has ended (podReplacementPolicy: Failed)`);
  plan.condition(
    CONDITION_AWAITING_TERMINATION,
    'True',
    observed.reason,
    `attempt ${attempt}: pod ${pod.metadata.name} is terminating; no new attempt until it has ended or is gone, so that two never run at once`,
  );
}

function applyObservation(plan: PlanBuilder, pod: Pod, observed: PodObservation) {
  const { status } = plan;
  switch (observed.kind) {
    case 'pending':
      status.phase = 'Pending';
      plan.wakeUpAt(observed.deadlineAt);
      return;
    case 'running':
      if (status.phase !== 'Running') {
        status.phase = 'Running';
        plan.condition('Running', 'True', 'PodRunning', `pod ${pod.metadata.name} is running`);
        plan.event('Normal', 'Running', `pod ${pod.metadata.name} is running on ${pod.spec?.nodeName ?? 'a node'}`);
      }
      if (observed.workerFinishedAt !== undefined) plan.wakeUpAt(observed.workerFinishedAt + PROCESS_GRACE_MS);
      const poll = effectivePoll(plan.job.spec);
      if (poll > 0) {
        const last = status.lastPollTime ? Date.parse(status.lastPollTime) : plan.now;
        plan.wakeUpAt(last + poll * 1000);
      }
      return;
    case 'succeeded':
      finish(plan, 'Succeeded', 'Completed', observed.message, { ...progressFields(observed.summary), rc: observed.rc });
      return;
    case 'failed':
      finish(plan, 'Failed', observed.reason, observed.message, {
        ...progressFields(observed.summary),
        ...(observed.rc !== undefined ? { rc: observed.rc } : {}),
      });
      return;
    case 'timedOut':
      finish(plan, 'TimedOut', 'DeadlineExceeded', `async ${plan.job.spec.async}s exceeded: ${observed.message}`, progressFields(observed.summary));
      return;
    case 'interrupted':
      if (observed.terminating && plan.job.spec.podReplacementPolicy !== 'TerminatingOrFailed') awaitTermination(plan, pod, observed);
      else retryOrFail(plan, observed);
      return;
    case 'cannotStart':
      finish(plan, 'Failed', observed.reason, observed.message);
      plan.deletePod = pod.metadata.name;
      return;
    case 'sourceFailed':
      finish(plan, 'Failed', observed.reason, observed.message);
      return;
  }
}

/** How often a scheduled pod that has not started is looked at again for kubelet warnings. */
export const WARNING_RECHECK_MS = 10_000;

/**
 * Whether the controller should read the pod's Warning events: it is on a node but no
 * container has started. Unscheduled pods are skipped: their reason is in PodScheduled.
 */
export function podNeedsWarnings(pod: Pod | undefined): boolean {
  if (pod?.status?.phase !== 'Pending' || pod.spec?.nodeName === undefined || pod.metadata.deletionTimestamp) return false;
  // Once a container has started, every volume was mounted: nothing left for the kubelet to warn about.
  const statuses = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])];
  return !statuses.some((status) => status.state?.running || status.state?.terminated);
}

/** A kubelet warning (a missing ConfigMap or Secret, a failed mount) as a condition and one Event per new message. */
function applyPodWarning(plan: PlanBuilder, pod: Pod) {
  const needed = podNeedsWarnings(pod);
  if (needed) plan.wakeUpAt(plan.now + WARNING_RECHECK_MS);
  const warning = needed ? plan.observation.podWarning : undefined;
  const current = plan.status.conditions?.find((condition) => condition.type === 'Waiting');
  if (!warning) {
    if (current?.status === 'True') plan.condition('Waiting', 'False', 'Started', `pod ${pod.metadata.name} is no longer held back`);
    return;
  }
  if (current?.status === 'True' && current.message === warning.message) return;
  plan.condition('Waiting', 'True', warning.reason, warning.message);
  plan.event('Warning', warning.reason, `pod ${pod.metadata.name}: ${warning.message}`);
}

/**
 * Records what compose made (the commit, the stream's sha256) the first time it is seen: the
 * sidecar carries it in each status document it serves and in its termination message.
 */
function recordComposed(plan: PlanBuilder, pod: Pod) {
  if (plan.status.source || !plan.job.spec.source) return;
  const composed = plan.observation.statusDocument?.composed ?? summaryOf(pod)?.composed;
  if (!composed) return;
  plan.status.source = { ...(composed.commit ? { commit: composed.commit } : {}), streamSha256: composed.sha256, bytes: composed.bytes };
  const git = plan.job.spec.source.project?.git;
  const from = git ? `${git.url} at ${composed.commit ?? git.revision ?? 'HEAD'}` : 'the source';
  const timings = composed.timingsMs ? ` in ${Object.entries(composed.timingsMs).map(([step, ms]) => `${step.replace(/Ms$/, '')} ${ms} ms`).join(', ')}` : '';
  plan.event('Normal', 'Composed', `composed ${composed.files} files from ${from}: ${composed.bytes} bytes, sha256 ${composed.sha256}${timings}`);
}

function applyRefreshRequest(plan: PlanBuilder, document: StatusDocument | undefined) {
  const { job, status, now } = plan;
  if (document) {
    Object.assign(status, progressFields(document), { lastPollTime: iso(now) });
  }
  const requested = job.metadata.annotations?.[ANNOTATION_REFRESH];
  // Served even when there was nothing to fetch (pod not running yet), so a waiting
  // `ajo status` sees its request answered with the status as it stands.
  if (requested !== undefined && requested !== status.lastRefreshRequest) status.lastRefreshRequest = requested;
}

export function decide(observation: Observation): Plan {
  const { job, pod, now } = observation;
  const plan = new PlanBuilder(observation, job.status ?? {});
  const { status } = plan;

  if (job.metadata.deletionTimestamp) return plan.build();

  if (isTerminal(status.phase)) {
    // Finished jobs are never relaunched; only leftovers of a cancel or timeout are cleaned.
    const leftover = pod && !pod.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(pod.status?.phase ?? '');
    if (leftover && (status.phase === 'Cancelled' || status.phase === 'TimedOut')) plan.deletePod = pod.metadata.name;
    applyRefreshRequest(plan, undefined);
    scheduleTtl(plan);
    return plan.build();
  }

  status.jid ??= job.metadata.uid;
  status.observedGeneration = job.metadata.generation ?? status.observedGeneration;
  applyRefreshRequest(plan, observation.statusDocument);
  const attempts = status.attempts ?? 0;

  if (job.spec.suspend) {
    if (attempts === 0) {
      status.phase = 'Pending';
      plan.condition('Suspended', 'True', 'Suspended', 'spec.suspend is true; the job will launch when it is false');
      return plan.build();
    }
    finish(plan, 'Cancelled', 'Suspended', 'spec.suspend was set while the job was running');
    if (pod && !pod.metadata.deletionTimestamp) plan.deletePod = pod.metadata.name;
    return plan.build();
  }
  if (status.conditions?.some((condition) => condition.type === 'Suspended' && condition.status === 'True')) {
    plan.condition('Suspended', 'False', 'Resumed', 'spec.suspend is false');
  }

  const deadline = asyncDeadline(job);
  if (deadline !== undefined && now >= deadline) {
    const fields = progressFields(observation.statusDocument);
    finish(plan, 'TimedOut', 'DeadlineExceeded', `async ${job.spec.async}s exceeded`, fields);
    if (pod && !pod.metadata.deletionTimestamp) plan.deletePod = pod.metadata.name;
    return plan.build();
  }
  plan.wakeUpAt(deadline);

  if (attempts === 0) {
    launch(plan, 1, 'launch');
    return plan.build();
  }
  if (!pod) {
    if (status.podUID === undefined) {
      // Launch was recorded but the pod was never seen: create it (again). The name is
      // deterministic, so a pod that does exist makes this a harmless AlreadyExists.
      const built = buildWorkerPod(job, attempts, observation.podOptions, deadline === undefined ? undefined : Math.max(1, Math.ceil((deadline - now) / 1000)));
      if (built.ok) plan.createPod = built.pod;
      return plan.build();
    }
    // A pod awaited while it terminated keeps the reason it was interrupted for.
    const awaited = status.conditions?.find((condition) => condition.type === CONDITION_AWAITING_TERMINATION && condition.status === 'True');
    const reason = awaited?.reason === 'Disrupted' ? 'Disrupted' : 'PodDeleted';
    retryOrFail(plan, { kind: 'interrupted', reason, message: `pod ${status.podName} was deleted${awaited ? ' and has ended' : ''}` });
    return plan.build();
  }
  if (pod.metadata.uid && status.podUID !== pod.metadata.uid) status.podUID = pod.metadata.uid;
  recordComposed(plan, pod);
  const observed = classifyPod(pod, job.spec, now, observation.podWarning);
  applyObservation(plan, pod, observed);
  if (!isTerminal(plan.status.phase)) applyPodWarning(plan, pod);
  return plan.build();
}
