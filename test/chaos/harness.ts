/**
 * The chaos cases' shared harness: an operator release and two managed SSH hosts per suite, jobs
 * whose plays count their runs on those hosts, and one line of figures per case (also recorded
 * for the summary table that global-teardown.ts prints at the end of the chaos project).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { localClusterInfo } from '../cluster/local-cluster.js';
import { deploySshFixtures, provideTestHostImage, type SshFixtures } from '../e2e/fixtures/ssh-hosts.js';
import { chartDir, kubectlJson, provideImages, run, TERMINAL_PHASE_NAMES, type E2eReady, type Tools } from '../e2e/tools.js';
import { waitFor } from '../helpers/wait.js';

/** Where each case's figures go, one JSON line each (set by global-setup.ts; unset: not recorded). */
export const FIGURES_ENV = 'AJO_CHAOS_FIGURES';

export const Figures = z.object({
  case: z.string(),
  started: z.number(),
  succeeded: z.number(),
  failed: z.array(z.string()),
  lost: z.array(z.string()),
  twice: z.array(z.string()),
  /** Attempts that were cut off and run again by a new attempt (a start line with no done line). */
  interrupted: z.number(),
  convergedSeconds: z.number(),
  note: z.string().optional(),
});
export type Figures = z.infer<typeof Figures>;

/** Prints a case's line of figures and records it for the summary table. */
export function report(figures: Figures): void {
  const failed = figures.failed.length ? `${figures.failed.length} (${figures.failed.join('; ')})` : '0';
  console.log(
    `chaos: ${figures.case}: started ${figures.started}, succeeded ${figures.succeeded}, failed ${failed}, lost ${figures.lost.length}, ` +
      `run twice ${figures.twice.length}, interrupted and retried ${figures.interrupted}, status converged ${figures.convergedSeconds} s after the fault` +
      (figures.note ? ` (${figures.note})` : ''),
  );
  const file = process.env[FIGURES_ENV];
  if (file) appendFileSync(file, `${JSON.stringify(figures)}\n`);
}

export interface AnsibleJob {
  metadata: { name: string };
  status?: { phase?: string; attempts?: number; conditions?: { type: string; reason?: string; message?: string }[] };
}
export interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; containerStatuses?: { name: string; containerID?: string; restartCount: number; state?: { running?: object } }[] };
}

/**
 * SIGKILL to one container of a pod (the first when `container` is unset), through the local
 * cluster node's containerd: the process dies as in an OOM kill or a crash, and the kubelet
 * sees it exit as it would any other.
 */
