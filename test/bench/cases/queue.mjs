// (f) a queue at scale: 1,000 AnsibleJobs created at once in one AnsibleQueue with maxRunning
// 50, the operator as its own process (`ajo operator` under time(1), as in case (d)). Pods
// carry a nodeSelector no node matches, so the 50 admitted jobs keep their slots: the target
// is that exactly 50 pods exist once the queue has settled (and stay 50), with the operator's
// peak RSS reported. Pod counts come from a watch (ADDED minus DELETED), not from polling.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../lib/env.mjs';
import { inBatches, startOperator, waitForServiceAccount } from './operator.mjs';

const MAX_RUNNING = 50;
const CREATE_CONCURRENCY = 50;
const TIMEOUT_MS = 15 * 60_000;
/** After the queue says it settled, pods are counted again this much later: a late extra pod would show. */
const SETTLE_MS = 10_000;
const UNSCHEDULABLE = { 'ajo.dev/bench': 'no-such-node' };

const client = () => import(path.join(repoRoot, 'operator/dist/kube/client.js'));

/** @returns {Promise<string | undefined>} why the case cannot run here */
export async function queueSkipReason() {
  if (!process.env.KUBECONFIG) return '$KUBECONFIG is not set (start a cluster with test/cluster/up and export the KUBECONFIG it prints)';
  try {
    const { KubeClient, paths } = await client();
    await new KubeClient().get(paths.ajoResources('ansiblequeues', 'default'), { timeoutMs: 5000 });
    return undefined;
  } catch (error) {
    return `the API server in $KUBECONFIG does not serve ajo.dev ansiblequeues (apply crds/): ${error.message}`;
  }
}

/** Live pods of a namespace from a watch: ADDED adds, DELETED removes; the most ever seen at once. */
async function livePodWatch(kube, paths, namespace) {
  const list = await kube.get(paths.pods(namespace));
  const controller = new AbortController();
  const live = new Set(list.items.map((pod) => pod.metadata.name));
  let most = live.size;
  const watching = kube
    .watch(paths.pods(namespace), { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3600 }, (event) => {
      if (event.type === 'ADDED') live.add(event.object.metadata.name);
      if (event.type === 'DELETED') live.delete(event.object.metadata.name);
      most = Math.max(most, live.size);
    }, controller.signal)
    .catch(() => undefined);
  return {
    get count() {
      return live.size;
    },
    get most() {
      return most;
    },
    async stop() {
      controller.abort();
      await watching;
    },
  };
}

export async function queueCase({ jobs, log }) {
  const { KubeClient, paths } = await client();
  const kube = new KubeClient();
  const namespace = `ajo-bench-queue-${randomBytes(3).toString('hex')}`;
  const names = Array.from({ length: jobs }, (_, index) => `bench-${index}`);
  log(`queue: ${jobs} AnsibleJobs at once in an AnsibleQueue with maxRunning ${MAX_RUNNING}, against ${process.env.KUBECONFIG} (namespace ${namespace})`);
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'ajo.dev/bench': 'queue-scale' } } });
  let operator;
  try {
    await waitForServiceAccount(kube, namespace);
    await kube.create(paths.ajoResources('ansiblequeues', namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleQueue', metadata: { name: 'bench' }, spec: { maxRunning: MAX_RUNNING } });
    // On a shared cluster another checkout may apply an AnsibleJob CRD without spec.queue; the
    // API server then prunes it and jobs launch unqueued. The run says so rather than mislead.
    const crdGeneration = async () => (await kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ansiblejobs.ajo.dev')).metadata.generation;
    const generationBefore = await crdGeneration();
    operator = await startOperator(namespace, log);
    const pods = await livePodWatch(kube, paths, namespace);
    const started = Date.now();
    await inBatches(names, CREATE_CONCURRENCY, (name) =>
      kube.create(paths.ansibleJobs(namespace), {
        apiVersion: 'ajo.dev/v1alpha1',
        kind: 'AnsibleJob',
        metadata: { name },
        spec: { queue: 'bench', payload: { secret: { name: 'bench-payload' }, sha256: 'c'.repeat(64) }, podTemplate: { spec: { nodeSelector: UNSCHEDULABLE } } },
      }),
    );
    const createMs = Date.now() - started;
    // Settled: the queue counts every job (running + waiting) and the last waiting job has its position.
    let settledMs;
    for (;;) {
      const queue = await kube.get(paths.ajoResource('ansiblequeues', namespace, 'bench'));
      const last = await kube.get(paths.ansibleJob(namespace, names.at(-1)));
      const expectedWaiting = Math.max(0, jobs - MAX_RUNNING);
      if (queue.status?.running === Math.min(jobs, MAX_RUNNING) && queue.status?.waiting === expectedWaiting && (expectedWaiting === 0 || last.status?.queue?.position === expectedWaiting)) {
        settledMs = Date.now() - started;
        break;
      }
      if (Date.now() - started > TIMEOUT_MS) throw new Error(`queue not settled after ${TIMEOUT_MS / 1000} s: ${JSON.stringify(queue.status)}`);
      await sleep(1000);
    }
    await sleep(SETTLE_MS);
    const podsAtEnd = pods.count;
    const crdReplaced = (await crdGeneration()) !== generationBefore;
    if (crdReplaced) log('  the AnsibleJob CRD was replaced during the run (another checkout applied its own): the pod counts do not stand for the queue');
    const mostPods = pods.most;
    await pods.stop();
    const { peakRssKb, cpuSeconds } = await operator.stop();
    operator = undefined;
    log(`  created in ${(createMs / 1000).toFixed(1)} s; settled in ${(settledMs / 1000).toFixed(1)} s; ${podsAtEnd} pods at the end (most at once ${mostPods}); operator peak RSS ${Math.round(peakRssKb / 1024)} MB, CPU ${cpuSeconds.toFixed(1)} s`);
    return {
      case: `(f) queue, ${jobs} AnsibleJobs, maxRunning ${MAX_RUNNING}`,
      result: { jobs, maxRunning: MAX_RUNNING, createMs, settledMs, podsAtEnd, mostPodsAtOnce: mostPods, operatorPeakRssKb: peakRssKb, operatorCpuSeconds: cpuSeconds, crdReplaced },
      target: `exactly ${Math.min(jobs, MAX_RUNNING)} pods at the end, never more`,
      met: podsAtEnd === Math.min(jobs, MAX_RUNNING) && mostPods === Math.min(jobs, MAX_RUNNING),
    };
  } finally {
    if (operator) await operator.stop().catch(() => undefined);
    await kube.delete(`/api/v1/namespaces/${namespace}`).catch((error) => log(`  could not delete ${namespace}: ${error.message}`));
    log(`  deleted namespace ${namespace}`);
  }
}
