/** IANA time zones through Intl: validating a `timeZone`, and turning wall-clock times into instants and back. */

export const DEFAULT_TIME_ZONE = 'UTC';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** A wall-clock date and time, without a zone. Months are 1-12, weekdays 0-6 from Sunday. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let found = formatters.get(zone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, found);
  }
  return found;
}

/**
 * Null when `zone` is a time zone name Go's time.LoadLocation (and so a Kubernetes CronJob) would
 * also take; otherwise why not, in one line. Intl alone is looser than that: it takes UTC offsets
 * ("+05:00") and any letter case ("america/new_york"), which a CronJob refuses, so both are refused
 * here too, and a schedule moved between the two means the same thing.
 */
export function timeZoneError(zone: string): string | null {
  if (zone === '') return 'timeZone is empty: name an IANA time zone such as "Europe/Berlin", or leave it out for UTC';
  if (!/^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+)*$/.test(zone)) {
    return `timeZone "${zone}" is not an IANA time zone name (such as "America/New_York"); UTC offsets are not accepted`;
  }
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return `timeZone "${zone}" is not a known IANA time zone`;
  }
  if (resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) {
    return `timeZone "${zone}" is spelled in the wrong case: IANA names are case-sensitive, did you mean "${resolved}"?`;
  }
  return null;
}

/** The wall-clock time in `zone` at an instant (milliseconds since the epoch). */
export function wallTimeAt(zone: string, instantMs: number): WallTime {
  const parts: Record<string, string> = {};
  for (const part of formatter(zone).formatToParts(instantMs)) parts[part.type] = part.value;
  const yearOfEra = Number(parts['year']);
  return {
    year: parts['era'] === 'BC' ? 1 - yearOfEra : yearOfEra,
    month: Number(parts['month']),
    day: Number(parts['day']),
    hour: Number(parts['hour']),
    minute: Number(parts['minute']),
    second: Number(parts['second']),
  };
}

/** A wall-clock time read as if it were UTC: the arithmetic form of a wall time. */
export function wallMs(wall: Omit<WallTime, 'second'> & { second?: number }): number {
  const ms = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  // Date.UTC maps years 0-99 to 1900-1999; schedules never reach them, but stay exact anyway.
  return wall.year >= 0 && wall.year < 100 ? new Date(ms).setUTCFullYear(wall.year) : ms;
}

/** The zone's offset from UTC at an instant, in milliseconds (east positive), to the second. */
export function offsetAt(zone: string, instantMs: number): number {
  if (zone === 'UTC') return 0;
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallMs(wallTimeAt(zone, whole)) - whole;
}

/**
 * The instants at which the zone's clocks show a wall time (given in wallMs form), earliest first:
 * one on an ordinary day, none inside a spring-forward gap, two inside a fall-back repeat.
 *
 * Every instant of a wall time W is W minus the offset in force then, and offsets range over
 * ±14 hours, so it lies between W − 1 day and W + 1 day. The offsets in force at those two ends
 * are the only candidates as long as a zone changes its offset at most once in two days, which
 * every IANA zone does. `probes` lets a caller that resolves many wall times of one day pass
 * the two offsets once.
 */
export function instantsOfWallTime(zone: string, wall: number, probes?: readonly [number, number]): number[] {
  if (zone === 'UTC') return [wall];
  const [before, after] = probes ?? [offsetAt(zone, wall - DAY_MS), offsetAt(zone, wall + DAY_MS)];
  if (before === after && probes) return [wall - before];
  const candidates = before === after ? [before] : [before, after];
  const instants = candidates.map((offset) => wall - offset).filter((instant) => offsetAt(zone, instant) === wall - instant);
  return [...new Set(instants)].sort((a, b) => a - b);
}

/** The two probe offsets instantsOfWallTime needs, valid for every wall time of one local date. */
export function dayProbes(zone: string, dayStartWall: number): [number, number] {
  if (zone === 'UTC') return [0, 0];
  return [offsetAt(zone, dayStartWall - DAY_MS), offsetAt(zone, dayStartWall + 2 * DAY_MS)];
}

export const MS = { MINUTE: MINUTE_MS, DAY: DAY_MS } as const;
