/** Parsing and admission messages, time zones, spread, CronJob's missed-run rule and scheduled job names. */
import { createHash } from 'node:crypto';
import { MAX_JOB_NAME_LENGTH } from '../../../operator/src/api/ansible-job.js';
import { parseCron } from '../../../operator/src/schedule/cron.js';
import { timeZoneError } from '../../../operator/src/schedule/zone.js';
import {
  compileSchedule, dueRun, MISSED_COUNT_LIMIT, nextRun, runsBetween, spreadOffsetSeconds, type Schedule,
} from '../../../operator/src/schedule/schedule.js';
import { parseScheduledTimeLabel, scheduledJobName, scheduledTimeLabel } from '../../../operator/src/schedule/names.js';

function compiled(schedule: string, extra: { timeZone?: string; spreadSeconds?: number } = {}, name = 'nightly'): Schedule {
  const result = compileSchedule('team-a', name, { schedule, ...extra });
  if (!result.ok) throw new Error(result.error);
  return result.schedule;
}
const at = (iso: string) => new Date(iso);
const iso = (date: Date | undefined | null) => date?.toISOString().replace('.000Z', 'Z');

describe('parseCron refuses bad lines in one line that names the field and the value', () => {
  test.each([
    ['61 * * * *', 'schedule "61 * * * *": minute field "61": 61 is out of range 0-59'],
    ['* 24 * * *', 'schedule "* 24 * * *": hour field "24": 24 is out of range 0-23'],
    ['* * 0 * *', 'schedule "* * 0 * *": day-of-month field "0": 0 is out of range 1-31'],
    ['* * * 13 *', 'schedule "* * * 13 *": month field "13": 13 is out of range 1-12'],
    ['* * * * 8', 'schedule "* * * * 8": day-of-week field "8": 8 is out of range 0-7'],
    ['* * * FOO *', 'schedule "* * * FOO *": month field "FOO": "FOO" is not a number or a name (JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC)'],
    ['*/0 * * * *', 'schedule "*/0 * * * *": minute field "*/0": step 0 in "*/0" never advances'],
    ['5-2 * * * *', 'schedule "5-2 * * * *": minute field "5-2": range "5-2" runs backwards'],
    ['1- * * * *', 'schedule "1- * * * *": minute field "1-": "1-" is not a value or a range N-M'],
    ['1,,2 * * * *', 'schedule "1,,2 * * * *": minute field "1,,2": has an empty list item'],
    ['*/5/2 * * * *', 'schedule "*/5/2 * * * *": minute field "*/5/2": "*/5/2" has more than one "/"'],
    ['0 0 ? * MON', 'schedule "0 0 ? * MON": day-of-month field "?": "?" is Quartz syntax, not cron: use "*"'],
    ['* * * *', 'schedule "* * * *" has 4 fields, not 5 (minute hour day-of-month month day-of-week)'],
    ['0 * * * * *', 'schedule "0 * * * * *" has 6 fields, not 5 (minute hour day-of-month month day-of-week) (a seconds field is not supported)'],
    ['0 0 30 2 *', 'schedule "0 0 30 2 *" never runs: day-of-month "30" does not occur in month "2"'],
    ['0 0 31 4,6,9,11 *', 'schedule "0 0 31 4,6,9,11 *" never runs: day-of-month "31" does not occur in month "4,6,9,11"'],
    ['@every 1h', 'schedule "@every 1h" is not a known macro: use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly'],
    ['TZ=UTC 0 0 * * *', 'schedule "TZ=UTC 0 0 * * *" sets its time zone inline: put the zone in timeZone and leave it out of the schedule'],
    ['', 'schedule is empty: write five fields (minute hour day-of-month month day-of-week) or a macro such as @daily'],
  ])('%j', (line, message) => {
    expect(parseCron(line)).toEqual({ ok: false, error: message });
  });
  test('@reboot is refused with the reason', () => {
    const result = parseCron('@reboot');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^schedule "@reboot" is not accepted: .*operator restart.*create an AnsibleJob instead$/);
  });
  test('errors are one line', () => {
    for (const line of ['61 * * * *', '@reboot', '0 0 30 2 *']) {
      const result = parseCron(line);
      expect(!result.ok && result.error).not.toContain('\n');
    }
  });
  test('30 February is refused alone but fine with a weekday, which makes it "or"', () => {
    expect(parseCron('0 0 30 2 1').ok).toBe(true);
  });
  test('extra blanks between and around fields are fine', () => {
    expect(parseCron('  0   3 * *\t* ').ok).toBe(true);
  });
});

