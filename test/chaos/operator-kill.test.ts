/**
 * Chaos: the operator's leader SIGKILLed three times in a row while 20 jobs run, each job's
 * play writing `start` and `done` lines to a file on a managed SSH host and waiting between the
 * two for a gate file the test opens after the last kill (the harness's CountedJobs): every
 * kill lands mid-play by construction, and a run that happened twice is counted, not guessed. The kill is real: the leader container's process gets SIGKILL from
 * containerd on the node (the kubelet then restarts it); the standby replica takes over once
 * the Lease expires. Prints one line of figures; the goal is 0 lost and 0 run twice.
 *
 * Runs against the local test cluster (the fixture image and containerd's socket are there).
 */
import { describeE2e, isLocalCluster, type E2eReady } from '../e2e/tools.js';
import { waitFor } from '../helpers/wait.js';
import { chaosEnvironment, CountedJobs, sigkillContainer, type Pod } from './harness.js';

const SUITE = 'chaos: the operator leader SIGKILLed during running jobs';
const JOBS = 20;
const KILLS = 3;

describeE2e(SUITE, 'needs kubectl, helm, root, ctr, our images and the local test cluster', suite, () => {
  // In `npm test` (CI): the one chaos case that fits CI's time. Its 20 plays once met
  // "Connection reset by peer": BestEffort SSH hosts starved of CPU and sshd dropping handshakes
  // past MaxStartups (the fixture now requests CPU and raises MaxStartups).
  if (!isLocalCluster()) return 'the kill goes through the local test cluster\'s containerd (ctr on its socket)';
  if (process.getuid?.() !== 0) return 'building the sshd-host fixture image and using containerd\'s socket need root';
  return undefined;
});

function suite(ready: E2eReady) {
  const env = chaosEnvironment(ready, { release: 'ajo-chaos', replicas: 2 });
  const kubectlJsonIn = <T>(...args: string[]) => env().json<T>(...args);

  const leaseHolder = async (): Promise<string | undefined> =>
    (await kubectlJsonIn<{ spec?: { holderIdentity?: string } }>('get', 'lease', 'ajo-operator')).spec?.holderIdentity || undefined;

  /** SIGKILL to the leader's container, through the node's containerd; returns the killed identity. */
  async function killLeader(): Promise<string> {
    const holder = await waitFor('a leader', leaseHolder, 120_000, 500);
    const pods = (await kubectlJsonIn<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/instance=${env().release}`)).items;
    // The identity is `<pod name>-<pid>-<random>` (manager/operator.ts).
    const leader = pods.find((pod) => holder.startsWith(`${pod.metadata.name}-`));
    if (!leader) throw new Error(`no operator pod holds the lease ${holder} (pods: ${pods.map((pod) => pod.metadata.name).join(', ')})`);
    await sigkillContainer(leader);
    return holder;
  }

  test(`the leader SIGKILLed ${KILLS} times in a row during ${JOBS} running jobs: none lost, none run twice`, async () => {
    const jobs = new CountedJobs(env(), 'leader', JOBS);
    await jobs.apply();
    // Every play is inside its gate wait: each job's start line is on its host.
    await jobs.waitStarted();

    const killed: string[] = [];
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const holder = await killLeader();
      killed.push(holder);
      // The next kill waits for a new leader: another identity (the standby, or the restarted process).
      await waitFor(`a new leader after kill ${kill}`, async () => {
        const next = await leaseHolder();
        return next !== undefined && next !== holder ? next : undefined;
      }, 120_000, 500);
    }
    const lastKill = Date.now();
    await jobs.openGate();
    const { figures, jobs: final } = await jobs.settle(`operator leader SIGKILLed ${KILLS}x during ${JOBS} running jobs`, lastKill, `after the last kill; leaders killed: ${killed.join(', ')}`);

    expect({ lost: figures.lost, twice: figures.twice, failed: figures.failed }).toEqual({ lost: [], twice: [], failed: [] });
    // The leader's death is not the job's: every job Succeeded in its first attempt, its play run once.
    expect(final.map((job) => [job.metadata.name, job.status?.attempts]).sort()).toEqual(jobs.names.map((name) => [name, 1]).sort());
    const runs = await jobs.runs();
    expect(jobs.names.map((name) => [name, runs.get(name)])).toEqual(jobs.names.map((name) => [name, { starts: 1, dones: 1 }]));
    await jobs.remove();
  }, 2_400_000);
}
