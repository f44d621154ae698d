/**
 * One reconcile of one AnsibleQueue: observe its jobs and their pods in the caches, plan
 * admission (admission.ts), write the slot ledger to the queue's status with the
 * resourceVersion read, and only then record each admission in its job's status (in queue
 * order, stopping at the first failed write so admissions stay a prefix of the order).
 * Waiting jobs get their position. The work queue never runs one key twice at once, so one
 * operator admits for a queue in one place; the ledger's resourceVersion covers a second.
 */
import { isTerminal, LABEL_JOB_UID, parseAnsibleJob, PLURAL as JOB_PLURAL, type StoredAnsibleJob } from '../../api/ansible-job.js';
import { AnsibleQueue, QUEUE_PLURAL, type AnsibleQueueStatus } from '../../api/ansible-queue.js';
import { paths, type KubeClient } from '../../kube/client.js';
import type { Informer } from '../../kube/informer.js';
import type { Logger } from '../../kube/log.js';
import type { OperatorMetrics } from '../../kube/metrics.js';
import { setCondition } from '../lifecycle/decide.js';
import { CONDITION_QUEUED, queueOf } from '../prelaunch.js';
import { planAdmission, type QueueMember } from './admission.js';

export interface QueueContext {
  client: KubeClient;
  logger: Logger;
  metrics: OperatorMetrics;
  now: () => number;
  queueInformer: (namespace: string) => Informer;
  jobInformer: (namespace: string) => Informer;
  podInformer: (namespace: string) => Informer;
  defaultQueue: (namespace: string) => string | undefined;
}

/** The jobs of a namespace that wait in or hold a slot of `queue`, parsed from the cache. */
export function jobsOfQueue(jobInformer: Informer, namespace: string, queue: string, defaultQueue: string | undefined): StoredAnsibleJob[] {
  const jobs: StoredAnsibleJob[] = [];
  for (const raw of jobInformer.list()) {
    const parsed = parseAnsibleJob(raw);
    if (!parsed.ok || parsed.job.metadata.namespace !== namespace) continue;
    if (queueOf(parsed.job, defaultQueue) === queue) jobs.push(parsed.job);
  }
  return jobs;
}

function memberOf(job: StoredAnsibleJob): QueueMember {
  const status = job.status ?? {};
  return {
    name: job.metadata.name,
    uid: job.metadata.uid,
    creationTimestamp: job.metadata.creationTimestamp ?? '',
    priority: (status.template?.spec.priority as number | undefined) ?? job.spec.priority ?? 0,
    terminal: isTerminal(status.phase),
    admitted: Boolean(status.queue?.admittedAt),
    launched: (status.attempts ?? 0) > 0,
    suspended: job.spec.suspend,
    deleting: Boolean(job.metadata.deletionTimestamp),
    ...(status.queue?.position !== undefined ? { position: status.queue.position } : {}),
  };
}

/** uids of jobs with a worker pod that is not finished (a pod being deleted still runs until it is gone). */
function liveJobUids(podInformer: Informer, namespace: string): Set<string> {
  const live = new Set<string>();
  for (const pod of podInformer.list() as { metadata?: { namespace?: string; labels?: Record<string, string> }; status?: { phase?: string } }[]) {
    if (pod.metadata?.namespace !== namespace) continue;
    const uid = pod.metadata.labels?.[LABEL_JOB_UID];
    if (uid && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed') live.add(uid);
  }
  return live;
}

export async function reconcileQueue(context: QueueContext, namespace: string, name: string): Promise<number | undefined> {
  const { client, metrics, now } = context;
  const labels = { namespace, queue: name };
  const raw = context.queueInformer(namespace).get(`${namespace}/${name}`);
  if (!raw) {
    metrics.queueRunning.remove(labels);
    metrics.queueWaiting.remove(labels);
    return undefined;
  }
  const parsed = AnsibleQueue.safeParse(raw);
  if (!parsed.success) {
    context.logger.error('AnsibleQueue does not parse; skipping', { queue: `${namespace}/${name}` });
    return undefined;
  }
  const queue = parsed.data;
  const jobInformer = context.jobInformer(namespace);
  const jobs = jobsOfQueue(jobInformer, namespace, name, context.defaultQueue(namespace));
  const byUid = new Map(jobs.map((job) => [job.metadata.uid, job]));
  const plan = planAdmission({
    maxRunning: queue.spec.maxRunning,
    ledger: queue.status?.admitted ?? [],
    members: jobs.map(memberOf),
    liveJobUids: liveJobUids(context.podInformer(namespace), namespace),
  });

  // 1. The ledger, with the resourceVersion read: a concurrent admitter makes this a 409.
  const status: AnsibleQueueStatus = {
    ...(queue.status ?? {}),
    running: plan.holders.length,
    waiting: plan.waiting.length,
    admitted: plan.holders,
    ...(queue.metadata.generation !== undefined ? { observedGeneration: queue.metadata.generation } : {}),
  };
  if (JSON.stringify(status) !== JSON.stringify(queue.status ?? {})) {
    const updated = await client.replace(paths.ajoResourceStatus(QUEUE_PLURAL, namespace, name), { ...raw, status });
    context.queueInformer(namespace).update(updated);
  }
  metrics.queueRunning.set(labels, plan.holders.length);
  metrics.queueWaiting.set(labels, plan.waiting.length);

  // 2. The admissions the ledger now holds, in queue order; a failure stops here (retried from fresh state).
  const at = new Date(now()).toISOString();
  for (const member of [...plan.unrecorded, ...plan.admit]) {
    const job = byUid.get(member.uid) as StoredAnsibleJob;
    const jobStatus = {
      ...(job.status ?? {}),
      phase: 'Pending' as const,
      queue: { name, admittedAt: at },
      conditions: setCondition(job.status?.conditions, CONDITION_QUEUED, 'False', 'Admitted', `admitted by AnsibleQueue ${name} (maxRunning ${queue.spec.maxRunning})`, now()),
    };
    const rawJob = jobInformer.get(`${namespace}/${member.name}`) as Record<string, unknown>;
    const updated = await client.replace(paths.ajoResourceStatus(JOB_PLURAL, namespace, member.name), { ...rawJob, status: jobStatus });
    jobInformer.update(updated);
  }

  // 3. Positions of the waiting: only where they changed. A conflict here loses nothing.
  let conflicts = 0;
  for (const { member, position } of plan.waiting) {
    if (member.position === position) continue;
    const job = byUid.get(member.uid) as StoredAnsibleJob;
    const queueStatus = { ...(job.status?.queue ?? { name }), name };
    if (position === undefined) delete queueStatus.position;
    else queueStatus.position = position;
    const rawJob = jobInformer.get(`${namespace}/${member.name}`) as Record<string, unknown>;
    try {
      const updated = await client.replace(paths.ajoResourceStatus(JOB_PLURAL, namespace, member.name), { ...rawJob, status: { ...(job.status ?? {}), queue: queueStatus } });
      jobInformer.update(updated);
    } catch (error) {
      conflicts += 1;
      context.logger.debug('queue position not written', { job: `${namespace}/${member.name}`, error });
    }
  }
  if (plan.admit.length > 0) context.logger.info('queue admitted', { queue: `${namespace}/${name}`, jobs: plan.admit.map((member) => member.name), running: plan.holders.length });
  // Positions that did not get written are tried again shortly.
  return conflicts > 0 ? 1000 : undefined;
}
