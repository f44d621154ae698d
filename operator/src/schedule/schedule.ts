/**
 * A schedule as the controller will use it: cron line, time zone and spread compiled once, then
 * its runs (nextRun, runsBetween) and CronJob's missed-run rule (dueRun). Pure: time comes in as
 * arguments, never from the clock.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { type CronExpression, parseCron } from './cron.js';
import { cronInstants, nextCronInstant, shortestIntervalSeconds } from './times.js';
import { DEFAULT_TIME_ZONE, timeZoneError } from './zone.js';

/** The schedule fields of a spec, as they arrive. */
export const ScheduleFields = z.object({
  schedule: z.string(),
  timeZone: z.string().optional(),
  spreadSeconds: z.number().int().min(0).optional(),
});
export type ScheduleFields = z.infer<typeof ScheduleFields>;

/** A compiled schedule: what nextRun, runsBetween and dueRun work on. */
export interface Schedule {
  readonly cron: CronExpression;
  readonly timeZone: string;
  /** The window asked for, and this schedule's place in it: its runs start this much after the cron time. */
  readonly spreadSeconds: number;
  readonly offsetSeconds: number;
}

/**
 * One run. Its identity is the cron time (`scheduledTime`: the job name, the label and
 * `lastScheduleTime` come from it, so changing the spread never re-runs a slot); it starts at
 * `startTime`, the cron time plus the schedule's spread offset.
 */
export interface Run {
  readonly scheduledTime: Date;
  readonly startTime: Date;
}

export type ScheduleResult = { ok: true; schedule: Schedule } | { ok: false; error: string };

/**
 * The stable offset of one schedule inside a spread window: sha256 of "namespace/name", its first
 * six bytes read as an integer, modulo the window. The same on every replica and after every
 * restart, and spread evenly enough over windows up to days (48 bits against at most ~10^6 s).
 */
export function spreadOffsetSeconds(namespace: string, name: string, windowSeconds: number): number {
  if (windowSeconds <= 0) return 0;
  const digest = createHash('sha256').update(`${namespace}/${name}`).digest();
  return digest.readUIntBE(0, 6) % windowSeconds;
}

/**
 * Compiles a schedule's fields for the schedule `namespace/name`, or says in one line what is wrong.
 *
 * A spread window longer than the shortest interval between two cron times is refused rather than
 * clamped: a run could then start after the next one is due, which would make Forbid and Replace
 * act on the wrong run, and a silent clamp would move every offset when the cron line changes.
 */
export function compileSchedule(namespace: string, name: string, fields: ScheduleFields): ScheduleResult {
  const parsed = parseCron(fields.schedule);
  if (!parsed.ok) return parsed;
  const timeZone = fields.timeZone ?? DEFAULT_TIME_ZONE;
  const zoneError = timeZoneError(timeZone);
  if (zoneError) return { ok: false, error: zoneError };
  const spreadSeconds = fields.spreadSeconds ?? 0;
  if (spreadSeconds > 0) {
    const shortest = shortestIntervalSeconds(parsed.cron);
    if (spreadSeconds > shortest) {
      return {
        ok: false,
        error: `spreadSeconds ${spreadSeconds} is longer than the shortest interval between runs of "${parsed.cron.source}" (${shortest} s): a run would start after the next one is due; use at most ${shortest}`,
      };
    }
  }
  return { ok: true, schedule: { cron: parsed.cron, timeZone, spreadSeconds, offsetSeconds: spreadOffsetSeconds(namespace, name, spreadSeconds) } };
}

const runAt = (schedule: Schedule, scheduledMs: number): Run => ({
  scheduledTime: new Date(scheduledMs),
  startTime: new Date(scheduledMs + schedule.offsetSeconds * 1000),
});

/** Runs in start order whose start time is strictly after `afterMs`. */
function* runsAfter(schedule: Schedule, afterMs: number): Generator<Run, void, undefined> {
  for (const scheduledMs of cronInstants(schedule.cron, schedule.timeZone, afterMs - schedule.offsetSeconds * 1000)) yield runAt(schedule, scheduledMs);
}

/** The first run that starts strictly after `after`, or null if none within the search horizon. */
export function nextRun(schedule: Schedule, after: Date): Run | null {
  const scheduledMs = nextCronInstant(schedule.cron, schedule.timeZone, after.getTime() - schedule.offsetSeconds * 1000);
  return scheduledMs === null ? null : runAt(schedule, scheduledMs);
}

