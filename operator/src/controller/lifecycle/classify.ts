/**
 * Reads a worker pod and says what it means for the job (docs/operator.md, "Failure classification").
 *
 * A playbook that fails is the job's own verdict and is never retried. OOMKilled, Evicted,
 * a deleted pod and node loss say nothing about the playbook: they are interruptions, and
 * the controller retries them up to backoffLimit. A pod that never gets going (Pending past
 * pendingTimeout, ImagePullBackOff past its timeout, an invalid image name) fails the job
 * with that reason.
 */
import type { AnsibleJobSpec } from '../../api/ansible-job.js';
import { PROCESS_CONTAINER, WORKER_CONTAINER } from '../pod/pod-spec.js';
import { isComposeFailure, parseComposeOutcome, type ComposeReason } from '../../source/outcome.js';
import type { ContainerStatus, Pod } from '../pod/pod-types.js';
import { parseTerminationMessage, type TerminationSummary } from '../../protocol/status-document.js';

/** How long the sidecar may keep running after the worker ended before the operator stops waiting. */
export const PROCESS_GRACE_MS = 120_000;

export type InterruptionReason = 'OOMKilled' | 'Evicted' | 'PodDeleted' | 'NodeLost' | 'Disrupted';
export type StartFailureReason = 'PendingTimeout' | 'ImagePullBackOff' | 'InvalidImageName';

export type PodObservation =
  | { kind: 'pending'; createdAt: number; waitingReason?: string; message?: string; deadlineAt: number }
  | { kind: 'running'; podIP?: string; workerFinishedAt?: number }
  | { kind: 'succeeded'; rc: number; summary?: TerminationSummary; message: string }
  | { kind: 'failed'; rc: number | undefined; reason: 'PlaybookFailed' | 'ProcessFailed' | 'PodFailed'; summary?: TerminationSummary; message: string }
  | { kind: 'timedOut'; summary?: TerminationSummary; message: string }
  /** terminating: the pod is being deleted but has not ended; its containers may still run. */
  | { kind: 'interrupted'; reason: InterruptionReason; message: string; terminating?: boolean }
  | { kind: 'cannotStart'; reason: StartFailureReason; message: string }
  | { kind: 'sourceFailed'; reason: ComposeReason; message: string };

const IMAGE_PULL_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull']);
const NODE_LOSS_REASONS = new Set(['NodeLost', 'NodeShutdown', 'Terminated', 'UnexpectedAdmissionError', 'Shutdown']);

function containerStatus(pod: Pod, name: string): ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((status) => status.name === name);
}

function time(value: string | undefined, fallback: number): number {
  const parsed = value ? Date.parse(value) : Number.NaN;
  return Number.isNaN(parsed) ? fallback : parsed;
}

function disruption(pod: Pod): { reason?: string; message?: string } | undefined {
  return pod.status?.conditions?.find((condition) => condition.type === 'DisruptionTarget' && condition.status === 'True');
}

function allContainerStatuses(pod: Pod): ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

function oomKilled(pod: Pod): ContainerStatus | undefined {
  return allContainerStatuses(pod).find((status) => status.state?.terminated?.reason === 'OOMKilled');
}

export function summaryOf(pod: Pod): TerminationSummary | undefined {
  return parseTerminationMessage(containerStatus(pod, PROCESS_CONTAINER)?.state?.terminated?.message);
}

/**
 * A source job's sidecar that ended with compose's failure line (it composes before it follows
 * the worker): the job's own source is at fault (a wrong key, an unknown revision), so it fails
 * with compose's reason and is never retried. The worker, which waited for the stream, ends too.
 */
function composeFailure(pod: Pod): Extract<PodObservation, { kind: 'sourceFailed' }> | undefined {
  const terminated = containerStatus(pod, PROCESS_CONTAINER)?.state?.terminated;
  if (!terminated || terminated.exitCode === 0 || !terminated.message) return undefined;
  const outcome = parseComposeOutcome(terminated.message);
  return outcome && isComposeFailure(outcome) ? { kind: 'sourceFailed', reason: outcome.reason, message: outcome.message } : undefined;
}

function describe(pod: Pod): string {
  const reason = pod.status?.reason ? ` (${pod.status.reason})` : '';
  const message = pod.status?.message ? `: ${pod.status.message}` : '';
  return `pod ${pod.metadata.name} ${pod.status?.phase ?? 'Unknown'}${reason}${message}`;
}

/** The verdict of a pod whose worker has ended: its exit code is the job's rc. */
function workerVerdict(pod: Pod, worker: ContainerStatus | undefined): PodObservation {
  const summary = summaryOf(pod);
  const terminated = worker?.state?.terminated;
  if (!terminated) {
    return { kind: 'failed', rc: summary?.rc ?? undefined, reason: 'PodFailed', summary, message: `${describe(pod)} before the worker ran` };
  }
  const rc = terminated.exitCode;
  if (rc !== 0) {
    const explanation = summary?.explanation ? `: ${summary.explanation}` : '';
    return { kind: 'failed', rc, reason: 'PlaybookFailed', summary, message: `worker exited with rc ${rc}${explanation}` };
  }
  const processExit = containerStatus(pod, PROCESS_CONTAINER)?.state?.terminated?.exitCode;
  if (processExit !== undefined && processExit !== 0) {
    return {
      kind: 'failed',
      rc,
      reason: 'ProcessFailed',
      summary,
      message: `the playbook succeeded but the process sidecar exited with ${processExit}; artifacts may be incomplete`,
    };
  }
  return { kind: 'succeeded', rc, summary, message: 'worker exited with rc 0' };
}

