/**
 * Chaos: the cluster's parts stopped, restarted and killed under running jobs, one case at a time
 * (they share one operator release and two SSH hosts). Each case's plays count their runs on the
 * SSH hosts and wait inside the play for the case's gate, so every fault lands mid-job by
 * construction; the gate opens once the fault is over. Each case prints a line of figures; the
 * goal is 0 lost and 0 run twice everywhere.
 *
 * Faults go through test/cluster/ctl (the same start functions as test/cluster/up), containerd's
 * socket (a container's process SIGKILLed) and the API (Eviction, delete).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { clusterScriptsDir, localClusterInfo } from '../cluster/local-cluster.js';
import { describeE2e, isLocalCluster, run } from '../e2e/tools.js';
import { waitFor } from '../helpers/wait.js';
import { clusterControl, restoreCluster } from './cluster-control.js';
import { chaosEnvironment, CountedJobs, sigkillContainer, type AnsibleJob, type Figures } from './harness.js';

const SUITE = 'chaos: cluster components, worker pods and volumes faulted under running jobs';
/** Jobs per case: enough to see a pattern, few enough for seven cases on a 2-core node. */
const JOBS = 6;

describeE2e(SUITE, 'needs kubectl, helm, root, ctr, our images and the local test cluster', suite, () => {
  // Seven cases of several minutes each on a 2-core node: more than the CI run's budget holds
  // beside the rest, so only `npm run chaos` runs them.
  if (process.env.AJO_CHAOS !== 'all') return 'the component fault cases run with `npm run chaos` (AJO_CHAOS=all), not in `npm test`';
  if (!isLocalCluster()) return 'the faults stop and start the local test cluster\'s own processes (test/cluster/ctl)';
  if (process.getuid?.() !== 0) return 'stopping the cluster\'s processes and using containerd\'s socket need root';
  return undefined;
});

const attempts = (jobs: AnsibleJob[]) => jobs.map((job) => [job.metadata.name, job.status?.attempts]).sort();

function expectNoneLostNorTwice(figures: Figures): void {
  expect({ lost: figures.lost, twice: figures.twice }).toEqual({ lost: [], twice: [] });
}

