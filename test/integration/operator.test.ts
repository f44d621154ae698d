/**
 * The operator against a real kube-apiserver + etcd (no kubelet needed): admission,
 * launches, restarts, interruptions, timers, Events, leader election.
 */
import type { KubeClient } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import {
  KubeApiError, paths, ansibleJob, client, condition, createNamespace, deleteNamespace, describeCluster, ensureCrd, eventReasons, getJob, podsOf, runOperator, SHA, waitFor,
} from './harness.js';

describeCluster('AnsibleJob operator on a real API server', () => {
  let kube: KubeClient;
  let namespace: string;
  const operators: RunningOperator[] = [];
  const start = async (extra = {}) => {
    const operator = await runOperator(kube, [namespace], extra);
    operators.push(operator);
    return operator;
  };

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
    namespace = await createNamespace(kube, 'ajo-it');
  });
  afterEach(async () => {
    await Promise.all(operators.splice(0).map((operator) => operator.stop()));
  });
  afterAll(async () => {
    if (namespace) await deleteNamespace(kube, namespace);
  });

  const create = (name: string, spec: Record<string, unknown> = {}) => kube.create(paths.ansibleJobs(namespace), ansibleJob(name, spec));
  const rejection = async (body: unknown): Promise<string> => {
    try {
      await kube.create(paths.ansibleJobs(namespace), body);
    } catch (error) {
      expect(error).toBeInstanceOf(KubeApiError);
      expect((error as InstanceType<typeof KubeApiError>).status).toBe(422);
      return (error as Error).message;
    }
    throw new Error('the API server accepted an invalid AnsibleJob');
  };

  test('admission rejects bad specs with clear messages', async () => {
    expect(await rejection(ansibleJob('both', { payload: { secret: { name: 's' }, volume: { claimName: 'c', path: 'p' }, sha256: SHA } }))).toContain(
      'spec.payload: Invalid value: must name exactly one of secret or volume',
    );
    expect(await rejection(ansibleJob('neither', { payload: { sha256: SHA } }))).toContain('must name exactly one of secret or volume');
    expect(await rejection(ansibleJob('badsha', { payload: { secret: { name: 's' }, sha256: 'ABC' } }))).toContain("spec.payload.sha256 in body should match '^[a-f0-9]{64}$'");
    expect(await rejection(ansibleJob('poll', { async: 5, poll: 10 }))).toContain('poll must not exceed async');
    expect(await rejection(ansibleJob('escape', { payload: { volume: { claimName: 'c', path: 'a/../../etc' }, sha256: SHA } }))).toContain("must not contain '..' segments");
    expect(await rejection(ansibleJob('worker', { worker: 'bash' }))).toContain('spec.worker: Unsupported value: "bash"');
    expect(await rejection(ansibleJob('x'.repeat(53)))).toContain('metadata.name must be at most 52 characters');
    // async alone is fine: poll's default follows it.
    await create('async-only', { async: 5, suspend: true });
  });

  test('one pod per attempt; status records the launch first; Events for each transition', async () => {
    await create('launch', { backoffLimit: 0 });
    await start();
    const job = await waitFor('launch recorded with pod uid', async () => {
      const current = await getJob(kube, namespace, 'launch');
      return current.status?.podUID ? current : undefined;
    });
    expect(job.status).toMatchObject({ phase: 'Pending', attempts: 1, podName: 'launch-1', jid: job.metadata.uid });
    const pods = await podsOf(kube, namespace, 'launch');
    expect(pods.map((pod) => pod.metadata.name)).toEqual(['launch-1']);
    expect(pods[0]?.metadata.uid).toBe(job.status?.podUID);
    const pod = await kube.get<any>(paths.pod(namespace, 'launch-1'));
    expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'AnsibleJob', uid: job.metadata.uid, controller: true })]);
    expect(pod.spec).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false, securityContext: { runAsNonRoot: true } });
    expect(await waitFor('Launched event', async () => ((await eventReasons(kube, namespace, 'launch')).includes('Launched') ? true : undefined))).toBe(true);
  });

  test('restarting the operator mid-job loses nothing and launches nothing twice', async () => {
    await create('restart');
    const first = await start();
    const launched = await waitFor('launch', async () => {
      const current = await getJob(kube, namespace, 'restart');
      return current.status?.podUID ? current : undefined;
    });
    await first.stop();
    operators.splice(operators.indexOf(first), 1);
    const second = await start();
    await waitFor('second operator synced', async () => (second.controller()?.hasSynced() ? true : undefined));
    // Give the new operator a few reconciles' worth of time to do something wrong.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const after = await getJob(kube, namespace, 'restart');
    expect(after.status).toMatchObject({ attempts: 1, podName: 'restart-1', podUID: launched.status?.podUID, startTime: (launched.status as any).startTime });
    expect((await podsOf(kube, namespace, 'restart')).map((pod) => pod.metadata.uid)).toEqual([launched.status?.podUID]);
    expect((await second.metrics.podsCreated.get()).values.reduce((sum, { value }) => sum + value, 0)).toBe(0);
  });

  test('a deleted pod is an interruption: retried up to backoffLimit, then Failed', async () => {
    await create('interrupt', { backoffLimit: 1 });
    await start();
    const waitForAttempt = (attempt: number) =>
      waitFor(`attempt ${attempt} launched`, async () => {
        const current = await getJob(kube, namespace, 'interrupt');
        return current.status?.attempts === attempt && current.status.podUID ? current : undefined;
      });
    await waitForAttempt(1);
    await kube.delete(paths.pod(namespace, 'interrupt-1'), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    const retried = await waitForAttempt(2);
    expect(retried.status?.podName).toBe('interrupt-2');
    expect(condition(retried, 'Interrupted')).toMatchObject({ status: 'True', reason: 'PodDeleted' });
    await kube.delete(paths.pod(namespace, 'interrupt-2'), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    const failed = await waitFor('Failed', async () => {
      const current = await getJob(kube, namespace, 'interrupt');
      return current.status?.phase === 'Failed' ? current : undefined;
    });
    expect(condition(failed, 'Finished')).toMatchObject({ reason: 'BackoffLimitExceeded' });
    expect(failed.status?.attempts).toBe(2);
    // Events follow the status write; wait for the last one rather than racing it.
    const reasons = await waitFor('Failed event', async () => {
      const recorded = await eventReasons(kube, namespace, 'interrupt');
      return recorded.includes('Failed') ? recorded : undefined;
    });
    expect(reasons.filter((reason) => reason === 'Interrupted')).toHaveLength(2);
    // Nothing relaunches a finished job.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await podsOf(kube, namespace, 'interrupt')).filter((pod) => !pod.metadata.deletionTimestamp)).toHaveLength(0);
  });

  test('async exceeded → TimedOut (operator timer), pod deleted, then TTL deletes the job', async () => {
    await create('deadline', { async: 2, ttlSecondsAfterFinished: 2 });
    await start();
    const timedOut = await waitFor('TimedOut', async () => {
      const current = await getJob(kube, namespace, 'deadline');
      return current.status?.phase === 'TimedOut' ? current : undefined;
    });
    expect(condition(timedOut, 'Finished')).toMatchObject({ reason: 'DeadlineExceeded' });
    // Status is written before acting, so the pod's deletion follows the TimedOut phase.
    await waitFor('the pod deleted', async () => {
      const pod = await kube.getOrUndefined<any>(paths.pod(namespace, 'deadline-1'));
      return pod === undefined || pod.metadata.deletionTimestamp !== undefined ? true : undefined;
    });
    await waitFor('Launched and TimedOut events', async () => {
      const recorded = await eventReasons(kube, namespace, 'deadline');
      return recorded.includes('Launched') && recorded.includes('TimedOut') ? true : undefined;
    });
    await waitFor('TTL deletion', async () => ((await kube.getOrUndefined(paths.ansibleJob(namespace, 'deadline'))) === undefined ? true : undefined), 15_000);
  });

  test('suspend: holds a new job; cancels a launched one', async () => {
    await create('held', { suspend: true });
    await create('cancel');
    await start();
    await waitFor('cancel launched', async () => ((await getJob(kube, namespace, 'cancel')).status?.podUID ? true : undefined));
    const held = await waitFor('held recorded', async () => {
      const current = await getJob(kube, namespace, 'held');
      return condition(current, 'Suspended') ? current : undefined;
    });
    expect(held.status?.attempts ?? 0).toBe(0);
    expect(await podsOf(kube, namespace, 'held')).toHaveLength(0);
    await kube.mergePatch(paths.ansibleJob(namespace, 'cancel'), { spec: { suspend: true } });
    const cancelled = await waitFor('Cancelled', async () => {
      const current = await getJob(kube, namespace, 'cancel');
      return current.status?.phase === 'Cancelled' ? current : undefined;
    });
    expect(condition(cancelled, 'Finished')?.reason).toBe('Suspended');
    await waitFor('pod gone', async () => ((await podsOf(kube, namespace, 'cancel')).every((pod) => pod.metadata.deletionTimestamp) ? true : undefined));
  });

  test('poll: 0 records the jid and answers refresh requests', async () => {
    await create('fire', { poll: 0 });
    await start();
    const launched = await waitFor('launch', async () => {
      const current = await getJob(kube, namespace, 'fire');
      return current.status?.podUID ? current : undefined;
    });
    expect(launched.status?.jid).toBe(launched.metadata.uid);
    await kube.mergePatch(paths.ansibleJob(namespace, 'fire'), { metadata: { annotations: { 'ajo.dev/refresh': 'r-1' } } });
    await waitFor('refresh answered', async () => ((await getJob(kube, namespace, 'fire')).status?.lastRefreshRequest === 'r-1' ? true : undefined));
  });

  test('a podTemplate that breaks the restricted profile fails the job without a pod', async () => {
    await create('escalate', { podTemplate: { spec: { hostNetwork: true } } });
    await start();
    const failed = await waitFor('Failed', async () => {
      const current = await getJob(kube, namespace, 'escalate');
      return current.status?.phase === 'Failed' ? current : undefined;
    });
    expect(condition(failed, 'Finished')).toMatchObject({ reason: 'PodTemplateRejected' });
    expect(condition(failed, 'Finished')?.message).toContain('spec.hostNetwork must not be true');
    expect(await podsOf(kube, namespace, 'escalate')).toHaveLength(0);
  });

  test('two replicas: exactly one leader; the standby takes over when it leaves', async () => {
    const election = { namespace, leaseName: 'ajo-it-leader', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 };
    const a = await start({ leaderElection: election, identity: 'replica-a' });
    const b = await start({ leaderElection: election, identity: 'replica-b' });
    await waitFor('a leader', async () => (a.isLeader() || b.isLeader() ? true : undefined));
    for (let sample = 0; sample < 10; sample += 1) {
      expect(Number(a.isLeader()) + Number(b.isLeader())).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
    expect(standby.controller()).toBeUndefined();
    await leader.stop();
    operators.splice(operators.indexOf(leader), 1);
    await waitFor('standby took over', async () => (standby.isLeader() ? true : undefined), 10_000);
    const lease = await kube.get<any>(paths.lease(namespace, 'ajo-it-leader'));
    expect(lease.spec.holderIdentity).toBe(standby.identity);
  });
});
