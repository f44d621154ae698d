/**
 * End to end, the way a user gets there: our images on the node, `helm install`
 * of charts/ajo, `kubectl apply` of each example in examples/kubernetes/, and
 * every check made from the outside with kubectl, helm and the ajo CLI: phase,
 * rc, host counts, artifacts on the volume, Events, the security of the live
 * pods, the time from apply to a running worker pod, `helm upgrade` with
 * changed values, and `helm uninstall` leaving nothing of ours but the CRD.
 *
 * Runs against the cluster of KUBECONFIG (test/cluster/up's or kind's).
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { testOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';
import { costsByContainerName, sampleContainerCgroups, type ContainerCost } from './cgroup-sampler.js';
import {
  ajoCli,
  chartDir,
  describeE2e,
  examplesDir,
  hostPathVolume as hostPathVolumeFor,
  timeToPodPastPending,
  isLocalCluster,
  kubectlJson,
  provideImages,
  run,
  runnerImage,
  jobEventsWith,
  KUBECTL_POLL_MS,
  median,
  TERMINAL_PHASE_NAMES,
  version,
  type E2eReady,
} from './tools.js';

const SUITE = 'e2e: helm install, the examples, upgrade and uninstall';

describeE2e(SUITE, 'needs helm, kubectl and our images', suite);

interface HostCounts {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
  rescued: number;
  ignored: number;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface AnsibleJob {
  metadata: { name: string; uid: string };
  status?: {
    phase?: string;
    rc?: number;
    attempts?: number;
    podName?: string;
    hostCounts?: HostCounts;
    eventCount?: number;
    stdoutTail?: string;
    lastPollTime?: string;
    conditions?: Condition[];
    artifacts?: { volume: string; path: string };
  };
}
interface Pod {
  metadata: { name: string };
  spec: {
    automountServiceAccountToken?: boolean;
    activeDeadlineSeconds?: number;
    securityContext?: Record<string, unknown>;
    volumes?: { name: string; projected?: { sources?: { serviceAccountToken?: unknown }[] } }[];
    containers: { name: string; securityContext?: Record<string, any>; volumeMounts?: { mountPath: string }[] }[];
  };
  status?: { phase?: string; containerStatuses?: { name: string; state?: { terminated?: { exitCode: number } } }[] };
}

const hostPathDir = (volume: string) => `/tmp/${volume}`;
const counts = (partial: Partial<HostCounts>): HostCounts => ({ ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0, ...partial });

function suite({ tools, plan }: E2eReady) {
  const namespace = `ajo-e2e-${randomBytes(3).toString('hex')}`;
  const release = 'ajo-e2e';
  const serviceAccount = `system:serviceaccount:${namespace}:${release}`;
  const kubectl = (...args: string[]) => run(tools.kubectl, ['--namespace', namespace, ...args]);
  const kubectlIn = (input: string, ...args: string[]) => run(tools.kubectl, ['--namespace', namespace, ...args], { input });
  const json = <T>(...args: string[]) => kubectlJson<T>(tools, ['--namespace', namespace, ...args]);
  const helm = (...args: string[]) => run(tools.helm, ['--namespace', namespace, ...args]);
  const apply = (example: string) => kubectl('apply', '-f', path.join(examplesDir, `${example}.yaml`));
  let hostPathVolume: string | undefined;

  const job = (name: string) => json<AnsibleJob>('get', 'ajob', name);
  const finished = (name: string, timeoutMs = 240_000) =>
    waitFor(`AnsibleJob ${name} to finish`, async () => {
      const current = await job(name);
      return TERMINAL_PHASE_NAMES.has(current.status?.phase ?? '') ? current : undefined;
    }, timeoutMs, KUBECTL_POLL_MS);
  const eventsWith = (name: string, reasons: string[]) => jobEventsWith(tools, namespace, name, reasons);
  const podOf = (current: AnsibleJob) => json<Pod>('get', 'pod', current.status!.podName!);

  /** A pod that runs one shell command in the runner image, as `user`, with the claim at /data; returns its log. */
  async function runWithClaim(name: string, claim: string, user: number, script: string): Promise<string> {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        securityContext: { runAsUser: user, runAsGroup: user, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{ name: 'main', image: runnerImage, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
      },
    };
    await kubectlIn(JSON.stringify(pod), 'apply', '-f', '-');
    const phase = await waitFor(`pod ${name} to finish`, async () => {
      const current = await json<Pod>('get', 'pod', name);
      return ['Succeeded', 'Failed'].includes(current.status?.phase ?? '') ? current.status!.phase : undefined;
    }, 120_000, KUBECTL_POLL_MS);
    const log = await kubectl('logs', name);
    await kubectl('delete', 'pod', name, '--wait=false');
    if (phase !== 'Succeeded') throw new Error(`pod ${name} failed: ${log}`);
    return log;
  }

  beforeAll(async () => {
    await provideImages(plan, tools);
    await run(tools.kubectl, ['create', 'namespace', namespace]);
  }, 1_800_000);

  afterAll(async () => {
    await run(tools.helm, ['uninstall', release, '--namespace', namespace, '--ignore-not-found']).catch(() => undefined);
    await run(tools.kubectl, ['delete', 'namespace', namespace, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    if (hostPathVolume) {
      await run(tools.kubectl, ['delete', 'pv', hostPathVolume, '--ignore-not-found', '--wait=false']).catch(() => undefined);
      // The test cluster's node is this machine: remove the hostPath dir too (kind's goes with its node).
      if (isLocalCluster()) rmSync(hostPathDir(hostPathVolume), { recursive: true, force: true });
    }
  }, 120_000);

  test('helm install: the operator becomes ready, two replicas, one of them holds the Lease', async () => {
    await helm('install', release, chartDir, '--wait', '--timeout', '5m');
    const deployment = await json<{ status: { readyReplicas?: number } }>('get', 'deployment', release);
    expect(deployment.status.readyReplicas).toBe(2);
    const pods = await json<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`);
    const names = pods.items.map((pod) => pod.metadata.name);
    const lease = await waitFor('the leader Lease', async () => {
      const current = await json<{ spec: { holderIdentity?: string } }>('get', 'lease', 'ajo-operator').catch(() => undefined);
      return current?.spec.holderIdentity ? current : undefined;
    }, 60_000, KUBECTL_POLL_MS);
    expect(names.some((name) => lease.spec.holderIdentity!.startsWith(`${name}-`))).toBe(true);
    // Least privilege, as the API server judges it for the operator's ServiceAccount.
    const can = async (verb: string, resource: string, ns = namespace) =>
      (await run(tools.kubectl, ['auth', 'can-i', verb, resource, '--as', serviceAccount, '--namespace', ns], { reject: false })).trim();
    expect(await can('create', 'pods')).toBe('yes');
    expect(await can('list', 'secrets')).toBe('no'); // payload Secrets are owned by their job: no sweep lists them
    expect(await can('get', 'secrets')).toBe('no');
    expect(await can('list', 'ansiblejobs.ajo.dev', 'default')).toBe('no');
    expect(await can('create', 'deployments')).toBe('no');
  }, 600_000);

  test('the operator pods run as uid 1000 with a read-only root filesystem (live pods)', async () => {
    const pods = await json<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`);
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(pod.spec.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      // The image has no shell; node itself reports who it runs as and what it may write.
      const probe = `const fs=require('fs');const w=p=>{try{fs.writeFileSync(p,'x');fs.unlinkSync(p);return 'ok'}catch(e){return e.code}};console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),root:w('/probe'),opt:w('/opt/ajo/probe'),tmp:w('/tmp/probe')}))`;
      const seen = JSON.parse(await kubectl('exec', pod.metadata.name, '-c', 'operator', '--', '/usr/local/bin/node', '-e', probe)) as Record<string, unknown>;
      expect(seen).toEqual({ uid: 1000, gid: 1000, root: 'EROFS', opt: 'EROFS', tmp: 'ok' });
    }
  }, 120_000);

  test('quick start: hello-world Succeeds; kubectl get ajob, ajo status and Events show it', async () => {
    await apply('hello-world');
    const done = await finished('hello-world');
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, attempts: 1, hostCounts: counts({ ok: 2 }) });
    expect(done.status!.stdoutTail).toContain('Hello world from localhost');

    const table = await kubectl('get', 'ajob', 'hello-world');
    expect(table).toMatch(/hello-world\s+Succeeded\s+0\s+2\s+0\s+0/);
    const status = await run(process.execPath, [ajoCli, 'status', 'hello-world', '--namespace', namespace]);
    expect(status).toContain(`${namespace}/hello-world: Succeeded rc=0`);
    expect(status).toContain('ok=2 changed=0 failures=0');
    // --follow (the quick start's command) shows the playbook output, then the summary on a line of its own.
    const followed = await run(process.execPath, [ajoCli, 'status', 'hello-world', '--namespace', namespace, '--follow']);
    expect(followed).toContain('Hello world from localhost');
    expect(followed).toMatch(new RegExp(`ignored=0 *\n${namespace}/hello-world: Succeeded rc=0`));
    const reasons = (await eventsWith('hello-world', ['Launched', 'Succeeded'])).map((event) => event.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Launched', 'Succeeded']));
  }, 300_000);

  test('examples: a ConfigMap project (roles at nested paths, inventory and vars from ConfigMaps); the payload example of ajo submit', async () => {
    await apply('from-configmap');
    await apply('payload');
    const [fromConfigMap, payload] = await Promise.all([finished('from-configmap'), finished('payload')]);
    expect(fromConfigMap.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: counts({ ok: 1 }) });
    expect(fromConfigMap.status!.stdoutTail).toContain('localhost serves shop (staging)');
    expect(payload.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: counts({ ok: 2 }) });
  }, 300_000);

  test('worker pods run as uid 1000 without a service-account token (live pod)', async () => {
    const pod = await podOf(await job('hello-world'));
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    const tokenVolumes = (pod.spec.volumes ?? []).filter((volume) => volume.projected?.sources?.some((source) => source.serviceAccountToken));
    expect(tokenVolumes).toEqual([]);
    for (const container of pod.spec.containers) {
      expect(container.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect((container.volumeMounts ?? []).map((mount) => mount.mountPath)).not.toContain('/var/run/secrets/kubernetes.io/serviceaccount');
    }
    expect(pod.status?.containerStatuses?.map((c) => [c.name, c.state?.terminated?.exitCode]).sort()).toEqual([['process', 0], ['worker', 0]]);
  }, 60_000);

  test('async + poll: progress is refreshed while it runs, within the time limit', async () => {
    await apply('async-poll');
    const progress: number[] = [];
    const done = await waitFor('async-poll to finish', async () => {
      const current = await job('async-poll');
      if (current.status?.phase === 'Running' && current.status.lastPollTime) progress.push(current.status.eventCount ?? 0);
      return TERMINAL_PHASE_NAMES.has(current.status?.phase ?? '') ? current : undefined;
    }, 240_000, 300);
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: counts({ ok: 2, changed: 2 }) });
    // Polled (every 2 s) while Running: some refresh showed events before the last one. Not the
    // highest count seen: the refresh after the final event may come before the pod has ended
    // (artifacts still being sent), so under load the last Running count can equal the total. The
    // playbook's 8 s of sleeps leave room for several refreshes in the middle.
    expect(progress.length).toBeGreaterThan(0);
    const midway = progress.filter((count) => count > 0 && count < done.status!.eventCount!);
    expect(midway.length).toBeGreaterThan(0);
    expect((await podOf(done)).spec.activeDeadlineSeconds).toBe(300);
  }, 300_000);

  test('poll: 0 - nobody polls, and the result is still recorded when the pod ends', async () => {
    await apply('fire-and-forget');
    const done = await finished('fire-and-forget');
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: counts({ ok: 2, changed: 1 }) });
    expect(done.status!.stdoutTail).toContain('finished without anyone polling');
    expect(done.status!.lastPollTime).toBeUndefined();
  }, 300_000);

  test('artifacts on a PVC: job_events, rc and status stay on the volume after the pod', async () => {
    const classes = await kubectlJson<{ items: { metadata: { annotations?: Record<string, string> }; provisioner: string }[] }>(tools, ['get', 'storageclass']);
    const defaultClass = classes.items.find((c) => c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true');
    // kube-controller-manager's own host-path provisioner (kind's fallback class) makes root's 0750 dirs.
    const rootOwnedVolumes = defaultClass?.provisioner === 'kubernetes.io/host-path';
    if (!defaultClass) {
      // No provisioner (our one-node cluster): a hostPath PV bound in advance to the example's claim.
      hostPathVolume = `${namespace}-artifacts`;
      const pv = hostPathVolumeFor(hostPathVolume, { namespace, name: 'ajo-example-artifacts' }, hostPathDir(hostPathVolume), { accessMode: 'ReadWriteOnce', create: true });
      await run(tools.kubectl, ['apply', '-f', '-'], { input: JSON.stringify(pv) });
    }
    if (hostPathVolume || rootOwnedVolumes) {
      // A hostPath volume gets no fsGroup: make it uid 1000's before the job's pod can start.
      const claim = parseAllDocuments(readFileSync(path.join(examplesDir, 'artifacts-pvc.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string }).find((d) => d.kind === 'PersistentVolumeClaim');
      await kubectlIn(JSON.stringify(claim), 'apply', '-f', '-');
      await runWithClaim('artifacts-prepare', 'ajo-example-artifacts', 0, 'chown 1000:1000 /data');
    }
    await apply('artifacts-pvc');
    const done = await finished('artifacts-pvc');
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: counts({ ok: 2 }) });
    const dir = 'artifacts/artifacts-pvc-1';
    expect(done.status!.artifacts).toEqual({ volume: 'persistentVolumeClaim/ajo-example-artifacts', path: dir });

    const listing = await runWithClaim('artifacts-read', 'ajo-example-artifacts', 1000,
      `cd /data/${dir} && echo "rc=$(cat rc)" && echo "status=$(cat status)" && echo "events=$(ls job_events | wc -l)" && grep -c '"report"' fact_cache/localhost`);
    expect(listing.trim().split('\n')).toEqual(['rc=0', 'status=successful', `events=${done.status!.eventCount}`, '1']);
    if (hostPathVolume) await runWithClaim('artifacts-clean', 'ajo-example-artifacts', 0, 'rm -rf /data/artifacts /data/daemon.log');
  }, 420_000);

  test('a failing playbook: Failed with rc 2, never retried, a Warning Event', async () => {
    await apply('failing');
    const done = await finished('failing');
    expect(done.status).toMatchObject({ phase: 'Failed', rc: 2, attempts: 1, hostCounts: counts({ ok: 1, failures: 1 }) });
    expect(done.status!.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Finished', reason: 'PlaybookFailed' })]));
    const events = await eventsWith('failing', ['Failed']);
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'Failed' })]));
    const status = await run(process.execPath, [ajoCli, 'status', 'failing', '--namespace', namespace], { reject: false });
    expect(status).toContain('Failed rc=2');
  }, 300_000);

  /** A private data dir made here, for `ajo submit` (the CLI's transmit, Secret and AnsibleJob). */
  function privateDataDir(name: string, playbook: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), `ajo-e2e-${name}-`));
    mkdirSync(path.join(dir, 'project'));
    mkdirSync(path.join(dir, 'inventory'));
    writeFileSync(path.join(dir, 'project', 'main.yml'), playbook);
    writeFileSync(path.join(dir, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
    return dir;
  }
  const submit = (dir: string, ...args: string[]) =>
    execa(process.execPath, [ajoCli, 'submit', dir, '-p', 'main.yml', '--namespace', namespace, '--wait', ...args], {
      env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false, timeout: 300_000,
    });

  test('ajo submit --async: a play past its maximum runtime is killed and ends TimedOut (exit 124)', async () => {
    const dir = privateDataDir('timeout', [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - ansible.builtin.debug: { msg: "before the long task" }',
      '    - ansible.builtin.command: sleep 900',
      '',
    ].join('\n'));
    try {
      // The limit leaves the first task ample time to print even on a loaded machine (it once
      // took over 15 s to start), and the play's sleep is far longer than the limit: the bound
      // below tells "killed at its limit" from "ran to its end" with no race between the two.
      const started = Date.now();
      const result = await submit(dir, '--name', 'too-slow', '--async', '90');
      expect(result.exitCode).toBe(124);
      expect(String(result.stdout)).toContain('before the long task');
      expect(Date.now() - started).toBeLessThan(900_000);
      const done = await job('too-slow');
      expect(done.status).toMatchObject({ phase: 'TimedOut', attempts: 1 });
      expect(done.status!.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Finished', reason: 'DeadlineExceeded' })]));
      expect((await eventsWith('too-slow', ['Launched', 'TimedOut'])).map((event) => event.reason)).toEqual(expect.arrayContaining(['Launched', 'TimedOut']));
      // Nothing of the play may still run. Two paths get there and either may come first: the
      // operator's timer deletes the pod, or the kubelet's activeDeadlineSeconds kills it first
      // (the pod then stays, Failed with reason DeadlineExceeded, its logs readable).
      await waitFor('the timed-out pod to be gone, or stopped by its deadline', async () => {
        const pods = await json<{ items: { metadata: { deletionTimestamp?: string }; status?: { phase?: string; reason?: string } }[] }>(
          'get', 'pods', '-l', 'ajo.dev/job-name=too-slow',
        );
        const stoppedByDeadline = (pod: (typeof pods.items)[number]) =>
          !pod.metadata.deletionTimestamp && pod.status?.phase === 'Failed' && pod.status.reason === 'DeadlineExceeded';
        return pods.items.every(stoppedByDeadline) ? true : undefined;
      }, 120_000, KUBECTL_POLL_MS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  test('spec.worker: ansible-runner - the real ansible-runner worker in the pod, ajo process beside it', async () => {
    const dir = privateDataDir('runner', [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - ansible.builtin.debug: { msg: "hello from ansible-runner worker" }',
      '    - ansible.builtin.set_fact: { answer: 42 }',
      '',
    ].join('\n'));
    try {
      const result = await submit(dir, '--name', 'runner-worker', '--worker', 'ansible-runner');
      expect(result.exitCode).toBe(0);
      expect(String(result.stdout)).toContain('hello from ansible-runner worker');
      const done = await job('runner-worker');
      expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: counts({ ok: 2 }) });
      const pod = await podOf(done);
      const worker = pod.spec.containers.find((container) => container.name === 'worker') as unknown as { command?: string[]; args?: string[] };
      expect([...(worker.command ?? []), ...(worker.args ?? [])].join(' ')).toContain('ansible-runner worker');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  type PodSpec = {
    containers: Array<{ name: string; image?: string; command?: string[]; args?: string[]; volumeMounts?: Array<{ name: string }> } & Record<string, unknown>>;
    volumes?: Array<{ name: string } & Record<string, unknown>>;
  } & Record<string, unknown>;
  /** A bare Pod with `containers`, the pod-level settings of `from` and the volumes the containers mount. */
  const podLike = (name: string, from: PodSpec, containers: PodSpec['containers']) => {
    const mounted = new Set(containers.flatMap((container) => (container.volumeMounts ?? []).map((mount) => mount.name)));
    const kept = ['securityContext', 'automountServiceAccountToken', 'enableServiceLinks', 'serviceAccountName', 'nodeName', 'schedulerName'];
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { 'ajo-e2e/floor': name } },
      spec: {
        ...Object.fromEntries(kept.filter((key) => key in from).map((key) => [key, from[key]])),
        restartPolicy: 'Never',
        containers,
        volumes: (from.volumes ?? []).filter((volume) => mounted.has(volume.name)),
      },
    };
  };

  test('time from kubectl apply to a running worker pod, hello-world, median of 10, against a bare Pod of the same image and command', async () => {
    // The floor: a Pod the user could have written, of the worker container alone (same image,
    // command, env, mounts and security settings as ajo's worker container), with the volumes it
    // mounts; no operator, no sidecar, no status document.
    const example = await json<{ spec: Record<string, unknown> }>('get', 'ajob', 'payload');
    const ajoSample = async (name: string): Promise<{ ms: number; spec: PodSpec }> => {
      const manifest = { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name }, spec: { payload: example.spec.payload } };
      const ms = await timeToPodPastPending(tools, namespace, name, () => kubectlIn(JSON.stringify(manifest), 'apply', '-f', '-'), 120_000);
      const done = await finished(name);
      expect(done.status?.phase).toBe('Succeeded');
      const { spec } = await json<{ spec: PodSpec }>('get', 'pod', done.status!.podName!);
      await kubectl('delete', 'ajob', name, '--wait=false');
      return { ms, spec };
    };
    const bareSample = async (name: string, from: PodSpec): Promise<number> => {
      const ms = await timeToPodPastPending(tools, namespace, name, () => kubectlIn(JSON.stringify(podLike(name, from, [from.containers.find((container) => container.name === 'worker')!])), 'apply', '-f', '-'), 120_000, `ajo-e2e/floor=${name}`);
      await waitFor(`bare pod ${name} to finish`, async () => {
        const phase = (await json<{ status?: { phase?: string } }>('get', 'pod', name)).status?.phase;
        return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
      }, 120_000, KUBECTL_POLL_MS);
      await kubectl('delete', 'pod', name, '--wait=false');
      return ms;
    };
    const ajo: number[] = [];
    const bare: number[] = [];
    let workerPod: PodSpec | undefined;
    for (let i = 1; i <= 10; i += 1) {
      // Alternated, so that a slower stretch of the machine falls on both sides alike.
      const sample = await ajoSample(`hello-world-t${i}`);
      ajo.push(sample.ms);
      workerPod ??= sample.spec;
      bare.push(await bareSample(`hello-world-bare-t${i}`, workerPod));
    }
    const summary = (samples: number[]) => ({
      samplesMs: samples.map(Math.round),
      medianMs: Math.round(median(samples)),
      minMs: Math.round(Math.min(...samples)),
      maxMs: Math.round(Math.max(...samples)),
    });
    const result = {
      measuredAt: new Date().toISOString(),
      version,
      cluster: process.env.KUBECONFIG,
      measure: 'kubectl apply -> the pod past Pending (kubectl watch): an AnsibleJob (payload hello-world) and a bare Pod of its worker container',
      ...summary(ajo),
      barePod: summary(bare),
      addedMs: Math.round(median(ajo)) - Math.round(median(bare)),
    };
    const dir = path.join(process.env.AJO_CACHE_DIR ?? path.join(homedir(), '.cache', 'ajo'), 'e2e');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'apply-to-running.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `e2e: kubectl apply -> running worker pod (hello-world): median ${result.medianMs} ms (min ${result.minMs}, max ${result.maxMs}); ` +
        `bare Pod of the same container: median ${result.barePod.medianMs} ms (min ${result.barePod.minMs}, max ${result.barePod.maxMs}); ` +
        `ajo adds ${result.addedMs} ms (saved in ${path.join(dir, 'apply-to-running.json')})`,
    );
    expect(ajo).toHaveLength(10);
    expect(bare).toHaveLength(10);
  }, 1_200_000);

  // The sampler reads pod cgroups from this machine's /sys/fs/cgroup under the local cluster's
  // cgroupRoot (/ajo, cgroupfs names). Elsewhere (a kind node: its pods sit inside the node
  // container's cgroup, under systemd's kubelet.slice names) it would find no container at all.
  const costSkip = isLocalCluster() ? null : 'pod cgroups are sampled from this machine\'s /sys/fs/cgroup under the local test cluster\'s cgroupRoot /ajo; this cluster\'s nodes are elsewhere (kind: inside the node container, systemd cgroup names)';
  testOrSkip('what a worker pod costs: its containers\' cgroup peak memory and CPU time against the real ansible-runner worker with a plain loop beside it, short play and 10,000 events', costSkip, async () => {
    const plays: Record<string, string> = {
      short: ['- hosts: all', '  gather_facts: false', '  tasks:', '    - ansible.builtin.debug: { msg: hello }', ''].join('\n'),
      long: ['- hosts: all', '  gather_facts: false', '  tasks:', '    - ansible.builtin.debug: { msg: "item {{ item }}" }', '      loop: "{{ range(10000) | list }}"', ''].join('\n'),
    };
    type Measured = { podUid: string; containers: Record<string, ContainerCost>; eventCount?: number };
    type CostPod = { metadata: { uid: string }; spec: PodSpec; status?: { phase?: string; containerStatuses?: Array<{ name: string; containerID?: string }> } };
    const results: Record<string, Record<string, Measured>> = {};
    for (const [play, playbook] of Object.entries(plays)) {
      const dir = privateDataDir(`cost-${play}`, playbook);
      try {
        const measureJob = async (name: string, ...flags: string[]): Promise<Measured & { pod: CostPod }> => {
          const sampler = sampleContainerCgroups();
          try {
            const submitted = await submit(dir, '--name', name, ...flags);
            expect([name, submitted.exitCode, String(submitted.stderr).slice(-500)]).toEqual([name, 0, expect.any(String)]);
            const done = await finished(name);
            expect([name, done.status?.phase]).toEqual([name, 'Succeeded']);
            const pod = await json<CostPod>('get', 'pod', done.status!.podName!);
            return { podUid: pod.metadata.uid, containers: costsByContainerName(sampler.stop(), pod), eventCount: done.status?.eventCount, pod };
          } finally {
            sampler.stop();
          }
        };
        const ajo = await measureJob(`cost-${play}-ajo`);
        const runnerWorker = await measureJob(`cost-${play}-runner`, '--worker', 'ansible-runner');
        // The peer: the same ansible-runner worker container, and beside it a plain shell loop
        // that waits for the stream's end (its last line, {"eof": true}) instead of ajo process.
        const worker = runnerWorker.pod.spec.containers.find((container) => container.name === 'worker')!;
        const output = /(?:>>|>) *'?([^'\s]+)'?\s*$/m.exec([...(worker.command ?? []), ...(worker.args ?? [])].join(' '))?.[1];
        expect(output).toMatch(/^\//);
        const loop = {
          name: 'loop',
          image: worker.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', `until tail -c 64 ${output} 2>/dev/null | grep -q '"eof"'; do sleep 0.2; done`],
          volumeMounts: worker.volumeMounts,
          securityContext: worker.securityContext,
        };
        const peerName = `cost-${play}-peer`;
        const sampler = sampleContainerCgroups();
        const peerPod = await (async () => {
          await kubectlIn(JSON.stringify(podLike(peerName, runnerWorker.pod.spec, [worker, loop])), 'apply', '-f', '-');
          return waitFor(`pod ${peerName} to finish`, async () => {
            const current = await json<CostPod>('get', 'pod', peerName);
            return current.status?.phase === 'Succeeded' || current.status?.phase === 'Failed' ? current : undefined;
          }, 600_000, KUBECTL_POLL_MS);
        })().finally(() => sampler.stop());
        const peerSampled = sampler.stop();
        expect([peerName, peerPod.status?.phase]).toEqual([peerName, 'Succeeded']);
        results[play] = {
          ajo: { podUid: ajo.podUid, containers: ajo.containers, eventCount: ajo.eventCount },
          ansibleRunnerWorkerWithAjoProcess: { podUid: runnerWorker.podUid, containers: runnerWorker.containers, eventCount: runnerWorker.eventCount },
          ansibleRunnerWorkerWithLoop: { podUid: peerPod.metadata.uid, containers: costsByContainerName(peerSampled, peerPod) },
        };
        await kubectl('delete', 'pod', peerName, '--wait=false');
        await kubectl('delete', 'ajob', `cost-${play}-ajo`, `cost-${play}-runner`, '--wait=false');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const result = { measuredAt: new Date().toISOString(), version, cluster: process.env.KUBECONFIG, measure: 'per container: cgroup peak memory (high-water mark, page cache included), peak of memory.stat rss + mapped_file (sampled), and CPU time, last read before it ended (sampled every 50 ms)', plays: results };
    const dir = path.join(process.env.AJO_CACHE_DIR ?? path.join(homedir(), '.cache', 'ajo'), 'e2e');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'pod-cost.json'), `${JSON.stringify(result, null, 2)}\n`);
    const mb = (cost?: ContainerCost) => (cost ? `${(cost.peakMemoryBytes / 1048576).toFixed(1)} MB (rss ${(cost.peakRssBytes / 1048576).toFixed(1)} MB), ${cost.cpuSeconds.toFixed(2)} s CPU` : 'not sampled');
    for (const [play, sides] of Object.entries(results)) {
      console.log(
        `e2e: pod cost, ${play} play (${sides.ajo!.eventCount} events): ajo worker ${mb(sides.ajo!.containers.worker)}, ajo process ${mb(sides.ajo!.containers.process)}; ` +
          `ansible-runner worker ${mb(sides.ansibleRunnerWorkerWithLoop!.containers.worker)}, plain loop ${mb(sides.ansibleRunnerWorkerWithLoop!.containers.loop)}`,
      );
    }
    // Both sides ran the same play to the end, and every container was seen by the sampler.
    expect(results.long!.ajo!.eventCount).toBeGreaterThanOrEqual(10_000);
    for (const [play, sides] of Object.entries(results)) {
      expect([play, Object.keys(sides.ajo!.containers).sort()]).toEqual([play, ['process', 'worker']]);
      expect([play, Object.keys(sides.ansibleRunnerWorkerWithLoop!.containers).sort()]).toEqual([play, ['loop', 'worker']]);
    }
  }, 1_800_000);

  test('helm upgrade with changed values: one replica, new settings, no Secret access, still runs jobs', async () => {
    await helm('upgrade', release, chartDir, '--wait', '--timeout', '5m',
      '--set', 'replicaCount=1', '--set', 'concurrency=4', '--set', 'logLevel=debug', '--set', 'cleanup.interval=0');
    const deployment = await json<{ spec: { replicas: number; template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } }>('get', 'deployment', release);
    expect(deployment.spec.replicas).toBe(1);
    const env = Object.fromEntries(deployment.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ AJO_CONCURRENCY: '4', AJO_LOG_LEVEL: 'debug', AJO_CLEANUP_INTERVAL: '0' });
    await waitFor('the rollout to leave one operator pod', async () => {
      const pods = await json<{ items: Pod[] }>('get', 'pods', '-l', `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`);
      return pods.items.length === 1 ? true : undefined;
    }, 180_000, KUBECTL_POLL_MS);
    const can = (await run(tools.kubectl, ['auth', 'can-i', 'list', 'secrets', '--as', serviceAccount, '--namespace', namespace], { reject: false })).trim();
    expect(can).toBe('no');
    const example = await json<{ spec: Record<string, unknown> }>('get', 'ajob', 'hello-world');
    await kubectlIn(JSON.stringify({ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name: 'after-upgrade' }, spec: { source: example.spec.source } }), 'apply', '-f', '-');
    const done = await finished('after-upgrade');
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0 });
  }, 600_000);

  test('helm uninstall leaves no pod, Secret, ServiceAccount or RBAC object of ours; the CRD stays', async () => {
    for (const example of ['hello-world', 'payload', 'from-configmap', 'async-poll', 'fire-and-forget', 'artifacts-pvc', 'failing']) {
      await kubectl('delete', '-f', path.join(examplesDir, `${example}.yaml`), '--ignore-not-found', '--wait=false');
    }
    await kubectl('delete', 'ajob', '--all', '--wait=true', '--timeout=120s');
    await helm('uninstall', release, '--wait', '--timeout', '3m');
    const instance = `app.kubernetes.io/instance=${release}`;
    await waitFor('every pod in the namespace to be gone', async () =>
      (await json<{ items: unknown[] }>('get', 'pods')).items.length === 0 ? true : undefined, 180_000, KUBECTL_POLL_MS);
    const names = async (kind: string, ...selector: string[]) =>
      (await json<{ items: { metadata: { name: string } }[] }>('get', kind, ...selector)).items.map((item) => item.metadata.name);
    expect(await names('secrets')).toEqual([]);
    expect(await names('serviceaccounts')).toEqual(['default']);
    expect(await names('roles')).toEqual([]);
    expect(await names('rolebindings')).toEqual([]);
    expect(await names('services')).toEqual([]);
    expect(await names('deployments')).toEqual([]);
    const clusterWide = async (kind: string) =>
      (await kubectlJson<{ items: unknown[] }>(tools, ['get', kind, '-l', instance])).items.length;
    expect(await clusterWide('clusterroles')).toBe(0);
    expect(await clusterWide('clusterrolebindings')).toBe(0);
    const crd = await kubectlJson<{ metadata: { name: string } }>(tools, ['get', 'crd', 'ansiblejobs.ajo.dev']);
    expect(crd.metadata.name).toBe('ansiblejobs.ajo.dev');
  }, 600_000);
}
