import { classifyPod, PROCESS_GRACE_MS } from '../../../operator/src/controller/lifecycle/classify.js';
import { makeJob, makePod, T0, terminated } from './fixtures.js';

const spec = makeJob({ pendingTimeout: 60, imagePullBackOffTimeout: 30 }).spec;

describe('classifyPod', () => {
  test('succeeded pod carries rc 0 and the sidecar summary', () => {
    const summary = JSON.stringify({ status: 'successful', rc: 0, hostCounts: { ok: 2, changed: 1, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 } });
    const observed = classifyPod(makePod('Succeeded', { containerStatuses: [terminated('worker', 0), terminated('process', 0, 'Completed', summary)] }), spec, T0);
    expect(observed).toMatchObject({ kind: 'succeeded', rc: 0, summary: { status: 'successful', hostCounts: { ok: 2, changed: 1 } } });
  });

  test('a failed playbook is Failed with its rc, not an interruption', () => {
    const observed = classifyPod(makePod('Failed', { containerStatuses: [terminated('worker', 2), terminated('process', 0, 'Completed', '{"status":"failed","rc":2,"explanation":"task failed"}')] }), spec, T0);
    expect(observed).toMatchObject({ kind: 'failed', rc: 2, reason: 'PlaybookFailed' });
    expect(observed.kind === 'failed' && observed.message).toContain('task failed');
  });

  test('a non-JSON termination message is kept as the explanation', () => {
    const observed = classifyPod(makePod('Failed', { containerStatuses: [terminated('worker', 1), terminated('process', 1, 'Error', 'Traceback: boom')] }), spec, T0);
    expect(observed).toMatchObject({ kind: 'failed', rc: 1, summary: { explanation: 'Traceback: boom' } });
  });

  test.each([
    ['OOMKilled', makePod('Failed', { containerStatuses: [terminated('worker', 137, 'OOMKilled'), terminated('process', 0)] })],
    ['Evicted', makePod('Failed', { reason: 'Evicted' })],
    ['NodeLost', makePod('Failed', { reason: 'NodeLost' })],
    ['Disrupted', makePod('Failed', { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager' }], containerStatuses: [terminated('worker', 137)] })],
    ['PodDeleted', makePod('Running', { deletion: true })],
  ])('%s is an interruption', (reason, pod) => {
    expect(classifyPod(pod, spec, T0)).toMatchObject({ kind: 'interrupted', reason });
  });

  test('activeDeadlineSeconds exceeded is TimedOut', () => {
    expect(classifyPod(makePod('Failed', { reason: 'DeadlineExceeded' }), spec, T0)).toMatchObject({ kind: 'timedOut' });
  });

  test('pending: deadline, then PendingTimeout', () => {
    const pod = makePod('Pending');
    expect(classifyPod(pod, spec, T0 + 10_000)).toMatchObject({ kind: 'pending', deadlineAt: T0 + 60_000 });
    expect(classifyPod(pod, spec, T0 + 60_000)).toMatchObject({ kind: 'cannotStart', reason: 'PendingTimeout' });
  });

  test('ImagePullBackOff fails after its own, shorter timeout', () => {
    const pod = makePod('Pending', { containerStatuses: [{ name: 'worker', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope"' } } }] });
    expect(classifyPod(pod, spec, T0 + 10_000)).toMatchObject({ kind: 'pending', waitingReason: 'ImagePullBackOff', deadlineAt: T0 + 30_000 });
    const observed = classifyPod(pod, spec, T0 + 30_000);
    expect(observed).toMatchObject({ kind: 'cannotStart', reason: 'ImagePullBackOff' });
    expect(observed.kind === 'cannotStart' && observed.message).toContain('nope');
  });

  test('InvalidImageName fails at once', () => {
    const pod = makePod('Pending', { containerStatuses: [{ name: 'worker', state: { waiting: { reason: 'InvalidImageName' } } }] });
    expect(classifyPod(pod, spec, T0)).toMatchObject({ kind: 'cannotStart', reason: 'InvalidImageName' });
  });

  test('running; a sidecar that outlives the worker past the grace is judged by the worker', () => {
    const pod = makePod('Running', { containerStatuses: [terminated('worker', 3), { name: 'process', state: { running: {} } }] });
    expect(classifyPod(pod, spec, T0 + 6000)).toMatchObject({ kind: 'running', podIP: '10.0.0.5', workerFinishedAt: T0 + 5000 });
    expect(classifyPod(pod, spec, T0 + 5000 + PROCESS_GRACE_MS)).toMatchObject({ kind: 'failed', rc: 3 });
  });
});
