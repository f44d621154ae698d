import { decide, isPollDue } from '../../../operator/src/controller/lifecycle/decide.js';
import type { StoredAnsibleJob } from '../../../operator/src/api/ansible-job.js';
import type { Pod } from '../../../operator/src/controller/pod/pod-types.js';
import type { StatusDocument } from '../../../operator/src/protocol/status-document.js';
import { makeJob, makePod, podOptions, T0, terminated } from './fixtures.js';

const run = (job: StoredAnsibleJob, pod: Pod | undefined, now = T0, statusDocument?: StatusDocument) =>
  decide({ job, pod, now, podOptions, ...(statusDocument ? { statusDocument } : {}) });

const launched = (extra: Record<string, unknown> = {}) => ({ phase: 'Pending' as const, attempts: 1, podName: 'demo-1', startTime: new Date(T0).toISOString(), jid: 'uid-1', ...extra });

const doc: StatusDocument = {
  ident: 'demo-1', streamStatus: 'running', status: 'running', rc: null, eventCount: 12,
  lastEvent: { counter: 12, event: 'runner_on_ok', created: null },
  hostCounts: null, stdoutTail: 'TASK [ping] ok', explanation: null, artifactsDir: '/artifacts/artifacts/demo-1', startedAt: null, updatedAt: '',
};

