/**
 * The cleanup reconciler against a real kube-apiserver + etcd: orphaned worker pods
 * (selected by ajo's labels, without an owner or with a vanished one), a finished
 * AnsibleJob past its TTL, and a live job whose pod and artifacts must stay. Secrets are
 * never looked at (the sweep has no rule for them: payloads are owned by their job). One
 * sweep removes exactly the orphans, counts them in the metrics and records one Event on
 * the leader Lease; a second sweep changes nothing. Then the wiring: inside two operator
 * replicas, only the leader sweeps.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubeClient as KubeClientType } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { Registry } from '../../operator/src/kube/metrics.js';
import { silentLogger } from '../../operator/src/kube/log.js';
import { CleanupReconciler, type CleanupConfig } from '../../operator/src/sweep/reconciler.js';
import { ansibleJob, client, createNamespace, deleteNamespace, describeCluster, ensureCrd, KubeClient, loadClusterAccess, paths, runOperator, waitFor } from './harness.js';
type KubeClient = KubeClientType;

interface Meta {
  name: string;
  uid: string;
  creationTimestamp?: string;
}
interface EventObject {
  reason: string;
  type: string;
  message: string;
  involvedObject: { kind: string; name: string; uid?: string };
}

const OPERATOR_LABELS = { 'app.kubernetes.io/managed-by': 'ajo-operator' };
const SUBMIT_LABELS = { 'app.kubernetes.io/managed-by': 'ajo-submit' };
const HOUR = 3600_000;

const ownerRef = (name: string, uid: string) => ({ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', name, uid, controller: true, blockOwnerDeletion: false });

function pod(name: string, labels: Record<string, string>, ownerReferences: unknown[] = []) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels, ownerReferences },
    // Never scheduled: the sweep is about API objects, and an unscheduled pod is deleted at once.
    spec: { nodeSelector: { 'ajo.test/no-such-node': 'true' }, containers: [{ name: 'worker', image: 'ajo-runner:test' }] },
  };
}

function secret(name: string, labels: Record<string, string>, ownerReferences: unknown[] = []) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, labels, ownerReferences }, type: 'Opaque', data: { stream: Buffer.from('{"eof": true}\n').toString('base64') } };
}

const names = (items: { metadata: Meta }[]) => items.map((item) => item.metadata.name).sort();

/** The namespaced form of the rules docs/cleanup.md asks for; the first test sweeps with exactly these. */
const CLEANUP_RULES = [
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] },
  { apiGroups: ['ajo.dev'], resources: ['ansiblejobs'], verbs: ['list', 'delete'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
];

/** A client that authenticates as a fresh ServiceAccount bound to `rules` in `namespace`. */
async function clientWithRules(kube: KubeClient, namespace: string, name: string, rules: unknown[]): Promise<KubeClient> {
  await kube.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name }, rules });
  await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  const token = await kube.create<{ status: { token: string } }>(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  // Only the token: the server and CA of the admin kubeconfig, none of its client certificate.
  return new KubeClient(loadClusterAccess(undefined, { token: token.status.token, namespace }));
}