describe('time zones', () => {
  test.each(['UTC', 'America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Etc/GMT+5', 'US/Eastern'])('%s is accepted', (zone) => {
    expect(timeZoneError(zone)).toBeNull();
  });
  test.each([
    ['Mars/Olympus_Mons', 'timeZone "Mars/Olympus_Mons" is not a known IANA time zone'],
    ['+05:00', 'timeZone "+05:00" is not an IANA time zone name (such as "America/New_York"); UTC offsets are not accepted'],
    ['america/new_york', 'timeZone "america/new_york" is spelled in the wrong case: IANA names are case-sensitive, did you mean "America/New_York"?'],
    ['', 'timeZone is empty: name an IANA time zone such as "Europe/Berlin", or leave it out for UTC'],
  ])('%j is refused', (zone, message) => {
    expect(timeZoneError(zone)).toBe(message);
    expect(compileSchedule('ns', 'name', { schedule: '@daily', timeZone: zone })).toEqual({ ok: false, error: message });
  });
  test('the default zone is UTC', () => {
    expect(compiled('@daily').timeZone).toBe('UTC');
  });
});

describe('spread', () => {
  test('the offset is sha256("namespace/name")\'s first six bytes modulo the window', () => {
    const expected = createHash('sha256').update('team-a/nightly').digest().readUIntBE(0, 6) % 3600;
    expect(spreadOffsetSeconds('team-a', 'nightly', 3600)).toBe(expected);
    expect(compiled('@daily', { spreadSeconds: 3600 }).offsetSeconds).toBe(expected);
  });
  test('it is stable, inside the window, and different schedules land apart', () => {
    const offsets = Array.from({ length: 1000 }, (_, index) => spreadOffsetSeconds('ns', `schedule-${index}`, 3600));
    expect(offsets).toEqual(Array.from({ length: 1000 }, (_, index) => spreadOffsetSeconds('ns', `schedule-${index}`, 3600)));
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...offsets)).toBeLessThan(3600);
    // A hundred daily schedules must not pile up: each ten-minute slice of the hour gets some.
    const slices = new Set(offsets.slice(0, 100).map((offset) => Math.floor(offset / 600)));
    expect(slices.size).toBe(6);
    expect(spreadOffsetSeconds('ns-1', 'x', 3600)).not.toBe(spreadOffsetSeconds('ns-2', 'x', 3600));
  });
  test('no window, no offset', () => {
    expect(compiled('@daily').offsetSeconds).toBe(0);
    expect(compiled('@daily', { spreadSeconds: 0 }).offsetSeconds).toBe(0);
  });
  test('runs start at the cron time plus the offset, and keep the cron time as their identity', () => {
    const schedule = compiled('0 0 * * *', { spreadSeconds: 3600 });
    const run = nextRun(schedule, at('2024-05-01T12:00:00Z'))!;
    expect(iso(run.scheduledTime)).toBe('2024-05-02T00:00:00Z');
    expect(run.startTime.getTime() - run.scheduledTime.getTime()).toBe(schedule.offsetSeconds * 1000);
    // Between the cron time and the start, the run is still ahead.
    expect(iso(nextRun(schedule, at('2024-05-02T00:00:00Z'))!.scheduledTime)).toBe('2024-05-02T00:00:00Z');
  });
  test('a window up to the shortest interval is accepted; a longer one is refused, not clamped', () => {
    expect(compileSchedule('ns', 'n', { schedule: '*/15 * * * *', spreadSeconds: 900 }).ok).toBe(true);
    expect(compileSchedule('ns', 'n', { schedule: '*/15 * * * *', spreadSeconds: 901 })).toEqual({
      ok: false,
      error: 'spreadSeconds 901 is longer than the shortest interval between runs of "*/15 * * * *" (900 s): a run would start after the next one is due; use at most 900',
    });
    expect(compileSchedule('ns', 'n', { schedule: '0 9,17 * * *', spreadSeconds: 28_801 }).ok).toBe(false);
  });
});

