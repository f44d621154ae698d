/**
 * Names and labels of scheduled jobs, deterministic from the scheduled time, so an operator that
 * restarts (or a second replica) computes the same name for the same run and cannot create it twice.
 */
import { createHash } from 'node:crypto';
import { MAX_JOB_NAME_LENGTH } from '../api/ansible-job.js';

/** The label a scheduled job carries with its scheduled time (scheduledTimeLabel's form). */
export const LABEL_SCHEDULED_TIME = 'ajo.dev/scheduled-time';

/** Hex digits of sha256(schedule name) that stand in for the cut-off tail of a long name. */
const NAME_HASH_LENGTH = 8;

/**
 * `<schedule-name>-<minutes since the epoch>`, as CronJob names its Jobs, within
 * MAX_JOB_NAME_LENGTH (52). The suffix is 9 characters until the year 2160, so names up to 43
 * characters are used whole. A longer name is cut and given 8 hex digits of its sha256 in place
 * of the tail: two long schedules that share a prefix still get different job names, where a
 * plain cut would have them fight over one name (CronJob instead refuses names over 52).
 */
export function scheduledJobName(scheduleName: string, scheduledTime: Date): string {
  const suffix = `-${Math.floor(scheduledTime.getTime() / 60_000)}`;
  const room = MAX_JOB_NAME_LENGTH - suffix.length;
  if (scheduleName.length <= room) return `${scheduleName}${suffix}`;
  const hash = createHash('sha256').update(scheduleName).digest('hex').slice(0, NAME_HASH_LENGTH);
  // A DNS name's parts must end in a letter or digit: no "-" or "." before the joining "-".
  const kept = scheduleName.slice(0, room - NAME_HASH_LENGTH - 1).replace(/[-.]+$/, '');
  return `${kept}-${hash}${suffix}`;
}

/**
 * The scheduled time as a label value: ISO 8601 basic format in UTC, "20240310T073000Z". Label
 * values cannot hold ":", and this form still sorts as time and reads as a date.
 */
export function scheduledTimeLabel(scheduledTime: Date): string {
  return scheduledTime.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** The time a scheduledTimeLabel value stands for, or null if it is not one. */
export function parseScheduledTimeLabel(value: string): Date | null {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return null;
  const [, year, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
  const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return scheduledTimeLabel(time) === value ? time : null;
}
