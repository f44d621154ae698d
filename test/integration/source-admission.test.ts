/**
 * Jobs written by hand (spec.source) against a real kube-apiserver: what admission refuses, and
 * the CEL rule that freezes the spec once a job has launched (GitOps: a re-applied or edited
 * manifest never changes or relaunches a job), with the operator running and without it.
 */
import type { KubeClient } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { KubeApiError, client, createNamespace, deleteNamespace, describeCluster, ensureCrd, getJob, paths, podsOf, runOperator, waitFor } from './harness.js';

const inline = { project: { inline: [{ path: 'site.yml', content: '- hosts: localhost\n  tasks: []\n' }] }, playbook: 'site.yml' };
const job = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name }, spec });

describeCluster('AnsibleJob spec.source on a real API server', () => {
  let kube: KubeClient;
  let namespace: string;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
    namespace = await createNamespace(kube, 'ajo-src');
  });
  afterAll(async () => {
    await operator?.stop();
    if (namespace) await deleteNamespace(kube, namespace);
  });

  const rejection = async (request: Promise<unknown>): Promise<string> => {
    try {
      await request;
    } catch (error) {
      expect(error).toBeInstanceOf(KubeApiError);
      expect((error as InstanceType<typeof KubeApiError>).status).toBe(422);
      return (error as Error).message;
    }
    throw new Error('the API server accepted it');
  };
  const create = (name: string, spec: Record<string, unknown>) => kube.create(paths.ansibleJobs(namespace), job(name, spec));

  test('admission: exactly one of payload or source; paths that escape; exactly one project and one thing to run', async () => {
    const payload = { secret: { name: 'p' }, sha256: 'a'.repeat(64) };
    expect(await rejection(create('both', { payload, source: inline }))).toContain('must name exactly one of payload or source');
    expect(await rejection(create('neither', {}))).toContain('must name exactly one of payload or source');
    const escape = { ...inline, project: { inline: [{ path: 'roles/../../etc/cron.d/x', content: '' }] } };
    expect(await rejection(create('escape', { source: escape }))).toContain("must not contain '..' segments");
    const absolute = { ...inline, project: { inline: [{ path: '/etc/passwd', content: '' }] } };
    expect(await rejection(create('absolute', { source: absolute }))).toContain('must be a relative path');
    expect(await rejection(create('twice', { source: { ...inline, project: { ...inline.project, configMap: { name: 'c' } } } }))).toContain(
      'must name exactly one of git, configMap or inline',
    );
    expect(await rejection(create('both-run', { source: { ...inline, module: { name: 'ping' } } }))).toContain('must name exactly one of playbook or module');
    expect(await rejection(create('no-project', { source: { playbook: 'site.yml' } }))).toContain('a playbook needs a project');
    const duplicate = { ...inline, project: { inline: [{ path: 'a', content: '' }, { path: 'a', content: '' }] } };
    expect(await rejection(create('duplicate', { source: duplicate }))).toContain('paths must be unique');
    const tooBig = { ...inline, project: { inline: [{ path: 'a', content: 'x'.repeat(40_000) }, { path: 'b', content: 'x'.repeat(40_000) }] } };
    expect(await rejection(create('too-big', { source: tooBig }))).toContain('at most 65536 characters in all');
    // A module job needs no project; an inventory of its own is fine.
    await create('adhoc', { suspend: true, source: { module: { name: 'ansible.builtin.ping' }, inventory: { inline: 'localhost ansible_connection=local\n' } } });
  });

  test('before launch the spec may change; after launch only suspend may, with a message that says so', async () => {
    await create('frozen', { suspend: true, source: inline });
    const path = paths.ansibleJob(namespace, 'frozen');
    // Not launched (a suspended job has no attempt yet): an edit is accepted.
    await kube.mergePatch(path, { spec: { source: { limit: 'web' } } });
    // The operator records the launch in status before it creates a pod; simulate exactly that write.
    const current = await getJob(kube, namespace, 'frozen');
    await kube.replace(paths.ansibleJobStatus(namespace, 'frozen'), { ...current, status: { phase: 'Pending', attempts: 1, podName: 'frozen-1' } });
    const message = await rejection(kube.mergePatch(path, { spec: { source: { limit: 'db' } } }));
    expect(message).toContain('spec is immutable once the job has launched (status.attempts > 0); only spec.suspend may change');
    expect(await rejection(kube.mergePatch(path, { spec: { async: 60 } }))).toContain('spec is immutable');
    expect(await rejection(kube.mergePatch(path, { spec: { source: null, payload: { secret: { name: 'p' }, sha256: 'a'.repeat(64) } } }))).toContain('spec is immutable');
    // suspend stays mutable (it cancels a launched job), and labels are not spec.
    await kube.mergePatch(path, { spec: { suspend: false }, metadata: { labels: { team: 'web' } } });
    const after = await getJob(kube, namespace, 'frozen');
    expect((after.spec as { source: { limit?: string } }).source.limit).toBe('web');
    // Writing the same spec again (what a re-apply of an unchanged manifest amounts to) is accepted and changes nothing.
    const before = (after.metadata as { resourceVersion?: string }).resourceVersion;
    const same = await kube.replace<{ metadata: { resourceVersion: string } }>(path, after);
    expect(same.metadata.resourceVersion).toBe(before);
  });

  test('the operator launches a source job: a compose init container, the source as a pod annotation, no Secret read', async () => {
    operator = await runOperator(kube, [namespace]);
    await create('composed', {
      source: {
        ...inline,
        inventory: { secret: { name: 'hosts', key: 'inventory.ini' } },
        credentials: { sshKeySecret: 'fleet-key', knownHosts: { name: 'fleet', key: 'known_hosts' } },
      },
    });
    const pods = await waitFor('the composed job pod', async () => {
      const found = await podsOf(kube, namespace, 'composed');
      return found.length > 0 ? found : undefined;
    });
    const pod = await kube.get<any>(paths.pod(namespace, pods[0]!.metadata.name));
    expect(pod.spec.initContainers).toBeUndefined();
    expect(pod.spec.containers.find((c: { name: string }) => c.name === 'process').command).toContain('--compose');
    expect(JSON.parse(pod.metadata.annotations['ajo.dev/source'])).toMatchObject({ playbook: 'site.yml', inventory: { secret: { name: 'hosts' } } });
    expect(pod.spec.volumes.filter((v: any) => v.secret).map((v: any) => v.secret.secretName)).toEqual(['fleet-key', 'hosts']);
    expect(pod.spec.volumes.filter((v: any) => v.configMap).map((v: any) => v.configMap.name)).toEqual(['fleet']);
  });
});
