/**
 * The AnsibleJob controller: caches of AnsibleJobs and of the worker pods the operator
 * made, a work queue of job keys fed by both, and a reconcile that observes, asks
 * `decide` for a plan, and applies it in the order that keeps "launched" durable before
 * anything is created (see lifecycle/decide.ts).
 */
import {
  API_VERSION,
  KIND,
  isTerminal,
  parseAnsibleJob,
  PLURAL,
  WORKER_POD_SELECTOR,
  type StoredAnsibleJob,
} from '../api/ansible-job.js';
import { decide, isPollDue, podNeedsWarnings, type KubeEvent, type Plan } from './lifecycle/decide.js';
import { leanAnsibleJob, leanPod } from './cache-shape.js';
import { AnsibleJobTemplate, TEMPLATE_PLURAL } from '../api/ansible-job-template.js';
import { QUEUE_PLURAL } from '../api/ansible-queue.js';
import { prelaunch, queueOf } from './prelaunch.js';
import { reconcileQueue, type QueueContext } from './queue/reconcile.js';
import { reconcileTemplate, type TemplateContext } from './template/reconcile.js';
import { Pod } from './pod/pod-types.js';
import type { PodBuildOptions } from './pod/pod-spec.js';
import { parseStatusDocument, type StatusDocument } from '../protocol/status-document.js';
import { isConflict, paths, type KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { Informer, keyOf, type InformerEventType } from '../kube/informer.js';
import { mergePatchBetween } from '../kube/merge-patch.js';
import { sendWith } from '../kube/transport.js';
import type { Logger } from '../kube/log.js';
import type { OperatorMetrics } from '../kube/metrics.js';
import { WorkQueue } from '../kube/workqueue.js';

export type StatusSource = 'direct' | 'proxy';

export interface ControllerOptions {
  client: KubeClient;
  /** Namespaces to watch; empty = all namespaces. */
  namespaces: string[];
  concurrency: number;
  podOptions: PodBuildOptions;
  logger: Logger;
  metrics: OperatorMetrics;
  /** How to reach the sidecar's /status: the pod IP, or through the API server's pod proxy. */
  statusSource?: StatusSource;
  statusTimeoutMs?: number;
  resyncMs?: number;
  /** Reported as the Event's reportingInstance. */
  identity?: string;
  now?: () => number;
  /** namespace → AnsibleQueue a job of that namespace waits in when it names none (--default-queue). */
  defaultQueues?: Record<string, string>;
}

/** Work-queue keys of the other kinds; a job's key is plain `namespace/name`. */
const QUEUE_KEY = 'queue:';
const TEMPLATE_KEY = 'template:';

export class AnsibleJobController {
  private readonly jobInformers: Informer[];
  private readonly podInformers: Informer[];
  private readonly queueInformers: Informer[];
  private readonly templateInformers: Informer[];
  private readonly queueContext: QueueContext;
  private readonly templateContext: TemplateContext;
  private readonly queue: WorkQueue;
  private readonly now: () => number;
  private readonly events: EventRecorder;
  private started = false;

  constructor(private readonly options: ControllerOptions) {
    this.now = options.now ?? Date.now;
    this.events = new EventRecorder({ client: options.client, logger: options.logger, instance: options.identity, now: this.now });
    const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
    const informerOptions = { client: options.client, logger: options.logger, metrics: options.metrics, ...(options.resyncMs ? { resyncMs: options.resyncMs } : {}) };
    this.jobInformers = scopes.map(
      (namespace) =>
        new Informer({
          ...informerOptions,
          path: paths.ansibleJobs(namespace),
          resource: PLURAL,
          transform: leanAnsibleJob,
          onEvent: (type, object) => this.onJobEvent(type, object),
        }),
    );
    this.podInformers = scopes.map(
      (namespace) =>
        new Informer({
          ...informerOptions,
          path: paths.pods(namespace),
          resource: 'pods',
          labelSelector: WORKER_POD_SELECTOR,
          transform: leanPod,
          onEvent: (_type, object) => this.onPodEvent(object),
        }),
    );
    this.queueInformers = scopes.map(
      (namespace) =>
        new Informer({
          ...informerOptions,
          path: paths.ajoResources(QUEUE_PLURAL, namespace),
          resource: QUEUE_PLURAL,
          onEvent: (type, object) => this.onQueueEvent(type, object),
        }),
    );
    this.templateInformers = scopes.map(
      (namespace) =>
        new Informer({
          ...informerOptions,
          path: paths.ajoResources(TEMPLATE_PLURAL, namespace),
          resource: TEMPLATE_PLURAL,
          onEvent: (_type, object) => this.onTemplateEvent(object),
        }),
    );
    const caches = {
      jobInformer: (namespace: string) => this.informerFor(this.jobInformers, namespace),
      podInformer: (namespace: string) => this.informerFor(this.podInformers, namespace),
      queueInformer: (namespace: string) => this.informerFor(this.queueInformers, namespace),
      templateInformer: (namespace: string) => this.informerFor(this.templateInformers, namespace),
    };
    this.queueContext = { client: options.client, logger: options.logger, metrics: options.metrics, now: this.now, defaultQueue: (namespace) => this.defaultQueue(namespace), ...caches };
    this.templateContext = { client: options.client, logger: options.logger, ...caches };
    this.queue = new WorkQueue({
      concurrency: options.concurrency,
      handler: (key) => this.reconcile(key),
      logger: options.logger,
      metrics: options.metrics,
    });
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  hasSynced(): boolean {
    return this.allInformers().every((informer) => informer.hasSynced());
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const informer of this.allInformers()) informer.start();
    // Pods first: a job reconciled before its pods are cached would look like it lost its pod.
    // Queues and templates too: a job must not be judged against a queue or template not yet listed.
    await Promise.all([...this.podInformers, ...this.queueInformers, ...this.templateInformers].map((informer) => informer.waitForSync()));
    await Promise.all(this.jobInformers.map((informer) => informer.waitForSync()));
    this.queue.start();
    this.options.logger.info('controller started', { namespaces: this.options.namespaces.length ? this.options.namespaces : 'all', concurrency: this.options.concurrency });
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all(this.allInformers().map((informer) => informer.stop()));
  }

  private allInformers(): Informer[] {
    return [...this.jobInformers, ...this.podInformers, ...this.queueInformers, ...this.templateInformers];
  }

  private defaultQueue(namespace: string): string | undefined {
    return this.options.defaultQueues?.[namespace];
  }

  private onJobEvent(type: InformerEventType, object: Record<string, unknown>) {
    if (type !== 'delete') this.queue.add(keyOf(object));
    // A job that comes, changes phase or goes changes its queue's slots and its template's counts.
    const parsed = parseAnsibleJob(object);
    if (!parsed.ok) return;
    const { namespace } = parsed.job.metadata;
    const queue = queueOf(parsed.job, this.defaultQueue(namespace));
    if (queue) this.queue.add(`${QUEUE_KEY}${namespace}/${queue}`);
    const template = parsed.job.spec.templateRef?.name;
    if (template) this.queue.add(`${TEMPLATE_KEY}${namespace}/${template}`);
  }

  /** A queue that comes or goes: its own reconcile, and its jobs' conditions (QueueNotFound). */
  private onQueueEvent(type: InformerEventType, object: Record<string, unknown>) {
    const key = keyOf(object);
    this.queue.add(`${QUEUE_KEY}${key}`);
    // Only a queue that comes or goes changes what its waiting jobs say; its own status writes do not.
    if (type === 'update') return;
    const [namespace, name] = key.split('/') as [string, string];
    for (const raw of this.informerFor(this.jobInformers, namespace).list()) {
      const parsed = parseAnsibleJob(raw);
      if (parsed.ok && parsed.job.metadata.namespace === namespace && !parsed.job.status?.queue?.admittedAt && queueOf(parsed.job, this.defaultQueue(namespace)) === name) {
        this.queue.add(keyOf(raw));
      }
    }
  }

  /** A template that comes or changes: jobs still waiting for it resolve now; its status is recounted. */
  private onTemplateEvent(object: Record<string, unknown>) {
    const key = keyOf(object);
    this.queue.add(`${TEMPLATE_KEY}${key}`);
    const [namespace, name] = key.split('/') as [string, string];
    for (const raw of this.informerFor(this.jobInformers, namespace).list()) {
      const parsed = parseAnsibleJob(raw);
      if (parsed.ok && parsed.job.metadata.namespace === namespace && parsed.job.spec.templateRef?.name === name && !parsed.job.status?.template) this.queue.add(keyOf(raw));
    }
  }

  private onPodEvent(object: Record<string, unknown>) {
    const pod = Pod.safeParse(object);
    if (!pod.success) return;
    const owner = pod.data.metadata.ownerReferences?.find((reference) => reference.controller && reference.kind === KIND);
    const namespace = pod.data.metadata.namespace;
    if (!owner || !namespace) return;
    this.queue.add(`${namespace}/${owner.name}`);
    // A pod that ends or goes may free its job's queue slot.
    const job = this.informerFor(this.jobInformers, namespace).get(`${namespace}/${owner.name}`) as { status?: { queue?: { name?: string } } } | undefined;
    if (job?.status?.queue?.name) this.queue.add(`${QUEUE_KEY}${namespace}/${job.status.queue.name}`);
  }

  private informerFor(informers: Informer[], namespace: string): Informer {
    if (informers.length === 1 && this.options.namespaces.length === 0) return informers[0] as Informer;
    const index = this.options.namespaces.indexOf(namespace);
    return informers[index] as Informer;
  }

  /** The current attempt's pod, from the cache; a miss where a pod was seen is confirmed live. */
  private async observePod(job: StoredAnsibleJob): Promise<Pod | undefined> {
    const { podName, podUID } = job.status ?? {};
    if (!podName) return undefined;
    const namespace = job.metadata.namespace;
    const cached = this.informerFor(this.podInformers, namespace).get(`${namespace}/${podName}`);
    // A finished job reads its pod only to delete a leftover of a cancel or timeout, and a pod
    // the synced cache has not seen yet brings its own event, which queues the job again. So a
    // miss is not confirmed live: with thousands of kept jobs whose pods are gone, that was one
    // GET per job at every start, and the burst of requests in flight set the operator's RSS.
    const confirm = podUID !== undefined && !isTerminal(job.status?.phase);
    const raw = cached ?? (confirm ? await this.options.client.getOrUndefined(paths.pod(namespace, podName)) : undefined);
    if (!raw) return undefined;
    const pod = Pod.safeParse(raw);
    if (!pod.success) return undefined;
    const ownedByJob = pod.data.metadata.ownerReferences?.some((reference) => reference.uid === job.metadata.uid);
    return ownedByJob ? pod.data : undefined;
  }

  private async fetchStatusDocument(pod: Pod): Promise<StatusDocument | undefined> {
    const { statusSource = 'direct', statusTimeoutMs = 3_000, podOptions, client, metrics } = this.options;
    try {
      let body: string;
      if (statusSource === 'proxy') {
        body = await client.requestText(paths.podProxy(pod.metadata.namespace ?? '', pod.metadata.name, podOptions.statusPort, 'status'), {
          timeoutMs: statusTimeoutMs,
        });
      } else {
        const url = new URL(`http://${pod.status?.podIP}:${podOptions.statusPort}/status`);
        const response = await sendWith(undefined, url, { method: 'GET', headers: {}, signal: AbortSignal.timeout(statusTimeoutMs) });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        body = await response.text();
      }
      const document = parseStatusDocument(JSON.parse(body));
      metrics.statusPolls.inc({ result: document ? 'ok' : 'invalid' });
      return document;
    } catch (error) {
      metrics.statusPolls.inc({ result: 'error' });
      this.options.logger.debug('status document fetch failed', { pod: pod.metadata.name, error });
      return undefined;
    }
  }

  /**
   * The newest Warning event of a pod that sits on a node without starting: the kubelet
   * reports a missing ConfigMap or Secret only there (FailedMount), never in the pod status.
   * Reading events needs no access to the Secrets themselves.
   */
  private async fetchPodWarning(pod: Pod): Promise<{ reason: string; message: string } | undefined> {
    const namespace = pod.metadata.namespace ?? '';
    try {
      const list = await this.options.client.get<{ items?: { reason?: string; message?: string; lastTimestamp?: string; eventTime?: string; involvedObject?: { uid?: string } }[] }>(
        paths.events(namespace),
        { query: { fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod.metadata.name},type=Warning` } },
      );
      const when = (event: { lastTimestamp?: string; eventTime?: string }) => Date.parse(event.lastTimestamp ?? event.eventTime ?? '') || 0;
      const newest = (list.items ?? [])
        .filter((event) => event.involvedObject?.uid === undefined || event.involvedObject.uid === pod.metadata.uid)
        .filter((event) => event.reason && event.message)
        .sort((a, b) => when(b) - when(a))[0];
      return newest ? { reason: newest.reason as string, message: newest.message as string } : undefined;
    } catch (error) {
      this.options.logger.debug('pod events could not be read', { pod: pod.metadata.name, error });
      return undefined;
    }
  }

  /** One reconcile of one job; returns when to look again, if a timer is due. */
  async reconcile(key: string): Promise<number | undefined> {
    if (key.startsWith(QUEUE_KEY) || key.startsWith(TEMPLATE_KEY)) return this.reconcileOtherKind(key);
    const started = performance.now();
    const namespace = key.slice(0, key.indexOf('/'));
    const jobInformer = this.informerFor(this.jobInformers, namespace);
    const raw = jobInformer.get(key);
    if (!raw) return undefined;
    const parsed = parseAnsibleJob(raw);
    if (!parsed.ok) {
      this.options.logger.error('AnsibleJob does not parse; skipping', { key, error: parsed.error });
      this.options.metrics.reconciles.inc({ result: 'invalid' });
      return undefined;
    }
    try {
      const gate = prelaunch({
        job: parsed.job,
        template: this.templateOf(parsed.job),
        queueExists: (queue) => this.informerFor(this.queueInformers, namespace).get(`${namespace}/${queue}`) !== undefined,
        defaultQueue: this.defaultQueue(namespace),
        now: this.now(),
      });
      if (gate.kind === 'hold') {
        await this.apply(parsed.job, gate.plan, jobInformer);
        this.options.metrics.reconciles.inc({ result: 'ok' });
        return gate.plan.requeueAfterMs;
      }
      const job = gate.job;
      const pod = await this.observePod(job);
      const statusDocument = isPollDue(job, pod, this.now()) ? await this.fetchStatusDocument(pod as Pod) : undefined;
      const podWarning = !isTerminal(job.status?.phase) && podNeedsWarnings(pod) ? await this.fetchPodWarning(pod as Pod) : undefined;
      const plan = decide({
        job,
        pod,
        now: this.now(),
        podOptions: this.options.podOptions,
        ...(statusDocument ? { statusDocument } : {}),
        ...(podWarning ? { podWarning } : {}),
      });
      await this.apply(job, plan, jobInformer);
      this.options.metrics.reconciles.inc({ result: 'ok' });
      return plan.requeueAfterMs;
    } catch (error) {
      this.options.metrics.reconciles.inc({ result: isConflict(error) ? 'conflict' : 'error' });
      throw error;
    } finally {
      this.options.metrics.reconcileSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private templateOf(job: StoredAnsibleJob): AnsibleJobTemplate | undefined {
    const name = job.spec.templateRef?.name;
    if (!name || job.status?.template) return undefined;
    const raw = this.informerFor(this.templateInformers, job.metadata.namespace).get(`${job.metadata.namespace}/${name}`);
    const parsed = raw ? AnsibleJobTemplate.safeParse(raw) : undefined;
    return parsed?.success ? parsed.data : undefined;
  }

  /** Queues and templates share the job work queue: one worker per key, the same backoff and metrics. */
  private async reconcileOtherKind(key: string): Promise<number | undefined> {
    const started = performance.now();
    const isQueue = key.startsWith(QUEUE_KEY);
    const rest = key.slice(isQueue ? QUEUE_KEY.length : TEMPLATE_KEY.length);
    const [namespace, name] = [rest.slice(0, rest.indexOf('/')), rest.slice(rest.indexOf('/') + 1)];
    try {
      const requeue = isQueue ? await reconcileQueue(this.queueContext, namespace, name) : await reconcileTemplate(this.templateContext, namespace, name);
      this.options.metrics.reconciles.inc({ result: 'ok' });
      return requeue;
    } catch (error) {
      this.options.metrics.reconciles.inc({ result: isConflict(error) ? 'conflict' : 'error' });
      throw error;
    } finally {
      this.options.metrics.reconcileSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private async apply(job: StoredAnsibleJob, plan: Plan, jobInformer: Informer): Promise<void> {
    const { client, metrics, logger } = this.options;
    const { namespace, name } = job.metadata;
    const log = logger.child({ job: `${namespace}/${name}` });

    if (plan.status) {
      // Only the fields this reconcile changed: the cache holds a finished job without its
      // stdout tail and results (cache-shape.ts), and what it lacks must stay as it is on
      // the server. The cached resourceVersion makes the patch conditional: if anyone changed
      // the job since we looked, it fails with 409 and the key is reconciled from fresh state.
      const changes = mergePatchBetween(job.status ?? {}, plan.status);
      const updated = await client.mergePatch(paths.ansibleJobStatus(namespace, name), {
        metadata: { resourceVersion: job.metadata.resourceVersion },
        status: changes,
      });
      jobInformer.update(updated);
      if (plan.status.phase !== job.status?.phase && plan.status.phase) {
        metrics.transitions.inc({ phase: plan.status.phase });
        log.info('phase', { from: job.status?.phase ?? 'New', to: plan.status.phase, attempt: plan.status.attempts });
      }
    }
    // Events describe the transition just recorded, so they follow the status write and
    // come before the pod actions, which may fail and be retried without a new transition.
    for (const event of plan.events) await this.recordEvent(job, event);
    if (plan.deletePod) {
      await client.delete(paths.pod(namespace, plan.deletePod), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
    }
    if (plan.createPod) {
      try {
        await client.create(paths.pods(namespace), plan.createPod);
        metrics.podsCreated.inc();
      } catch (error) {
        if (!isConflict(error)) throw error;
        // AlreadyExists: deterministic names make a second create a no-op. A pod of that
        // name that is not ours is a conflict the user must resolve.
        const existing = Pod.safeParse(await client.getOrUndefined(paths.pod(namespace, plan.createPod.metadata.name)));
        const ours = existing.success && existing.data.metadata.ownerReferences?.some((reference) => reference.uid === job.metadata.uid);
        if (!ours) throw new Error(`pod ${plan.createPod.metadata.name} exists and does not belong to AnsibleJob ${namespace}/${name}`);
      }
    }
    if (plan.deleteJob) {
      log.info('ttlSecondsAfterFinished passed; deleting the AnsibleJob');
      await client.delete(paths.ansibleJob(namespace, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        preconditions: { uid: job.metadata.uid },
      });
    }
  }

  private recordEvent(job: StoredAnsibleJob, event: KubeEvent): Promise<void> {
    const { namespace, name, uid, resourceVersion } = job.metadata;
    return this.events.record({ apiVersion: API_VERSION, kind: KIND, namespace, name, uid, resourceVersion }, { ...event, action: event.reason });
  }
}
