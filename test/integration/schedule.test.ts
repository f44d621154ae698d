/**
 * AnsibleSchedule against the real cluster: admission, every-minute runs, history limits,
 * Forbid and Replace, suspend, and an operator restart across a scheduled time. The jobs'
 * pods name a payload Secret that does not exist, so a job stays active (Pending) as long as
 * its pendingTimeout allows: "slow" and "finished" are set by the template, not by a sleep.
 * Every wait is derived from the next run the controller computed, never from a guessed delay.
 */
import type { KubeClient } from '../../operator/src/kube/client.js';
import { silentLogger } from '../../operator/src/kube/log.js';
import { createOperatorMetrics } from '../../operator/src/kube/metrics.js';
import { AnsibleScheduleController } from '../../operator/src/scheduler/controller.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { schedulePaths } from '../../operator/src/api/ansible-schedule.js';
import { parseScheduledTimeLabel, scheduledJobName } from '../../operator/src/schedule/index.js';
import { KubeApiError, SHA, client, createNamespace, deleteNamespace, describeCluster, ensureCrd, paths, runOperator, waitFor } from './harness.js';

const MINUTE = 60_000;
/** Slack on top of a computed time for the controller to act and the watch to deliver. */
const SLACK_MS = 45_000;

interface ScheduleObject {
  metadata: { name: string; uid: string; creationTimestamp: string };
  status?: {
    lastScheduleTime?: string;
    lastSkippedTime?: string;
    nextScheduleTime?: string;
    activeCount?: number;
    active?: { name: string; uid: string }[];
    conditions?: { type: string; status: string; message?: string }[];
  };
}
interface JobItem {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string; ownerReferences?: { kind: string; uid: string }[] };
  status?: { phase?: string };
}

const untilClock = (atMs: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, atMs - Date.now())));

