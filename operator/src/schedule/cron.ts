/**
 * A five-field cron line parsed with Vixie cron's rules (the ones Kubernetes CronJob accepts), and
 * the `@hourly`-style macros; errors are one line naming the field and the value, since they
 * become admission messages.
 */

/** One parsed cron line: the set of values each field allows, and whether the day fields are restricted. */
export interface CronExpression {
  /** The line as written (after trimming), for messages and status. */
  readonly source: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0-6 from Sunday; a 7 in the line is Sunday too. */
  readonly daysOfWeek: ReadonlySet<number>;
  /**
   * Vixie's rule: a day field whose text starts with `*` is unrestricted. When both day fields are
   * restricted a day matches if either does; otherwise both must (so the unrestricted one is moot).
   */
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

export type CronResult = { ok: true; cron: CronExpression } | { ok: false; error: string };

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** The names start at this value (JAN is 1, SUN is 0). */
  namesFrom?: number;
  /** Where `*` and `N/STEP` end when that is not `max`: day-of-week's 7 is only another Sunday. */
  starEnd?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], namesFrom: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], namesFrom: 0, starEnd: 6 },
];

/** The macros Vixie cron and robfig/cron share; @reboot is refused in parseCron, with the reason. */
export const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** The longest each month can be; February counts its leap day, so "0 0 29 2 *" is valid. */
const MONTH_LENGTHS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

class FieldError extends Error {}

function parseValue(text: string, field: FieldSpec): number {
  const lower = text.toLowerCase();
  const named = field.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (field.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or a name (${field.names.map((name) => name.toUpperCase()).join(', ')})` : '';
    throw new FieldError(`"${text}" is not a number${names}`);
  }
  const value = Number(text);
  if (value < field.min || value > field.max) throw new FieldError(`${value} is out of range ${field.min}-${field.max}`);
  return value;
}

/** The values one comma-separated item allows: `*`, `N`, `N-M`, each optionally `/STEP`. */
function parseItem(item: string, field: FieldSpec): number[] {
  if (item === '') throw new FieldError('has an empty list item');
  const [rangeText, stepText, extra] = item.split('/');
  if (extra !== undefined) throw new FieldError(`"${item}" has more than one "/"`);
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) throw new FieldError(`step "${stepText}" in "${item}" is not a number`);
    step = Number(stepText);
    if (step === 0) throw new FieldError(`step 0 in "${item}" never advances`);
  }
  let low: number;
  let high: number;
  if (rangeText === '*') {
    low = field.min;
    high = field.starEnd ?? field.max;
  } else {
    const bounds = rangeText!.split('-');
    if (bounds.length > 2 || bounds.some((bound) => bound === '')) throw new FieldError(`"${rangeText}" is not a value or a range N-M`);
    low = parseValue(bounds[0]!, field);
    // "N/STEP" means N to the field's end, as robfig/cron (so a CronJob) and cronie read it.
    high = bounds.length === 2 ? parseValue(bounds[1]!, field) : stepText !== undefined ? (field.starEnd ?? field.max) : low;
    if (high < low) throw new FieldError(`range "${rangeText}" runs backwards`);
  }
  const values: number[] = [];
  for (let value = low; value <= high; value += step) values.push(value);
  return values;
}

function parseField(text: string, field: FieldSpec): Set<number> {
  if (text === '?') throw new FieldError('"?" is Quartz syntax, not cron: use "*"');
  const values = new Set<number>();
  for (const item of text.split(',')) {
    for (const value of parseItem(item, field)) values.add(field.name === 'day-of-week' && value === 7 ? 0 : value);
  }
  return values;
}

const sorted = (values: Set<number>): number[] => [...values].sort((a, b) => a - b);

/** A cron line or macro, parsed; or a one-line reason why not. */
export function parseCron(line: string): CronResult {
  const source = line.trim();
  if (source === '') return { ok: false, error: 'schedule is empty: write five fields (minute hour day-of-month month day-of-week) or a macro such as @daily' };
  if (/^(CRON_)?TZ=/i.test(source)) {
    return { ok: false, error: `schedule "${source}" sets its time zone inline: put the zone in timeZone and leave it out of the schedule` };
  }
  let fieldsText = source;
  if (source.startsWith('@')) {
    const macro = source.toLowerCase();
    if (macro === '@reboot') {
      return { ok: false, error: 'schedule "@reboot" is not accepted: it means "when the cron daemon starts", and an operator restart or failover is not a time a schedule can name; create an AnsibleJob instead' };
    }
    const expanded = MACROS[macro];
    if (!expanded) return { ok: false, error: `schedule "${source}" is not a known macro: use one of ${Object.keys(MACROS).join(', ')}` };
    fieldsText = expanded;
  }
  const texts = fieldsText.split(/\s+/);
  if (texts.length !== 5) {
    const hint = texts.length === 6 ? ' (a seconds field is not supported)' : '';
    return { ok: false, error: `schedule "${source}" has ${texts.length} fields, not 5 (minute hour day-of-month month day-of-week)${hint}` };
  }
  const sets: Set<number>[] = [];
  for (const [index, field] of FIELDS.entries()) {
    try {
      sets.push(parseField(texts[index]!, field));
    } catch (error) {
      if (error instanceof FieldError) return { ok: false, error: `schedule "${source}": ${field.name} field "${texts[index]}": ${error.message}` };
      throw error;
    }
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const cron: CronExpression = {
    source,
    minutes: sorted(minutes),
    hours: sorted(hours),
    daysOfMonth,
    months,
    daysOfWeek,
    dayOfMonthRestricted: !texts[2]!.startsWith('*'),
    dayOfWeekRestricted: !texts[4]!.startsWith('*'),
  };
  // A line that can never match would make every search run to its limit; say so at admission.
  const dayOfMonthDecides = cron.dayOfMonthRestricted && !cron.dayOfWeekRestricted;
  if (dayOfMonthDecides && ![...months].some((month) => [...daysOfMonth].some((day) => day <= MONTH_LENGTHS[month - 1]!))) {
    return { ok: false, error: `schedule "${source}" never runs: day-of-month "${texts[2]}" does not occur in month "${texts[3]}"` };
  }
  return { ok: true, cron };
}

/** Whether the cron line allows this date (month 1-12, weekday 0-6), with Vixie's either-day rule. */
export function dateMatches(cron: CronExpression, month: number, day: number, weekday: number): boolean {
  if (!cron.months.has(month)) return false;
  const dayOfMonth = cron.daysOfMonth.has(day);
  const dayOfWeek = cron.daysOfWeek.has(weekday);
  if (cron.dayOfMonthRestricted && cron.dayOfWeekRestricted) return dayOfMonth || dayOfWeek;
  return dayOfMonth && dayOfWeek;
}
