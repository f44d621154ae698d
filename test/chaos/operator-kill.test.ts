/**
 * Chaos: the operator's leader SIGKILLed three times in a row while 20 jobs run, each job's
 * play appending one line to a file on a managed SSH host, so that a run that happened twice
 * is counted, not guessed. The kill is real: the leader container's process gets SIGKILL from
 * containerd on the node (the kubelet then restarts it); the standby replica takes over once
 * the Lease expires. Prints one line of figures; the goal is 0 lost and 0 run twice.
 *
 * Runs against the local test cluster (the fixture image and containerd's socket are there).
 */
import path from 'node:path';
import { execa } from 'execa';
import { localClusterInfo } from '../cluster/local-cluster.js';
import { describeE2e, isLocalCluster, run, TERMINAL_PHASE_NAMES, type E2eReady } from '../e2e/tools.js';
import { waitFor } from '../helpers/wait.js';
import { chaosEnvironment, report, type AnsibleJob, type Pod } from './harness.js';

const SUITE = 'chaos: the operator leader SIGKILLed during running jobs';
const JOBS = 20;
const KILLS = 3;
/** Long enough for three takeovers (a Lease of 15 s each) while every play is still running. */
const PLAY_SECONDS = 120;
const RUNS_FILE = '/home/ansible/runs.log';

describeE2e(SUITE, 'needs kubectl, helm, root, ctr, our images and the local test cluster', suite, () => {
  // Out of `npm test` for now: on 2026-12-02 its 20 plays met "kex_exchange_identification:
  // Connection reset" from the SSH hosts (with the NetworkPolicy agent newly in the path) and
  // failed; `npm run chaos` runs it until that is understood.
  if (process.env.AJO_CHAOS !== 'all') return 'the chaos cases run with `npm run chaos` (AJO_CHAOS=all), not in `npm test`';
  if (!isLocalCluster()) return 'the kill goes through the local test cluster\'s containerd (ctr on its socket)';
  if (process.getuid?.() !== 0) return 'building the sshd-host fixture image and using containerd\'s socket need root';
  return undefined;
});

