/**
 * The AnsibleJob controller: caches of AnsibleJobs and of the worker pods the operator
 * made, a work queue of job keys fed by both, and a reconcile that observes, asks
 * `decide` for a plan, and applies it in the order that keeps "launched" durable before
 * anything is created (see lifecycle/decide.ts).
 */
import { fetch } from 'undici';
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
import { Pod } from './pod/pod-types.js';
import type { PodBuildOptions } from './pod/pod-spec.js';
import { parseStatusDocument, type StatusDocument } from '../protocol/status-document.js';
import { isConflict, paths, type KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { Informer, keyOf, type InformerEventType } from '../kube/informer.js';
import { mergePatchBetween } from '../kube/merge-patch.js';
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
}

export class AnsibleJobController {
  private readonly jobInformers: Informer[];
  private readonly podInformers: Informer[];
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
    return [...this.jobInformers, ...this.podInformers].every((informer) => informer.hasSynced());
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const informer of [...this.podInformers, ...this.jobInformers]) informer.start();
    // Pods first: a job reconciled before its pods are cached would look like it lost its pod.
    await Promise.all(this.podInformers.map((informer) => informer.waitForSync()));
    await Promise.all(this.jobInformers.map((informer) => informer.waitForSync()));
    this.queue.start();
    this.options.logger.info('controller started', { namespaces: this.options.namespaces.length ? this.options.namespaces : 'all', concurrency: this.options.concurrency });
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all([...this.jobInformers, ...this.podInformers].map((informer) => informer.stop()));
  }

  private onJobEvent(type: InformerEventType, object: Record<string, unknown>) {
    if (type !== 'delete') this.queue.add(keyOf(object));
  }

  private onPodEvent(object: Record<string, unknown>) {
    const pod = Pod.safeParse(object);
    if (!pod.success) return;
    const owner = pod.data.metadata.ownerReferences?.find((reference) => reference.controller && reference.kind === KIND);
    if (owner && pod.data.metadata.namespace) this.queue.add(`${pod.data.metadata.namespace}/${owner.name}`);
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
        const response = await fetch(`http://${pod.status?.podIP}:${podOptions.statusPort}/status`, { signal: AbortSignal.timeout(statusTimeoutMs) });
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
    const job = parsed.job;
    try {
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
