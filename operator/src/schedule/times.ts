/**
 * The instants a cron line names in a time zone, in order, with the DST rules of docs/schedules.md.
 *
 * Hand-written rather than taken from npm: cron-parser 5.10.6 (the well-kept candidate, on luxon)
 * was measured against the rules we follow and differs where it matters. For "30 2 * * *" in
 * America/New_York it runs 2024-03-10 at 03:30 EDT, inside-the-gap times moved past the gap,
 * where Kubernetes CronJob (robfig/cron's SpecSchedule.Next) skips them; and its errors do not
 * name the field ("1-" in the minute field says "expected range 0-7"). Wrapping it would mean
 * re-deciding every gap answer it gives, so the ~100 lines below own the arithmetic instead.
 *
 * The rules, in wall-clock terms:
 * - a wall time that a spring-forward gap skips does not run that day (as robfig/cron, CronJob);
 * - a wall time that a fall-back repeats runs once, at its first occurrence, unless the line's hour
 *   field allows every hour: then it is a cadence ("every 15 minutes", "hourly"), and it runs at
 *   both occurrences, by elapsed time, as robfig/cron does. Kubernetes CronJob runs a fixed-hour
 *   line twice in the repeated hour (kubernetes/kubernetes#121594, open as a bug); Debian's cron
 *   runs it once, which is what a "daily at 01:30" means.
 */
import { type CronExpression, dateMatches } from './cron.js';
import { dayProbes, instantsOfWallTime, MS, wallTimeAt } from './zone.js';

/**
 * How far a search looks. A valid line matches at least once in eight years (29 February on a
 * non-leap century is the worst case: 2096 to 2104); ten allows for a time that a zone's DST gap
 * swallows in one of those years.
 */
export const SEARCH_YEARS = 10;

/** No zone's offset has exceeded ±15:00 since clocks were standardised; a bound for ordering days. */
const MAX_OFFSET_MS = 15 * 3_600_000;

/** The weekday (0 Sunday) and month (1-12) of a date given in wallMs form at midnight. */
function dateParts(dayWall: number): { month: number; day: number; weekday: number } {
  const date = new Date(dayWall);
  return { month: date.getUTCMonth() + 1, day: date.getUTCDate(), weekday: date.getUTCDay() };
}

/** The instants of one local date's matching wall times, earliest first. */
function instantsOfDate(cron: CronExpression, zone: string, dayWall: number, afterMs: number): number[] {
  const everyHour = cron.hours.length === 24;
  const probes = dayProbes(zone, dayWall);
  const found: number[] = [];
  for (const hour of cron.hours) {
    for (const minute of cron.minutes) {
      const wall = dayWall + hour * 3_600_000 + minute * MS.MINUTE;
      if (wall + MAX_OFFSET_MS <= afterMs) continue; // every instant of it is earlier
      const instants = instantsOfWallTime(zone, wall, probes);
      for (const instant of everyHour ? instants : instants.slice(0, 1)) if (instant > afterMs) found.push(instant);
    }
  }
  return found.sort((a, b) => a - b);
}

/**
 * Every instant (milliseconds since the epoch) that the line names in `zone` strictly after
 * `afterMs`, in increasing order, for SEARCH_YEARS.
 *
 * Dates are walked in the zone's calendar. The instants of one date can interleave with the next
 * date's only where a fall-back crosses midnight, so an instant is handed out once no later
 * date can produce an earlier one: every instant of a date D is at least D's midnight minus
 * MAX_OFFSET_MS.
 */
export function* cronInstants(cron: CronExpression, zone: string, afterMs: number): Generator<number, void, undefined> {
  const start = wallTimeAt(zone, afterMs);
  // The date before: a fall-back across midnight can put a date's last times after the next date began.
  let dayWall = Date.UTC(start.year, start.month - 1, start.day) - MS.DAY;
  const endWall = dayWall + SEARCH_YEARS * 366 * MS.DAY;
  let pending: number[] = [];
  for (; dayWall <= endWall; dayWall += MS.DAY) {
    const { month, day, weekday } = dateParts(dayWall);
    if (dateMatches(cron, month, day, weekday)) {
      const instants = instantsOfDate(cron, zone, dayWall, afterMs);
      pending = pending.length === 0 ? instants : [...pending, ...instants].sort((a, b) => a - b);
    }
    const laterDatesFrom = dayWall + MS.DAY - MAX_OFFSET_MS;
    while (pending.length > 0 && pending[0]! < laterDatesFrom) yield pending.shift()!;
  }
  yield* pending;
}

/** The first instant the line names in `zone` strictly after `afterMs`, or null within SEARCH_YEARS. */
export function nextCronInstant(cron: CronExpression, zone: string, afterMs: number): number | null {
  for (const instant of cronInstants(cron, zone, afterMs)) return instant;
  return null;
}

/**
 * The shortest time between two consecutive runs of the line on the wall clock, in seconds (DST
 * can shorten one interval a year by the zone's shift). Used to bound a spread window.
 */
export function shortestIntervalSeconds(cron: CronExpression): number {
  const timesOfDay = cron.hours.flatMap((hour) => cron.minutes.map((minute) => hour * 60 + minute));
  let shortest = Infinity;
  for (let index = 1; index < timesOfDay.length; index++) shortest = Math.min(shortest, timesOfDay[index]! - timesOfDay[index - 1]!);
  // Consecutive matching dates over nine years from 2000, which hold every gap the day fields
  // can make (the Gregorian exceptions aside: 2100 is not a leap year, and only lengthens a gap).
  const daySpan = timesOfDay.at(-1)! - timesOfDay[0]!;
  let previous: number | null = null;
  for (let dayWall = Date.UTC(2000, 0, 1); dayWall < Date.UTC(2009, 0, 1); dayWall += MS.DAY) {
    const { month, day, weekday } = dateParts(dayWall);
    if (!dateMatches(cron, month, day, weekday)) continue;
    if (previous !== null) shortest = Math.min(shortest, ((dayWall - previous) / MS.DAY) * 1440 - daySpan);
    previous = dayWall;
  }
  return shortest * 60;
}