function suite(ready: Parameters<Parameters<typeof describeE2e>[2]>[0]) {
  const env = chaosEnvironment(ready, { release: 'ajo-chaos-parts', replicas: 1 });

  // A case that fails half-way must not leave the shared cluster without a part.
  afterEach(async () => restoreCluster(), 600_000);

  /** The API answers again (a restarted etcd or API server). */
  const apiReady = () =>
    waitFor('kube-apiserver /readyz', async () => ((await run(ready.tools.kubectl, ['get', '--raw', '/readyz'])).trim() === 'ok' ? true : undefined), 300_000, 1000);

  /** One case: the jobs, mid-play; the fault; the gate opened; the figures. */
  async function runCase(label: string, caseName: string, fault: (jobs: CountedJobs) => Promise<void>, options: { count?: number; spec?: (index: number) => Record<string, unknown>; note?: string } = {}) {
    const jobs = new CountedJobs(env(), label, options.count ?? JOBS, options.spec);
    await jobs.apply();
    await jobs.waitStarted();
    await fault(jobs);
    await apiReady();
    const gateOpened = Date.now();
    await jobs.openGate();
    const result = await jobs.settle(caseName, gateOpened, options.note);
    await jobs.remove();
    return result;
  }

  test('kube-apiserver stopped for 30 s mid-job, then started: every job succeeds once', async () => {
    const { figures, jobs } = await runCase('apiserver', 'kube-apiserver stopped 30 s mid-job', async () => {
      await clusterControl('stop', 'kube-apiserver');
      // The outage itself: 30 s without an API server (not a wait for something to happen).
      await sleep(30_000);
      await clusterControl('start', 'kube-apiserver');
    });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    expect(figures.succeeded).toBe(JOBS);
  }, 2_400_000);

  test('etcd restarted mid-job: every job succeeds once', async () => {
    const { figures, jobs } = await runCase('etcd', 'etcd restarted mid-job', async () => {
      await clusterControl('restart', 'etcd');
    });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    expect(figures.succeeded).toBe(JOBS);
  }, 2_400_000);

  test('the kubelet restarted mid-job: every job succeeds once', async () => {
    const { figures, jobs } = await runCase('kubelet', 'kubelet restarted mid-job', async () => {
      await clusterControl('restart', 'kubelet');
    });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    expect(figures.succeeded).toBe(JOBS);
  }, 2_400_000);

  test('the kubelet SIGKILLed mid-job, then test/cluster/up (containers outlive it): up completes, every job succeeds once', async () => {
    const { figures, jobs } = await runCase('kubelet-kill', 'kubelet SIGKILLed mid-job, then test/cluster/up', async () => {
      await clusterControl('kill', 'kubelet');
      // up must be idempotent after a fault: it starts only what is missing (once it stopped at
      // "Address already assigned" here, with the node left NotReady).
      const { stateDir } = localClusterInfo();
      const up = await execa(path.join(clusterScriptsDir, 'up'), [], { env: { AJO_CLUSTER_DIR: stateDir }, stdin: 'ignore', stderr: 'inherit', timeout: 900_000 });
      expect(String(up.stdout).trim()).toBe(`export KUBECONFIG=${stateDir}/admin.kubeconfig`);
    });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    expect(figures.succeeded).toBe(JOBS);
  }, 2_400_000);

  test('containerd restarted mid-job: every job succeeds once', async () => {
    const { figures, jobs } = await runCase('containerd', 'containerd restarted mid-job', async () => {
      await clusterControl('restart', 'containerd');
    });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    expect(figures.succeeded).toBe(JOBS);
  }, 2_400_000);

  test('worker pods evicted (Eviction API) and deleted mid-job: each job runs again once and succeeds', async () => {
    const count = 4;
    const { figures, jobs } = await runCase('evict', 'worker pods evicted (2) and deleted (2) mid-job', async (counted) => {
      const pods = await counted.pods();
      const { namespace } = env();
      for (const [index, pod] of pods.entries()) {
        if (index % 2 === 0) {
          const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata.name, namespace } };
          await run(ready.tools.kubectl, ['create', '--raw', `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}/eviction`, '-f', '-'], { input: JSON.stringify(eviction) });
        } else {
          await env().kubectl('delete', 'pod', pod.metadata.name, '--wait=false');
        }
      }
      // The gate opens only once each job's second attempt is inside its play: the first
      // attempt's pod is gone by then (a new attempt waits for it), so it cannot reach `done`.
      await counted.waitStarted(2);
    }, { count, note: 'each interrupted attempt is retried: attempts 2' });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 2]));
    expect(figures.succeeded).toBe(count);
  }, 2_400_000);

  test('the process sidecar SIGKILLed mid-job: the play runs once, the job fails as ProcessFailed', async () => {
    const count = 4;
    const { figures, jobs } = await runCase('sidecar', 'process sidecar SIGKILLed mid-job', async (counted) => {
      const pods = await counted.pods();
      for (const pod of pods) await sigkillContainer(pod, 'process');
    }, { count, note: 'no retry: the playbook ran; its artifacts may be incomplete' });
    expectNoneLostNorTwice(figures);
    // The pod restarts nothing (restartPolicy Never) and the operator must not run a finished play again.
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    expect(figures.failed.map((line) => line.replace(/^[^:]+: /, ''))).toEqual(Array.from({ length: count }, () => 'ProcessFailed'));
  }, 2_400_000);

  test('the artifacts volume full mid-job: the play runs once and the job ends, never lost', async () => {
    const count = 2;
    const spec = () => ({
      podTemplate: {
        spec: {
          containers: [{ name: 'process', resources: { requests: { cpu: '10m', memory: '32Mi' } } }],
          // A small tmpfs: writes past 16 MiB fail with ENOSPC, as on a full volume.
          volumes: [{ name: 'artifacts', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }],
        },
      },
    });
    const fill = "const fs=require('fs');const fd=fs.openSync('/artifacts/fill','w');const b=Buffer.alloc(1<<20);try{for(;;)fs.writeSync(fd,b)}catch(e){console.log(e.code)}";
    const { figures, jobs } = await runCase('full', 'artifacts volume full mid-job', async (counted) => {
      const pods = await counted.pods();
      for (const pod of pods) {
        const out = await env().kubectl('exec', pod.metadata.name, '-c', 'process', '--', 'node', '-e', fill);
        expect(out.trim()).toBe('ENOSPC');
      }
    }, { count, spec });
    expectNoneLostNorTwice(figures);
    expect(attempts(jobs)).toEqual(attempts(jobs).map(([name]) => [name, 1]));
    // What a user expects: the play is not run again for a full artifacts volume; the job says
    // its artifacts are incomplete (ProcessFailed) rather than claiming a clean success.
    expect(figures.failed.map((line) => line.replace(/^[^:]+: /, ''))).toEqual(Array.from({ length: count }, () => 'ProcessFailed'));
  }, 2_400_000);
}