function suite(ready: E2eReady) {
  const env = chaosEnvironment(ready, { release: 'ajo-chaos', replicas: 2 });
  const kubectlJsonIn = <T>(...args: string[]) => env().json<T>(...args);
  const fixtures = () => env().fixtures;

  /** A job written by hand whose play appends its name to the runs file once, then stays running. */
  const jobManifest = (name: string, index: number) => ({
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: { name },
    spec: {
      backoffLimit: 3,
      // Small requests, so that all 20 pods fit on the 2-core node at once.
      resources: { requests: { cpu: '10m', memory: '64Mi' } },
      podTemplate: { spec: { containers: [{ name: 'process', resources: { requests: { cpu: '10m', memory: '32Mi' } } }] } },
      source: {
        project: {
          inline: [
            {
              path: 'site.yml',
              content: [
                '- hosts: fleet',
                '  gather_facts: false',
                '  tasks:',
                '    - name: Count this run',
                `      ansible.builtin.shell: echo "{{ job }}" >> ${RUNS_FILE}`,
                '    - name: Keep running',
                `      ansible.builtin.pause: { seconds: ${PLAY_SECONDS} }`,
                '',
              ].join('\n'),
            },
          ],
        },
        playbook: 'site.yml',
        // Half the jobs on each host. Twenty handshakes at once on a loaded 2-core machine outlast
        // ssh's 10 s default: a fleet's settings, a longer timeout and retries, keep them apart
        // from what is tested here.
        inventory: { inline: `[fleet]\n${hostOf(index).fqdn} ansible_user=ansible ansible_timeout=60 ansible_ssh_retries=5\n` },
        extraVars: { job: name },
        credentials: { sshKeySecret: 'fleet-ssh', knownHosts: { name: 'fleet-known-hosts', key: 'known_hosts' } },
      },
    },
  });

  const hostOf = (index: number) => Object.values(fixtures().hosts)[index % Object.keys(fixtures().hosts).length]!;

  /** How many times each job's play ran, from the runs files on every host. */
  const runsPerJob = async (): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (const host of Object.keys(fixtures().hosts)) {
      const text = await fixtures().readFileOnHost(host, RUNS_FILE).catch(() => '');
      for (const line of text.split('\n').filter(Boolean)) counts.set(line, (counts.get(line) ?? 0) + 1);
    }
    return counts;
  };

  const leaseHolder = async (): Promise<string | undefined> =>
    (await kubectlJsonIn<{ spec?: { holderIdentity?: string } }>('get', 'lease', 'ajo-operator')).spec?.holderIdentity || undefined;

  /** SIGKILL to the leader's container, through the node's containerd; returns the killed identity. */
  async function killLeader(): Promise<string> {
    const holder = await waitFor('a leader', leaseHolder, 120_000, 500);
    const pods = (await kubectlJsonIn<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/instance=${env().release}`)).items;
    // The identity is `<pod name>-<pid>-<random>` (manager/operator.ts).
    const leader = pods.find((pod) => holder.startsWith(`${pod.metadata.name}-`));
    if (!leader) throw new Error(`no operator pod holds the lease ${holder} (pods: ${pods.map((pod) => pod.metadata.name).join(', ')})`);
    const containerId = leader.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
    if (!containerId) throw new Error(`operator pod ${leader.metadata.name} has no running container`);
    const { stateDir } = localClusterInfo();
    await execa('ctr', ['--address', path.join(stateDir, 'containerd', 'containerd.sock'), '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', containerId]);
    return holder;
  }

  test(`the leader SIGKILLed ${KILLS} times in a row during ${JOBS} running jobs: none lost, none run twice`, async () => {
    const names = Array.from({ length: JOBS }, (_, i) => `chaos-${String(i + 1).padStart(2, '0')}`);
    await run(env().tools.kubectl, ['--namespace', env().namespace, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: names.map(jobManifest) }) });
    // Every play has begun: each job's line is on the host.
    await waitFor(`all ${JOBS} plays to begin`, async () => ((await runsPerJob()).size === JOBS ? true : undefined), 900_000, 2000);

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

    const jobs = async () => (await kubectlJsonIn<{ items: AnsibleJob[] }>('get', 'ajob')).items;
    const final = await waitFor('every job to finish', async () => {
      const current = await jobs();
      return current.every((job) => TERMINAL_PHASE_NAMES.has(job.status?.phase ?? '')) ? current : undefined;
    }, 900_000, 2000).catch(async () => jobs());
    const convergedSeconds = Math.round((Date.now() - lastKill) / 1000);
    const runs = await runsPerJob();

    const succeeded = final.filter((job) => job.status?.phase === 'Succeeded');
    const failed = final.filter((job) => job.status?.phase && job.status.phase !== 'Succeeded' && TERMINAL_PHASE_NAMES.has(job.status.phase));
    const lost = final.filter((job) => !TERMINAL_PHASE_NAMES.has(job.status?.phase ?? ''));
    const twice = names.filter((name) => (runs.get(name) ?? 0) > 1);
    const failedReasons = failed.map((job) => `${job.metadata.name}: ${job.status?.conditions?.find((c) => c.type === 'Finished')?.reason}`);
    report({
      case: `operator leader SIGKILLed ${KILLS}x during ${JOBS} running jobs`,
      started: runs.size,
      succeeded: succeeded.length,
      failed: failedReasons,
      lost: lost.map((job) => job.metadata.name),
      twice,
      interrupted: 0,
      convergedSeconds,
      note: `after the last kill; leaders killed: ${killed.join(', ')}`,
    });
    expect({ lost: lost.map((job) => job.metadata.name), twice, failed: failedReasons }).toEqual({ lost: [], twice: [], failed: [] });
    expect(succeeded.map((job) => [job.metadata.name, job.status?.attempts])).toEqual(names.map((name) => [name, 1]));
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
  }, 2_400_000);
}