/** The runs that start in (from, to], in order, at most `limit` of them. */
export function runsBetween(schedule: Schedule, from: Date, to: Date, limit: number): Run[] {
  const runs: Run[] = [];
  if (limit <= 0) return runs;
  for (const run of runsAfter(schedule, from.getTime())) {
    if (run.startTime.getTime() > to.getTime()) break;
    runs.push(run);
    if (runs.length >= limit) break;
  }
  return runs;
}

/** How many missed runs dueRun counts before it only says "more". Kubernetes CronJob warns past 100, too. */
export const MISSED_COUNT_LIMIT = 100;

export interface DueInput {
  schedule: Schedule;
  now: Date;
  /** The scheduled time of the last run started (status.lastScheduleTime); absent before the first. */
  lastScheduleTime?: Date | undefined;
  /** When the schedule was created: with no last run, only runs that start after it count. */
  createdAt: Date;
  /** A run may start at most this late; absent means any lateness is fine (CronJob's default). */
  startingDeadlineSeconds?: number | undefined;
}

export interface Due {
  /** The one run to start now: the most recent due run, when it is within the deadline. */
  run: Run | null;
  /** The most recent due run when it was past the deadline, and so not started (an Event says so). */
  tooLate: Run | null;
  /** Due runs that will never start: all due runs but `run`, counted up to MISSED_COUNT_LIMIT. */
  missed: number;
  /** True when there were more due runs than MISSED_COUNT_LIMIT (`missed` is then the limit). */
  missedMore: boolean;
  /** The first run that starts after `now`: when to look again. */
  next: Run | null;
}

/**
 * CronJob's missed-run rule, after Kubernetes' cronjob controller (mostRecentScheduleTime): of
 * every run that came due since the last one started (or since creation) at most one starts,
 * the most recent, and only if it is no later than startingDeadlineSeconds; the rest are
 * counted as missed, never started. An operator down for a week starts one run, not a storm.
 *
 * Unlike the controller, the count covers all runs since the last start, also those before the
 * deadline window, so an Event can say how many were lost; and the most recent due run is found
 * without walking every missed one (windows of growing size, searched from `now` backwards).
 */
export function dueRun(input: DueInput): Due {
  const { schedule, now } = input;
  const nowMs = now.getTime();
  const offsetMs = schedule.offsetSeconds * 1000;
  // Runs after the last started slot, or, with none, runs that start after the schedule existed.
  const sinceStartMs = input.lastScheduleTime ? input.lastScheduleTime.getTime() + offsetMs : input.createdAt.getTime();
  const next = nextRun(schedule, now);

  let due = 0;
  let latest: Run | null = null;
  for (const run of runsAfter(schedule, sinceStartMs)) {
    if (run.startTime.getTime() > nowMs) break;
    due++;
    latest = run;
    if (due > MISSED_COUNT_LIMIT) break;
  }
  const missedMore = due > MISSED_COUNT_LIMIT;
  if (missedMore) latest = latestRunUpTo(schedule, Math.max(sinceStartMs, 0), nowMs);
  if (!latest) return { run: null, tooLate: null, missed: 0, missedMore: false, next };

  const lateMs = nowMs - latest.startTime.getTime();
  const tooLate = input.startingDeadlineSeconds !== undefined && lateMs > input.startingDeadlineSeconds * 1000;
  const notStarted = missedMore ? MISSED_COUNT_LIMIT : tooLate ? due : due - 1;
  return { run: tooLate ? null : latest, tooLate: tooLate ? latest : null, missed: notStarted, missedMore, next };
}

/** The run with the latest start time in (sinceMs, nowMs], looking back over growing windows. */
function latestRunUpTo(schedule: Schedule, sinceMs: number, nowMs: number): Run | null {
  const windowsMs = [3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000, 10 * 366 * 86_400_000];
  for (const windowMs of windowsMs) {
    let latest: Run | null = null;
    for (const run of runsAfter(schedule, Math.max(sinceMs, nowMs - windowMs))) {
      if (run.startTime.getTime() > nowMs) break;
      latest = run;
    }
    if (latest) return latest;
  }
  return null;
}
