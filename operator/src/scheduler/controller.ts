/**
 * The AnsibleSchedule controller: caches of AnsibleSchedules and of the AnsibleJobs they made,
 * a work queue of schedule keys fed by both, and a reconcile that observes, asks `decide`
 * (decide.ts) for a plan and applies it. Level-based: it never remembers a timer it set; each
 * reconcile works out from the cluster which run is due and asks to be woken at the next one.
 */
import * as z from 'zod';
import { API_VERSION, Phase } from '../api/ansible-job.js';
import { LABEL_SCHEDULE_NAME, parseAnsibleSchedule, SCHEDULE_KIND, SCHEDULE_PLURAL, schedulePaths, type StoredAnsibleSchedule } from '../api/ansible-schedule.js';
import { LABEL_SCHEDULED_TIME, parseScheduledTimeLabel } from '../schedule/index.js';
import { isConflict, paths, type KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { Informer, keyOf, type InformerEventType } from '../kube/informer.js';
import type { Logger } from '../kube/log.js';
import type { OperatorMetrics } from '../kube/metrics.js';
import { WorkQueue } from '../kube/workqueue.js';
import { decide, STARTED, type ObservedJob, type SchedulePlan, type ScheduleEvent } from './decide.js';

export interface ScheduleControllerOptions {
  client: KubeClient;
  /** Namespaces to watch; empty = all namespaces. */
  namespaces: string[];
  concurrency: number;
  logger: Logger;
  metrics: OperatorMetrics;
  resyncMs?: number;
  /** Reported as the Event's reportingInstance. */
  identity?: string;
  now?: () => number;
}

/** The parts of a scheduled AnsibleJob the decision reads; the rest is not this controller's business. */
const ScheduledJob = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    ownerReferences: z.array(z.object({ kind: z.string(), name: z.string(), uid: z.string(), controller: z.boolean().optional() })).optional(),
  }),
  status: z.object({ phase: Phase.optional(), completionTime: z.string().optional() }).loose().optional(),
});
type ScheduledJob = z.infer<typeof ScheduledJob>;

const scheduleOwner = (job: ScheduledJob) => job.metadata.ownerReferences?.find((reference) => reference.controller && reference.kind === SCHEDULE_KIND);

export class AnsibleScheduleController {
  private readonly scheduleInformers: Informer[];
  private readonly jobInformers: Informer[];
  private readonly queue: WorkQueue;
  private readonly events: EventRecorder;
  private readonly now: () => number;
  private started = false;

  constructor(private readonly options: ScheduleControllerOptions) {
    this.now = options.now ?? Date.now;
    this.events = new EventRecorder({ client: options.client, logger: options.logger, instance: options.identity, now: this.now });
    const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
    const informerOptions = { client: options.client, logger: options.logger, metrics: options.metrics, ...(options.resyncMs ? { resyncMs: options.resyncMs } : {}) };
    this.scheduleInformers = scopes.map(
      (namespace) =>
        new Informer({
          ...informerOptions,
          path: schedulePaths.schedules(namespace),
          resource: SCHEDULE_PLURAL,
          onEvent: (type, object) => this.onScheduleEvent(type, object),
        }),
    );
    // Only jobs a schedule made: they carry its name as a label.
    this.jobInformers = scopes.map(
      (namespace) =>
        new Informer({
          ...informerOptions,
          path: paths.ansibleJobs(namespace),
          resource: 'ansiblejobs-scheduled',
          labelSelector: LABEL_SCHEDULE_NAME,
          // Few of a namespace's jobs carry the label; from etcd, the filter reads them all.
          listFromWatchCache: true,
          onEvent: (_type, object) => this.onJobEvent(object),
        }),
    );
    this.queue = new WorkQueue({ concurrency: options.concurrency, handler: (key) => this.reconcile(key), logger: options.logger, metrics: options.metrics });
  }