describe('runsBetween', () => {
  test('runs in (from, to], in order, at most limit', () => {
    const schedule = compiled('0 */6 * * *');
    const runs = runsBetween(schedule, at('2024-05-01T00:00:00Z'), at('2024-05-02T00:00:00Z'), 10);
    expect(runs.map((run) => iso(run.startTime))).toEqual(['2024-05-01T06:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T18:00:00Z', '2024-05-02T00:00:00Z']);
    expect(runsBetween(schedule, at('2024-05-01T00:00:00Z'), at('2024-05-02T00:00:00Z'), 2)).toHaveLength(2);
    expect(runsBetween(schedule, at('2024-05-01T00:00:00Z'), at('2024-05-02T00:00:00Z'), 0)).toEqual([]);
  });
  test('a day of a fixed-hour line across the fall-back night in New York holds one 01:30', () => {
    const schedule = compiled('30 1,3 * * *', { timeZone: 'America/New_York' });
    const runs = runsBetween(schedule, at('2024-11-03T00:00:00Z'), at('2024-11-04T00:00:00Z'), 10);
    expect(runs.map((run) => iso(run.startTime))).toEqual(['2024-11-03T05:30:00Z', '2024-11-03T08:30:00Z']);
  });
});

describe('dueRun: CronJob\'s missed-run rule (hourly, UTC)', () => {
  const hourly = compiled('0 * * * *');
  const created = at('2024-05-01T00:30:00Z');
  const due = (now: string, last?: string, startingDeadlineSeconds?: number, schedule = hourly) =>
    dueRun({ schedule, now: at(now), createdAt: created, lastScheduleTime: last ? at(last) : undefined, startingDeadlineSeconds });

  test('no downtime: nothing due between ticks', () => {
    expect(due('2024-05-01T10:30:00Z', '2024-05-01T10:00:00Z')).toEqual({ run: null, tooLate: null, missed: 0, missedMore: false, next: { scheduledTime: at('2024-05-01T11:00:00Z'), startTime: at('2024-05-01T11:00:00Z') } });
  });
  test('the tick itself is due at its second', () => {
    expect(iso(due('2024-05-01T11:00:00Z', '2024-05-01T10:00:00Z').run?.scheduledTime)).toBe('2024-05-01T11:00:00Z');
  });
  test('one tick passed while down: it starts late, nothing is missed', () => {
    const result = due('2024-05-01T11:05:00Z', '2024-05-01T10:00:00Z');
    expect(iso(result.run?.scheduledTime)).toBe('2024-05-01T11:00:00Z');
    expect(result.missed).toBe(0);
  });
  test('several ticks passed: only the most recent starts, the others are counted as missed', () => {
    const result = due('2024-05-01T13:05:00Z', '2024-05-01T09:00:00Z');
    expect(iso(result.run?.scheduledTime)).toBe('2024-05-01T13:00:00Z');
    expect(result).toMatchObject({ missed: 3, missedMore: false, tooLate: null });
    expect(iso(result.next?.scheduledTime)).toBe('2024-05-01T14:00:00Z');
  });
  test('a week down: one run, never a storm, and the count stops at the limit', () => {
    const result = due('2024-05-08T09:10:00Z', '2024-05-01T09:00:00Z');
    expect(iso(result.run?.scheduledTime)).toBe('2024-05-08T09:00:00Z');
    expect(result).toMatchObject({ missed: MISSED_COUNT_LIMIT, missedMore: true });
  });
  test('past startingDeadlineSeconds: nothing starts, the late run is reported', () => {
    const result = due('2024-05-01T11:20:00Z', '2024-05-01T09:00:00Z', 600);
    expect(result.run).toBeNull();
    expect(iso(result.tooLate?.scheduledTime)).toBe('2024-05-01T11:00:00Z');
    expect(result.missed).toBe(2);
  });
  test('within startingDeadlineSeconds (the bound included) it still starts', () => {
    expect(iso(due('2024-05-01T11:10:00Z', '2024-05-01T10:00:00Z', 600).run?.scheduledTime)).toBe('2024-05-01T11:00:00Z');
  });
  test('before any run: only ticks after creation count', () => {
    expect(due('2024-05-01T00:59:00Z').run).toBeNull();
    expect(iso(due('2024-05-01T01:01:00Z').run?.scheduledTime)).toBe('2024-05-01T01:00:00Z');
  });
  test('with a spread the run is due at its start time, not at the cron time', () => {
    const spread: Schedule = { ...hourly, spreadSeconds: 3600, offsetSeconds: 600 };
    expect(due('2024-05-01T11:05:00Z', '2024-05-01T10:00:00Z', undefined, spread).run).toBeNull();
    const result = due('2024-05-01T11:15:00Z', '2024-05-01T10:00:00Z', undefined, spread);
    expect(iso(result.run?.scheduledTime)).toBe('2024-05-01T11:00:00Z');
    expect(iso(result.run?.startTime)).toBe('2024-05-01T11:10:00Z');
  });
  test('the same inputs give the same answer: a restarted operator decides the same run', () => {
    expect(due('2024-05-01T13:05:00Z', '2024-05-01T09:00:00Z')).toEqual(due('2024-05-01T13:05:00Z', '2024-05-01T09:00:00Z'));
  });
});

