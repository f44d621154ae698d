// The pure decision of the AnsibleSchedule controller: schedule, jobs and time in; create, skip, replace, prune out.
import { AnsibleSchedule, type AnsibleScheduleSpecInput, type StoredAnsibleSchedule } from '../../../operator/src/api/ansible-schedule.js';
import type { Phase } from '../../../operator/src/api/ansible-job.js';
import { decide, jobsToPrune, MAX_REQUEUE_MS, type ObservedJob } from '../../../operator/src/scheduler/decide.js';

const CREATED = '2026-03-01T10:00:30Z';
const SHA = 'b'.repeat(64);

function schedule(spec: Partial<AnsibleScheduleSpecInput> = {}, status: Record<string, unknown> = {}): StoredAnsibleSchedule {
  return AnsibleSchedule.parse({
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleSchedule',
    metadata: { name: 'nightly', namespace: 'ops', uid: 'sched-uid', resourceVersion: '7', generation: 2, creationTimestamp: CREATED },
    spec: { schedule: '* * * * *', jobTemplate: { metadata: { labels: { team: 'ops' } }, spec: { payload: { secret: { name: 'p' }, sha256: SHA } } }, ...spec },
    status,
  }) as StoredAnsibleSchedule;
}

const at = (iso: string) => new Date(iso);
const job = (minute: string, phase?: Phase, extra: Partial<ObservedJob> = {}): ObservedJob => ({
  name: `nightly-${Math.floor(Date.parse(`2026-03-01T${minute}:00Z`) / 60_000)}`,
  uid: `uid-${minute}`,
  scheduledTime: at(`2026-03-01T${minute}:00Z`),
  phase,
  deleting: false,
  ...extra,
});

