/**
 * AnsibleQueue with real worker pods on the test cluster's node: 12 short real playbooks in a
 * queue with maxRunning 3. A watch of the pods, kept by this test, checks the limit at every
 * event; a watch of the jobs checks that admissions follow the queue order. Then the same with
 * the operator as its own process (`ajo operator`, leader-elected as the chart runs it),
 * SIGKILLed half-way and started again: still never more than 3, none lost, none run twice.
 *
 * The rule for "running" the limit is checked against: a worker pod counts from the first
 * event that shows it until an event shows it in phase Succeeded or Failed, or deleted. That
 * includes pods that are Pending (scheduled, pulling, composing) and pods being deleted whose
 * containers still run, so it is a superset of "phase Running or containers not terminated".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeClient } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { describeOrSkip } from '../helpers/skip.js';
import { client, createNamespace, deleteNamespace, describeWithNode, ensureCrd, paths, runOperator, waitFor, type JobObject } from './harness.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ajoCli = path.join(repo, 'operator', 'dist', 'cli', 'main.js');
const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const RUNNER_IMAGE = `ajo-runner:${version}`;
const JOBS = 12;
const MAX_RUNNING = 3;
/** Generous: 12 pods through 3 slots on a shared 2-core machine. Polls end as soon as the state is reached. */
const DRAIN_TIMEOUT_MS = 900_000;

/** Why the suite cannot run here, or null: the node must have the runner image (images/build --load cluster). */
async function missingImageReason(): Promise<string | null> {
  if (!existsSync(ajoCli)) return `${ajoCli} is missing: run npm run build`;
  try {
    const nodes = await client().get<{ items: { status?: { images?: { names?: string[] }[] } }[] }>('/api/v1/nodes');
    const has = nodes.items.some((node) => (node.status?.images ?? []).some((image) => (image.names ?? []).includes(`docker.io/library/${RUNNER_IMAGE}`)));
    return has ? null : `no node has ${RUNNER_IMAGE}: run images/build --load cluster (or test/cluster/load-image the cached archive)`;
  } catch (error) {
    return `cannot list the nodes: ${(error as Error).message}`;
  }
}
const imageReason = process.env.KUBECONFIG ? await missingImageReason() : 'KUBECONFIG is not set';

/** A real, short playbook: a few seconds of work on the pod's own localhost. */
const source = {
  project: {
    inline: [{ path: 'site.yml', content: '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: Work a little\n      ansible.builtin.command: sleep 3\n' }],
  },
  playbook: 'site.yml',
};

interface WatchedPod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status?: { phase?: string };
}
interface WatchedJob {
  metadata: { name: string };
  status?: { phase?: string; attempts?: number; queue?: { admittedAt?: string } };
}