describe('decide', () => {
  test('a new job records the launch in status and creates attempt 1', () => {
    const plan = run(makeJob({ async: 30 }), undefined);
    expect(plan.status).toMatchObject({ phase: 'Pending', attempts: 1, podName: 'demo-1', jid: 'uid-1', startTime: new Date(T0).toISOString() });
    expect(plan.status?.conditions?.find((c) => c.type === 'Launched')).toMatchObject({ status: 'True', reason: 'Launched' });
    expect(plan.createPod?.metadata.name).toBe('demo-1');
    expect((plan.createPod?.spec as any).activeDeadlineSeconds).toBe(30);
    expect(plan.events).toEqual([expect.objectContaining({ reason: 'Launched' })]);
    expect(plan.requeueAfterMs).toBe(30_000);
  });

  test('launch recorded but pod not seen yet: create it again under the same name, no new attempt', () => {
    const plan = run(makeJob({}, launched()), undefined);
    expect(plan.createPod?.metadata.name).toBe('demo-1');
    expect(plan.status?.attempts ?? 1).toBe(1);
    expect(plan.events).toEqual([]);
  });

  test('first sight of the pod records its uid; nothing else is created', () => {
    const plan = run(makeJob({}, launched()), makePod('Pending'));
    expect(plan.status?.podUID).toBe('pod-uid-1');
    expect(plan.createPod).toBeUndefined();
  });

  test('a pod that was seen and is gone is an interruption: retried as the next attempt', () => {
    const plan = run(makeJob({ backoffLimit: 1 }, launched({ podUID: 'pod-uid-1' })), undefined);
    expect(plan.status).toMatchObject({ attempts: 2, podName: 'demo-2', phase: 'Pending' });
    expect(plan.status?.podUID).toBeUndefined();
    expect(plan.createPod?.metadata.name).toBe('demo-2');
    expect(plan.events.map((e) => e.reason)).toEqual(['Interrupted', 'Launched']);
  });

  test('interruptions past backoffLimit fail the job', () => {
    const plan = run(makeJob({ backoffLimit: 1 }, launched({ attempts: 2, podName: 'demo-2', podUID: 'x' })), undefined);
    expect(plan.status).toMatchObject({ phase: 'Failed' });
    expect(plan.status?.conditions?.find((c) => c.type === 'Finished')?.reason).toBe('BackoffLimitExceeded');
    expect(plan.createPod).toBeUndefined();
  });

  test('a failed playbook is never retried', () => {
    const pod = makePod('Failed', { containerStatuses: [terminated('worker', 2), terminated('process', 0, 'Completed', '{"status":"failed","rc":2,"stdoutTail":"fatal: [localhost]: FAILED!"}')] });
    const plan = run(makeJob({ backoffLimit: 5 }, launched({ podUID: 'pod-uid-1' })), pod);
    expect(plan.status).toMatchObject({ phase: 'Failed', rc: 2, runnerStatus: 'failed', stdoutTail: 'fatal: [localhost]: FAILED!', completionTime: new Date(T0).toISOString() });
    expect(plan.createPod).toBeUndefined();
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'Failed' })]);
  });

  test('success records rc, host counts and the artifacts location', () => {
    const summary = { status: 'successful', rc: 0, eventCount: 9, hostCounts: { ok: 3, changed: 1, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 } };
    const pod = makePod('Succeeded', { containerStatuses: [terminated('worker', 0), terminated('process', 0, 'Completed', JSON.stringify(summary))] });
    const job = makeJob({}, launched({ podUID: 'pod-uid-1', artifacts: { volume: 'emptyDir (deleted with the pod)', path: 'artifacts/demo-1' } }));
    const plan = run(job, pod);
    expect(plan.status).toMatchObject({ phase: 'Succeeded', rc: 0, eventCount: 9, hostCounts: summary.hostCounts, artifacts: { path: 'artifacts/demo-1' } });
  });

  test('a finished job is never relaunched, whatever happened to its pod', () => {
    const finished = makeJob({}, launched({ phase: 'Succeeded', podUID: 'pod-uid-1', completionTime: new Date(T0).toISOString() }));
    const plan = run(finished, undefined, T0 + 3_600_000);
    expect(plan).toEqual({ events: [] });
  });

  test('TTL: requeue until due, then delete the job', () => {
    const job = makeJob({ ttlSecondsAfterFinished: 60 }, launched({ phase: 'Failed', completionTime: new Date(T0).toISOString() }));
    expect(run(job, undefined, T0 + 10_000)).toEqual({ events: [], requeueAfterMs: 50_000 });
    expect(run(job, undefined, T0 + 60_000)).toMatchObject({ deleteJob: true });
  });

  test('async exceeded by the operator timer: TimedOut and the pod is deleted', () => {
    const plan = run(makeJob({ async: 5 }, launched({ phase: 'Running', podUID: 'pod-uid-1' })), makePod('Running'), T0 + 5_000);
    expect(plan.status).toMatchObject({ phase: 'TimedOut' });
    expect(plan.deletePod).toBe('demo-1');
  });

  test('suspend before launch holds; suspend after launch cancels', () => {
    const held = run(makeJob({ suspend: true }), undefined);
    expect(held.createPod).toBeUndefined();
    expect(held.status?.conditions?.find((c) => c.type === 'Suspended')?.status).toBe('True');
    const cancelled = run(makeJob({ suspend: true }, launched({ phase: 'Running', podUID: 'pod-uid-1' })), makePod('Running'));
    expect(cancelled.status?.phase).toBe('Cancelled');
    expect(cancelled.deletePod).toBe('demo-1');
  });

  test('running: a poll updates progress and schedules the next one', () => {
    const job = makeJob({ poll: 5 }, launched({ phase: 'Running', podUID: 'pod-uid-1' }));
    expect(isPollDue(job, makePod('Running'), T0)).toBe(true);
    const plan = run(job, makePod('Running'), T0, doc);
    expect(plan.status).toMatchObject({ eventCount: 12, lastEvent: '12 runner_on_ok', stdoutTail: 'TASK [ping] ok', lastPollTime: new Date(T0).toISOString() });
    expect(plan.requeueAfterMs).toBe(5_000);
    const polled = makeJob({ poll: 5 }, plan.status);
    expect(isPollDue(polled, makePod('Running'), T0 + 4_000)).toBe(false);
    expect(isPollDue(polled, makePod('Running'), T0 + 5_000)).toBe(true);
  });

  test('poll 0: no polling until the refresh annotation changes; jid recorded', () => {
    const status = launched({ phase: 'Running', podUID: 'pod-uid-1' });
    const quiet = makeJob({ poll: 0 }, status);
    expect(isPollDue(quiet, makePod('Running'), T0 + 999_000)).toBe(false);
    expect(run(quiet, makePod('Running'), T0 + 999_000).requeueAfterMs).toBeUndefined();
    const asked = makeJob({ poll: 0 }, status, { annotations: { 'ajo.dev/refresh': 'r1' } });
    expect(isPollDue(asked, makePod('Running'), T0)).toBe(true);
    const plan = run(asked, makePod('Running'), T0, doc);
    expect(plan.status).toMatchObject({ jid: 'uid-1', lastRefreshRequest: 'r1', eventCount: 12 });
    expect(isPollDue(makeJob({ poll: 0 }, plan.status, { annotations: { 'ajo.dev/refresh': 'r1' } }), makePod('Running'), T0)).toBe(false);
  });

  test('ImagePullBackOff past its timeout fails the job and removes the pod', () => {
    const pod = makePod('Pending', { containerStatuses: [{ name: 'worker', state: { waiting: { reason: 'ErrImagePull' } } }] });
    const plan = run(makeJob({ imagePullBackOffTimeout: 10 }, launched({ podUID: 'pod-uid-1' })), pod, T0 + 10_000);
    expect(plan.status?.phase).toBe('Failed');
    expect(plan.status?.conditions?.find((c) => c.type === 'Finished')?.reason).toBe('ImagePullBackOff');
    expect(plan.deletePod).toBe('demo-1');
  });

  test('a podTemplate that breaks the restricted profile fails without a pod', () => {
    const plan = run(makeJob({ podTemplate: { spec: { hostPID: true } } }), undefined);
    expect(plan.status?.phase).toBe('Failed');
    expect(plan.status?.conditions?.find((c) => c.type === 'Finished')?.message).toContain('hostPID');
    expect(plan.createPod).toBeUndefined();
  });

  test('deciding twice on the same observation gives the same plan (idempotent)', () => {
    const job = makeJob({}, launched({ podUID: 'pod-uid-1' }));
    expect(run(job, makePod('Pending'), T0 + 1000)).toEqual(run(job, makePod('Pending'), T0 + 1000));
  });
});
