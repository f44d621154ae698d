/**
 * The operator's lean cache against a real kube-apiserver + etcd: a finished job is cached
 * without its stdout tail and results, so the status writes a reconcile makes for it (a
 * refresh request answered) must leave those fields as they are on the server.
 */
import type { KubeClient } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { ansibleJob, client, createNamespace, deleteNamespace, describeCluster, ensureCrd, getJob, paths, runOperator, SHA, waitFor } from './harness.js';

const STDOUT_TAIL = 'TASK [site : configure the service] ******\nchanged: [web-01]\n'.repeat(50).slice(-2048);

/** The status the operator would have left on a job that succeeded, as the server stores it. */
function finalStatus(uid: string, name: string, withSource: boolean) {
  const start = '2026-12-01T10:00:00Z';
  const end = '2026-12-01T10:01:30Z';
  return {
    phase: 'Succeeded',
    jid: uid,
    podName: `${name}-1`,
    podUID: 'a1b2c3d4-0000-4000-8000-000000000001',
    attempts: 1,
    startTime: start,
    completionTime: end,
    lastPollTime: end,
    runnerStatus: 'successful',
    rc: 0,
    hostCounts: { ok: 42, changed: 6, failures: 0, unreachable: 0, skipped: 3, rescued: 0, ignored: 0 },
    eventCount: 131,
    lastEvent: '131 playbook_on_stats',
    stdoutTail: STDOUT_TAIL,
    artifacts: { volume: 'emptyDir', path: `artifacts/${name}-1` },
    observedGeneration: 1,
    ...(withSource ? { source: { streamSha256: SHA, bytes: 18_211 } } : {}),
    conditions: [
      { type: 'Launched', status: 'True', reason: 'Launched', message: `launch: pod ${name}-1 (attempt 1)`, lastTransitionTime: start },
      { type: 'Running', status: 'False', reason: 'Completed', message: 'the play finished with rc 0', lastTransitionTime: end },
      { type: 'Finished', status: 'True', reason: 'Completed', message: 'the play finished with rc 0', lastTransitionTime: end },
    ],
  };
}

describeCluster('the lean job cache on a real API server', () => {
  let kube: KubeClient;
  let namespace: string;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
    namespace = await createNamespace(kube, 'ajo-lean');
  });
  afterAll(async () => {
    await operator?.stop();
    if (namespace) await deleteNamespace(kube, namespace);
  });

  /** Creates a job and gives it its final status through the status subresource. */
  async function finishedJob(name: string, spec: Record<string, unknown>, withSource: boolean) {
    const created = await kube.create<{ metadata: { uid: string } }>(paths.ansibleJobs(namespace), { ...ansibleJob(name), spec });
    await kube.replace(paths.ansibleJobStatus(namespace, name), { ...created, status: finalStatus(created.metadata.uid, name, withSource) });
    return (await getJob(kube, namespace, name)).status;
  }

  test("a refresh request on finished jobs is answered and leaves every other status field as it was; a TTL is honoured", async () => {
    const payloadStatus = await finishedJob('done-payload', { payload: { secret: { name: 'done-payload' }, sha256: SHA }, podTemplate: { spec: { nodeSelector: { pool: 'none' } } } }, false);
    const source = {
      project: { inline: [{ path: 'site.yml', content: '- hosts: all\n  tasks:\n    - ansible.builtin.ping:\n' }] },
      playbook: 'site.yml',
      inventory: { inline: 'web-01 ansible_connection=local\n' },
      extraVars: { release: '2026.12' },
    };
    const sourceStatus = await finishedJob('done-source', { source }, true);
    // Finished long ago with a TTL of 0: the operator deletes it as soon as it reads its cached spec.
    await finishedJob('done-ttl', { source, ttlSecondsAfterFinished: 0 }, true);
    expect(payloadStatus?.stdoutTail).toBe(STDOUT_TAIL);

    operator = await runOperator(kube, [namespace]);
    for (const name of ['done-payload', 'done-source']) {
      await kube.mergePatch(paths.ansibleJob(namespace, name), { metadata: { annotations: { 'ajo.dev/refresh': 'r-1' } } });
    }
    for (const [name, before] of [['done-payload', payloadStatus], ['done-source', sourceStatus]] as const) {
      const after = await waitFor(`${name} refresh answered`, async () => {
        const job = await getJob(kube, namespace, name);
        return job.status?.lastRefreshRequest === 'r-1' ? job : undefined;
      });
      // The write was the refresh answer and nothing else: the tail and results are intact.
      expect(after.status).toEqual({ ...before, lastRefreshRequest: 'r-1' });
    }

    // The finished jobs' pods are gone, and a reconcile of a finished job does not look for
    // them on the server: the synced pod cache has the answer.
    const podReads = (await operator.metrics.kubeRequests.get()).values.filter((sample) => sample.labels.verb === 'GET' && sample.labels.resource === 'pods' && sample.labels.code === '404');
    expect(podReads.reduce((sum, sample) => sum + sample.value, 0)).toBe(0);

    // The cached spec of a finished source job still parses and is read: its TTL is honoured.
    await waitFor('done-ttl deleted by its TTL', async () => ((await kube.getOrUndefined(paths.ansibleJob(namespace, 'done-ttl'))) ? undefined : true));
  });
});