/** list + watch from the list's resourceVersion, resumed from the last seen one, until stopped. */
function follow<T extends { metadata: { name: string; resourceVersion?: string } }>(kube: KubeClient, path: string, labelSelector: string | undefined, onEvent: (type: string, object: T) => void) {
  const selector = labelSelector ? { labelSelector } : {};
  const stop = new AbortController();
  let failure: Error | undefined;
  const ready = (async () => {
    const list = await kube.get<{ metadata: { resourceVersion: string }; items: T[] }>(path, { query: selector });
    for (const item of list.items) onEvent('ADDED', item);
    return list.metadata.resourceVersion;
  })();
  const done = (async () => {
    let resourceVersion = await ready;
    while (!stop.signal.aborted) {
      try {
        await kube.watch(path, { ...selector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 }, (event) => {
          const object = event.object as T & { metadata: { resourceVersion?: string } };
          if (object.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
          if (event.type !== 'BOOKMARK') onEvent(event.type, object);
        }, stop.signal);
      } catch (error) {
        if (stop.signal.aborted) return;
        // A gap in the events would make the count unsound: fail the test rather than guess.
        failure = error as Error;
        return;
      }
    }
  })();
  return {
    ready,
    stop: async () => {
      stop.abort();
      await done.catch(() => undefined);
      if (failure) throw new Error(`watch of ${path} broke: ${failure.message}`);
    },
  };
}

/** What the test sees of the queue's pods and jobs, checked at every event. */
class QueueObserver {
  readonly livePods = new Set<string>();
  maxLive = 0;
  readonly podsByJob = new Map<string, Set<string>>();
  readonly admitted: string[] = [];
  readonly orderViolations: string[] = [];
  readonly phases = new Map<string, string>();
  constructor(private readonly order: string[]) {}

  onPod(type: string, pod: WatchedPod) {
    const job = pod.metadata.labels?.['ajo.dev/job-name'];
    if (!job) return;
    this.podsByJob.set(job, (this.podsByJob.get(job) ?? new Set()).add(pod.metadata.name));
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    if (type === 'DELETED' || finished) this.livePods.delete(pod.metadata.name);
    else this.livePods.add(pod.metadata.name);
    this.maxLive = Math.max(this.maxLive, this.livePods.size);
  }

  onJob(_type: string, job: WatchedJob) {
    const name = job.metadata.name;
    if (job.status?.phase) this.phases.set(name, job.status.phase);
    if (job.status?.queue?.admittedAt && !this.admitted.includes(name)) {
      this.admitted.push(name);
      // FIFO: whoever is admitted, everyone before it in the queue order was admitted already.
      const expected = this.order.slice(0, this.admitted.length);
      if ([...this.admitted].sort().join() !== [...expected].sort().join()) this.orderViolations.push(`${name} admitted while ${expected.filter((n) => !this.admitted.includes(n)).join(', ')} waited`);
    }
  }

  succeeded(): number {
    return [...this.phases.values()].filter((phase) => phase === 'Succeeded').length;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Per test: the drain plus, for the restart, a Lease expiry; far above what it takes, never waited out on success. */
const TEST_TIMEOUT_MS = 2 * DRAIN_TIMEOUT_MS;

/**
 * Other suites on a shared cluster may apply an older AnsibleJob CRD over ours; the API server
 * then prunes status.queue and no job ever launches. Say so at once instead of timing out.
 */
async function assertOurCrd(kube: KubeClient): Promise<void> {
  const crd = await kube.get<any>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ansiblejobs.ajo.dev');
  const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
  if (!spec.queue) throw new Error('the AnsibleJob CRD on the cluster has no spec.queue: another suite applied an older CRD during this run; rerun');
}

const suite = imageReason === null ? describeWithNode : (name: string, fn: () => void) => describeOrSkip(name, imageReason, fn);

suite('AnsibleQueue maxRunning 3 with 12 real jobs on the node', () => {
  let kube: KubeClient;
  const namespaces: string[] = [];
  const operators: RunningOperator[] = [];
  const children: ChildProcess[] = [];
  const watching: { stop: () => Promise<void> }[] = [];
  let crdProblem: Error | undefined;
  const logDir = mkdtempSync(path.join(tmpdir(), 'ajo-queue-node-'));

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
  });
  beforeEach(async () => {
    crdProblem = undefined;
    await ensureCrd(kube);
  });
  afterEach(async () => {
    await Promise.all(operators.splice(0).map((operator) => operator.stop()));
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(watching.splice(0).map((watch) => watch.stop().catch(() => undefined)));
  });
  afterAll(async () => {
    for (const namespace of namespaces) await deleteNamespace(kube, namespace);
  });

  const jobNames = Array.from({ length: JOBS }, (_, i) => `q-${String(i + 1).padStart(2, '0')}`);

  async function setUp(prefix: string) {
    const namespace = await createNamespace(kube, prefix);
    namespaces.push(namespace);
    await kube.create(paths.ajoResources('ansiblequeues', namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleQueue', metadata: { name: 'q' }, spec: { maxRunning: MAX_RUNNING } });
    await assertOurCrd(kube);
    const observer = new QueueObserver(jobNames);
    const pods = follow<WatchedPod & { metadata: { resourceVersion?: string } }>(kube, paths.pods(namespace), 'ajo.dev/job-name', (type, pod) => observer.onPod(type, pod));
    const jobs = follow<WatchedJob & { metadata: { resourceVersion?: string } }>(kube, paths.ansibleJobs(namespace), undefined, (type, job) => observer.onJob(type, job));
    watching.push(pods, jobs);
    await Promise.all([pods.ready, jobs.ready]);
    return { namespace, observer, watches: [pods, jobs] };
  }

  async function createJobs(namespace: string) {
    // One after another, so that creation order is name order (creationTimestamp has whole seconds).
    for (const name of jobNames) {
      await kube.create(paths.ansibleJobs(namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name }, spec: { source, queue: 'q', backoffLimit: 0 } });
    }
  }

  async function verifyDrained(namespace: string, observer: QueueObserver, watches: { stop: () => Promise<void> }[]) {
    await waitFor(`all ${JOBS} jobs finished`, async () => {
      await assertOurCrd(kube).catch((error: Error) => {
        crdProblem = error;
      });
      if (crdProblem) return true;
      return jobNames.every((name) => ['Succeeded', 'Failed', 'TimedOut', 'Cancelled'].includes(observer.phases.get(name) ?? '')) ? true : undefined;
    }, DRAIN_TIMEOUT_MS, 1000);
    if (crdProblem) throw crdProblem;
    await waitFor('no live worker pod', async () => (observer.livePods.size === 0 ? true : undefined), 120_000, 500);
    await Promise.all(watches.map((watch) => watch.stop()));
    const jobs = await kube.get<{ items: JobObject[] }>(paths.ansibleJobs(namespace));
    expect(jobs.items.map((job) => [job.metadata.name, job.status?.phase, job.status?.attempts, job.status?.rc]).sort()).toEqual(jobNames.map((name) => [name, 'Succeeded', 1, 0]));
    // Exactly one pod per job over the whole run (names are <job>-<attempt>): nothing ran twice.
    expect(jobNames.map((name) => [name, [...(observer.podsByJob.get(name) ?? [])]])).toEqual(jobNames.map((name) => [name, [`${name}-1`]]));
    expect(observer.maxLive).toBeLessThanOrEqual(MAX_RUNNING);
    // The limit was used, not merely respected by running one at a time.
    expect(observer.maxLive).toBeGreaterThanOrEqual(2);
    expect(observer.orderViolations).toEqual([]);
    expect(observer.admitted).toEqual(jobNames);
    // The queue's status is written by its own reconcile, which the operator runs after its
    // informers deliver the last job's end: the test's watch may see that end first. Wait for it.
    const queue = await waitFor('the queue status to show no job running or waiting', async () => {
      const current = await kube.get<{ status?: { running?: number; waiting?: number } }>(paths.ajoResource('ansiblequeues', namespace, 'q'));
      return current.status?.running === 0 && current.status.waiting === 0 ? current : undefined;
    }, 60_000, 500);
    expect(queue.status).toMatchObject({ running: 0, waiting: 0 });
  }

  test('an in-process operator: never more than 3 live pods, all 12 succeed, admitted in FIFO order', async () => {
    const { namespace, observer, watches } = await setUp('ajo-qn');
    operators.push(await runOperator(kube, [namespace], { podOptions: { defaultImage: RUNNER_IMAGE, processImage: RUNNER_IMAGE, composeImage: RUNNER_IMAGE, statusPort: 8765 } }));
    await createJobs(namespace);
    await verifyDrained(namespace, observer, watches);
  }, TEST_TIMEOUT_MS);

  test('`ajo operator` as its own process, SIGKILLed half-way and started again: still never more than 3, none lost, none twice', async () => {
    const { namespace, observer, watches } = await setUp('ajo-qk');
    const startOperatorProcess = async (label: string) => {
      const port = await freePort();
      const log = createWriteStream(path.join(logDir, `${label}.log`));
      // As the chart's Deployment runs it: leader election on a Lease (here in the test namespace).
      const child = spawn(
        process.execPath,
        [ajoCli, 'operator', '--namespace', namespace, '--image', RUNNER_IMAGE, '--lease-namespace', namespace, '--lease-name', 'ajo-operator', '--metrics-port', String(port), '--cleanup-interval', '0'],
        { env: { ...process.env, KUBECONFIG: process.env.KUBECONFIG }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      children.push(child);
      return child;
    };
    const first = await startOperatorProcess('first');
    await createJobs(namespace);
    // Half-way: some jobs done, others holding slots, the rest waiting.
    await waitFor('half of the jobs succeeded', async () => {
      await assertOurCrd(kube).catch((error: Error) => {
        crdProblem = error;
      });
      return crdProblem || observer.succeeded() >= JOBS / 2 - 1 ? true : undefined;
    }, DRAIN_TIMEOUT_MS, 500);
    if (crdProblem) throw crdProblem;
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;
    const unfinished = jobNames.filter((name) => observer.phases.get(name) !== 'Succeeded').length;
    expect(unfinished).toBeGreaterThan(0);
    // The new process waits for the dead leader's Lease to expire (15 s), then takes over.
    await startOperatorProcess('second');
    await verifyDrained(namespace, observer, watches);
  }, TEST_TIMEOUT_MS);
});
