/**
 * Jobs written by hand (spec.source), end to end against real SSH hosts: the project from the
 * in-cluster git server at a pinned commit, from a ConfigMap, inline; an inventory of two
 * managed hosts by Service name; the key, the vault password and the known host keys from
 * Secrets and a ConfigMap. Every manifest is written out here as a person would type it (no
 * generated blob). Then each kind of bad input ends with its reason, an edited spec after
 * launch is refused, the composed stream runs under `worker: ansible-runner`, `ajo submit` of
 * the same files gives the same event sequence, and apply → running is timed against a payload
 * job of the same playbook.
 *
 * Runs against the local test cluster (the fixture image is built and loaded there) and on kind
 * (test/e2e/kind.sh loads the image and mounts a shared directory into the node).
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/wait.js';
import { deploySshFixtures, generateKeyPair, provideTestHostImage, testHostImageUnavailable, type SshFixtures } from './fixtures/ssh-hosts.js';
import {
  ajoCli,
  chartDir,
  describeE2e,
  hostPathVolume,
  timeToPodPastPending,
  kubectlJson,
  nodeSharedDir,
  NODE_SHARED_DIR_ENV,
  provideImages,
  run,
  jobEvents,
  jobEventsWith,
  KUBECTL_POLL_MS,
  median,
  TERMINAL_PHASE_NAMES,
  version,
  type E2eReady,
} from './tools.js';

const SUITE = 'e2e: declarative AnsibleJobs against real SSH hosts';

describeE2e(SUITE, 'needs kubectl, helm, root, our images and the local test cluster', suite, () => {
  const unavailable = testHostImageUnavailable();
  if (unavailable !== undefined) return unavailable;
  // The job events are read back from a hostPath volume: its directory must be this machine's too.
  if (nodeSharedDir() === undefined) return `no directory of this machine is mounted into the node (the local test cluster's node is this machine; test/e2e/kind.sh mounts one and sets ${NODE_SHARED_DIR_ENV})`;
  return undefined;
});

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface AnsibleJob {
  metadata: { name: string };
  status?: {
    phase?: string;
    rc?: number;
    attempts?: number;
    podName?: string;
    hostCounts?: Record<string, number>;
    stdoutTail?: string;
    conditions?: Condition[];
    source?: { commit?: string; streamSha256: string };
    artifacts?: { volume: string; path: string };
  };
}
interface JobEvent {
  event: string;
  counter: number;
  created: string;
  event_data?: { task?: string; host?: string };
}

const VAULT_PASSWORD = 'correct horse battery staple';
const SECRET_WORD = 'open-sesame';

/** The playbook every case runs: a file on each host, with a vault-decrypted value in it. */
const SITE_YML = [
  '- name: Mark each host of the fleet',
  '  hosts: fleet',
  '  gather_facts: false',
  '  tasks:',
  '    - name: Write the marker',
  '      ansible.builtin.copy:',
  '        dest: "/home/ansible/{{ marker }}"',
  '        content: "{{ secret_word }} {{ inventory_hostname }} {{ revision_note }}\\n"',
  '',
].join('\n');

