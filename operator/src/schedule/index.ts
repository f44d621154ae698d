/** The schedule arithmetic of AnsibleSchedule: cron lines, time zones, spread, missed runs, job names. */
export { parseCron, MACROS, type CronExpression, type CronResult } from './cron.js';
export { timeZoneError, DEFAULT_TIME_ZONE } from './zone.js';
export { cronInstants, nextCronInstant, shortestIntervalSeconds, SEARCH_YEARS } from './times.js';
export {
  compileSchedule, dueRun, nextRun, runsBetween, spreadOffsetSeconds, ScheduleFields, MISSED_COUNT_LIMIT,
  type Due, type DueInput, type Run, type Schedule, type ScheduleResult,
} from './schedule.js';
export { scheduledJobName, scheduledTimeLabel, parseScheduledTimeLabel, LABEL_SCHEDULED_TIME } from './names.js';
