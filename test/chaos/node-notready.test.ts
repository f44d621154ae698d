/**
 * Chaos: a node made NotReady (its kubelet stopped) with jobs on it. The jobs' worker pods run on
 * the second node of the local cluster (test/cluster/up --nodes 2); its kubelet is stopped, then
 * the node dies as a machine does (its containers killed) and is marked out of service, so the
 * first attempts can no longer be running. Only then may the jobs run again, on node 1: each
 * play's runs are counted on the SSH hosts, so a run that happened twice would be counted.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { localClusterInfo, secondNodePlacement, startSecondNode } from '../cluster/local-cluster.js';
import { describeE2e, isLocalCluster, run } from '../e2e/tools.js';
import { waitFor } from '../helpers/wait.js';
import { clusterControl, restoreCluster } from './cluster-control.js';
import { chaosEnvironment, CountedJobs } from './harness.js';

const SUITE = 'chaos: a node made NotReady with jobs on it';
const JOBS = 4;
/** The taint of a node that is shut down for good (non-graceful node shutdown, KEP-2268). */
const OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service=nodeshutdown:NoExecute';

describeE2e(SUITE, 'needs kubectl, helm, root, our images and the local test cluster with its second node', suite, () => {
  if (process.env.AJO_CHAOS !== 'all') return 'the chaos cases run with `npm run chaos` (AJO_CHAOS=all), not in `npm test`';
  if (!isLocalCluster()) return 'the fault stops the local test cluster\'s second node (test/cluster/ctl)';
  if (process.getuid?.() !== 0) return 'stopping the second node\'s kubelet and its containers needs root';
  const second = startSecondNode();
  return second.ok ? undefined : `the second node could not start: ${second.reason}`;
});

interface Node {
  spec?: { taints?: { key: string; effect: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}
interface PlacedPod {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { nodeName?: string };
}

/** SIGKILL to every process in node N's pod cgroups (/ajo/node-N): what a machine losing power does to them. */
function killNodeContainers(cgroupRoot: string): number {
  let killed = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name));
      else if (entry.name === 'cgroup.procs') {
        for (const pid of readFileSync(path.join(dir, entry.name), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
            killed += 1;
          } catch {
            // Gone already.
          }
        }
      }
    }
  };
  walk(path.join('/sys/fs/cgroup/pids', cgroupRoot));
  return killed;
}

function suite(ready: Parameters<Parameters<typeof describeE2e>[2]>[0]) {
  const env = chaosEnvironment(ready, { release: 'ajo-chaos-node', replicas: 1 });
  const info = localClusterInfo();
  const node = info.secondNode.name;
  const kubectl = (...args: string[]) => run(ready.tools.kubectl, args);
  const nodeJson = async () => JSON.parse(await kubectl('get', 'node', node, '-o', 'json')) as Node;

  // The node comes back whatever happened: out of service no more, its containerd and kubelet started.
  afterAll(async () => {
    await kubectl('taint', 'node', node, `${OUT_OF_SERVICE.split('=')[0]}-`).catch(() => undefined);
    await clusterControl('start', 'containerd-2').catch(() => undefined);
    await clusterControl('start', 'kubelet-2').catch(() => undefined);
    await restoreCluster();
  }, 600_000);

  test('its jobs are interrupted and finish on the other node, each run once, only after the first attempt cannot be running', async () => {
    // Attempt 1 prefers the second node (it tolerates its taint); an attempt after the fault
    // can only go to node 1, since the second node is then tainted unreachable and out of service.
    const spec = () => ({
      podTemplate: {
        spec: {
          containers: [{ name: 'process', resources: { requests: { cpu: '10m', memory: '32Mi' } } }],
          tolerations: secondNodePlacement(info).tolerations,
          affinity: {
            nodeAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, preference: { matchExpressions: [{ key: info.secondNode.label, operator: 'In', values: ['true'] }] } },
              ],
            },
          },
        },
      },
    });
    const jobs = new CountedJobs(env(), 'notready', JOBS, spec);
    await jobs.apply();
    await jobs.waitStarted();
    const placed = async () => {
      const pods = (await env().json<{ items: PlacedPod[] }>('get', 'pods')).items;
      return pods.filter((pod) => pod.metadata.labels?.['ajo.dev/job-name']?.startsWith('notready-'));
    };
    // The case is about jobs on the failing node: every first attempt must be there.
    expect((await placed()).map((pod) => pod.spec?.nodeName)).toEqual(Array.from({ length: JOBS }, () => node));

    await clusterControl('stop', 'kubelet-2');
    await waitFor(`${node} NotReady`, async () => ((await nodeJson()).status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True' ? true : undefined), 600_000, 2000);
    // Stopped, the kubelet leaves its containers running, so the plays go on: no new attempt may
    // start while they could. The node now dies for good, and an operator (here the test) says so.
    await clusterControl('stop', 'containerd-2');
    killNodeContainers(`${info.cgroupRoot}/node-2`);
    await kubectl('taint', 'node', node, OUT_OF_SERVICE, '--overwrite');
    const faultAt = Date.now();

    // Each job starts its play a second time, on node 1, once its first pod is gone.
    await jobs.waitStarted(2);
    const second = await placed();
    expect(second.filter((pod) => pod.spec?.nodeName === node)).toEqual([]);
    await jobs.openGate();
    const { figures, jobs: finished } = await jobs.settle('node NotReady (kubelet stopped), then dead and out of service', faultAt, 'attempt 1 on the dead node, attempt 2 on node 1');
    await jobs.remove();

    expect({ lost: figures.lost, twice: figures.twice }).toEqual({ lost: [], twice: [] });
    expect(figures.succeeded).toBe(JOBS);
    expect(figures.interrupted).toBe(JOBS);
    expect(finished.map((job) => [job.metadata.name, job.status?.attempts]).sort()).toEqual(
      Array.from({ length: JOBS }, (_, i) => [`notready-${i + 1}`, 2]),
    );
  }, 2_400_000);
}
