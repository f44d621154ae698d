/**
 * Scale case (DESIGN §7): 1,000 AnsibleJobs created at once against the real API server.
 * Measures the time until every job has its pod, the operator's Kubernetes API requests
 * per job (its own request counter), and the operator's peak RSS. When a
 * kube-controller-manager runs, the same number of batch/v1 Jobs is created for the
 * yardstick: the time until the Job controller has made all their pods.
 *
 * The operator runs in this process, so the RSS includes the benchmark's own client; it is
 * an upper bound for the operator alone. Uses $KUBECONFIG.
 */
import { randomBytes } from 'node:crypto';

export interface OperatorScaleResult {
  jobs: number;
  timeToAllPodsMs: number;
  apiRequestsPerJob: number;
  operatorPeakRssMb: number;
  jobControllerTimeToAllPodsMs: number | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<unknown>) {
  for (let index = 0; index < items.length; index += width) await Promise.all(items.slice(index, index + width).map(work));
}

export async function operatorScale(options: { jobs?: number; concurrency?: number; timeoutMs?: number } = {}): Promise<OperatorScaleResult> {
  const { KubeClient, loadKubeConfig, paths } = await import('../../operator/src/controller/kube/client.js');
  const { startOperator } = await import('../../operator/src/controller/operator.js');
  const { silentLogger } = await import('../../operator/src/controller/kube/log.js');
  const jobs = options.jobs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const kube = new KubeClient(loadKubeConfig());
  const namespace = `ajo-bench-${randomBytes(3).toString('hex')}`;
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await kube.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }).catch(() => undefined);

  const countPods = async (selector: string) =>
    (await kube.get<{ items: unknown[] }>(paths.pods(namespace), { query: { labelSelector: selector, resourceVersion: '0' } })).items.length;
  const waitForPods = async (selector: string, started: number) => {
    while ((await countPods(selector)) < jobs) {
      if (Date.now() - started > timeoutMs) throw new Error(`not all ${jobs} pods after ${timeoutMs} ms (${selector})`);
      await sleep(250);
    }
    return Date.now() - started;
  };

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const operator = await startOperator({
    client: kube,
    namespaces: [namespace],
    concurrency: options.concurrency ?? 16,
    podOptions: { defaultImage: 'ajo-runner:bench', processImage: 'ajo-runner:bench', statusPort: 8765 },
    logger: silentLogger,
  });
  try {
    const sha256 = 'c'.repeat(64);
    const names = Array.from({ length: jobs }, (_, index) => `bench-${index}`);
    const started = Date.now();
    await inBatches(names, 50, (name) =>
      kube.create(paths.ansibleJobs(namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name }, spec: { payload: { secret: { name: 'bench-payload' }, sha256 } } }),
    );
    const timeToAllPodsMs = await waitForPods('ajo.dev/job-name', started);
    // Let the launch's follow-up writes (pod uid, Events) land before counting requests.
    await sleep(3000);
    const apiRequestsPerJob = operator.metrics.kubeRequests.total() / jobs;
    await operator.stop();
    clearInterval(sampler);

    let jobControllerTimeToAllPodsMs: number | null = null;
    const probe = { apiVersion: 'batch/v1', kind: 'Job', spec: { template: { metadata: { labels: { bench: 'job-controller' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'ajo-runner:bench' }] } } } };
    await kube.create(`/apis/batch/v1/namespaces/${namespace}/jobs`, { ...probe, metadata: { name: 'probe' } });
    const hasJobController = await (async () => {
      for (let i = 0; i < 40; i += 1) {
        if ((await countPods('job-name=probe')) > 0) return true;
        await sleep(250);
      }
      return false;
    })();
    if (hasJobController) {
      const jobStarted = Date.now();
      await inBatches(Array.from({ length: jobs }, (_, index) => `job-${index}`), 50, (name) =>
        kube.create(`/apis/batch/v1/namespaces/${namespace}/jobs`, { ...probe, metadata: { name } }),
      );
      jobControllerTimeToAllPodsMs = await waitForPods('bench=job-controller', jobStarted).then((ms) => ms, () => null);
    }
    return { jobs, timeToAllPodsMs, apiRequestsPerJob, operatorPeakRssMb: Math.round(peakRss / 1048576), jobControllerTimeToAllPodsMs };
  } finally {
    clearInterval(sampler);
    await operator.stop().catch(() => undefined);
    await kube.delete(`/api/v1/namespaces/${namespace}`);
  }
}
