/** The cron and time-zone arithmetic: DST gaps and repeats in three zones, month ends, either-day matching, macros. */
import { parseCron, type CronExpression } from '../../../operator/src/schedule/cron.js';
import { cronInstants, nextCronInstant, shortestIntervalSeconds } from '../../../operator/src/schedule/times.js';

function cron(line: string): CronExpression {
  const parsed = parseCron(line);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.cron;
}

/** The first `count` run times after `from`, as UTC ISO strings without milliseconds. */
function runs(line: string, zone: string, from: string, count: number): string[] {
  const found: string[] = [];
  for (const instant of cronInstants(cron(line), zone, Date.parse(from))) {
    found.push(new Date(instant).toISOString().replace('.000Z', 'Z'));
    if (found.length === count) break;
  }
  return found;
}

describe('DST in America/New_York (2024: gap 02:00-03:00 on 10 March, 01:00-02:00 twice on 3 November)', () => {
  test('a daily time inside the spring-forward gap does not run that day', () => {
    expect(runs('30 2 * * *', 'America/New_York', '2024-03-09T12:00:00Z', 2)).toEqual(['2024-03-11T06:30:00Z', '2024-03-12T06:30:00Z']);
  });
  test('a sub-hourly cadence goes on across the gap by elapsed time', () => {
    expect(runs('*/30 * * * *', 'America/New_York', '2024-03-10T06:00:00Z', 3)).toEqual(['2024-03-10T06:30:00Z', '2024-03-10T07:00:00Z', '2024-03-10T07:30:00Z']);
  });
  test('a daily time in the repeated hour runs once, at its first occurrence (EDT)', () => {
    expect(runs('30 1 * * *', 'America/New_York', '2024-11-02T12:00:00Z', 2)).toEqual(['2024-11-03T05:30:00Z', '2024-11-04T06:30:00Z']);
  });
  test('an hourly line runs in both copies of the repeated hour, as CronJob does', () => {
    expect(runs('0 * * * *', 'America/New_York', '2024-11-03T04:30:00Z', 4))
      .toEqual(['2024-11-03T05:00:00Z', '2024-11-03T06:00:00Z', '2024-11-03T07:00:00Z', '2024-11-03T08:00:00Z']);
  });
  test('from inside the second copy of the repeated hour, a fixed-hour line waits for the next day', () => {
    expect(runs('45 1 * * *', 'America/New_York', '2024-11-03T06:10:00Z', 1)).toEqual(['2024-11-04T06:45:00Z']);
  });
});

describe('DST in Europe/Berlin (2024: gap 02:00-03:00 on 31 March, 02:00-03:00 twice on 27 October)', () => {
  test('spring forward skips the 02:30 run once', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2024-03-30T12:00:00Z', 2)).toEqual(['2024-04-01T00:30:00Z', '2024-04-02T00:30:00Z']);
  });
  test('fall back runs 02:30 once, in CEST', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2024-10-26T12:00:00Z', 2)).toEqual(['2024-10-27T00:30:00Z', '2024-10-28T01:30:00Z']);
  });
  test('every 15 minutes keeps its cadence through the repeated hour', () => {
    expect(runs('*/15 * * * *', 'Europe/Berlin', '2024-10-27T00:40:00Z', 4)).toEqual(['2024-10-27T00:45:00Z', '2024-10-27T01:00:00Z', '2024-10-27T01:15:00Z', '2024-10-27T01:30:00Z']);
  });
  test('every 15 minutes within hour 2 only runs the first copy of hour 2', () => {
    expect(runs('*/15 2 * * *', 'Europe/Berlin', '2024-10-26T23:50:00Z', 5))
      .toEqual(['2024-10-27T00:00:00Z', '2024-10-27T00:15:00Z', '2024-10-27T00:30:00Z', '2024-10-27T00:45:00Z', '2024-10-28T01:00:00Z']);
  });
});

describe('DST in Australia/Lord_Howe (a 30-minute shift; 2024: 01:30-02:00 twice on 7 April, gap 02:00-02:30 on 6 October)', () => {
  test('01:45 in the repeated half hour runs once', () => {
    expect(runs('45 1 * * *', 'Australia/Lord_Howe', '2024-04-06T12:00:00Z', 2)).toEqual(['2024-04-06T14:45:00Z', '2024-04-07T15:15:00Z']);
  });
  test('every 15 minutes runs in both copies of the half hour', () => {
    expect(runs('*/15 * * * *', 'Australia/Lord_Howe', '2024-04-06T14:40:00Z', 4)).toEqual(['2024-04-06T14:45:00Z', '2024-04-06T15:00:00Z', '2024-04-06T15:15:00Z', '2024-04-06T15:30:00Z']);
  });
  test('02:15 falls in the gap and is skipped; 02:45 is after it and runs', () => {
    expect(runs('15 2 * * *', 'Australia/Lord_Howe', '2024-10-05T12:00:00Z', 1)).toEqual(['2024-10-06T15:15:00Z']);
    expect(runs('45 2 * * *', 'Australia/Lord_Howe', '2024-10-05T12:00:00Z', 1)).toEqual(['2024-10-05T15:45:00Z']);
  });
});

