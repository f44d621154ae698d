/**
 * AnsibleJobTemplate and AnsibleQueue against a real API server: admission (CEL), a missing
 * template (Pending → Failed after pendingTimeout), a refused override, resolution recorded
 * once, template status, `ajo launch`; queue admission with unschedulable pods (no pod runs,
 * so the slots stay held), positions, a deleted and recreated queue, the default queue, metrics.
 */
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import type { KubeClient } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import {
  KubeApiError, paths, client, condition, createNamespace, deleteNamespace, describeCluster, ensureCrd, eventReasons, getJob, podsOf, runOperator, waitFor, type JobObject,
} from './harness.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ajoCli = path.join(repo, 'operator', 'dist', 'cli', 'main.js');

/** A spec.source job with an inline playbook: nothing outside the manifest. */
const inlineSource = {
  project: { inline: [{ path: 'site.yml', content: '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg={{ greeting | default("hi") }}\n' }] },
  playbook: 'site.yml',
  extraVars: { greeting: 'hello' },
};
/** Pods that no node accepts: they stay Pending, so a launched job keeps its queue slot. */
const unschedulable = { podTemplate: { spec: { nodeSelector: { 'ajo.test/no-such-node': 'true' } } } };

interface QueueObject {
  status?: { running?: number; waiting?: number; admitted?: { name: string; uid: string }[] };
}
interface TemplateObject {
  metadata: { generation: number };
  status?: { runs?: { total: number; active: number; succeeded: number; failed: number }; lastJob?: { name: string; phase?: string } };
}