function suite({ tools, plan }: E2eReady) {
  const id = randomBytes(3).toString('hex');
  const namespace = `ajo-decl-${id}`;
  const hostsNamespace = `ajo-hosts-${id}`;
  const release = 'ajo-decl';
  const artifactsVolume = `${namespace}-artifacts`;
  const kubectl = (...args: string[]) => run(tools.kubectl, ['--namespace', namespace, ...args]);
  const kubectlIn = (input: string, ...args: string[]) => run(tools.kubectl, ['--namespace', namespace, ...args], { input });
  const json = <T>(...args: string[]) => kubectlJson<T>(tools, ['--namespace', namespace, ...args]);
  const applyYaml = (yaml: string) => kubectlIn(yaml, 'apply', '-f', '-');
  let fixtures: SshFixtures;
  let vaultedVars = '';
  let firstCommit = '';
  let secondCommit = '';
  let artifactsDir = '';
  const scratch = mkdtempSync(path.join(tmpdir(), 'ajo-decl-'));

  const job = (name: string) => json<AnsibleJob>('get', 'ajob', name);
  const finished = (name: string, timeoutMs = 300_000) =>
    waitFor(`AnsibleJob ${name} to finish`, async () => {
      const current = await job(name);
      return TERMINAL_PHASE_NAMES.has(current.status?.phase ?? '') ? current : undefined;
    }, timeoutMs, KUBECTL_POLL_MS);
  const finishedCondition = (current: AnsibleJob) => current.status?.conditions?.find((c) => c.type === 'Finished');
  const eventsOf = (name: string) => jobEvents(tools, namespace, name);
  const eventsWith = (name: string, reasons: string[]) => jobEventsWith(tools, namespace, name, reasons);
  const fqdn = (host: string) => fixtures.hosts[host]!.fqdn;
  const inventory = (...hosts: string[]) => ['[fleet]', ...hosts, '', '[fleet:vars]', 'ansible_user=ansible', ''].join('\n');
  const indent = (text: string, spaces: number) => text.split('\n').map((line) => (line === '' ? line : ' '.repeat(spaces) + line)).join('\n');

  /** The source fields every SSH case shares: the two hosts, their key, their pinned host keys, the vault password. */
  const fleetYaml = (marker: string) => `    inventory:
      inline: |
${indent(inventory(fqdn('host-a'), fqdn('host-b')), 8)}
    extraVars:
      marker: ${marker}
    credentials:
      sshKeySecret: fleet-ssh
      knownHosts:
        name: fleet-known-hosts
        key: known_hosts
      vaultPassword:
        name: site-vault
        key: password`;

  const gitJobYaml = (name: string, revision: string, extra = '') => `apiVersion: ajo.dev/v1alpha1
kind: AnsibleJob
metadata:
  name: ${name}
spec:
${extra}  source:
    project:
      git:
        url: ${fixtures.gitUrl('site')}
        revision: ${revision}
        authSecret: git-deploy-key
    playbook: site.yml
${fleetYaml(name)}
`;

  /**
   * The files of the git job at the first commit as a private data dir for `ajo submit`: the
   * project, the inventory, the key and the vault password's prompt. A private data dir has no
   * place for known_hosts (the worker's HOME is not in the stream), so host keys go unchecked here.
   */
  function submitDir(name: string): string {
    const dir = path.join(scratch, name);
    mkdirSync(path.join(dir, 'project', 'group_vars'), { recursive: true });
    mkdirSync(path.join(dir, 'inventory'));
    mkdirSync(path.join(dir, 'env'));
    writeFileSync(path.join(dir, 'project', 'site.yml'), SITE_YML);
    writeFileSync(path.join(dir, 'project', 'group_vars', 'fleet.yml'), `${vaultedVars.trim()}\nrevision_note: first\n`);
    writeFileSync(path.join(dir, 'inventory', 'hosts'), `${inventory(fqdn('host-a'), fqdn('host-b'))}ansible_ssh_common_args='-o StrictHostKeyChecking=no'\n`);
    writeFileSync(path.join(dir, 'env', 'ssh_key'), fixtures.clientKey.privateKey, { mode: 0o600 });
    writeFileSync(path.join(dir, 'env', 'passwords'), JSON.stringify({ '^Vault password:\\s*?$': VAULT_PASSWORD }));
    writeFileSync(path.join(dir, 'env', 'cmdline'), '--ask-vault-pass');
    return dir;
  }

  async function expectMarkers(marker: string, note: string) {
    for (const host of ['host-a', 'host-b']) {
      expect(await fixtures.readFileOnHost(host, `/home/ansible/${marker}`)).toBe(`${SECRET_WORD} ${fqdn(host)} ${note}\n`);
    }
  }

  /**
   * The claim `events`: one hostPath volume in a directory the node shares with this machine (the
   * local cluster's node is this machine; kind's mounts one) that jobs write their
   * artifacts to, each under its own ident, so that the test reads their job_events/. Made once.
   */
  let eventsClaimMade: Promise<void> | undefined;
  const eventsClaim = (): Promise<void> =>
    (eventsClaimMade ??= (async () => {
      artifactsDir = mkdtempSync(path.join(nodeSharedDir() as string, 'ajo-decl-artifacts-'));
      await run(tools.kubectl, ['apply', '-f', '-'], {
        input: JSON.stringify(hostPathVolume(artifactsVolume, { namespace, name: 'events' }, artifactsDir, { accessMode: 'ReadWriteMany', create: false })),
      });
      await run('chown', ['1000:1000', artifactsDir]);
      await applyYaml(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: events
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: ${artifactsVolume}
  resources:
    requests:
      storage: 1Gi
`);
    })());

  /** The job events an attempt wrote to the `events` claim, in counter order. */
  const events = (ident: string): JobEvent[] =>
    readdirSync(path.join(artifactsDir, 'artifacts', ident, 'job_events'))
      .map((file) => JSON.parse(readFileSync(path.join(artifactsDir, 'artifacts', ident, 'job_events', file), 'utf8')) as JobEvent)
      .sort((a, b) => a.counter - b.counter);

  beforeAll(async () => {
    await provideImages(plan, tools);
    await run(tools.kubectl, ['create', 'namespace', namespace]);
    await run(tools.kubectl, ['create', 'namespace', hostsNamespace]);
    fixtures = await deploySshFixtures({ kubectl: tools.kubectl, namespace: hostsNamespace, image: await provideTestHostImage() });

    // The vault-encrypted variable, made by the real ansible-vault.
    const passwordFile = path.join(scratch, 'vault-pass');
    writeFileSync(passwordFile, `${VAULT_PASSWORD}\n`, { mode: 0o600 });
    vaultedVars = await run('ansible-vault', ['encrypt_string', '--vault-password-file', passwordFile, SECRET_WORD, '--name', 'secret_word']);
    const project = (note: string) => ({ 'site.yml': SITE_YML, 'group_vars/fleet.yml': `${vaultedVars.trim()}\nrevision_note: ${note}\n` });
    firstCommit = await fixtures.pushRepo(project('first'), { repo: 'site', tag: 'v1' });
    secondCommit = await fixtures.pushRepo(project('second'), { repo: 'site' });

    // Secrets and a ConfigMap as a person makes them, with kubectl create from files.
    const keyFile = path.join(scratch, 'id_ed25519');
    const knownHostsFile = path.join(scratch, 'known_hosts');
    writeFileSync(keyFile, fixtures.clientKey.privateKey, { mode: 0o600 });
    writeFileSync(knownHostsFile, fixtures.knownHosts);
    await kubectl('create', 'secret', 'generic', 'git-deploy-key', '--type=kubernetes.io/ssh-auth', `--from-file=ssh-privatekey=${keyFile}`, `--from-file=known_hosts=${knownHostsFile}`);
    await kubectl('create', 'secret', 'generic', 'fleet-ssh', '--type=kubernetes.io/ssh-auth', `--from-file=ssh-privatekey=${keyFile}`);
    await kubectl('create', 'secret', 'generic', 'site-vault', `--from-file=password=${passwordFile}`);
    await kubectl('create', 'configmap', 'fleet-known-hosts', `--from-file=known_hosts=${knownHostsFile}`);

    await run(tools.helm, ['install', release, chartDir, '--namespace', namespace, '--wait', '--timeout', '5m', '--set', 'replicaCount=1']);
  }, 2_400_000);

  afterAll(async () => {
    await run(tools.helm, ['uninstall', release, '--namespace', namespace, '--ignore-not-found']).catch(() => undefined);
    for (const ns of [namespace, hostsNamespace]) await run(tools.kubectl, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    if (artifactsDir) {
      await run(tools.kubectl, ['delete', 'pv', artifactsVolume, '--ignore-not-found', '--wait=false']).catch(() => undefined);
      rmSync(artifactsDir, { recursive: true, force: true });
    }
    rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  test('git at a pinned commit, two hosts over SSH, key and vault password from Secrets → Succeeded, a file on each host', async () => {
    await applyYaml(gitJobYaml('from-git', firstCommit));
    const done = await finished('from-git');
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, attempts: 1 });
    expect(done.status!.hostCounts).toMatchObject({ ok: 2, changed: 2, failures: 0, unreachable: 0 });
    expect(done.status!.source).toMatchObject({ commit: firstCommit, streamSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // The pinned commit ran, not the branch's newer one.
    await expectMarkers('from-git', 'first');
    const composed = (await eventsWith('from-git', ['Composed'])).find((event) => event.reason === 'Composed');
    expect(composed?.message).toContain(firstCommit);
  }, 600_000);

  test('a tag and a branch resolve to their commits', async () => {
    await applyYaml(gitJobYaml('from-tag', 'v1'));
    await applyYaml(gitJobYaml('from-branch', 'main'));
    const [tag, branch] = await Promise.all([finished('from-tag'), finished('from-branch')]);
    expect([tag.status?.phase, tag.status?.source?.commit]).toEqual(['Succeeded', firstCommit]);
    expect([branch.status?.phase, branch.status?.source?.commit]).toEqual(['Succeeded', secondCommit]);
    await expectMarkers('from-branch', 'second');
  }, 600_000);

  test('the same project from a ConfigMap, and written inline', async () => {
    await applyYaml(`apiVersion: v1
kind: ConfigMap
metadata:
  name: site-project
data:
  site.yml: |
${indent(SITE_YML, 4)}
  fleet-vars.yml: |
${indent(`${vaultedVars.trim()}\nrevision_note: configmap\n`, 4)}
---
apiVersion: ajo.dev/v1alpha1
kind: AnsibleJob
metadata:
  name: from-configmap
spec:
  source:
    project:
      configMap:
        name: site-project
        items:
          - key: site.yml
            path: site.yml
          - key: fleet-vars.yml
            path: group_vars/fleet.yml
    playbook: site.yml
${fleetYaml('from-configmap')}
---
apiVersion: ajo.dev/v1alpha1
kind: AnsibleJob
metadata:
  name: from-inline
spec:
  source:
    project:
      inline:
        - path: site.yml
          content: |
${indent(SITE_YML, 12)}
        - path: group_vars/fleet.yml
          content: |
${indent(`${vaultedVars.trim()}\nrevision_note: inline\n`, 12)}
    playbook: site.yml
${fleetYaml('from-inline')}
`);
    const [fromConfigMap, fromInline] = await Promise.all([finished('from-configmap'), finished('from-inline')]);
    for (const done of [fromConfigMap, fromInline]) {
      expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: expect.objectContaining({ ok: 2, changed: 2 }) });
      expect(done.status!.source?.commit).toBeUndefined();
    }
    await expectMarkers('from-configmap', 'configmap');
    await expectMarkers('from-inline', 'inline');
  }, 600_000);

  test('the composed stream is a real transmit stream: worker: ansible-runner runs it too', async () => {
    await applyYaml(gitJobYaml('runner-worker', firstCommit, '  worker: ansible-runner\n'));
    const done = await finished('runner-worker');
    expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, hostCounts: expect.objectContaining({ ok: 2, changed: 2 }) });
    await expectMarkers('runner-worker', 'first');
  }, 600_000);

  test('after launch, kubectl apply of a changed spec is refused with a message; the same manifest again is a no-op', async () => {
    const manifest = gitJobYaml('from-git', firstCommit);
    const before = (await job('from-git')) as AnsibleJob & { metadata: { resourceVersion: string } };
    expect(await kubectlIn(manifest, 'apply', '-f', '-')).toContain('ansiblejob.ajo.dev/from-git unchanged');
    const refused = await execa(tools.kubectl, ['--namespace', namespace, 'apply', '-f', '-'], {
      input: gitJobYaml('from-git', secondCommit),
      reject: false,
      env: { KUBECONFIG: process.env.KUBECONFIG },
    });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('spec is immutable once the job has launched (status.attempts > 0); only spec.suspend may change');
    const after = (await job('from-git')) as AnsibleJob & { metadata: { resourceVersion: string } };
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.status?.attempts).toBe(1);
  }, 120_000);

  test('bad git input ends Failed with its reason and git\'s message: unreachable, unknown revision, wrong key, host key mismatch', async () => {
    const other = await generateKeyPair('not-authorized');
    const otherHost = await generateKeyPair('impostor');
    const keyFile = path.join(scratch, 'other-key');
    writeFileSync(keyFile, other.privateKey, { mode: 0o600 });
    const goodKnownHosts = path.join(scratch, 'known_hosts');
    const badKnownHosts = path.join(scratch, 'bad_known_hosts');
    writeFileSync(badKnownHosts, `${fixtures.git.knownHostsLine.split(' ')[0]} ${otherHost.publicKey.split(' ').slice(0, 2).join(' ')}\n`);
    const goodKey = path.join(scratch, 'id_ed25519');
    await kubectl('create', 'secret', 'generic', 'wrong-key', '--type=kubernetes.io/ssh-auth', `--from-file=ssh-privatekey=${keyFile}`, `--from-file=known_hosts=${goodKnownHosts}`);
    await kubectl('create', 'secret', 'generic', 'wrong-host-key', '--type=kubernetes.io/ssh-auth', `--from-file=ssh-privatekey=${goodKey}`, `--from-file=known_hosts=${badKnownHosts}`);
    const cases: [string, string, string, RegExp][] = [
      ['bad-host', gitJobYaml('bad-host', 'main').replace(fixtures.git.fqdn, `nowhere.${hostsNamespace}.svc.cluster.local`), 'SourceUnavailable', /nowhere|resolve|Could not/i],
      ['bad-revision', gitJobYaml('bad-revision', 'no-such-branch'), 'RevisionNotFound', /no-such-branch/],
      ['bad-key', gitJobYaml('bad-key', 'main').replace('authSecret: git-deploy-key', 'authSecret: wrong-key'), 'AuthFailed', /Permission denied/],
      ['bad-host-key', gitJobYaml('bad-host-key', 'main').replace('authSecret: git-deploy-key', 'authSecret: wrong-host-key'), 'HostKeyMismatch', /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/],
    ];
    for (const [, manifest] of cases) await applyYaml(manifest);
    for (const [name, , reason, message] of cases) {
      const done = await finished(name);
      expect([name, done.status?.phase, finishedCondition(done)?.reason]).toEqual([name, 'Failed', reason]);
      expect(finishedCondition(done)?.message).toMatch(message);
      expect(done.status?.attempts).toBe(1);
      const failed = (await eventsWith(name, ['Failed'])).find((event) => event.reason === 'Failed');
      expect(failed).toMatchObject({ type: 'Warning', message: expect.stringContaining(`${reason}:`) });
    }
  }, 900_000);

  // pendingTimeout leaves the operator (which looks again every 10 s) ample time to see the kubelet's
  // warning first, even on a loaded machine; a shorter one would make the order a race.
  test('a missing Secret: a Waiting condition naming it while it is missing, Failed after pendingTimeout', async () => {
    await applyYaml(gitJobYaml('missing-secret', 'main', '  pendingTimeout: 120\n').replace('authSecret: git-deploy-key', 'authSecret: no-such-secret'));
    const waiting = await waitFor('the Waiting condition', async () => {
      const current = await job('missing-secret');
      const condition = current.status?.conditions?.find((c) => c.type === 'Waiting' && c.status === 'True');
      return condition ?? undefined;
    }, 150_000, KUBECTL_POLL_MS);
    expect(waiting).toMatchObject({ reason: 'FailedMount', message: expect.stringContaining('"no-such-secret" not found') });
    const done = await finished('missing-secret');
    expect(finishedCondition(done)).toMatchObject({ reason: 'PendingTimeout', message: expect.stringContaining('"no-such-secret" not found') });
    expect((await eventsWith('missing-secret', ['FailedMount', 'Failed'])).map((event) => event.reason)).toEqual(expect.arrayContaining(['FailedMount', 'Failed']));
  }, 600_000);

  test('an unreachable SSH host: the play\'s own unreachable count, rc and status, as ansible-runner reports them', async () => {
    await applyYaml(gitJobYaml('unreachable', firstCommit).replace(`        ${fqdn('host-b')}\n`, `        ${fqdn('host-b')}\n        gone.${hostsNamespace}.svc.cluster.local\n`));
    const done = await finished('unreachable');
    expect(done.status).toMatchObject({ phase: 'Failed', rc: 4, runnerStatus: 'failed' });
    expect(done.status!.hostCounts).toMatchObject({ ok: 2, changed: 2, unreachable: 1 });
    expect(finishedCondition(done)?.reason).toBe('PlaybookFailed');
  }, 600_000);

  test('ajo submit of the same files gives the same job event sequence as the declarative job', async () => {
    await eventsClaim();
    await applyYaml(gitJobYaml('same-events', firstCommit, '  artifacts:\n    claimName: events\n'));
    const dir = submitDir('submit');
    const submitted = await execa(
      process.execPath,
      [ajoCli, 'submit', dir, '-p', 'site.yml', '--name', 'same-events-submit', '--namespace', namespace, '--artifacts-claim', 'events', '-e', JSON.stringify({ marker: 'same-events' }), '--wait'],
      { reject: false, env: { KUBECONFIG: process.env.KUBECONFIG } },
    );
    expect(submitted.exitCode).toBe(0);
    const declarative = await finished('same-events');
    expect(declarative.status?.phase).toBe('Succeeded');
    const fromSource = events('same-events-1');
    const fromSubmit = events('same-events-submit-1');
    // Counters run 1..N on both sides, and the events are the same ones: names, tasks and hosts.
    // (Ansible runs the two hosts in parallel forks, so which host's event gets the lower counter
    // is not fixed; the events are compared as a list sorted by their names.)
    const named = (list: JobEvent[]) => list.map((event) => `${event.event} | ${event.event_data?.task ?? ''} | ${event.event_data?.host ?? ''}`).sort();
    expect(fromSource.map((event) => event.counter)).toEqual(fromSubmit.map((event) => event.counter));
    expect(fromSource.map((event) => event.counter)).toEqual(fromSource.map((_, index) => index + 1));
    expect(named(fromSource)).toEqual(named(fromSubmit));
    expect(named(fromSource)).toEqual(expect.arrayContaining([`runner_on_ok | Write the marker | ${fqdn('host-a')}`, `runner_on_ok | Write the marker | ${fqdn('host-b')}`]));
  }, 900_000);

  test('time from kubectl apply to the play\'s first event: a declarative git job against a payload job of the same playbook, median of 10 each', async () => {
    // The payload job: ajo submit of the same files, once; its Secret is reused by each sample.
    const dir = submitDir('payload');
    await run(process.execPath, [ajoCli, 'submit', dir, '-p', 'site.yml', '--name', 'timed-payload', '--namespace', namespace, '-e', JSON.stringify({ marker: 'timed' }), '--wait'], { env: { KUBECONFIG: process.env.KUBECONFIG } });
    const payloadSpec = (await json<{ spec: { payload: unknown } }>('get', 'ajob', 'timed-payload')).spec.payload;
    // Each job's artifacts land on the events claim, so the first job event's own `created` time
    // (stamped in the worker, on this machine's clock) says when the play began.
    await eventsClaim();

    const composeSteps: Record<string, number[]> = {};
    const sample = async (name: string, manifest: string): Promise<{ podRunningMs: number; playStartedMs: number }> => {
      let appliedAt = Number.NaN;
      try {
        const podRunningMs = await timeToPodPastPending(tools, namespace, name, () => {
          appliedAt = Date.now();
          return kubectlIn(manifest, 'apply', '-f', '-');
        });
        const done = await finished(name);
        expect([name, done.status?.phase]).toEqual([name, 'Succeeded']);
        const first = events(`${name}-1`)[0]!;
        // ansible-runner's `created` is UTC without a zone.
        const playStartedMs = Date.parse(`${first.created}Z`) - appliedAt;
        return { podRunningMs, playStartedMs };
      } finally {
        // compose's own account of its time (the Composed Event), to tell it from the pod's overhead.
        const composed = (await eventsOf(name)).find((event) => event.reason === 'Composed')?.message ?? '';
        for (const [, step, ms] of composed.slice(composed.lastIndexOf(' in ') + 4).matchAll(/(\w+) (\d+) ms/g)) {
          (composeSteps[step!] ??= []).push(Number(ms));
        }
        await kubectl('delete', 'ajob', name, '--wait=false');
      }
    };
    const artifacts = '  artifacts:\n    claimName: events\n';
    const declarative: Array<{ podRunningMs: number; playStartedMs: number }> = [];
    const payload: Array<{ podRunningMs: number; playStartedMs: number }> = [];
    for (let i = 1; i <= 10; i += 1) {
      // Alternated, so that a slower stretch of the machine falls on both sides alike.
      declarative.push(await sample(`timed-git-${i}`, gitJobYaml(`timed-git-${i}`, firstCommit, artifacts)));
      const payloadManifest = JSON.stringify({
        apiVersion: 'ajo.dev/v1alpha1',
        kind: 'AnsibleJob',
        metadata: { name: `timed-payload-${i}` },
        spec: { payload: payloadSpec, artifacts: { claimName: 'events' } },
      });
      payload.push(await sample(`timed-payload-${i}`, payloadManifest));
    }
    const summary = (samples: number[]) => ({ medianMs: Math.round(median(samples)), minMs: Math.round(Math.min(...samples)), maxMs: Math.round(Math.max(...samples)), samplesMs: samples.map(Math.round) });
    const stepMedians = Object.fromEntries(Object.entries(composeSteps).map(([step, values]) => [step, Math.round(median(values))]));
    const result = {
      measuredAt: new Date().toISOString(),
      version,
      cluster: process.env.KUBECONFIG,
      measure: "kubectl apply -> the play's first job event (its `created` time), and -> the worker pod past Pending",
      declarativeGit: summary(declarative.map((s) => s.playStartedMs)),
      payload: summary(payload.map((s) => s.playStartedMs)),
      podRunning: { declarativeGit: summary(declarative.map((s) => s.podRunningMs)), payload: summary(payload.map((s) => s.podRunningMs)) },
      composeStepMediansMs: stepMedians,
    };
    const dir2 = path.join(process.env.AJO_CACHE_DIR ?? path.join(homedir(), '.cache', 'ajo'), 'e2e');
    mkdirSync(dir2, { recursive: true });
    writeFileSync(path.join(dir2, 'apply-to-running-declarative.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `e2e: kubectl apply -> the play's first event, same playbook on two SSH hosts: declarative git job median ${result.declarativeGit.medianMs} ms ` +
        `(min ${result.declarativeGit.minMs}, max ${result.declarativeGit.maxMs}), payload job median ${result.payload.medianMs} ms ` +
        `(min ${result.payload.minMs}, max ${result.payload.maxMs}); compose adds ${result.declarativeGit.medianMs - result.payload.medianMs} ms, ` +
        `of which compose itself reports (medians) ${Object.entries(stepMedians).map(([step, ms]) => `${step} ${ms} ms`).join(', ')}; ` +
        `pods past Pending: declarative ${result.podRunning.declarativeGit.medianMs} ms, payload ${result.podRunning.payload.medianMs} ms ` +
        `(saved in ${path.join(dir2, 'apply-to-running-declarative.json')})`,
    );
    expect(declarative).toHaveLength(10);
    expect(payload).toHaveLength(10);
    // Every sample's play began after its apply: the two clocks are one.
    expect([...declarative, ...payload].every((s) => s.playStartedMs > 0)).toBe(true);
  }, 1_800_000);
}