describe('AnsibleSchedule decide', () => {
  test('before the first time: nothing runs; next run and a wake-up at exactly that time', () => {
    const plan = decide({ schedule: schedule(), jobs: [], now: at('2026-03-01T10:00:45Z') });
    expect(plan.create).toBeNull();
    expect(plan.status.nextScheduleTime).toBe('2026-03-01T10:01:00.000Z');
    expect(plan.requeueAfterMs).toBe(15_000);
    expect(plan.status.conditions).toEqual([expect.objectContaining({ type: 'Invalid', status: 'False' })]);
  });

  test('a due run creates its job: deterministic name, scheduled-time and schedule labels, owner reference, template spec', () => {
    const plan = decide({ schedule: schedule(), jobs: [], now: at('2026-03-01T10:01:00.020Z') });
    const manifest = plan.create!.manifest;
    expect(manifest.metadata.name).toBe(`nightly-${Date.parse('2026-03-01T10:01:00Z') / 60_000}`);
    expect(manifest.metadata.labels).toEqual({ team: 'ops', 'ajo.dev/schedule': 'nightly', 'ajo.dev/scheduled-time': '20260301T100100Z' });
    expect(manifest.metadata.ownerReferences).toEqual([
      { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleSchedule', name: 'nightly', uid: 'sched-uid', controller: true, blockOwnerDeletion: true },
    ]);
    expect(manifest.spec.payload).toEqual({ secret: { name: 'p', key: 'stream' }, sha256: SHA });
    expect(plan.status.lastScheduleTime).toBe('2026-03-01T10:01:00.000Z');
    expect(plan.status.nextScheduleTime).toBe('2026-03-01T10:02:00.000Z');
    expect(plan.events.map((event) => event.reason)).toEqual(['Started']);
    expect(plan.results).toEqual(['started']);
    expect(plan.requeueAfterMs).toBe(59_980);
  });

  test('a run whose job exists is done: the job label counts even when the status write was lost', () => {
    const plan = decide({ schedule: schedule(), jobs: [job('10:01', 'Running')], now: at('2026-03-01T10:01:30Z') });
    expect(plan.create).toBeNull();
    expect(plan.status.lastScheduleTime).toBe('2026-03-01T10:01:00.000Z');
    expect(plan.status.active).toEqual([{ name: job('10:01').name, uid: 'uid-10:01' }]);
    expect(plan.status.activeCount).toBe(1);
  });

  test('after downtime at most one catch-up run, the latest, with a MissedRuns warning', () => {
    const plan = decide({ schedule: schedule({}, { lastScheduleTime: '2026-03-01T10:01:00.000Z' }), jobs: [], now: at('2026-03-01T11:30:10Z') });
    expect(plan.create!.run.scheduledTime).toEqual(at('2026-03-01T11:30:00Z'));
    expect(plan.events.map((event) => event.reason)).toEqual(['MissedRuns', 'Started']);
    expect(plan.events[0]!.message).toMatch(/^88 earlier run/);
  });

  test('startingDeadlineSeconds: a run later than the deadline is missed, consumed, and not retried', () => {
    const late = decide({ schedule: schedule({ startingDeadlineSeconds: 5 }, { lastScheduleTime: '2026-03-01T10:01:00.000Z' }), jobs: [], now: at('2026-03-01T10:02:20Z') });
    expect(late.create).toBeNull();
    expect(late.results).toEqual(['missed']);
    expect(late.events.map((event) => event.reason)).toEqual(['MissedDeadline']);
    expect(late.status.lastSkippedTime).toBe('2026-03-01T10:02:00.000Z');
    const again = decide({ schedule: schedule({ startingDeadlineSeconds: 5 }, late.status), jobs: [], now: at('2026-03-01T10:02:40Z') });
    expect(again.events).toEqual([]);
    expect(again.statusChanged).toBe(false);
  });

  test('Allow starts a run next to an active job', () => {
    const plan = decide({ schedule: schedule(), jobs: [job('10:01', 'Running')], now: at('2026-03-01T10:02:00Z') });
    expect(plan.create!.run.scheduledTime).toEqual(at('2026-03-01T10:02:00Z'));
    expect(plan.deleteJobs).toEqual([]);
  });

  test('Forbid skips a run while a job is active: Skipped event, consumed, never started later', () => {
    const jobs = [job('10:01', 'Running')];
    const plan = decide({ schedule: schedule({ concurrencyPolicy: 'Forbid' }), jobs, now: at('2026-03-01T10:02:00Z') });
    expect(plan.create).toBeNull();
    expect(plan.results).toEqual(['skipped']);
    expect(plan.events).toEqual([expect.objectContaining({ reason: 'Skipped', message: expect.stringContaining(jobs[0]!.name) })]);
    expect(plan.status.lastSkippedTime).toBe('2026-03-01T10:02:00.000Z');
    // The job finishes at 10:02:30: the skipped run stays skipped; the 10:03 run starts.
    const finished = [job('10:01', 'Succeeded', { completionTime: '2026-03-01T10:02:30Z' })];
    const after = decide({ schedule: schedule({ concurrencyPolicy: 'Forbid' }, plan.status), jobs: finished, now: at('2026-03-01T10:02:30Z') });
    expect(after.create).toBeNull();
    expect(after.status.lastSuccessfulTime).toBe('2026-03-01T10:02:30Z');
    const next = decide({ schedule: schedule({ concurrencyPolicy: 'Forbid' }, after.status), jobs: finished, now: at('2026-03-01T10:03:00Z') });
    expect(next.create!.run.scheduledTime).toEqual(at('2026-03-01T10:03:00Z'));
  });

  test('Replace deletes the active job and creates the new one', () => {
    const plan = decide({ schedule: schedule({ concurrencyPolicy: 'Replace' }), jobs: [job('10:01', 'Pending')], now: at('2026-03-01T10:02:00Z') });
    expect(plan.deleteJobs).toEqual([{ name: job('10:01').name, uid: 'uid-10:01', why: 'Replaced' }]);
    expect(plan.create!.run.scheduledTime).toEqual(at('2026-03-01T10:02:00Z'));
    expect(plan.results).toEqual(['replaced', 'started']);
    expect(plan.events.map((event) => event.reason)).toEqual(['Replaced', 'Started']);
    expect(plan.status.active).toEqual([]);
  });

  test('history limits keep the newest succeeded and failed jobs and prune the rest, never active or deleting ones', () => {
    const jobs = [
      job('10:01', 'Succeeded'), job('10:02', 'Succeeded'), job('10:03', 'Succeeded'), job('10:04', 'Failed'), job('10:05', 'TimedOut'),
      job('10:06', 'Cancelled'), job('10:07', 'Running'), job('10:00', 'Succeeded', { deleting: true }),
    ];
    expect(jobsToPrune(jobs, 2, 1).map((pruned) => pruned.uid)).toEqual(['uid-10:01', 'uid-10:04', 'uid-10:05']);
    const plan = decide({ schedule: schedule({ successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1 }, { lastScheduleTime: '2026-03-01T10:07:00.000Z' }), jobs, now: at('2026-03-01T10:07:30Z') });
    expect(plan.deleteJobs.map((deleted) => [deleted.uid, deleted.why])).toEqual([['uid-10:01', 'Pruned'], ['uid-10:04', 'Pruned'], ['uid-10:05', 'Pruned']]);
    expect(jobsToPrune(jobs, 0, 0)).toHaveLength(6);
  });

  test('suspend: no run starts; a run due meanwhile is consumed, so resuming does not start it', () => {
    const suspended = decide({ schedule: schedule({ suspend: true }, { lastScheduleTime: '2026-03-01T10:01:00.000Z' }), jobs: [], now: at('2026-03-01T10:02:05Z') });
    expect(suspended.create).toBeNull();
    expect(suspended.events).toEqual([]);
    expect(suspended.status.lastSkippedTime).toBe('2026-03-01T10:02:00.000Z');
    expect(suspended.status.nextScheduleTime).toBeUndefined();
    expect(suspended.requeueAfterMs).toBe(55_000);
    const resumed = decide({ schedule: schedule({}, suspended.status), jobs: [], now: at('2026-03-01T10:02:30Z') });
    expect(resumed.create).toBeNull();
    expect(resumed.status.nextScheduleTime).toBe('2026-03-01T10:03:00.000Z');
  });

  test('an invalid schedule never runs: Invalid condition with the parser message, one Warning, no wake-up', () => {
    const plan = decide({ schedule: schedule({ schedule: '0 0 30 2 *' }), jobs: [], now: at('2026-03-01T10:05:00Z') });
    expect(plan.create).toBeNull();
    expect(plan.requeueAfterMs).toBeUndefined();
    const invalid = plan.status.conditions!.find((condition) => condition.type === 'Invalid')!;
    expect(invalid).toMatchObject({ status: 'True', reason: 'InvalidSchedule', message: expect.stringContaining('never runs') });
    expect(plan.events.map((event) => event.reason)).toEqual(['InvalidSchedule']);
    const again = decide({ schedule: schedule({ schedule: '0 0 30 2 *' }, plan.status), jobs: [], now: at('2026-03-01T10:06:00Z') });
    expect(again.events).toEqual([]);
    expect(again.statusChanged).toBe(false);
    const zone = decide({ schedule: schedule({ timeZone: 'Mars/Olympus' }), jobs: [], now: at('2026-03-01T10:05:00Z') });
    expect(zone.status.conditions![0]!.message).toMatch(/not a known IANA time zone/);
  });

  test('spread: the run starts at its offset but keeps the cron time as its identity', () => {
    const spread = schedule({ schedule: '@hourly', spreadSeconds: 600 });
    const before = decide({ schedule: spread, jobs: [], now: at('2026-03-01T10:00:40Z') });
    const start = Date.parse(before.status.nextScheduleTime!);
    // The 10:00 run starts inside 10:00-10:10 (after the schedule was created at 10:00:30, so it counts).
    expect(start).toBeGreaterThan(Date.parse('2026-03-01T10:00:40Z'));
    expect(start).toBeLessThan(Date.parse('2026-03-01T10:10:00Z'));
    expect(before.requeueAfterMs).toBe(start - Date.parse('2026-03-01T10:00:40Z'));
    expect(decide({ schedule: spread, jobs: [], now: new Date(start - 1) }).create).toBeNull();
    const plan = decide({ schedule: spread, jobs: [], now: new Date(start) });
    expect(plan.create!.manifest.metadata.labels['ajo.dev/scheduled-time']).toBe('20260301T100000Z');
    expect(plan.status.lastScheduleTime).toBe('2026-03-01T10:00:00.000Z');
  });

  test('an edited cron line: a time of the new line since the last run is due once, unless past the deadline', () => {
    const edited = { schedule: '30 * * * *' };
    const last = { lastScheduleTime: '2026-03-01T10:00:00.000Z' };
    const plan = decide({ schedule: schedule(edited, last), jobs: [job('10:00', 'Succeeded')], now: at('2026-03-01T10:45:00Z') });
    expect(plan.create!.run.scheduledTime).toEqual(at('2026-03-01T10:30:00Z'));
    const bounded = decide({ schedule: schedule({ ...edited, startingDeadlineSeconds: 60 }, last), jobs: [], now: at('2026-03-01T10:45:00Z') });
    expect(bounded.create).toBeNull();
    expect(bounded.results).toEqual(['missed']);
  });

  test('an unchanged status is not written again; a far next run wakes up within the timer limit', () => {
    const first = decide({ schedule: schedule({ schedule: '@yearly' }), jobs: [], now: at('2026-03-01T10:01:00Z') });
    expect(first.statusChanged).toBe(true);
    expect(first.requeueAfterMs).toBe(MAX_REQUEUE_MS);
    const second = decide({ schedule: schedule({ schedule: '@yearly' }, first.status), jobs: [], now: at('2026-03-01T10:02:00Z') });
    expect(second.statusChanged).toBe(false);
  });
});