export async function sigkillContainer(pod: Pod, container?: string): Promise<void> {
  const statuses = pod.status?.containerStatuses ?? [];
  const status = container === undefined ? statuses[0] : statuses.find((candidate) => candidate.name === container);
  const id = status?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`pod ${pod.metadata.name} has no running container${container === undefined ? '' : ` named ${container}`}`);
  const socket = path.join(localClusterInfo().stateDir, 'containerd', 'containerd.sock');
  await execa('ctr', ['--address', socket, '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
}

export interface ChaosEnv {
  tools: Tools;
  namespace: string;
  hostsNamespace: string;
  release: string;
  fixtures: SshFixtures;
  kubectl(...args: string[]): Promise<string>;
  json<T>(...args: string[]): Promise<T>;
}

/**
 * Registers beforeAll/afterAll for a suite: its namespaces, two SSH hosts, the SSH key and
 * known_hosts for the jobs, and the chart installed with `replicas` operator replicas.
 * Returns a getter, valid from the first test on.
 */
export function chaosEnvironment({ tools, plan }: E2eReady, options: { release: string; replicas: number }): () => ChaosEnv {
  const id = randomBytes(3).toString('hex');
  const namespace = `ajo-chaos-${id}`;
  const hostsNamespace = `ajo-chaos-hosts-${id}`;
  const scratch = mkdtempSync(path.join(tmpdir(), 'ajo-chaos-'));
  const kubectl = (...args: string[]) => run(tools.kubectl, ['--namespace', namespace, ...args]);
  const json = <T>(...args: string[]) => kubectlJson<T>(tools, ['--namespace', namespace, ...args]);
  let env: ChaosEnv | undefined;

  beforeAll(async () => {
    await provideImages(plan, tools);
    for (const ns of [namespace, hostsNamespace]) await run(tools.kubectl, ['create', 'namespace', ns]);
    const fixtures = await deploySshFixtures({ kubectl: tools.kubectl, namespace: hostsNamespace, image: await provideTestHostImage() });
    const keyFile = path.join(scratch, 'id_ed25519');
    const knownHostsFile = path.join(scratch, 'known_hosts');
    writeFileSync(keyFile, fixtures.clientKey.privateKey, { mode: 0o600 });
    writeFileSync(knownHostsFile, fixtures.knownHosts);
    await kubectl('create', 'secret', 'generic', 'fleet-ssh', '--type=kubernetes.io/ssh-auth', `--from-file=ssh-privatekey=${keyFile}`);
    await kubectl('create', 'configmap', 'fleet-known-hosts', `--from-file=known_hosts=${knownHostsFile}`);
    await run(tools.helm, ['install', options.release, chartDir, '--namespace', namespace, '--wait', '--timeout', '5m', '--set', `replicaCount=${options.replicas}`]);
    env = { tools, namespace, hostsNamespace, release: options.release, fixtures, kubectl, json };
  }, 2_400_000);

  afterAll(async () => {
    await run(tools.helm, ['uninstall', options.release, '--namespace', namespace, '--ignore-not-found']).catch(() => undefined);
    for (const ns of [namespace, hostsNamespace]) await run(tools.kubectl, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  return () => {
    if (!env) throw new Error('the chaos environment did not come up (see beforeAll)');
    return env;
  };
}

/**
 * One case's jobs. Each play appends `start <job>` to the case's runs file on its SSH host, then
 * waits for the case's gate file there, then appends `done <job>`. So "mid-job" is by
 * construction: every job is inside its play from its start line until the test opens the gate,
 * and a play that ran to its end twice leaves two done lines.
 */
export class CountedJobs {
  readonly names: string[];
  readonly runsFile: string;
  readonly gateFile: string;

  constructor(
    private readonly env: ChaosEnv,
    readonly label: string,
    count: number,
    private readonly specExtra: (index: number) => Record<string, unknown> = () => ({}),
  ) {
    this.names = Array.from({ length: count }, (_, i) => `${label}-${i + 1}`);
    this.runsFile = `/home/ansible/${label}.runs`;
    this.gateFile = `/home/ansible/${label}.gate`;
  }

  private hostOf(index: number) {
    const hosts = Object.values(this.env.fixtures.hosts);
    return hosts[index % hosts.length]!;
  }

  private manifest(name: string, index: number) {
    const extra = this.specExtra(index);
    return {
      apiVersion: 'ajo.dev/v1alpha1',
      kind: 'AnsibleJob',
      metadata: { name },
      spec: {
        backoffLimit: 3,
        // Small requests, so that every case's pods fit on the 2-core node at once.
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
                  `      ansible.builtin.shell: echo "start {{ job }}" >> ${this.runsFile}`,
                  '    - name: Stay inside the play until the fault is over',
                  `      ansible.builtin.wait_for: { path: ${this.gateFile}, timeout: 1800 }`,
                  '    - name: Count the end of this run',
                  `      ansible.builtin.shell: echo "done {{ job }}" >> ${this.runsFile}`,
                  '',
                ].join('\n'),
              },
            ],
          },
          playbook: 'site.yml',
          // Many handshakes at once on a loaded 2-core machine outlast ssh's 10 s default.
          inventory: { inline: `[fleet]\n${this.hostOf(index).fqdn} ansible_user=ansible ansible_timeout=60 ansible_ssh_retries=5\n` },
          extraVars: { job: name },
          credentials: { sshKeySecret: 'fleet-ssh', knownHosts: { name: 'fleet-known-hosts', key: 'known_hosts' } },
        },
        ...extra,
      },
    };
  }

  async apply(): Promise<void> {
    const items = this.names.map((name, index) => this.manifest(name, index));
    await run(this.env.tools.kubectl, ['--namespace', this.env.namespace, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  }

  /** start/done lines per job, from the runs file on every host. */
  async runs(): Promise<Map<string, { starts: number; dones: number }>> {
    const counts = new Map<string, { starts: number; dones: number }>();
    for (const host of Object.keys(this.env.fixtures.hosts)) {
      const text = await this.env.fixtures.readFileOnHost(host, this.runsFile).catch(() => '');
      for (const line of text.split('\n').filter(Boolean)) {
        const [kind, job] = line.split(' ');
        if (!job) continue;
        const entry = counts.get(job) ?? { starts: 0, dones: 0 };
        if (kind === 'start') entry.starts += 1;
        if (kind === 'done') entry.dones += 1;
        counts.set(job, entry);
      }
    }
    return counts;
  }

  /**
   * Waits until every job's play has begun `attempts` times (its start lines are on the host), or
   * the job has already ended without getting there (it then counts as failed, with its reason,
   * in the figures: the fault did not cause it).
   */
  async waitStarted(attempts = 1, timeoutMs = 900_000): Promise<void> {
    await waitFor(`${this.label}: every play to begin (attempt ${attempts})`, async () => {
      const runs = await this.runs();
      const pending = this.names.filter((name) => (runs.get(name)?.starts ?? 0) < attempts);
      if (pending.length === 0) return true;
      const jobs = (await this.env.json<{ items: AnsibleJob[] }>('get', 'ajob')).items;
      const ended = new Set(jobs.filter((job) => TERMINAL_PHASE_NAMES.has(job.status?.phase ?? '')).map((job) => job.metadata.name));
      return pending.every((name) => ended.has(name)) ? true : undefined;
    }, timeoutMs, 2000);
  }

  /** The jobs' running worker pods (one per job once every play has begun). */
  async pods(): Promise<Pod[]> {
    const pods = (await this.env.json<{ items: Pod[] }>('get', 'pods')).items;
    return pods.filter((pod) => this.names.includes(pod.metadata.labels?.['ajo.dev/job-name'] ?? '') && pod.status?.phase === 'Running');
  }

  /** Lets every play run to its end: the gate file appears on every host. */
  async openGate(): Promise<void> {
    for (const host of Object.keys(this.env.fixtures.hosts)) {
      await run(this.env.tools.kubectl, ['--namespace', this.env.hostsNamespace, 'exec', host, '-c', 'sshd', '--', 'touch', this.gateFile]);
    }
  }

  /** Waits for every job to reach a final phase (or the deadline), then counts. */
  async settle(caseName: string, faultAt: number, note?: string, timeoutMs = 900_000): Promise<{ figures: Figures; jobs: AnsibleJob[] }> {
    const current = async () => (await this.env.json<{ items: AnsibleJob[] }>('get', 'ajob')).items.filter((job) => this.names.includes(job.metadata.name));
    const jobs = await waitFor(`${this.label}: every job to finish`, async () => {
      const list = await current();
      return list.length === this.names.length && list.every((job) => TERMINAL_PHASE_NAMES.has(job.status?.phase ?? '')) ? list : undefined;
    }, timeoutMs, 2000).catch(async () => current());
    const convergedSeconds = Math.round((Date.now() - faultAt) / 1000);
    const runs = await this.runs();
    const phase = (job: AnsibleJob) => job.status?.phase ?? '';
    const reason = (job: AnsibleJob) => job.status?.conditions?.find((c) => c.type === 'Finished')?.reason ?? phase(job);
    const figures: Figures = {
      case: caseName,
      started: [...runs.values()].filter((entry) => entry.starts > 0).length,
      succeeded: jobs.filter((job) => phase(job) === 'Succeeded').length,
      failed: jobs.filter((job) => phase(job) !== 'Succeeded' && TERMINAL_PHASE_NAMES.has(phase(job))).map((job) => `${job.metadata.name}: ${reason(job)}`),
      lost: this.names.filter((name) => !TERMINAL_PHASE_NAMES.has(phase(jobs.find((job) => job.metadata.name === name) ?? { metadata: { name } }))),
      twice: this.names.filter((name) => (runs.get(name)?.dones ?? 0) > 1),
      interrupted: [...runs.values()].reduce((sum, entry) => sum + Math.max(0, entry.starts - entry.dones), 0),
      convergedSeconds,
      ...(note ? { note } : {}),
    };
    report(figures);
    return { figures, jobs };
  }

  /** Removes the case's jobs (and their pods), so the next case has the node to itself. */
  async remove(): Promise<void> {
    await this.env.kubectl('delete', 'ajob', ...this.names, '--ignore-not-found', '--wait=true', '--timeout=300s').catch(() => undefined);
  }
}