describeCluster('AnsibleSchedule on a real API server', () => {
  const kube: KubeClient = client();
  // Concurrent tests may start before beforeAll hooks finish: each awaits the CRDs itself.
  let crdsReady: Promise<void> | undefined;

  /** A namespace and an operator watching it, for one test; torn down whatever happens. */
  async function withNamespace(prefix: string, body: (namespace: string, operators: RunningOperator[]) => Promise<void>) {
    await (crdsReady ??= ensureCrd(kube));
    const namespace = await createNamespace(kube, prefix);
    const operators: RunningOperator[] = [];
    try {
      await body(namespace, operators);
    } finally {
      await Promise.all(operators.map((operator) => operator.stop()));
      await deleteNamespace(kube, namespace);
    }
  }

  const scheduleBody = (name: string, spec: Record<string, unknown>, jobSpec: Record<string, unknown> = {}) => ({
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleSchedule',
    metadata: { name },
    spec: {
      schedule: '* * * * *',
      ...spec,
      jobTemplate: { metadata: { labels: { suite: 'schedule' } }, spec: { payload: { secret: { name: 'no-such-payload' }, sha256: SHA }, ...jobSpec } },
    },
  });
  const getSchedule = (namespace: string, name: string) => kube.get<ScheduleObject>(schedulePaths.schedule(namespace, name));
  const jobsOf = async (namespace: string, name: string) =>
    (await kube.get<{ items: JobItem[] }>(paths.ansibleJobs(namespace), { query: { labelSelector: `ajo.dev/schedule=${name}` } })).items;
  const scheduledAt = (job: JobItem) => parseScheduledTimeLabel(job.metadata.labels?.['ajo.dev/scheduled-time'] ?? '')?.getTime();
  const scheduleEvents = async (namespace: string, name: string) => {
    const list = await kube.get<{ items: { reason: string; message: string; involvedObject: { kind: string; name: string } }[] }>(paths.events(namespace));
    return list.items.filter((event) => event.involvedObject.kind === 'AnsibleSchedule' && event.involvedObject.name === name);
  };
  /** Events follow the actions they describe, so they are waited for, not read once. */
  const eventsWith = (namespace: string, name: string, reason: string, text: string, count = 1) =>
    waitFor(`${count} ${reason} event(s) of ${name} naming ${text}`, async () => {
      const found = (await scheduleEvents(namespace, name)).filter((event) => event.reason === reason && event.message.includes(text));
      return found.length >= count ? found : undefined;
    });
  /** The next run the controller computed, once it has written one. */
  const nextRunOf = async (namespace: string, name: string) =>
    Date.parse(await waitFor(`${name}: status.nextScheduleTime`, async () => (await getSchedule(namespace, name)).status?.nextScheduleTime));

  test('admission refuses a bad cron field and an unknown time zone with clear messages', async () => {
    await withNamespace('ajo-sched-adm', async (namespace) => {
      const refusal = async (spec: Record<string, unknown>) => {
        const error = await kube.create(schedulePaths.schedules(namespace), scheduleBody('bad', spec)).then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(KubeApiError);
        expect((error as InstanceType<typeof KubeApiError>).status).toBe(422);
        return (error as Error).message;
      };
      expect(await refusal({ schedule: '61 * * * *' })).toContain('minute field "61" must be *, a value 0-59');
      expect(await refusal({ schedule: '0 0 * * * *' })).toContain('must be five space-separated fields');
      expect(await refusal({ schedule: '@reboot' })).toContain('must be five space-separated fields');
      expect(await refusal({ timeZone: 'Mars/Olympus' })).toContain('unknown time zone Mars/Olympus');
      expect(await refusal({ timeZone: '+05:00' })).toContain('spec.timeZone');
      expect(await refusal({ concurrencyPolicy: 'Sometimes' })).toContain('spec.concurrencyPolicy');
    });
  });

  test.concurrent('what admission cannot parse gets the Invalid condition with the parser message, and never runs', async () => {
    await withNamespace('ajo-sched-inv', async (namespace, operators) => {
      operators.push(await runOperator(kube, [namespace]));
      await kube.create(schedulePaths.schedules(namespace), scheduleBody('backwards', { schedule: '5-3 * * * *' }));
      const invalid = await waitFor('Invalid condition', async () => (await getSchedule(namespace, 'backwards')).status?.conditions?.find((c) => c.type === 'Invalid' && c.status === 'True'));
      expect(invalid.message).toContain('runs backwards');
      expect((await getSchedule(namespace, 'backwards')).status?.nextScheduleTime).toBeUndefined();
      // The Event is created after the status write that set the condition: wait for it.
      expect((await eventsWith(namespace, 'backwards', 'InvalidSchedule', 'runs backwards')).map((event) => event.reason)).toContain('InvalidSchedule');
      expect(await jobsOf(namespace, 'backwards')).toEqual([]);
    });
  }, 120_000);

  test.concurrent('every minute: two runs with deterministic names and labels; the failed-history limit prunes the older', async () => {
    await withNamespace('ajo-sched-run', async (namespace, operators) => {
      const operator = await runOperator(kube, [namespace]);
      operators.push(operator);
      // pendingTimeout 1: each job fails about a second after its pod is made (its payload is missing).
      await kube.create(schedulePaths.schedules(namespace), scheduleBody('minutely', { failedJobsHistoryLimit: 1 }, { pendingTimeout: 1 }));
      const schedule = await getSchedule(namespace, 'minutely');
      const first = await nextRunOf(namespace, 'minutely');
      const second = first + MINUTE;
      const seen = new Map<string, JobItem>();
      const observe = async () => {
        for (const job of await jobsOf(namespace, 'minutely')) seen.set(job.metadata.name, job);
      };
      const firstName = scheduledJobName('minutely', new Date(first));
      const secondName = scheduledJobName('minutely', new Date(second));
      await waitFor('the first run', async () => (await observe(), seen.get(firstName)), first - Date.now() + SLACK_MS, 250);
      await waitFor('the second run, and the first pruned once the second failed', async () => {
        await observe();
        const now = await jobsOf(namespace, 'minutely');
        const secondJob = now.find((job) => job.metadata.name === secondName);
        const firstGone = !now.some((job) => job.metadata.name === firstName && !job.metadata.deletionTimestamp);
        return secondJob?.status?.phase === 'Failed' && firstGone ? true : undefined;
      }, second - Date.now() + SLACK_MS, 250);

      for (const [name, time] of [[firstName, first], [secondName, second]] as const) {
        const job = seen.get(name)!;
        expect(scheduledAt(job)).toBe(time);
        expect(job.metadata.labels).toMatchObject({ suite: 'schedule', 'ajo.dev/schedule': 'minutely' });
        expect(job.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'AnsibleSchedule', uid: schedule.metadata.uid })]);
      }
      const status = (await getSchedule(namespace, 'minutely')).status!;
      expect(Date.parse(status.lastScheduleTime!)).toBeGreaterThanOrEqual(second);
      expect(await eventsWith(namespace, 'minutely', 'Started', firstName)).toHaveLength(1);
      expect(await eventsWith(namespace, 'minutely', 'Started', secondName)).toHaveLength(1);
      expect(await operator.metrics.registry.getSingleMetricAsString('ajo_schedule_runs_total')).toMatch(/ajo_schedule_runs_total\{result="started"\} [2-9]/);
    });
  }, 300_000);

  test.concurrent('Forbid skips a run while the job still runs (Skipped event); Replace then deletes it and starts the new run', async () => {
    await withNamespace('ajo-sched-forbid', async (namespace, operators) => {
      operators.push(await runOperator(kube, [namespace]));
      // The default pendingTimeout (600 s) keeps each job active through the whole test.
      await kube.create(schedulePaths.schedules(namespace), scheduleBody('exclusive', { concurrencyPolicy: 'Forbid' }));
      const first = await nextRunOf(namespace, 'exclusive');
      const firstName = scheduledJobName('exclusive', new Date(first));
      await waitFor('the first run', async () => (await jobsOf(namespace, 'exclusive')).find((job) => job.metadata.name === firstName), first - Date.now() + SLACK_MS, 250);

      const second = first + MINUTE;
      const skipped = await waitFor('the second run skipped', async () => {
        const status = (await getSchedule(namespace, 'exclusive')).status;
        return status?.lastSkippedTime && Date.parse(status.lastSkippedTime) >= second ? status : undefined;
      }, second - Date.now() + SLACK_MS, 250);
      expect(Date.parse(skipped.lastSkippedTime!)).toBe(second);
      expect(skipped.active?.map((job) => job.name)).toEqual([firstName]);
      expect((await jobsOf(namespace, 'exclusive')).map((job) => job.metadata.name)).toEqual([firstName]);
      expect(await eventsWith(namespace, 'exclusive', 'Skipped', `${firstName} still active (concurrencyPolicy Forbid)`)).toHaveLength(1);

      await kube.mergePatch(schedulePaths.schedule(namespace, 'exclusive'), { spec: { concurrencyPolicy: 'Replace' } });
      const third = await waitFor('a run after the switch to Replace', async () => {
        const next = (await getSchedule(namespace, 'exclusive')).status?.nextScheduleTime;
        return next && Date.parse(next) > second ? Date.parse(next) : undefined;
      });
      const thirdName = scheduledJobName('exclusive', new Date(third));
      await waitFor('the replacing run, and the first job gone', async () => {
        const jobs = await jobsOf(namespace, 'exclusive');
        const firstLeft = jobs.some((job) => job.metadata.name === firstName && !job.metadata.deletionTimestamp);
        return jobs.some((job) => job.metadata.name === thirdName) && !firstLeft ? true : undefined;
      }, third - Date.now() + SLACK_MS, 250);
      expect(await eventsWith(namespace, 'exclusive', 'Replaced', `deleted ${firstName} to start the run of ${new Date(third).toISOString()}`)).toHaveLength(1);
      const status = (await getSchedule(namespace, 'exclusive')).status!;
      expect(status.active?.map((job) => job.name)).toEqual([thirdName]);
    });
  }, 360_000);

  test.concurrent('suspend stops runs: a run that comes due is consumed, not started', async () => {
    await withNamespace('ajo-sched-susp', async (namespace, operators) => {
      operators.push(await runOperator(kube, [namespace]));
      await kube.create(schedulePaths.schedules(namespace), scheduleBody('pausable', {}));
      const first = await nextRunOf(namespace, 'pausable');
      await waitFor('the first run', async () => ((await jobsOf(namespace, 'pausable')).length > 0 ? true : undefined), first - Date.now() + SLACK_MS, 250);

      await kube.mergePatch(schedulePaths.schedule(namespace, 'pausable'), { spec: { suspend: true } });
      // The controller has seen the suspension once it drops the next run from the status.
      await waitFor('the suspension observed', async () => ((await getSchedule(namespace, 'pausable')).status?.nextScheduleTime === undefined ? true : undefined));
      const jobsBefore = (await jobsOf(namespace, 'pausable')).map((job) => job.metadata.name).sort();
      const nextSlot = Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE;
      await waitFor('the next run consumed while suspended', async () => {
        const skippedAt = (await getSchedule(namespace, 'pausable')).status?.lastSkippedTime;
        return skippedAt && Date.parse(skippedAt) >= nextSlot ? true : undefined;
      }, nextSlot - Date.now() + SLACK_MS, 250);
      expect((await jobsOf(namespace, 'pausable')).map((job) => job.metadata.name).sort()).toEqual(jobsBefore);
      expect((await getSchedule(namespace, 'pausable')).status?.activeCount).toBe(jobsBefore.length);
    });
  }, 300_000);

  test.concurrent('an operator restart across a scheduled time yields exactly one run, even with two operators starting at once', async () => {
    await withNamespace('ajo-sched-restart', async (namespace, operators) => {
      const before = await runOperator(kube, [namespace]);
      await kube.create(schedulePaths.schedules(namespace), scheduleBody('durable', {}));
      let target = await nextRunOf(namespace, 'durable');
      // Stop well before a scheduled time: if the first is too close, let it run and aim at the next.
      if (target - Date.now() < 15_000) {
        await waitFor('the first run', async () => ((await jobsOf(namespace, 'durable')).length > 0 ? true : undefined), target - Date.now() + SLACK_MS, 250);
        target += MINUTE;
      }
      await before.stop();
      expect(Date.now()).toBeLessThan(target);
      const jobsBefore = await jobsOf(namespace, 'durable');
      expect(jobsBefore.every((job) => (scheduledAt(job) ?? 0) < target)).toBe(true);

      await untilClock(target + 2_000);
      operators.push(...(await Promise.all([runOperator(kube, [namespace]), runOperator(kube, [namespace])])));
      const targetName = scheduledJobName('durable', new Date(target));
      await waitFor('the run missed while stopped, started after the restart', async () => (await jobsOf(namespace, 'durable')).find((job) => job.metadata.name === targetName), SLACK_MS, 250);
      await waitFor('the status records it', async () => {
        const last = (await getSchedule(namespace, 'durable')).status?.lastScheduleTime;
        return last && Date.parse(last) >= target ? true : undefined;
      });
      const jobs = await jobsOf(namespace, 'durable');
      expect(jobs.filter((job) => scheduledAt(job) === target)).toHaveLength(1);
      expect(jobs.filter((job) => (scheduledAt(job) ?? 0) < target).map((job) => job.metadata.name).sort()).toEqual(jobsBefore.map((job) => job.metadata.name).sort());
      expect(await eventsWith(namespace, 'durable', 'Started', targetName)).toHaveLength(1);
    });
  }, 300_000);
  test.concurrent('a run whose status write meets a 409 is started once and told once: one job, one Started Event, one count', async () => {
    await withNamespace('ajo-sched-409', async (namespace) => {
      const schedule = await kube.create<ScheduleObject>(schedulePaths.schedules(namespace), scheduleBody('contested', {}));
      // The first run is due at the minute after creation; the controller's clock stands just past it.
      const due = Math.floor(Date.parse(schedule.metadata.creationTimestamp) / MINUTE) * MINUTE + MINUTE;
      // The real API server, with one interleaving forced: right after the run's job is
      // created, someone else changes the schedule, so the status write that follows carries
      // a stale resourceVersion and gets a real 409 Conflict.
      let changedUnderneath = false;
      const contested: KubeClient = Object.assign(Object.create(kube) as KubeClient, {
        create: async <T>(path: string, body: unknown): Promise<T> => {
          const made = await kube.create<T>(path, body);
          if (path === paths.ansibleJobs(namespace) && !changedUnderneath) {
            changedUnderneath = true;
            await kube.mergePatch(schedulePaths.schedule(namespace, 'contested'), { metadata: { annotations: { 'test.ajo.dev/changed': 'underneath' } } });
          }
          return made;
        },
      });
      const metrics = createOperatorMetrics();
      const controller = new AnsibleScheduleController({ client: contested, namespaces: [namespace], concurrency: 1, logger: silentLogger, metrics, now: () => due + 1_000 });
      await controller.start();
      try {
        await waitFor('the retried status write records the run', async () => ((await getSchedule(namespace, 'contested')).status?.activeCount === 1 ? true : undefined));
      } finally {
        // Waits for the reconcile in flight: nothing is recorded after this.
        await controller.stop();
      }
      expect(changedUnderneath).toBe(true);
      const runName = scheduledJobName('contested', new Date(due));
      expect((await jobsOf(namespace, 'contested')).map((job) => job.metadata.name)).toEqual([runName]);
      expect((await scheduleEvents(namespace, 'contested')).filter((event) => event.reason === 'Started').map((event) => event.message)).toEqual([expect.stringContaining(runName)]);
      expect((await metrics.scheduleRuns.get()).values.filter((value) => value.labels.result === 'started').map((value) => value.value)).toEqual([1]);
    });
  }, 120_000);
});
