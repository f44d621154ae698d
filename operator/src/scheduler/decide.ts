/**
 * The pure decision of the AnsibleSchedule controller: a schedule, the jobs it owns and the
 * time in; the status it should have, the job to create, the jobs to delete, the Events and
 * when to look again out. No clock and no cluster, so every rule is a unit test.
 */
import { API_VERSION, isTerminal, KIND, type AnsibleJobSpec, type Condition, type Phase } from '../api/ansible-job.js';
import {
  CONDITION_INVALID,
  LABEL_SCHEDULE_NAME,
  SCHEDULE_KIND,
  type AnsibleScheduleStatus,
  type JobReference,
  type StoredAnsibleSchedule,
} from '../api/ansible-schedule.js';
import { compileSchedule, dueRun, LABEL_SCHEDULED_TIME, scheduledJobName, scheduledTimeLabel, type Run } from '../schedule/index.js';

/** What the controller saw of one AnsibleJob the schedule owns. */
export interface ObservedJob {
  name: string;
  uid: string;
  /** From the `ajo.dev/scheduled-time` label; null when the label is missing or not a time. */
  scheduledTime: Date | null;
  creationTimestamp?: string | undefined;
  phase?: Phase | undefined;
  completionTime?: string | undefined;
  /** A deletion is under way (deletionTimestamp set): neither active nor history. */
  deleting: boolean;
}

export interface DecideInput {
  schedule: StoredAnsibleSchedule;
  jobs: readonly ObservedJob[];
  now: Date;
}

export interface ScheduleEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The reason of the Event that says a run was started: its controller records it apart. */
export const STARTED = 'Started';

/** How one due run ended, for `ajo_schedule_runs_total{result}`. */
export type RunResult = 'started' | 'skipped' | 'replaced' | 'missed';

export interface JobToCreate {
  run: Run;
  manifest: {
    apiVersion: string;
    kind: string;
    metadata: {
      name: string;
      namespace: string;
      labels: Record<string, string>;
      annotations?: Record<string, string>;
      ownerReferences: { apiVersion: string; kind: string; name: string; uid: string; controller: boolean; blockOwnerDeletion: boolean }[];
    };
    spec: AnsibleJobSpec;
  };
}

export interface JobToDelete extends JobReference {
  /** Replaced: an active job that Replace cancels (before the create); Pruned: past a history limit. */
  why: 'Replaced' | 'Pruned';
}

export interface SchedulePlan {
  /** The status the schedule should have; `active` does not yet hold the job being created. */
  status: AnsibleScheduleStatus;
  /** True when `status` differs from what is stored. */
  statusChanged: boolean;
  deleteJobs: JobToDelete[];
  create: JobToCreate | null;
  /** Recorded after the actions succeed, so a retried reconcile does not repeat them. */
  events: ScheduleEvent[];
  results: RunResult[];
  /** When to look again: the next run's start, capped at MAX_REQUEUE_MS. */
  requeueAfterMs: number | undefined;
}

/**
 * A timer longer than this is cut short (Node's timers overflow past 2^31 ms, about 24.8 days);
 * looking again early is harmless: the decision then just requeues for the rest.
 */
export const MAX_REQUEUE_MS = 24 * 3_600_000;

const FAILED_PHASES: ReadonlySet<Phase> = new Set(['Failed', 'TimedOut', 'Cancelled']);

const iso = (time: Date) => time.toISOString();
const later = (a: string | undefined, b: string | undefined): string | undefined => (a === undefined ? b : b === undefined ? a : Date.parse(a) >= Date.parse(b) ? a : b);
const maxTime = (...times: (Date | null | undefined)[]): Date | undefined => {
  const present = times.filter((time): time is Date => time instanceof Date);
  return present.length === 0 ? undefined : new Date(Math.max(...present.map((time) => time.getTime())));
};

function setCondition(conditions: Condition[] | undefined, type: string, status: Condition['status'], reason: string, message: string, now: Date): Condition[] {
  const existing = conditions?.find((condition) => condition.type === type);
  const lastTransitionTime = existing && existing.status === status ? existing.lastTransitionTime : iso(now);
  return [...(conditions ?? []).filter((condition) => condition.type !== type), { type, status, reason, message: message.slice(0, 32768), lastTransitionTime }];
}