describe('calendar', () => {
  test('the 31st skips the months without one', () => {
    expect(runs('0 0 31 * *', 'UTC', '2024-01-31T00:00:00Z', 3)).toEqual(['2024-03-31T00:00:00Z', '2024-05-31T00:00:00Z', '2024-07-31T00:00:00Z']);
  });
  test('29 February waits for a leap year, and across 2100, which is none', () => {
    expect(runs('0 0 29 2 *', 'UTC', '2024-03-01T00:00:00Z', 2)).toEqual(['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z']);
    expect(runs('0 0 29 2 *', 'UTC', '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00Z']);
  });
  test('the last day of a month in a zone east of UTC is the day before in UTC', () => {
    expect(runs('0 0 28-31 2 *', 'Asia/Tokyo', '2023-01-01T00:00:00Z', 3)).toEqual(['2023-02-27T15:00:00Z', '2024-02-27T15:00:00Z', '2024-02-28T15:00:00Z']);
  });
  test('day-of-month and day-of-week both restricted: either matches (Friday or the 13th)', () => {
    expect(runs('0 0 13 * 5', 'UTC', '2024-09-01T00:00:00Z', 7).map((iso) => iso.slice(0, 10)))
      .toEqual(['2024-09-06', '2024-09-13', '2024-09-20', '2024-09-27', '2024-10-04', '2024-10-11', '2024-10-13']);
  });
  test('a day field starting with * is unrestricted, so both must match (odd days that are Mondays)', () => {
    expect(runs('0 0 */2 * MON', 'UTC', '2024-09-01T00:00:00Z', 2).map((iso) => iso.slice(0, 10))).toEqual(['2024-09-09', '2024-09-23']);
  });
  test('1-31 is restricted: with a weekday it matches every day', () => {
    expect(runs('0 0 1-31 * 1', 'UTC', '2024-08-31T12:00:00Z', 3).map((iso) => iso.slice(0, 10))).toEqual(['2024-09-01', '2024-09-02', '2024-09-03']);
  });
  test('a next run is strictly after the given time', () => {
    expect(runs('0 12 * * *', 'UTC', '2024-05-05T12:00:00Z', 1)).toEqual(['2024-05-06T12:00:00Z']);
    expect(runs('0 12 * * *', 'UTC', '2024-05-05T11:59:59.999Z', 1)).toEqual(['2024-05-05T12:00:00Z']);
  });
});

describe('macros', () => {
  const from = '2024-09-04T12:34:00Z'; // a Wednesday
  test.each([
    ['@yearly', '2025-01-01T00:00:00Z'],
    ['@annually', '2025-01-01T00:00:00Z'],
    ['@monthly', '2024-10-01T00:00:00Z'],
    ['@weekly', '2024-09-08T00:00:00Z'],
    ['@daily', '2024-09-05T00:00:00Z'],
    ['@midnight', '2024-09-05T00:00:00Z'],
    ['@hourly', '2024-09-04T13:00:00Z'],
    ['@DAILY', '2024-09-05T00:00:00Z'],
  ])('%s next runs at %s', (macro, expected) => {
    expect(runs(macro, 'UTC', from, 1)).toEqual([expected]);
  });
  test('a macro follows the time zone: @daily in Europe/Berlin is 22:00 or 23:00 UTC', () => {
    expect(runs('@daily', 'Europe/Berlin', '2024-10-26T12:00:00Z', 2)).toEqual(['2024-10-26T22:00:00Z', '2024-10-27T23:00:00Z']);
  });
});

describe('steps, ranges, lists and names', () => {
  test.each([
    ['5-20/5 * * * *', 'minutes', [5, 10, 15, 20]],
    ['1/20 * * * *', 'minutes', [1, 21, 41]],
    ['*/7 * * * *', 'minutes', [0, 7, 14, 21, 28, 35, 42, 49, 56]],
    ['0 9-17/4,23 * * *', 'hours', [9, 13, 17, 23]],
    ['0 0 * * MON-FRI', 'daysOfWeek', [1, 2, 3, 4, 5]],
    ['0 0 * * */2', 'daysOfWeek', [0, 2, 4, 6]],
    ['0 0 * * 5-7', 'daysOfWeek', [0, 5, 6]],
    ['0 0 * * 1/2', 'daysOfWeek', [1, 3, 5]],
    ['0 0 * JAN,mar,Dec *', 'months', [1, 3, 12]],
    ['0 0 * feb-APR *', 'months', [2, 3, 4]],
  ] as const)('%s: %s %j', (line, field, values) => {
    expect([...cron(line)[field]].sort((a, b) => a - b)).toEqual(values);
  });
  test('the month field bounds both day fields: 29 February or a Monday in February', () => {
    expect(nextCronInstant(cron('0 0 29 2 1'), 'UTC', Date.parse('2024-01-01T00:00:00Z'))).toBe(Date.parse('2024-02-05T00:00:00Z'));
  });
});

describe('shortestIntervalSeconds', () => {
  test.each([
    ['* * * * *', 60],
    ['*/15 * * * *', 900],
    ['0 9,17 * * *', 8 * 3600],
    ['0 1,23 * * *', 2 * 3600],
    ['@daily', 86_400],
    ['0 0 * * 1-5', 86_400],
    ['0 0 * * 1', 7 * 86_400],
    ['@monthly', 28 * 86_400],
    ['0 0 29 2 *', 1461 * 86_400],
  ])('%s: %i s', (line, seconds) => {
    expect(shortestIntervalSeconds(cron(line))).toBe(seconds);
  });
});