/** Whether a garbage collector (kube-controller-manager) runs: it removes dependents of a vanished owner. */
async function garbageCollectorRuns(kube: KubeClient, namespace: string): Promise<boolean> {
  const probe = `gc-probe-${randomUUID().slice(0, 8)}`;
  await kube.create(`/api/v1/namespaces/${namespace}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: probe, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: randomUUID() }] },
  });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (!(await kube.getOrUndefined(`/api/v1/namespaces/${namespace}/configmaps/${probe}`))) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await kube.delete(`/api/v1/namespaces/${namespace}/configmaps/${probe}`);
  return false;
}

describeCluster('cleanup reconciler on a real API server', () => {
  let kube: KubeClient;
  const namespaces: string[] = [];
  let volume: string;
  const operators: RunningOperator[] = [];

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
    volume = await mkdtemp(path.join(tmpdir(), 'ajo-cleanup-it-'));
  });
  afterAll(async () => {
    await Promise.all(operators.map((operator) => operator.stop()));
    await Promise.all(namespaces.map((namespace) => deleteNamespace(kube, namespace)));
    if (volume) await rm(volume, { recursive: true, force: true });
  });

  const newNamespace = async () => {
    const namespace = await createNamespace(kube, 'ajo-cleanup');
    namespaces.push(namespace);
    return namespace;
  };

  async function createJob(namespace: string, name: string, spec: Record<string, unknown>, status: Record<string, unknown>): Promise<Meta> {
    const created = await kube.create<{ metadata: Meta }>(paths.ansibleJobs(namespace), ansibleJob(name, spec));
    const stored = await kube.get<Record<string, unknown>>(paths.ansibleJob(namespace, name));
    await kube.replace(paths.ansibleJobStatus(namespace, name), { ...stored, status });
    return created.metadata;
  }

  async function artifactsDir(relative: string, ageMs: number): Promise<string> {
    const dir = path.join(volume, relative);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'stdout'), 'PLAY RECAP\n');
    const when = new Date(Date.now() - ageMs);
    await utimes(dir, when, when);
    return dir;
  }

  const listPods = async (namespace: string) => kube.get<{ items: { metadata: Meta }[] }>(paths.pods(namespace)).then((list) => list.items);
  const listSecrets = async (namespace: string) =>
    kube.get<{ items: { metadata: Meta }[] }>(paths.secrets(namespace), { query: { labelSelector: 'ajo.dev/job-name' } }).then((list) => list.items);
  const listJobs = async (namespace: string) => kube.get<{ items: { metadata: Meta }[] }>(paths.ansibleJobs(namespace)).then((list) => list.items);
  const cleanupEvents = async (namespace: string) =>
    kube.get<{ items: EventObject[] }>(paths.events(namespace)).then((list) => list.items.filter((event) => event.reason.startsWith('Cleanup')));
  const metric = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');

  test('one sweep removes exactly the orphans and the expired job, counts them, records an Event; a second sweep changes nothing', async () => {
    const namespace = await newNamespace();
    const now = Date.now();
    const live = await createJob(namespace, 'live', {}, { phase: 'Running', attempts: 1, podName: 'live-1', artifacts: { volume: 'persistentVolumeClaim/arts', path: 'artifacts/live-1' } });
    const expired = await createJob(
      namespace,
      'expired',
      { ttlSecondsAfterFinished: 60 },
      { phase: 'Succeeded', attempts: 1, completionTime: new Date(now - 2 * HOUR).toISOString(), artifacts: { volume: 'persistentVolumeClaim/arts', path: 'artifacts/expired-1' } },
    );
    await createJob(namespace, 'recently-done', { ttlSecondsAfterFinished: 3600 }, { phase: 'Succeeded', completionTime: new Date(now).toISOString() });
    await createJob(namespace, 'kept-forever', {}, { phase: 'Failed', completionTime: new Date(now - 24 * HOUR).toISOString() });

    const jobLabels = (name: string, uid: string) => ({ ...OPERATOR_LABELS, 'ajo.dev/job-name': name, 'ajo.dev/job-uid': uid, 'ajo.dev/attempt': '1' });
    // The live job's own objects, as the controller and `ajo submit` make them.
    await kube.create(paths.pods(namespace), pod('live-1', jobLabels('live', live.uid), [ownerRef('live', live.uid)]));
    await kube.create(paths.secrets(namespace), secret('live-payload', { ...SUBMIT_LABELS, 'ajo.dev/job-name': 'live' }, [ownerRef('live', live.uid)]));
    // The expired job's pod, owned by it.
    await kube.create(paths.pods(namespace), pod('expired-1', jobLabels('expired', expired.uid), [ownerRef('expired', expired.uid)]));
    // Orphans: labelled, with no job at all (a job deleted with --cascade=orphan).
    await kube.create(paths.pods(namespace), pod('ghost-1', jobLabels('ghost', randomUUID())));
    // A labelled Secret without a job, as an old `ajo submit` that died could leave one: not the sweep's business.
    await kube.create(paths.secrets(namespace), secret('ghost-payload', { ...SUBMIT_LABELS, 'ajo.dev/job-name': 'ghost' }));
    // An orphan whose owner vanished: a garbage collector may take it before the sweep does.
    await kube.create(paths.pods(namespace), pod('dangling-1', jobLabels('dangling', randomUUID()), [ownerRef('dangling', randomUUID())]));
    // Not ours: no ajo labels, or ajo's name pattern without the labels. The sweep never looks at them.
    await kube.create(paths.pods(namespace), pod('ghost-2', { app: 'something-else' }));
    await kube.create(paths.secrets(namespace), secret('ghost-2-payload', { 'ajo.dev/job-name-typo': 'ghost' }));

    await artifactsDir('artifacts/live-1', 3 * HOUR); // old, but its job runs
    await artifactsDir('artifacts/expired-1', 3 * HOUR);
    await artifactsDir('artifacts/abandoned-7', 3 * HOUR);
    await artifactsDir('artifacts/recent-1', 5 * 60_000); // within the 60 minute grace period
    await artifactsDir('unrelated/old-dir', 3 * HOUR); // outside the pattern

    await kube.create(paths.leases(namespace), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'ajo-operator' }, spec: {} });
    const lease = await kube.get<{ metadata: Meta }>(paths.lease(namespace, 'ajo-operator'));

    const gc = await garbageCollectorRuns(kube, namespace);
    console.log(`cleanup integration: ${gc ? 'a garbage collector runs; dependents of vanished owners may go before the sweep' : 'no garbage collector: the sweep alone removes every orphan'}`);
    if (gc) await waitFor('GC removed dangling-1', async () => ((await kube.getOrUndefined(paths.pod(namespace, 'dangling-1'))) ? undefined : true));

    const registry = new Registry();
    const config: CleanupConfig = { intervalMs: 60_000, orphanMinAgeMs: 0, ttlGraceMs: 60_000, artifacts: { dir: volume, pattern: 'artifacts/*', gracePeriodMinutes: 60 } };
    const reconciler = new CleanupReconciler({
      config,
      client: await clientWithRules(kube, namespace, 'ajo-cleanup', CLEANUP_RULES),
      namespaces: [namespace],
      logger: silentLogger,
      registry,
      identity: 'cleanup-it',
      eventTarget: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name: 'ajo-operator' },
    });

    const first = await reconciler.sweep();
    expect(first.errors).toEqual([]);
    expect(first.removed.ansiblejob).toEqual([`${namespace}/expired`]);
    const sweptPods = first.removed.pod.map((ref) => ref.split('/')[1]).sort();
    if (gc) {
      // The GC may also win the race for the expired job's pod once the job is gone.
      expect(sweptPods).toEqual(expect.arrayContaining(['ghost-1']));
      expect(['expired-1', 'ghost-1']).toEqual(expect.arrayContaining(sweptPods));
    } else {
      expect(sweptPods).toEqual(['dangling-1', 'expired-1', 'ghost-1']);
    }
    expect(first.removed.artifacts_dir.sort()).toEqual([path.join(volume, 'artifacts/abandoned-7'), path.join(volume, 'artifacts/expired-1')]);
    expect(first.bytesFreed).toBeGreaterThan(0);

    // The cluster afterwards: exactly the live job's objects, the unfinished-TTL jobs and what is not ours.
    expect(names(await listJobs(namespace))).toEqual(['kept-forever', 'live', 'recently-done']);
    // A pod a kubelet had started would stay (terminating) until it confirmed the stop.
    const remainingPods = await waitFor('swept and terminated pods gone', async () => {
      const pods = names(await listPods(namespace));
      return ['expired-1', ...sweptPods].some((name) => name !== undefined && pods.includes(name)) ? undefined : pods;
    }, 120_000);
    expect(remainingPods).toEqual(['ghost-2', 'live-1']);
    expect(names(await listSecrets(namespace))).toEqual(['ghost-payload', 'live-payload']);
    expect(await kube.getOrUndefined(paths.secret(namespace, 'ghost-2-payload'))).toBeDefined();
    for (const kept of ['artifacts/live-1', 'artifacts/recent-1', 'unrelated/old-dir']) expect((await stat(path.join(volume, kept))).isDirectory()).toBe(true);

    const text = await registry.metrics();
    expect(metric(text, 'ajo_cleanup_removed_total{kind="ansiblejob"}')).toBe(1);
    expect(text).not.toContain('kind="secret"');
    expect(metric(text, 'ajo_cleanup_removed_total{kind="pod"}')).toBe(sweptPods.length);
    expect(metric(text, 'ajo_cleanup_removed_total{kind="artifacts_dir"}')).toBe(2);
    expect(metric(text, 'ajo_cleanup_errors_total{kind="pod"}')).toBe(0);
    expect(metric(text, 'ajo_cleanup_sweeps_total{result="ok"}')).toBe(1);
    expect(metric(text, 'ajo_cleanup_last_sweep_timestamp_seconds')).toBeCloseTo(Date.parse(first.startedAt) / 1000, 3);
    expect(metric(text, 'ajo_cleanup_last_sweep_duration_seconds')).toBeCloseTo(first.durationMs / 1000, 3);

    const events = await waitFor('the sweep Event', async () => {
      const found = await cleanupEvents(namespace);
      return found.length > 0 ? found : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'Normal', reason: 'CleanupSwept', involvedObject: { kind: 'Lease', name: 'ajo-operator', uid: lease.metadata.uid } });
    expect(events[0]?.message).toContain(`1 expired AnsibleJob(s) (${namespace}/expired)`);
    expect(events[0]?.message).toContain('2 artifacts dir(s)');

    const second = await reconciler.sweep();
    expect(second.errors).toEqual([]);
    expect(Object.values(second.removed).flat()).toEqual([]);
    const again = await registry.metrics();
    for (const kind of ['pod', 'ansiblejob', 'artifacts_dir']) {
      expect(metric(again, `ajo_cleanup_removed_total{kind="${kind}"}`)).toBe(metric(text, `ajo_cleanup_removed_total{kind="${kind}"}`));
    }
    expect(metric(again, 'ajo_cleanup_sweeps_total{result="ok"}')).toBe(2);
    expect(metric(again, 'ajo_cleanup_last_sweep_removed')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await cleanupEvents(namespace)).toHaveLength(1);
    expect(names(await listSecrets(namespace))).toEqual(['ghost-payload', 'live-payload']);
    expect(names(await listPods(namespace))).toEqual(['ghost-2', 'live-1']);
  });

  test('missing permissions: the failed kind is reported, the rest is swept; without the AnsibleJobs nothing is judged', async () => {
    const namespace = await newNamespace();
    await createJob(namespace, 'expired', { ttlSecondsAfterFinished: 0 }, { phase: 'Succeeded', completionTime: new Date(Date.now() - HOUR).toISOString() });
    // A chart that forgot the pods rule.
    const withoutPods = CLEANUP_RULES.filter((rule) => !rule.resources.includes('pods'));
    const registry = new Registry();
    const sweeper = (kubeClient: KubeClient) =>
      new CleanupReconciler({
        config: { intervalMs: 60_000, orphanMinAgeMs: 0, ttlGraceMs: 0 },
        client: kubeClient,
        namespaces: [namespace],
        logger: silentLogger,
        registry,
        eventTarget: { apiVersion: 'v1', kind: 'Pod', namespace, name: 'ajo-operator-0' },
      });
    const outcome = await sweeper(await clientWithRules(kube, namespace, 'no-pods', withoutPods)).sweep();
    expect(outcome.removed.ansiblejob).toEqual([`${namespace}/expired`]);
    expect(outcome.errors).toEqual([{ kind: 'pod', message: expect.stringMatching(/^listing pods: .*forbidden/) }]);
    expect(metric(await registry.metrics(), 'ajo_cleanup_sweeps_total{result="failed"}')).toBe(1);
    expect(metric(await registry.metrics(), 'ajo_cleanup_errors_total{kind="pod"}')).toBe(1);
    const events = await waitFor('the failure Event', async () => {
      const found = await cleanupEvents(namespace);
      return found.length > 0 ? found : undefined;
    });
    // The operator Pod does not exist here (nor may this account get pods): the Event names it without a uid.
    expect(events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'CleanupFailed', involvedObject: expect.objectContaining({ kind: 'Pod', name: 'ajo-operator-0' }) })]);
    expect(events[0]?.message).toMatch(new RegExp(`^removed 1 expired AnsibleJob\\(s\\) \\(${namespace}/expired\\); 1 error\\(s\\): pod: listing pods: `));

    await kube.create(paths.pods(namespace), pod('ghost-2', { ...OPERATOR_LABELS, 'ajo.dev/job-name': 'ghost' }));
    const withoutJobs = CLEANUP_RULES.filter((rule) => !rule.resources.includes('ansiblejobs'));
    const blind = await sweeper(await clientWithRules(kube, namespace, 'no-jobs', withoutJobs)).sweep();
    expect(blind.errors).toEqual([{ kind: 'ansiblejob', message: expect.stringMatching(/^listing ansiblejobs: .*forbidden.*; nothing was judged$/) }]);
    expect(Object.values(blind.removed).flat()).toEqual([]);
    expect(await kube.getOrUndefined(paths.pod(namespace, 'ghost-2'))).toBeDefined();
  });

  test('inside the operator, only the leader sweeps, periodically, and its Events are on the leader Lease', async () => {
    const namespace = await newNamespace();
    const election = { namespace, leaseName: 'ajo-cleanup-leader', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 };
    const cleanup: CleanupConfig = { intervalMs: 1000, orphanMinAgeMs: 0, ttlGraceMs: 0 };
    const a = await runOperator(kube, [namespace], { leaderElection: election, identity: 'cleanup-a', cleanup });
    const b = await runOperator(kube, [namespace], { leaderElection: election, identity: 'cleanup-b', cleanup });
    operators.push(a, b);
    await waitFor('a leader', async () => (a.isLeader() || b.isLeader() ? true : undefined));
    const [leader, standby] = a.isLeader() ? [a, b] : [b, a];

    await kube.create(paths.pods(namespace), pod('late-1', { ...OPERATOR_LABELS, 'ajo.dev/job-name': 'late' }));
    await waitFor('the leader swept the orphan', async () => ((await kube.getOrUndefined(paths.pod(namespace, 'late-1'))) ? undefined : true), 15_000);
    await waitFor('a later sweep', async () => (metric(await leader.metrics.registry.metrics(), 'ajo_cleanup_sweeps_total{result="ok"}') >= 2 ? true : undefined), 10_000);

    const leaderText = await leader.metrics.registry.metrics();
    expect(metric(leaderText, 'ajo_cleanup_removed_total{kind="pod"}')).toBe(1);
    const standbyText = await standby.metrics.registry.metrics();
    expect(metric(standbyText, 'ajo_cleanup_sweeps_total{result="ok"}')).toBe(0);
    expect(metric(standbyText, 'ajo_cleanup_sweeps_total{result="failed"}')).toBe(0);

    const lease = await kube.get<{ metadata: Meta; spec: { holderIdentity: string } }>(paths.lease(namespace, 'ajo-cleanup-leader'));
    expect(lease.spec.holderIdentity).toBe(leader.identity);
    const events = await waitFor('the sweep Event', async () => {
      const found = await cleanupEvents(namespace);
      return found.length > 0 ? found : undefined;
    });
    expect(events).toEqual([
      expect.objectContaining({ reason: 'CleanupSwept', involvedObject: expect.objectContaining({ kind: 'Lease', name: 'ajo-cleanup-leader', uid: lease.metadata.uid }) }),
    ]);
    expect(events[0]?.message).toBe(`removed 1 orphaned pod(s) (${namespace}/late-1)`);
  });
});