/** Newest first by scheduled time, then by creation: the order history limits keep from. */
function newestFirst(a: ObservedJob, b: ObservedJob): number {
  const time = (job: ObservedJob) => job.scheduledTime?.getTime() ?? (Date.parse(job.creationTimestamp ?? '') || 0);
  return time(b) - time(a) || b.name.localeCompare(a.name);
}

/** The finished jobs past the history limits, oldest first. */
export function jobsToPrune(jobs: readonly ObservedJob[], successfulLimit: number, failedLimit: number): ObservedJob[] {
  const finished = jobs.filter((job) => !job.deleting && isTerminal(job.phase));
  const succeeded = finished.filter((job) => job.phase === 'Succeeded').sort(newestFirst);
  const failed = finished.filter((job) => job.phase !== undefined && FAILED_PHASES.has(job.phase)).sort(newestFirst);
  return [...succeeded.slice(successfulLimit), ...failed.slice(failedLimit)].sort((a, b) => newestFirst(b, a));
}

export function buildJob(schedule: StoredAnsibleSchedule, run: Run): JobToCreate {
  const { name, namespace, uid } = schedule.metadata;
  const template = schedule.spec.jobTemplate;
  const annotations = template.metadata?.annotations;
  return {
    run,
    manifest: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name: scheduledJobName(name, run.scheduledTime),
        namespace,
        // The schedule's own labels come last: a template cannot disguise a job as another run.
        labels: { ...template.metadata?.labels, [LABEL_SCHEDULE_NAME]: name, [LABEL_SCHEDULED_TIME]: scheduledTimeLabel(run.scheduledTime) },
        ...(annotations ? { annotations } : {}),
        ownerReferences: [{ apiVersion: API_VERSION, kind: SCHEDULE_KIND, name, uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: template.spec,
    },
  };
}

/** Equal as stored JSON: a status write happens only when something changed, so a write never feeds a loop. */
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function decide({ schedule, jobs, now }: DecideInput): SchedulePlan {
  const { metadata, spec } = schedule;
  const stored = schedule.status ?? {};
  const events: ScheduleEvent[] = [];
  const results: RunResult[] = [];
  const deleteJobs: JobToDelete[] = [];
  let create: JobToCreate | null = null;

  const active = jobs.filter((job) => !job.deleting && !isTerminal(job.phase));
  const lastSucceeded = jobs.filter((job) => job.phase === 'Succeeded').reduce<string | undefined>((latest, job) => later(latest, job.completionTime), undefined);
  // The jobs are the record of which runs started: a status write lost after a create is
  // recovered from their labels, and the name of each run is fixed, so nothing runs twice.
  const lastStarted = maxTime(stored.lastScheduleTime ? new Date(stored.lastScheduleTime) : undefined, ...jobs.map((job) => job.scheduledTime));
  let lastScheduleTime = lastStarted;
  let lastSkippedTime = stored.lastSkippedTime ? new Date(stored.lastSkippedTime) : undefined;

  const compiled = compileSchedule(metadata.namespace, metadata.name, { schedule: spec.schedule, timeZone: spec.timeZone, spreadSeconds: spec.spreadSeconds });
  let conditions: Condition[];
  let nextScheduleTime: string | undefined;
  let requeueAfterMs: number | undefined;
  if (!compiled.ok) {
    const already = stored.conditions?.find((condition) => condition.type === CONDITION_INVALID);
    if (already?.status !== 'True' || already.message !== compiled.error) events.push({ type: 'Warning', reason: 'InvalidSchedule', message: `${compiled.error}; no runs start until it is fixed` });
    conditions = setCondition(stored.conditions, CONDITION_INVALID, 'True', 'InvalidSchedule', compiled.error, now);
  } else {
    conditions = setCondition(stored.conditions, CONDITION_INVALID, 'False', 'Valid', 'the schedule, time zone and spread are valid', now);
    const due = dueRun({
      schedule: compiled.schedule,
      now,
      lastScheduleTime: maxTime(lastScheduleTime, lastSkippedTime),
      createdAt: new Date(metadata.creationTimestamp),
      startingDeadlineSeconds: spec.startingDeadlineSeconds,
    });
    const slot = (run: Run) => iso(run.scheduledTime);
    // dueRun counts a too-late latest run as missed too; the MissedDeadline event names that one.
    const earlier = due.tooLate && !due.missedMore ? due.missed - 1 : due.missed;
    if (earlier > 0 && (due.run || due.tooLate)) {
      events.push({
        type: 'Warning',
        reason: 'MissedRuns',
        message: `${due.missedMore ? `more than ${earlier}` : earlier} earlier run(s) came due while no run could start (operator down); they are not started (at most the latest one runs)`,
      });
    }
    if (due.tooLate) {
      const lateSeconds = Math.round((now.getTime() - due.tooLate.startTime.getTime()) / 1000);
      events.push({ type: 'Warning', reason: 'MissedDeadline', message: `the run of ${slot(due.tooLate)} was ${lateSeconds}s late, past startingDeadlineSeconds ${spec.startingDeadlineSeconds}; not started` });
      results.push('missed');
      lastSkippedTime = due.tooLate.scheduledTime;
    }
    const run = due.run;
    if (run && spec.suspend) {
      // Suspended: the run is consumed, so resuming never starts a run that came due meanwhile.
      lastSkippedTime = run.scheduledTime;
    } else if (run && spec.concurrencyPolicy === 'Forbid' && active.length > 0) {
      events.push({
        type: 'Normal',
        reason: 'Skipped',
        message: `skipped the run of ${slot(run)}: ${active.map((job) => job.name).join(', ')} still active (concurrencyPolicy Forbid)`,
      });
      results.push('skipped');
      lastSkippedTime = run.scheduledTime;
    } else if (run) {
      if (spec.concurrencyPolicy === 'Replace' && active.length > 0) {
        for (const job of active) deleteJobs.push({ name: job.name, uid: job.uid, why: 'Replaced' });
        events.push({ type: 'Normal', reason: 'Replaced', message: `deleted ${active.map((job) => job.name).join(', ')} to start the run of ${slot(run)} (concurrencyPolicy Replace)` });
        results.push('replaced');
      }
      create = buildJob(schedule, run);
      events.push({ type: 'Normal', reason: STARTED, message: `created AnsibleJob ${create.manifest.metadata.name} for the run of ${slot(run)}` });
      results.push('started');
      lastScheduleTime = run.scheduledTime;
    }
    if (due.next) {
      requeueAfterMs = Math.min(MAX_REQUEUE_MS, Math.max(0, due.next.startTime.getTime() - now.getTime()));
      if (!spec.suspend) nextScheduleTime = iso(due.next.startTime);
    }
  }

  for (const job of jobsToPrune(jobs, spec.successfulJobsHistoryLimit, spec.failedJobsHistoryLimit)) deleteJobs.push({ name: job.name, uid: job.uid, why: 'Pruned' });

  const replaced = new Set(deleteJobs.filter((job) => job.why === 'Replaced').map((job) => job.uid));
  const stillActive = active.filter((job) => !replaced.has(job.uid)).sort(newestFirst).reverse();
  const status: AnsibleScheduleStatus = {
    ...(lastScheduleTime ? { lastScheduleTime: iso(lastScheduleTime) } : {}),
    ...(later(stored.lastSuccessfulTime, lastSucceeded) ? { lastSuccessfulTime: later(stored.lastSuccessfulTime, lastSucceeded) } : {}),
    ...(lastSkippedTime ? { lastSkippedTime: iso(lastSkippedTime) } : {}),
    ...(nextScheduleTime ? { nextScheduleTime } : {}),
    active: stillActive.map(({ name, uid }) => ({ name, uid })),
    activeCount: stillActive.length,
    conditions,
    ...(metadata.generation !== undefined ? { observedGeneration: metadata.generation } : {}),
  };
  return { status, statusChanged: !sameJson(status, normalized(stored)), deleteJobs, create, events, results, requeueAfterMs };
}

/** The stored status in decide's key order, so an unchanged status compares equal. */
function normalized(status: AnsibleScheduleStatus): AnsibleScheduleStatus {
  const { lastScheduleTime, lastSuccessfulTime, lastSkippedTime, nextScheduleTime, active, activeCount, conditions, observedGeneration } = status;
  return {
    ...(lastScheduleTime ? { lastScheduleTime } : {}),
    ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
    ...(lastSkippedTime ? { lastSkippedTime } : {}),
    ...(nextScheduleTime ? { nextScheduleTime } : {}),
    ...(active ? { active } : {}),
    ...(activeCount !== undefined ? { activeCount } : {}),
    ...(conditions ? { conditions } : {}),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
}