describe('scheduled job names and labels', () => {
  const time = at('2024-03-10T07:30:00Z'); // 28500930 minutes since the epoch
  test('<schedule-name>-<minutes since the epoch>, as CronJob names its Jobs', () => {
    expect(scheduledJobName('nightly', time)).toBe('nightly-28500930');
  });
  test('a 43-character name is kept whole and fills the 52 characters', () => {
    const name = 'a'.repeat(43);
    expect(scheduledJobName(name, time)).toBe(`${name}-28500930`);
    expect(scheduledJobName(name, time)).toHaveLength(MAX_JOB_NAME_LENGTH);
  });
  test('a longer name is cut and tagged with its hash, so two long names with one prefix stay apart', () => {
    const first = scheduledJobName(`${'b'.repeat(40)}-first-schedule`, time);
    const second = scheduledJobName(`${'b'.repeat(40)}-second-schedule`, time);
    expect(first).toHaveLength(MAX_JOB_NAME_LENGTH);
    expect(first).toMatch(/^b{34}-[0-9a-f]{8}-28500930$/);
    expect(first).not.toBe(second);
    expect(scheduledJobName(`${'b'.repeat(40)}-first-schedule`, time)).toBe(first);
  });
  test('a cut never leaves "-" or "." before the hash', () => {
    const name = scheduledJobName(`${'c'.repeat(32)}.-${'d'.repeat(20)}`, time);
    expect(name).toMatch(/^c{32}-[0-9a-f]{8}-28500930$/);
  });
  test('names differ for the two 01:00 runs of an hourly line in a fall-back night', () => {
    const hourly = compiled('0 * * * *', { timeZone: 'America/New_York' });
    const runs = runsBetween(hourly, at('2024-11-03T04:30:00Z'), at('2024-11-03T06:30:00Z'), 5);
    expect(new Set(runs.map((run) => scheduledJobName('hourly', run.scheduledTime))).size).toBe(2);
  });
  test('the label is ISO 8601 basic UTC, and reads back', () => {
    expect(scheduledTimeLabel(time)).toBe('20240310T073000Z');
    expect(parseScheduledTimeLabel('20240310T073000Z')).toEqual(time);
    expect(parseScheduledTimeLabel('20240230T000000Z')).toBeNull();
    expect(parseScheduledTimeLabel('2024-03-10T07:30:00Z')).toBeNull();
  });
});
