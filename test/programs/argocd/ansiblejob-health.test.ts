/**
 * The Argo CD health check for AnsibleJob (docs/argocd/ansiblejob-health.lua) run by the real
 * lua5.4 over every phase, on jobs whose status the operator's own decide() wrote.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { decide } from '../../../operator/src/controller/lifecycle/decide.js';
import type { StatusDocument } from '../../../operator/src/protocol/status-document.js';
import type { StoredAnsibleJob } from '../../../operator/src/api/ansible-job.js';
import type { Pod } from '../../../operator/src/controller/pod/pod-types.js';
import { makeJob, makePod, podOptions, T0, terminated } from '../../unit/controller/fixtures.js';
import { evaluateHealthScript } from '../../helpers/lua.js';
import { missingPrograms } from '../../helpers/programs.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';

const SCRIPT = path.resolve('docs/argocd/ansiblejob-health.lua');
const health = (job: unknown) => evaluateHealthScript(SCRIPT, JSON.parse(JSON.stringify(job)));

/** The job after the operator reconciled it once against this pod (and status document) at this time. */
function reconciled(job: StoredAnsibleJob, pod: Pod | undefined, seconds = 0, statusDocument?: StatusDocument): StoredAnsibleJob {
  const plan = decide({ job, pod, now: T0 + seconds * 1000, podOptions, ...(statusDocument ? { statusDocument } : {}) });
  return plan.status ? { ...job, status: plan.status } : job;
}

const summary = (status: string, rc: number, counts: { ok: number; changed: number; failures: number; unreachable: number }) =>
  JSON.stringify({ status, rc, eventCount: 14, hostCounts: { ...counts, skipped: 0, rescued: 0, ignored: 0 } });
const finishedPod = (workerRc: number, processMessage: string) =>
  makePod(workerRc === 0 ? 'Succeeded' : 'Failed', { containerStatuses: [terminated('worker', workerRc), terminated('process', 0, 'Completed', processMessage)] });
const progress: StatusDocument = {
  ident: 'demo-1', streamStatus: 'running', status: 'running', rc: null, eventCount: 12,
  lastEvent: { counter: 12, event: 'runner_on_ok', created: null },
  hostCounts: null, stdoutTail: 'TASK [ping] ok', explanation: null, artifactsDir: '/artifacts/artifacts/demo-1', startedAt: null, updatedAt: '',
};

const launched = () => reconciled(makeJob({ async: 600 }), undefined);
const running = () => reconciled(launched(), makePod('Running'), 2);
const withGeneration = (job: StoredAnsibleJob, generation: number, spec: Partial<StoredAnsibleJob['spec']> = {}): StoredAnsibleJob => ({
  ...job,
  metadata: { ...job.metadata, generation },
  spec: { ...job.spec, ...spec },
});