  hasSynced(): boolean {
    return [...this.scheduleInformers, ...this.jobInformers].every((informer) => informer.hasSynced());
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const informer of [...this.jobInformers, ...this.scheduleInformers]) informer.start();
    // Jobs first: a schedule reconciled before its jobs are cached would not see its runs
    // (the deterministic job names would still stop a second create).
    await Promise.all(this.jobInformers.map((informer) => informer.waitForSync()));
    await Promise.all(this.scheduleInformers.map((informer) => informer.waitForSync()));
    this.queue.start();
    this.options.logger.info('schedule controller started', { namespaces: this.options.namespaces.length ? this.options.namespaces : 'all' });
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all([...this.scheduleInformers, ...this.jobInformers].map((informer) => informer.stop()));
  }

  private onScheduleEvent(type: InformerEventType, object: Record<string, unknown>) {
    if (type !== 'delete') this.queue.add(keyOf(object));
  }

  private onJobEvent(object: Record<string, unknown>) {
    const job = ScheduledJob.safeParse(object);
    if (!job.success) return;
    const owner = scheduleOwner(job.data);
    if (owner) this.queue.add(`${job.data.metadata.namespace}/${owner.name}`);
  }

  private informerFor(informers: Informer[], namespace: string): Informer {
    if (informers.length === 1 && this.options.namespaces.length === 0) return informers[0] as Informer;
    return informers[this.options.namespaces.indexOf(namespace)] as Informer;
  }

  /** The jobs this schedule (this uid: not an older schedule of the same name) owns, from the cache. */
  private observeJobs(schedule: StoredAnsibleSchedule): ObservedJob[] {
    const { namespace, uid } = schedule.metadata;
    const observed: ObservedJob[] = [];
    for (const raw of this.informerFor(this.jobInformers, namespace).list()) {
      const parsed = ScheduledJob.safeParse(raw);
      if (!parsed.success || parsed.data.metadata.namespace !== namespace || scheduleOwner(parsed.data)?.uid !== uid) continue;
      const { metadata, status } = parsed.data;
      const label = metadata.labels?.[LABEL_SCHEDULED_TIME];
      observed.push({
        name: metadata.name,
        uid: metadata.uid,
        scheduledTime: label ? parseScheduledTimeLabel(label) : null,
        creationTimestamp: metadata.creationTimestamp,
        phase: status?.phase,
        completionTime: status?.completionTime,
        deleting: metadata.deletionTimestamp !== undefined,
      });
    }
    return observed;
  }

  /** One reconcile of one schedule; returns when to look again. */
  async reconcile(key: string): Promise<number | undefined> {
    const namespace = key.slice(0, key.indexOf('/'));
    const informer = this.informerFor(this.scheduleInformers, namespace);
    const raw = informer.get(key);
    if (!raw) return undefined;
    const parsed = parseAnsibleSchedule(raw);
    if (!parsed.ok) {
      this.options.logger.error('AnsibleSchedule does not parse; skipping', { key, error: parsed.error });
      return undefined;
    }
    const schedule = parsed.schedule;
    if (schedule.metadata.deletionTimestamp) return undefined;
    const plan = decide({ schedule, jobs: this.observeJobs(schedule), now: new Date(this.now()) });
    await this.apply(schedule, raw, plan, informer);
    return plan.requeueAfterMs;
  }

  private async apply(schedule: StoredAnsibleSchedule, raw: Record<string, unknown>, plan: SchedulePlan, informer: Informer): Promise<void> {
    const { client, metrics, logger } = this.options;
    const { namespace, name } = schedule.metadata;
    const log = logger.child({ schedule: `${namespace}/${name}` });
    const deleteJob = (job: { name: string; uid: string }) =>
      client.delete(paths.ansibleJob(namespace, job.name), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: job.uid } });

    for (const job of plan.deleteJobs.filter((job) => job.why === 'Replaced')) {
      log.info('deleting an active job to replace it', { job: job.name });
      await deleteJob(job);
    }
    let status = plan.status;
    if (plan.create) {
      const { manifest } = plan.create;
      let created: { metadata?: { uid?: string } };
      try {
        created = await client.create(paths.ansibleJobs(namespace), manifest);
        log.info('started a run', { job: manifest.metadata.name, scheduledTime: plan.create.run.scheduledTime.toISOString() });
        // Told now, by the one reconcile whose create made the job: the status write below can
        // still meet a 409, and the retry then finds the job already made and says nothing.
        await this.recordStarted(schedule, plan);
      } catch (error) {
        if (!isConflict(error)) throw error;
        // AlreadyExists: the run's name is fixed by its time, so this run was started before
        // (by an earlier reconcile whose status write was lost, or another replica). A job of
        // that name that this schedule does not own is a conflict the user must resolve.
        const existing = ScheduledJob.safeParse(await client.getOrUndefined(paths.ansibleJob(namespace, manifest.metadata.name)));
        if (!existing.success || scheduleOwner(existing.data)?.uid !== schedule.metadata.uid) {
          throw new Error(`AnsibleJob ${namespace}/${manifest.metadata.name} exists and does not belong to AnsibleSchedule ${namespace}/${name}`);
        }
        created = existing.data;
      }
      const uid = created.metadata?.uid ?? '';
      const active = [...(status.active ?? []).filter((job) => job.uid !== uid), { name: manifest.metadata.name, uid }];
      status = { ...status, active, activeCount: active.length };
    }
    if (plan.statusChanged || plan.create) {
      // PUT with the cached resourceVersion: a concurrent change fails with 409 and the key is
      // reconciled again from fresh state (the run's fixed name keeps that retry harmless).
      const updated = await client.replace(schedulePaths.scheduleStatus(namespace, name), { ...raw, status });
      informer.update(updated);
    }
    for (const job of plan.deleteJobs.filter((job) => job.why === 'Pruned')) {
      log.info('deleting a finished job past the history limit', { job: job.name });
      await deleteJob(job);
    }
    for (const event of plan.events.filter((event) => event.reason !== STARTED)) await this.recordEvent(schedule, event);
    for (const result of plan.results.filter((result) => result !== 'started')) metrics.scheduleRuns.inc({ result });
  }

  /** The Started Event and count of a run this reconcile created. */
  private async recordStarted(schedule: StoredAnsibleSchedule, plan: SchedulePlan): Promise<void> {
    for (const result of plan.results.filter((result) => result === 'started')) this.options.metrics.scheduleRuns.inc({ result });
    for (const event of plan.events.filter((event) => event.reason === STARTED)) await this.recordEvent(schedule, event);
  }

  private recordEvent(schedule: StoredAnsibleSchedule, event: ScheduleEvent): Promise<void> {
    const { namespace, name, uid, resourceVersion } = schedule.metadata;
    return this.events.record({ apiVersion: API_VERSION, kind: SCHEDULE_KIND, namespace, name, uid, resourceVersion }, { ...event, action: event.reason });
  }
}