function pendingObservation(pod: Pod, spec: AnsibleJobSpec, now: number, warning?: { message: string }): PodObservation {
  const createdAt = time(pod.metadata.creationTimestamp, now);
  const waiting = allContainerStatuses(pod)
    .map((status) => status.state?.waiting)
    .find((state) => state?.reason !== undefined && state.reason !== 'ContainerCreating' && state.reason !== 'PodInitializing');
  const reason = waiting?.reason;
  if (reason === 'InvalidImageName') {
    return { kind: 'cannotStart', reason: 'InvalidImageName', message: waiting?.message ?? 'invalid image name' };
  }
  const pullDeadline = createdAt + spec.imagePullBackOffTimeout * 1000;
  if (reason !== undefined && IMAGE_PULL_REASONS.has(reason) && now >= pullDeadline) {
    return {
      kind: 'cannotStart',
      reason: 'ImagePullBackOff',
      message: `image not pulled after ${spec.imagePullBackOffTimeout}s: ${waiting?.message ?? reason}`,
    };
  }
  const pendingDeadline = createdAt + spec.pendingTimeout * 1000;
  if (now >= pendingDeadline) {
    const why = reason ?? warning?.message ?? pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.message;
    return {
      kind: 'cannotStart',
      reason: 'PendingTimeout',
      message: `pod still Pending after ${spec.pendingTimeout}s${why ? `: ${why}` : ''}`,
    };
  }
  const deadlineAt = reason !== undefined && IMAGE_PULL_REASONS.has(reason) ? Math.min(pullDeadline, pendingDeadline) : pendingDeadline;
  return { kind: 'pending', createdAt, deadlineAt, ...(reason ? { waitingReason: reason } : {}), ...(waiting?.message ? { message: waiting.message } : {}) };
}

export function classifyPod(pod: Pod, spec: AnsibleJobSpec, now: number, warning?: { message: string }): PodObservation {
  const phase = pod.status?.phase;
  const finished = phase === 'Succeeded' || phase === 'Failed';

  if (pod.metadata.deletionTimestamp) {
    const disrupted = disruption(pod);
    const reason = disrupted ? 'Disrupted' : 'PodDeleted';
    const why = disrupted?.reason ? ` (${disrupted.reason})` : '';
    if (!finished) return { kind: 'interrupted', reason, message: `pod ${pod.metadata.name} is being deleted${why}`, terminating: true };
    // Ended while being deleted: a worker that got to rc 0 has done the play, so it is judged
    // (never run again); any other end is the deletion's doing.
    const worker = containerStatus(pod, WORKER_CONTAINER)?.state?.terminated;
    if (worker?.exitCode !== 0) return { kind: 'interrupted', reason, message: `pod ${pod.metadata.name} was deleted and has ended${why}` };
    return workerVerdict(pod, containerStatus(pod, WORKER_CONTAINER));
  }
  if (phase === 'Succeeded') return workerVerdict(pod, containerStatus(pod, WORKER_CONTAINER));
  if (phase === 'Failed') {
    if (pod.status?.reason === 'DeadlineExceeded') {
      return { kind: 'timedOut', summary: summaryOf(pod), message: describe(pod) };
    }
    if (pod.status?.reason === 'Evicted') return { kind: 'interrupted', reason: 'Evicted', message: describe(pod) };
    const oom = oomKilled(pod);
    if (oom) return { kind: 'interrupted', reason: 'OOMKilled', message: `container ${oom.name} was OOMKilled` };
    if (pod.status?.reason && NODE_LOSS_REASONS.has(pod.status.reason)) {
      return { kind: 'interrupted', reason: 'NodeLost', message: describe(pod) };
    }
    const disrupted = disruption(pod);
    if (disrupted) {
      return { kind: 'interrupted', reason: 'Disrupted', message: `${describe(pod)}; ${disrupted.reason ?? ''} ${disrupted.message ?? ''}`.trim() };
    }
    const sourceFailed = composeFailure(pod);
    if (sourceFailed) return sourceFailed;
    return workerVerdict(pod, containerStatus(pod, WORKER_CONTAINER));
  }
  if (phase === 'Running' || phase === 'Unknown') {
    // The worker may still be between the failed compose and its own end: the verdict is known.
    const sourceFailed = spec.source ? composeFailure(pod) : undefined;
    if (sourceFailed) return sourceFailed;
    const worker = containerStatus(pod, WORKER_CONTAINER);
    const finishedAt = worker?.state?.terminated ? time(worker.state.terminated.finishedAt, now) : undefined;
    if (finishedAt !== undefined && now - finishedAt >= PROCESS_GRACE_MS) {
      // The worker is done but the sidecar never saw eof (a worker killed mid-stream):
      // stop waiting and judge by the worker's exit code.
      return workerVerdict(pod, worker);
    }
    return { kind: 'running', ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}), ...(finishedAt !== undefined ? { workerFinishedAt: finishedAt } : {}) };
  }
  return pendingObservation(pod, spec, now, warning);
}