describeOrSkip('Argo CD health of an AnsibleJob (lua5.4)', missingPrograms('lua5.4'), () => {
  test('no status yet: Progressing, waiting for the operator', () => {
    expect(health(makeJob())).toEqual({ status: 'Progressing', message: 'waiting for the ajo operator to launch the job' });
  });

  test('suspended before launch: Suspended, with or without the operator having seen it', () => {
    expect(health(makeJob({ suspend: true }))).toEqual({
      status: 'Suspended',
      message: 'held by spec.suspend: the job launches when it is false',
    });
    const held = reconciled(makeJob({ suspend: true }), undefined);
    expect(held.status).toMatchObject({ phase: 'Pending', observedGeneration: 1 });
    expect(health(held)).toEqual({ status: 'Suspended', message: 'spec.suspend is true; the job will launch when it is false' });
  });

  test('Pending after launch and after a retry: Progressing with what it waits for', () => {
    expect(health(launched())).toEqual({ status: 'Progressing', message: 'Pending: launch: pod demo-1 (attempt 1)' });
    const retried = reconciled(running(), undefined, 5);
    expect(retried.status).toMatchObject({ phase: 'Pending', attempts: 2 });
    expect(health(retried)).toEqual({ status: 'Progressing', message: 'Pending: retry after PodDeleted: pod demo-2 (attempt 2)' });
  });

  test('resumed after a hold: Progressing as launched, the Resumed condition does not hide the launch', () => {
    const held = reconciled(makeJob({ suspend: true }), undefined);
    const resumed = reconciled(withGeneration(held, 2, { suspend: false }), undefined, 3);
    expect(health(resumed)).toEqual({ status: 'Progressing', message: 'Pending: launch: pod demo-1 (attempt 1)' });
  });

  test('Running: Progressing with the pod and, once polled, the last event', () => {
    expect(health(running())).toEqual({ status: 'Progressing', message: 'Running: pod demo-1 is running' });
    const polled = reconciled(running(), makePod('Running'), 12, progress);
    expect(health(polled)).toEqual({ status: 'Progressing', message: 'Running: pod demo-1 is running; event 12 runner_on_ok' });
  });

  test('Queued (a phase still to come): Progressing with the queue condition, or the phase alone', () => {
    const queued = (conditions: unknown[]) => ({ ...makeJob(), status: { phase: 'Queued', observedGeneration: 1, conditions } });
    const condition = { type: 'Queued', status: 'True', reason: 'QueueFull', message: 'waiting for a queue slot: 3 jobs ahead', lastTransitionTime: new Date(T0).toISOString() };
    expect(health(queued([condition]))).toEqual({ status: 'Progressing', message: 'Queued: waiting for a queue slot: 3 jobs ahead' });
    expect(health(queued([]))).toEqual({ status: 'Progressing', message: 'Queued: waiting for a queue slot' });
  });

  test('Succeeded: Healthy with rc and host counts', () => {
    const job = reconciled(running(), finishedPod(0, summary('successful', 0, { ok: 3, changed: 1, failures: 0, unreachable: 0 })), 20);
    expect(health(job)).toEqual({
      status: 'Healthy',
      message: 'Succeeded (Completed): worker exited with rc 0; rc=0 ok=3 changed=1 failures=0 unreachable=0',
    });
  });

  test('Failed playbook: Degraded with the reason, runner status, rc and host counts', () => {
    const job = reconciled(running(), finishedPod(2, summary('failed', 2, { ok: 4, changed: 1, failures: 1, unreachable: 1 })), 20);
    expect(job.status?.phase).toBe('Failed');
    expect(health(job)).toEqual({
      status: 'Degraded',
      message: 'Failed (PlaybookFailed): worker exited with rc 2; runner=failed rc=2 ok=4 changed=1 failures=1 unreachable=1',
    });
  });

  test('Failed without a result (interrupted past backoffLimit, pod never started): Degraded with the reason alone', () => {
    let job = reconciled(makeJob({ backoffLimit: 0 }), undefined);
    job = reconciled(job, makePod('Running'), 2);
    job = reconciled(job, undefined, 5);
    expect(health(job)).toEqual({
      status: 'Degraded',
      message: 'Failed (BackoffLimitExceeded): interrupted 1 time(s), backoffLimit 0; last: PodDeleted: pod demo-1 was deleted',
    });
    const stuck = reconciled(reconciled(makeJob(), undefined), makePod('Pending'), 601);
    expect(health(stuck)).toEqual({ status: 'Degraded', message: 'Failed (PendingTimeout): pod still Pending after 600s' });
  });

  test('TimedOut: Degraded with the deadline', () => {
    const job = reconciled(running(), makePod('Running'), 600);
    expect(job.status?.phase).toBe('TimedOut');
    expect(health(job)).toEqual({ status: 'Degraded', message: 'TimedOut (DeadlineExceeded): async 600s exceeded' });
  });

  test('Cancelled by spec.suspend: Suspended while the manifest says so, Degraded once it says run again', () => {
    const cancelled = reconciled(withGeneration(running(), 2, { suspend: true }), makePod('Running'), 8);
    expect(cancelled.status?.phase).toBe('Cancelled');
    expect(health(cancelled)).toEqual({
      status: 'Suspended',
      message: 'Cancelled (Suspended): spec.suspend was set while the job was running',
    });
    const unsuspended = reconciled(withGeneration(cancelled, 3, { suspend: false }), undefined, 9);
    expect(unsuspended.status).toEqual(cancelled.status);
    expect(health(unsuspended)).toEqual({
      status: 'Degraded',
      message: 'Cancelled (Suspended): spec.suspend was set while the job was running; a cancelled job never runs again: delete and re-create it to run it',
    });
  });

  test('a spec the operator has not observed yet: Progressing until it has', () => {
    const edited = withGeneration(running(), 2, { suspend: true });
    expect(health(edited)).toEqual({
      status: 'Progressing',
      message: 'waiting for the operator to observe generation 2 (status is of generation 1)',
    });
  });

  test('a finished job stays Healthy though its generation moves on (the operator no longer observes it)', () => {
    const done = reconciled(running(), finishedPod(0, summary('successful', 0, { ok: 1, changed: 0, failures: 0, unreachable: 0 })), 20);
    const touched = reconciled(withGeneration(done, 5, { suspend: true }), undefined, 30);
    expect(touched.status?.observedGeneration).toBe(1);
    expect(health(touched).status).toBe('Healthy');
  });

  test('a phase the script does not know: Unknown, naming it', () => {
    expect(health({ ...makeJob(), status: { phase: 'Exploded', observedGeneration: 1 } })).toEqual({
      status: 'Unknown',
      message: 'phase Exploded is not known to this health check',
    });
  });

  describe('the harness itself', () => {
    const temp = tempDirs('ajo-lua-health-');
    const probe = (body: string) => {
      const file = path.join(temp(), 'probe.lua');
      writeFileSync(file, body);
      return file;
    };

    test('obj reaches the script unchanged: escapes, UTF-8, numbers, nested arrays, nulls', () => {
      const text = 'quote " back \\ nl \n tab \t nul \u0000 café 🚀';
      const script = probe(
        'return { status = "Healthy", message = obj.a.text .. "|" .. tostring(obj.n) .. "|" .. tostring(obj.f) .. "|" .. tostring(#obj.list) .. "|" .. obj.list[2][1] .. "|" .. tostring(obj.gone) .. "|" .. tostring(obj.yes) }',
      );
      expect(evaluateHealthScript(script, { a: { text }, n: 42, f: 0.5, list: [1, ['x'], {}], gone: null, yes: false })).toEqual({
        status: 'Healthy',
        message: `${text}|42|0.5|3|x|nil|false`,
      });
    });

    test('like Argo CD, the script gets no string library: string methods fail', () => {
      expect(() => evaluateHealthScript(probe('return { status = "Healthy", message = ("x"):upper() }'), {})).toThrow(/script error/);
      expect(() => evaluateHealthScript(probe('return { status = "Healthy", message = string.upper("x") }'), {})).toThrow(/script error/);
    });

    test('a status Argo CD would not accept fails the test instead of passing as Unknown', () => {
      expect(() => evaluateHealthScript(probe('return { status = "Fine" }'), {})).toThrow(/Invalid option|Healthy/);
    });
  });
});
