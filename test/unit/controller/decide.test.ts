import { decide, isPollDue } from '../../../operator/src/controller/lifecycle/decide.js';
import type { StoredAnsibleJob } from '../../../operator/src/api/ansible-job.js';
import type { Pod } from '../../../operator/src/controller/pod/pod-types.js';
import type { StatusDocument } from '../../../operator/src/protocol/status-document.js';
import { makeJob, makePod, makeSourceJob, podOptions, T0, terminated } from './fixtures.js';

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

  describe('podReplacementPolicy: never two attempts at once', () => {
    const terminating = () =>
      makePod('Running', { deletion: true, conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager' }], containerStatuses: [{ name: 'worker', state: { running: { startedAt: new Date(T0).toISOString() } } }] });

    test('Failed (the default): a Terminating pod gets no successor yet; a condition and one Event say why', () => {
      const job = makeJob({ backoffLimit: 2 }, launched({ podUID: 'pod-uid-1', phase: 'Running' }));
      const plan = run(job, terminating());
      expect(plan.createPod).toBeUndefined();
      expect(plan.status?.attempts).toBe(1);
      expect(plan.status?.conditions?.find((c) => c.type === 'AwaitingTermination')).toMatchObject({ status: 'True', reason: 'Disrupted' });
      expect(plan.events).toEqual([{ type: 'Warning', reason: 'Interrupted', message: expect.stringContaining('the next attempt starts once it has ended (podReplacementPolicy: Failed)') }]);
      const again = run(makeJob({ backoffLimit: 2 }, plan.status), terminating(), T0 + 60_000);
      expect(again.events).toEqual([]);
      expect(again.createPod).toBeUndefined();
    });

    test('Failed: once the pod is gone, the next attempt, with the reason it was interrupted for', () => {
      const waiting = run(makeJob({ backoffLimit: 2 }, launched({ podUID: 'pod-uid-1', phase: 'Running' })), terminating());
      const plan = run(makeJob({ backoffLimit: 2 }, waiting.status), undefined, T0 + 300_000);
      expect(plan.status).toMatchObject({ attempts: 2, podName: 'demo-2' });
      expect(plan.createPod?.metadata.name).toBe('demo-2');
      expect(plan.status?.conditions?.find((c) => c.type === 'AwaitingTermination')).toMatchObject({ status: 'False', reason: 'Ended' });
      expect(plan.status?.conditions?.find((c) => c.type === 'Interrupted')).toMatchObject({ reason: 'Disrupted' });
    });

    test('TerminatingOrFailed: the next attempt at once, as before', () => {
      const plan = run(makeJob({ backoffLimit: 2, podReplacementPolicy: 'TerminatingOrFailed' }, launched({ podUID: 'pod-uid-1', phase: 'Running' })), terminating());
      expect(plan.createPod?.metadata.name).toBe('demo-2');
    });

    test('a deleted pod that ended with the play done (worker rc 0) is judged, never run again', () => {
      const ended = makePod('Succeeded', { deletion: true, containerStatuses: [terminated('worker', 0), terminated('process', 0, 'Completed', '{"status":"successful","rc":0}')] });
      const plan = run(makeJob({ backoffLimit: 2 }, launched({ podUID: 'pod-uid-1', phase: 'Running' })), ended);
      expect(plan.status).toMatchObject({ phase: 'Succeeded', attempts: 1 });
      expect(plan.createPod).toBeUndefined();
    });

    test('a deleted pod that ended with its worker killed is an interruption, not a failed playbook', () => {
      const ended = makePod('Failed', { deletion: true, containerStatuses: [terminated('worker', 137, 'Error'), terminated('process', 143, 'Error')] });
      const plan = run(makeJob({ backoffLimit: 2 }, launched({ podUID: 'pod-uid-1', phase: 'Running' })), ended);
      expect(plan.status).toMatchObject({ attempts: 2 });
      expect(plan.status?.conditions?.find((c) => c.type === 'Interrupted')).toMatchObject({ reason: 'PodDeleted' });
    });
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

describe('decide: jobs written as spec.source', () => {
  const SHA256 = 'b'.repeat(64);
  const COMMIT = 'c'.repeat(40);
  const launchedSource = (extra: Record<string, unknown> = {}) => ({ ...launched({ podName: 'site-1', jid: 'uid-2', podUID: 'pod-uid-1' }), ...extra });
  const composed = { commit: COMMIT, sha256: SHA256, bytes: 2048, files: 3 };
  const runningDocument = (extra: Record<string, unknown> = {}) => ({ ...doc, composed, ...extra }) as StatusDocument;
  const running = () => makePod('Running', { containerStatuses: [{ name: 'worker', state: { running: { startedAt: new Date(T0).toISOString() } } }] });

  test('what compose made (in the sidecar\'s status document) is recorded once, with an Event naming the repository and commit', () => {
    const pod = running();
    const plan = decide({ job: makeSourceJob({}, launchedSource()), pod, now: T0 + 5_000, podOptions, statusDocument: runningDocument() });
    expect(plan.status?.source).toEqual({ commit: COMMIT, streamSha256: SHA256, bytes: 2048 });
    expect(plan.events).toContainEqual({
      type: 'Normal',
      reason: 'Composed',
      message: `composed 3 files from ssh://git@git.fixtures.svc/srv/git/site.git at ${COMMIT}: 2048 bytes, sha256 ${SHA256}`,
    });
    const again = decide({ job: makeSourceJob({}, { ...launchedSource(), ...plan.status }), pod, now: T0 + 6_000, podOptions, statusDocument: runningDocument() });
    expect(again.events.filter((event) => event.reason === 'Composed')).toEqual([]);
  });

  test('a job that ends before any poll: what compose made comes from the sidecar\'s termination message', () => {
    const summary = JSON.stringify({ ...doc, streamStatus: 'finished', status: 'successful', rc: 0, composed });
    const pod = makePod('Succeeded', { containerStatuses: [terminated('worker', 0, 'Completed'), terminated('process', 0, 'Completed', summary)] });
    const plan = run(makeSourceJob({}, launchedSource()), pod);
    expect(plan.status).toMatchObject({ phase: 'Succeeded', source: { commit: COMMIT, streamSha256: SHA256, bytes: 2048 } });
  });

  test('a retry composes anew: status.source is cleared at the launch of the next attempt', () => {
    const recorded = launchedSource({ source: { commit: COMMIT, streamSha256: SHA256, bytes: 2048 } });
    const plan = run(makeSourceJob({}, recorded), makePod('Failed', { reason: 'Evicted' }));
    expect(plan.status).toMatchObject({ attempts: 2, podName: 'site-2' });
    expect(plan.status?.source).toBeUndefined();
  });

  test('the Composed Event says where compose spent its time', () => {
    const document = runningDocument({ composed: { sha256: SHA256, bytes: 10, files: 1, timingsMs: { startupMs: 180, gitMs: 90, transmitMs: 30 } } });
    const plan = decide({ job: makeSourceJob({}, launchedSource()), pod: running(), now: T0 + 5_000, podOptions, statusDocument: document });
    expect(plan.events.find((event) => event.reason === 'Composed')?.message).toMatch(/ in startup 180 ms, git 90 ms, transmit 30 ms$/);
  });

  test.each([
    ['AuthFailed', 'git@git: Permission denied (publickey).'],
    ['HostKeyMismatch', 'WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!'],
    ['RevisionNotFound', "revision 'v9' not found"],
  ])('compose failed with %s: the job fails with that reason and git\'s message, never retried', (reason, message) => {
    const sidecar = terminated('process', 3, 'Error', JSON.stringify({ reason, message }));
    const pod = makePod('Failed', { containerStatuses: [terminated('worker', 1, 'Error'), sidecar] });
    const plan = run(makeSourceJob({}, launchedSource()), pod);
    expect(plan.status).toMatchObject({ phase: 'Failed', attempts: 1 });
    expect(plan.status?.conditions?.find((c) => c.type === 'Finished')).toMatchObject({ reason, message });
    expect(plan.events).toContainEqual({ type: 'Warning', reason: 'Failed', message: `${reason}: ${message}` });
    expect(plan.createPod).toBeUndefined();
  });

  test('the verdict of a failed compose is known while the waiting worker is still ending', () => {
    const sidecar = terminated('process', 3, 'Error', JSON.stringify({ reason: 'RevisionNotFound', message: "revision 'v9' not found" }));
    const pod = makePod('Running', { containerStatuses: [{ name: 'worker', state: { running: { startedAt: new Date(T0).toISOString() } } }, sidecar] });
    const plan = run(makeSourceJob({}, launchedSource()), pod);
    expect(plan.status?.conditions?.find((c) => c.type === 'Finished')).toMatchObject({ reason: 'RevisionNotFound' });
  });

  test('a sidecar killed while composing (no outcome): the worker\'s own end decides, as for any sidecar that dies', () => {
    const pod = makePod('Failed', { containerStatuses: [terminated('worker', 1, 'Error'), terminated('process', 137, 'Error')] });
    const plan = run(makeSourceJob({}, launchedSource()), pod);
    expect(plan.status?.conditions?.find((c) => c.type === 'Finished')).toMatchObject({ reason: 'PlaybookFailed' });
  });

  test('a missing Secret: a Waiting condition and one Event while it is missing, Failed after pendingTimeout naming it', () => {
    const warning = { reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "secret-0" : secret "fleet-key" not found' };
    const job = makeSourceJob({}, launchedSource());
    const pod = makePod('Pending');
    const first = decide({ job, pod, now: T0 + 5_000, podOptions, podWarning: warning });
    expect(first.status?.conditions?.find((c) => c.type === 'Waiting')).toMatchObject({ status: 'True', ...warning });
    expect(first.events).toEqual([{ type: 'Warning', reason: 'FailedMount', message: `pod demo-1: ${warning.message}` }]);
    expect(first.requeueAfterMs).toBe(10_000);
    const second = decide({ job: { ...job, status: first.status }, pod, now: T0 + 15_000, podOptions, podWarning: warning });
    expect(second.events).toEqual([]);
    const late = decide({ job: { ...job, status: first.status }, pod, now: T0 + 600_000, podOptions, podWarning: warning });
    expect(late.status?.phase).toBe('Failed');
    expect(late.status?.conditions?.find((c) => c.type === 'Finished')).toMatchObject({
      reason: 'PendingTimeout',
      message: `pod still Pending after 600s: ${warning.message}`,
    });
  });

  test('the Secret appears: the Waiting condition turns False', () => {
    const warning = { reason: 'FailedMount', message: 'secret "fleet-key" not found' };
    const job = makeSourceJob({}, launchedSource());
    const first = decide({ job, pod: makePod('Pending'), now: T0 + 5_000, podOptions, podWarning: warning });
    const started = makePod('Pending', { containerStatuses: [{ name: 'process', state: { running: { startedAt: new Date(T0).toISOString() } } }] });
    const next = decide({ job: { ...job, status: first.status }, pod: started, now: T0 + 20_000, podOptions });
    expect(next.status?.conditions?.find((c) => c.type === 'Waiting')).toMatchObject({ status: 'False', reason: 'Started' });
  });
});