describeCluster('AnsibleJobTemplate and AnsibleQueue on a real API server', () => {
  let kube: KubeClient;
  let namespace: string;
  const operators: RunningOperator[] = [];
  const start = async (extra = {}) => {
    const operator = await runOperator(kube, [namespace], extra);
    operators.push(operator);
    return operator;
  };
  const template = (name: string, spec: Record<string, unknown>) =>
    kube.create(paths.ajoResources('ansiblejobtemplates', namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJobTemplate', metadata: { name }, spec });
  const queue = (name: string, maxRunning: number) =>
    kube.create(paths.ajoResources('ansiblequeues', namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleQueue', metadata: { name }, spec: { maxRunning } });
  const job = (name: string, spec: Record<string, unknown>) => kube.create(paths.ansibleJobs(namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name }, spec });
  const getQueue = (name: string) => kube.get<QueueObject>(paths.ajoResource('ansiblequeues', namespace, name));
  const jobWhen = (name: string, what: string, check: (job: JobObject & { status?: { queue?: { name: string; position?: number; admittedAt?: string }; template?: { generation: number; spec: any } } }) => boolean, timeoutMs = 60_000) =>
    waitFor(`${name}: ${what}`, async () => {
      const current = await getJob(kube, namespace, name);
      return check(current as never) ? (current as JobObject & { status: any }) : undefined;
    }, timeoutMs);
  const rejection = async (create: () => Promise<unknown>): Promise<string> => {
    try {
      await create();
    } catch (error) {
      expect(error).toBeInstanceOf(KubeApiError);
      return (error as Error).message;
    }
    throw new Error('the API server accepted it');
  };

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
    namespace = await createNamespace(kube, 'ajo-tq');
  });
  // On a cluster shared with other suites, one of them may have applied an AnsibleJob CRD
  // without this branch's fields since the last test (they would be pruned): apply ours again.
  beforeEach(() => ensureCrd(kube));
  afterEach(async () => {
    await Promise.all(operators.splice(0).map((operator) => operator.stop()));
  });
  afterAll(async () => {
    if (namespace) await deleteNamespace(kube, namespace);
  });

  test('admission refuses a template job that also names what to run, overrides without a template, and overrides of a payload template', async () => {
    const payload = { secret: { name: 's' }, sha256: 'b'.repeat(64) };
    expect(await rejection(() => job('both', { templateRef: { name: 't' }, payload }))).toContain('a job with templateRef takes its payload or source from the template: name neither');
    expect(await rejection(() => job('loose', { payload, overrides: { limit: 'web' } }))).toContain('overrides need a templateRef');
    expect(await rejection(() => template('baked', { job: { payload }, overridable: ['limit'] }))).toContain('overridable fields need job.source');
    expect(await rejection(() => template('odd', { job: { source: inlineSource }, overridable: ['forks'] }))).toContain('Unsupported value: "forks"');
    expect(await rejection(() => queue('negative', -1))).toContain('spec.maxRunning');
  });

  test('a job naming a missing template stays Pending with a condition and fails after pendingTimeout', async () => {
    await job('orphan', { templateRef: { name: 'not-there' }, pendingTimeout: 3 });
    await start();
    const pending = await jobWhen('orphan', 'Pending with TemplateNotFound', (j) => condition(j, 'TemplateResolved')?.reason === 'TemplateNotFound');
    expect(['Pending', 'Failed']).toContain(pending.status?.phase);
    const failed = await jobWhen('orphan', 'Failed', (j) => j.status?.phase === 'Failed');
    expect(condition(failed, 'Finished')).toMatchObject({ reason: 'PendingTimeout', message: expect.stringContaining('AnsibleJobTemplate not-there does not exist') });
    expect(await podsOf(kube, namespace, 'orphan')).toEqual([]);
    // Events follow the status write that made the transition: the Failed one is created after
    // the phase is on the server, so wait for it rather than read the Events once.
    const reasons = await waitFor('the TemplateNotFound and Failed events of orphan', async () => {
      const recorded = await eventReasons(kube, namespace, 'orphan');
      return recorded.includes('TemplateNotFound') && recorded.includes('Failed') ? recorded : undefined;
    });
    expect(reasons).toEqual(expect.arrayContaining(['TemplateNotFound', 'Failed']));
  });

  test('overriding a field the template does not allow fails the job with the reason; an allowed one is merged and recorded once', async () => {
    await template('site', { job: { source: inlineSource, suspend: false, ...unschedulable }, overridable: ['extraVars', 'limit'] });
    await job('tagged', { templateRef: { name: 'site' }, overrides: { tags: ['deploy'] } });
    await job('limited', { templateRef: { name: 'site' }, overrides: { limit: 'web', extraVars: { greeting: 'hej' } }, suspend: true });
    await start();
    const refused = await jobWhen('tagged', 'Failed', (j) => j.status?.phase === 'Failed');
    expect(condition(refused, 'Finished')).toMatchObject({ reason: 'OverrideNotAllowed', message: expect.stringContaining('does not let a job override tags (it allows only extraVars, limit') });
    const resolved = await jobWhen('limited', 'resolved', (j) => j.status?.template !== undefined);
    expect(resolved.status.template).toMatchObject({ name: 'site', generation: 1, spec: { source: { limit: 'web', extraVars: { greeting: 'hej' }, playbook: 'site.yml' } } });
    // A later edit of the template changes no job that exists.
    const current = await kube.get<any>(paths.ajoResource('ansiblejobtemplates', namespace, 'site'));
    await kube.replace(paths.ajoResource('ansiblejobtemplates', namespace, 'site'), { ...current, spec: { ...current.spec, job: { ...current.spec.job, source: { ...inlineSource, limit: 'db' } } } });
    await kube.mergePatch(paths.ansibleJob(namespace, 'limited'), { spec: { suspend: false } });
    const launched = await jobWhen('limited', 'launched', (j) => (j.status?.attempts ?? 0) > 0);
    expect(launched.status.template).toMatchObject({ generation: 1, spec: { source: { limit: 'web' } } });
    // The pod follows the launch's status write.
    const pod = await waitFor('pod limited-1', () => kube.getOrUndefined<any>(paths.pod(namespace, 'limited-1')));
    expect(JSON.parse(pod.metadata.annotations['ajo.dev/source'])).toMatchObject({ limit: 'web', extraVars: { greeting: 'hej' } });
    const status = await waitFor('template status counts both jobs', async () => {
      const got = await kube.get<TemplateObject>(paths.ajoResource('ansiblejobtemplates', namespace, 'site'));
      return got.status?.runs?.total === 2 && got.status.runs.failed === 1 ? got : undefined;
    });
    expect(status.metadata.generation).toBe(2);
    expect(status.status?.runs).toEqual({ total: 2, active: 1, succeeded: 0, failed: 1 });
    expect(status.status?.lastJob?.name).toMatch(/^(tagged|limited)$/);
  });

  test('ajo launch creates a job from a template with -e, --limit and --tags; --wait exits with the refusal', async () => {
    if (!existsSync(ajoCli)) throw new Error(`${ajoCli} is missing: run npm run build`);
    await template('launchable', { job: { source: inlineSource, suspend: false, ...unschedulable }, overridable: ['extraVars', 'limit'] });
    const env = { KUBECONFIG: process.env.KUBECONFIG };
    const created = await execa('node', [ajoCli, 'launch', 'launchable', '-n', namespace, '-e', 'a=1 b=two', '-e', '{"c": [3]}', '--limit', 'web'], { env, reject: false });
    expect(created.exitCode).toBe(0);
    const name = created.stdout.trim();
    expect(name).toMatch(/^launchable-[0-9a-f]{5}$/);
    const stored = await getJob(kube, namespace, name);
    expect(stored.spec).toMatchObject({ templateRef: { name: 'launchable' }, overrides: { extraVars: { a: '1', b: 'two', c: [3] }, limit: 'web' } });

    await start();
    const waited = await execa('node', [ajoCli, 'launch', 'launchable', '-n', namespace, '--tags', 'x,y', '--wait'], { env, reject: false, timeout: 120_000 });
    expect(waited.exitCode).toBe(1);
    expect(waited.stderr).toContain('OverrideNotAllowed');
    const missing = await execa('node', [ajoCli, 'launch', 'nope', '-n', namespace], { env, reject: false });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`AnsibleJobTemplate ${namespace}/nope does not exist`);
  });

  test('a queue admits maxRunning jobs in order, numbers the rest, survives being deleted and recreated, and frees a slot when a job ends', async () => {
    await queue('q2', 2);
    for (const [i, name] of ['qa', 'qb', 'qc', 'qd'].entries()) {
      await job(name, { source: inlineSource, queue: 'q2', ...unschedulable, ...(i === 3 ? { priority: 10 } : {}) });
    }
    const operator = await start();
    // qd has the highest priority: it goes first, then qa, qb, qc by creation.
    await jobWhen('qd', 'admitted', (j) => Boolean(j.status?.queue?.admittedAt));
    await jobWhen('qa', 'admitted', (j) => Boolean(j.status?.queue?.admittedAt));
    const qb = await jobWhen('qb', 'position 1', (j) => j.status?.phase === 'Queued' && j.status.queue?.position === 1);
    expect(condition(qb, 'Queued')).toMatchObject({ status: 'True', reason: 'Waiting' });
    await jobWhen('qc', 'position 2', (j) => j.status?.queue?.position === 2);
    const status = await waitFor('queue status', async () => {
      const got = await getQueue('q2');
      return got.status?.running === 2 && got.status.waiting === 2 ? got : undefined;
    });
    expect(status.status?.admitted?.map((holder) => holder.name)).toEqual(['qd', 'qa']);
    expect((await podsOf(kube, namespace, 'qb')).length + (await podsOf(kube, namespace, 'qc')).length).toBe(0);
    const metrics = await operator.metrics.registry.getSingleMetricAsString('ajo_queue_waiting');
    expect(metrics).toContain(`ajo_queue_waiting{namespace="${namespace}",queue="q2"} 2`);

    // Deleting the queue loses no job: they stay Queued and say why.
    await kube.delete(paths.ajoResource('ansiblequeues', namespace, 'q2'));
    const orphaned = await jobWhen('qb', 'QueueNotFound', (j) => condition(j, 'Queued')?.reason === 'QueueNotFound');
    expect(orphaned.status?.phase).toBe('Queued');
    // A recreated queue counts the jobs still holding slots from before (their status says so).
    await queue('q2', 2);
    await jobWhen('qb', 'waiting again', (j) => condition(j, 'Queued')?.reason === 'Waiting');
    const recreated = await waitFor('recreated queue status', async () => {
      const got = await getQueue('q2');
      return got.status?.running === 2 && got.status.waiting === 2 ? got : undefined;
    });
    expect(recreated.status?.admitted?.map((holder) => holder.name).sort()).toEqual(['qa', 'qd']);

    // Cancelling a holder frees its slot once its pod is gone: the next in line goes.
    await kube.mergePatch(paths.ansibleJob(namespace, 'qd'), { spec: { suspend: true } });
    await jobWhen('qd', 'Cancelled', (j) => j.status?.phase === 'Cancelled');
    await jobWhen('qb', 'admitted', (j) => Boolean(j.status?.queue?.admittedAt));
    const qc = await jobWhen('qc', 'position 1', (j) => j.status?.queue?.position === 1);
    expect(qc.status?.phase).toBe('Queued');
  });

  test('two operators admitting at once (no leader election: a split brain) still never exceed maxRunning', async () => {
    await queue('race', 2);
    const names = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    // Both start before the jobs exist, so both see every job arrive and both try to admit it.
    await start();
    await start();
    await Promise.all(names.map((name) => job(name, { source: inlineSource, queue: 'race', ...unschedulable })));
    await waitFor('the queue settled', async () => {
      const got = await getQueue('race');
      return got.status?.running === 2 && got.status.waiting === 8 ? got : undefined;
    });
    const admitted = async () => {
      const list = await kube.get<{ items: (JobObject & { status?: { queue?: { admittedAt?: string } } })[] }>(paths.ansibleJobs(namespace));
      return list.items.filter((item) => item.metadata.name.startsWith('race-') && item.status?.queue?.admittedAt).map((item) => item.metadata.name);
    };
    const pods = async () =>
      (await kube.get<{ items: { metadata: { name: string } }[] }>(paths.pods(namespace))).items.map((pod) => pod.metadata.name).filter((name) => name.startsWith('race-'));
    await waitFor('both admitted jobs have their pod', async () => ((await pods()).length === 2 ? true : undefined));
    // Give the loser of every race time to do damage, if it could: both keep reconciling.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await admitted()).toHaveLength(2);
    expect(await pods()).toHaveLength(2);
    expect((await getQueue('race')).status?.admitted).toHaveLength(2);
  });

  test('the default queue of a namespace takes a job that names none and is recorded in its status', async () => {
    await queue('dq', 0);
    await job('defaulted', { source: inlineSource, ...unschedulable });
    await start({ defaultQueues: { [namespace]: 'dq' } });
    const queued = await jobWhen('defaulted', 'Queued in dq', (j) => j.status?.phase === 'Queued' && j.status.queue?.name === 'dq');
    expect(queued.status?.queue?.position).toBe(1);
  });
});
