/**
 * What stands between an AnsibleJob and its launch, decided before lifecycle/decide.ts sees
 * it: a template to resolve (spec.templateRef) and a queue slot to wait for (spec.queue or
 * the namespace's default queue). Pure: the observation in, either "hold" with the status
 * to write, or "proceed" with the job as decide should run it.
 */
import { isTerminal, type AnsibleJobStatus, type StoredAnsibleJob } from '../api/ansible-job.js';
import type { AnsibleJobTemplate } from '../api/ansible-job-template.js';
import { setCondition, type KubeEvent, type Plan } from './lifecycle/decide.js';
import { effectiveJob, resolveTemplate } from './template/resolve.js';

export interface PrelaunchObservation {
  job: StoredAnsibleJob;
  /** The template spec.templateRef names, when it exists (from the cache). */
  template: AnsibleJobTemplate | undefined;
  queueExists: (name: string) => boolean;
  /** The operator's default queue for the job's namespace (--default-queue). */
  defaultQueue: string | undefined;
  now: number;
}

export type Prelaunch = { kind: 'proceed'; job: StoredAnsibleJob } | { kind: 'hold'; plan: Plan };

export const CONDITION_TEMPLATE = 'TemplateResolved';
export const CONDITION_QUEUED = 'Queued';

const iso = (ms: number) => new Date(ms).toISOString();

/** The queue a job waits in: once recorded in status it stays; before launch, spec.queue or the default. */
export function queueOf(job: StoredAnsibleJob, defaultQueue: string | undefined): string | undefined {
  if (job.status?.queue?.name) return job.status.queue.name;
  if ((job.status?.attempts ?? 0) > 0 || isTerminal(job.status?.phase)) return undefined;
  if (job.spec.templateRef && !job.status?.template) return undefined; // the template may name one
  const spec = effectiveJob(job)?.spec ?? job.spec;
  return spec.queue ?? defaultQueue;
}

class Hold {
  readonly status: AnsibleJobStatus;
  readonly events: KubeEvent[] = [];
  requeueAfterMs: number | undefined;
  constructor(
    private readonly job: StoredAnsibleJob,
    private readonly now: number,
  ) {
    this.status = { ...(job.status ?? {}) };
    this.status.jid ??= job.metadata.uid;
    this.status.observedGeneration = job.metadata.generation ?? this.status.observedGeneration;
  }
  /** Sets a condition; an Event only when its reason or message is new. */
  condition(type: string, status: 'True' | 'False', reason: string, message: string, event?: KubeEvent['type']) {
    const before = this.status.conditions?.find((condition) => condition.type === type);
    this.status.conditions = setCondition(this.status.conditions, type, status, reason, message, this.now);
    if (event && (before?.reason !== reason || before.message !== message || before.status !== status)) this.events.push({ type: event, reason, message });
  }
  fail(reason: string, message: string) {
    Object.assign(this.status, { phase: 'Failed', completionTime: iso(this.now) });
    this.condition('Finished', 'True', reason, message);
    this.events.push({ type: 'Warning', reason: 'Failed', message: `${reason}: ${message}` });
  }
  plan(): Prelaunch {
    const changed = JSON.stringify(this.status) !== JSON.stringify(this.job.status ?? {});
    return { kind: 'hold', plan: { ...(changed ? { status: this.status } : {}), events: this.events, ...(this.requeueAfterMs !== undefined ? { requeueAfterMs: this.requeueAfterMs } : {}) } };
  }
}

export function prelaunch(observation: PrelaunchObservation): Prelaunch {
  const { job, now } = observation;
  const attempts = job.status?.attempts ?? 0;
  if (job.metadata.deletionTimestamp || isTerminal(job.status?.phase) || attempts > 0) {
    return { kind: 'proceed', job: effectiveJob(job) ?? job };
  }

  if (job.spec.templateRef && !job.status?.template) {
    const hold = new Hold(job, now);
    const name = job.spec.templateRef.name;
    if (!observation.template) {
      // The pendingTimeout of a pod that cannot start, counted here from the job's creation.
      const deadline = Date.parse(job.metadata.creationTimestamp ?? '') + job.spec.pendingTimeout * 1000;
      const message = `AnsibleJobTemplate ${name} does not exist`;
      if (!Number.isNaN(deadline) && now >= deadline) {
        hold.condition(CONDITION_TEMPLATE, 'False', 'TemplateNotFound', message);
        hold.fail('PendingTimeout', `${message} after pendingTimeout ${job.spec.pendingTimeout}s`);
        return hold.plan();
      }
      hold.status.phase = 'Pending';
      hold.condition(CONDITION_TEMPLATE, 'False', 'TemplateNotFound', `${message}; the job fails after pendingTimeout (${job.spec.pendingTimeout}s)`, 'Warning');
      if (!Number.isNaN(deadline)) hold.requeueAfterMs = Math.max(0, deadline - now);
      return hold.plan();
    }
    const resolution = resolveTemplate(job, observation.template);
    if (resolution.kind === 'refused') {
      hold.condition(CONDITION_TEMPLATE, 'False', resolution.reason, resolution.message);
      hold.fail(resolution.reason, resolution.message);
      return hold.plan();
    }
    hold.status.template = resolution.template;
    hold.status.phase = 'Pending';
    hold.condition(
      CONDITION_TEMPLATE,
      'True',
      'Resolved',
      `from AnsibleJobTemplate ${name} generation ${resolution.template.generation}`,
      'Normal',
    );
    // Recorded first, run after: the next reconcile sees the resolved spec in status.
    return hold.plan();
  }

  const effective = effectiveJob(job);
  if (!effective) {
    const hold = new Hold(job, now);
    hold.fail('InvalidTemplate', 'status.template.spec is not a valid job spec (was it edited?)');
    return hold.plan();
  }
  const queue = queueOf(job, observation.defaultQueue);
  if (queue === undefined || job.status?.queue?.admittedAt) return { kind: 'proceed', job: effective };

  const hold = new Hold(job, now);
  hold.status.phase = 'Queued';
  hold.status.queue = { ...(job.status?.queue ?? {}), name: queue };
  if (observation.queueExists(queue)) {
    hold.condition(CONDITION_QUEUED, 'True', 'Waiting', `waiting for a slot in AnsibleQueue ${queue} (status.queue.position)`);
  } else {
    hold.condition(CONDITION_QUEUED, 'True', 'QueueNotFound', `AnsibleQueue ${queue} does not exist; the job waits until it does`, 'Warning');
  }
  return hold.plan();
}
