/**
 * The AnsibleSchedule API (ajo.dev/v1alpha1): an AnsibleJob spec run on a cron timetable. The
 * single source for the CRD's schema (crd-schedule.ts) and for the controller's types.
 */
import * as z from 'zod';
import { AnsibleJobSpec, API_VERSION, Condition, ObjectMeta } from './ansible-job.js';

export const SCHEDULE_KIND = 'AnsibleSchedule';
export const SCHEDULE_PLURAL = 'ansibleschedules';
export const SCHEDULE_SINGULAR = 'ansibleschedule';
export const SCHEDULE_SHORT_NAMES = ['asched'];

/**
 * Schedule names are label values on their jobs (`ajo.dev/schedule`), so they are capped at 63
 * characters; job names stay within 52 either way (schedule/names.ts cuts and hashes).
 */
export const MAX_SCHEDULE_NAME_LENGTH = 63;
/** Labels a scheduled job carries, next to schedule/names.ts' `ajo.dev/scheduled-time`. */
export const LABEL_SCHEDULE_NAME = 'ajo.dev/schedule';

export const DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT = 3;
export const DEFAULT_FAILED_JOBS_HISTORY_LIMIT = 1;
/** The condition a schedule carries while its cron line, time zone or spread cannot be used. */
export const CONDITION_INVALID = 'Invalid';

/**
 * A word matched in any letter case, as character classes (`[jJ][aA][nN]`): RE2 and JavaScript
 * read these alike, where the inline `(?i:…)` modifier is new in JavaScript and was once seen
 * refusing `MAR` in a long in-band test run.
 */
function anyCase(words: readonly string[]): string {
  const spelled = words.map((word) => [...word].map((letter) => `[${letter.toLowerCase()}${letter.toUpperCase()}]`).join(''));
  return `(${spelled.join('|')})`;
}

/** Cron-field value patterns (RE2 and JavaScript alike): each value within its field's range. */
const leadingZeros = '0*';
const FIELD_VALUES: readonly { name: string; value: string; range: string }[] = [
  { name: 'minute', value: `${leadingZeros}[1-5]?[0-9]`, range: '0-59' },
  { name: 'hour', value: `${leadingZeros}(1?[0-9]|2[0-3])`, range: '0-23' },
  { name: 'day-of-month', value: `${leadingZeros}([1-9]|[12][0-9]|3[01])`, range: '1-31' },
  { name: 'month', value: `(${leadingZeros}([1-9]|1[0-2])|${anyCase(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'])})`, range: '1-12 or JAN-DEC' },
  { name: 'day-of-week', value: `(${leadingZeros}[0-7]|${anyCase(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])})`, range: '0-7 or SUN-SAT' },
];

/** `*`, `V`, `V-V`, each with an optional `/STEP` (STEP at least 1), comma-separated. */
export function cronFieldPattern(value: string): string {
  const item = `(\\*|${value}(-${value})?)(/${leadingZeros}[1-9][0-9]*)?`;
  return `^${item}(,${item})*$`;
}

/** The macros parseCron knows (schedule/cron.ts MACROS; a unit test keeps the two lists equal). */
export const MACROS_ADMITTED = ['yearly', 'annually', 'monthly', 'weekly', 'daily', 'midnight', 'hourly'] as const;
const MACRO_PATTERN = `^@${anyCase(MACROS_ADMITTED)}$`;

/**
 * The admission rules of `spec.schedule`, as CEL. CEL cannot run the parser, so they check what
 * a pattern can: five space-separated fields or a known macro, and each field's values, steps,
 * ranges and lists inside the field's range (`61 * * * *` is refused naming the minute field).
 * What only the parser sees (a range that runs backwards, `0 0 30 2 *` that never runs) is
 * left to the controller, which sets the Invalid condition with the parser's message.
 */
export function scheduleAdmissionRules(): { rule: string; messageExpression: string }[] {
  const fields = "self.trim().split(' ').filter(f, f != '')";
  const isMacro = `self.trim().matches('${MACRO_PATTERN}')`;
  const rules = [
    {
      rule: `${isMacro} || size(${fields}) == 5`,
      messageExpression: `'schedule "' + self + '" must be five space-separated fields (minute hour day-of-month month day-of-week) or a macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)'`,
    },
  ];
  for (const [index, field] of FIELD_VALUES.entries()) {
    const pattern = cronFieldPattern(field.value).replaceAll('\\', '\\\\');
    rules.push({
      rule: `${isMacro} || size(${fields}) != 5 || ${fields}[${index}].matches('${pattern}')`,
      messageExpression: `'schedule "' + self + '": ${field.name} field "' + ${fields}[${index}] + '" must be *, a value ${field.range}, a range, a list or a /step of them'`,
    });
  }
  return rules;
}

/** The JavaScript form of the same field patterns, for tests that hold them against parseCron. */
export const CRON_FIELD_PATTERNS: readonly RegExp[] = FIELD_VALUES.map((field) => new RegExp(cronFieldPattern(field.value)));
export const CRON_MACRO_PATTERN = new RegExp(MACRO_PATTERN);

const ONE_YEAR = 31_536_000;

export const ConcurrencyPolicy = z.enum(['Allow', 'Forbid', 'Replace']);
export type ConcurrencyPolicy = z.infer<typeof ConcurrencyPolicy>;

export const AnsibleScheduleSpec = z.object({
  schedule: z
    .string()
    .min(1)
    .max(128)
    .meta({
      description:
        'Cron line: five fields (minute hour day-of-month month day-of-week) or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly. Rules: docs/schedules.md.',
      'x-kubernetes-validations': scheduleAdmissionRules(),
    }),
  timeZone: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/)
    .optional()
    .meta({
      description: 'IANA time zone of the cron line, e.g. Europe/Berlin; default UTC. UTC offsets are not accepted.',
      // CEL's timestamp functions load the zone from the API server's tz database (as a CronJob's
      // timeZone is) and fail on an unknown name: that failure is the refusal, "unknown time zone X".
      'x-kubernetes-validations': [{ rule: "timestamp('2000-01-01T00:00:00Z').getHours(self) >= 0", message: 'timeZone must be a known IANA time zone' }],
    }),
  spreadSeconds: z.int().min(0).max(ONE_YEAR).optional().meta({
    description:
      'Start each run a stable offset (from a hash of namespace/name) inside this window after its cron time, so many schedules do not start at once. At most the shortest interval between runs.',
  }),
  concurrencyPolicy: ConcurrencyPolicy.default('Allow').meta({
    description: 'When a run comes due while an earlier job is still active: Allow starts it too; Forbid skips it; Replace deletes the active job and starts the new one.',
  }),
  startingDeadlineSeconds: z.int().min(0).max(ONE_YEAR).optional().meta({
    description: 'A run that cannot start within this many seconds of its time is missed, not started late. Default: no deadline.',
  }),
  suspend: z.boolean().default(false).meta({
    description: 'true: no runs start; runs that come due meanwhile are skipped, never started on resume. Active jobs go on.',
  }),
  successfulJobsHistoryLimit: z.int().min(0).max(1000).default(DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT).meta({
    description: 'How many succeeded jobs to keep; older ones are deleted.',
  }),
  failedJobsHistoryLimit: z.int().min(0).max(1000).default(DEFAULT_FAILED_JOBS_HISTORY_LIMIT).meta({
    description: 'How many failed, timed-out or cancelled jobs to keep; older ones are deleted.',
  }),
  jobTemplate: z
    .object({
      metadata: z
        .object({
          labels: z.record(z.string(), z.string()).optional(),
          annotations: z.record(z.string(), z.string()).optional(),
        })
        .optional(),
      spec: AnsibleJobSpec,
    })
    .meta({ description: 'The AnsibleJob each run creates: its labels, annotations and spec.' }),
});
export type AnsibleScheduleSpec = z.output<typeof AnsibleScheduleSpec>;
export type AnsibleScheduleSpecInput = z.input<typeof AnsibleScheduleSpec>;

const timestamp = z.string().max(64);

export const JobReference = z.object({ name: z.string().max(253), uid: z.string().max(64) });
export type JobReference = z.infer<typeof JobReference>;

export const AnsibleScheduleStatus = z.object({
  lastScheduleTime: timestamp.optional().meta({ description: 'The scheduled (cron) time of the last run started.' }),
  lastSuccessfulTime: timestamp.optional().meta({ description: 'When the last succeeded job of this schedule completed.' }),
  lastSkippedTime: timestamp.optional().meta({
    description: 'The scheduled time of the last run that was skipped (Forbid, suspend, or past startingDeadlineSeconds); it never starts later.',
  }),
  nextScheduleTime: timestamp.optional().meta({ description: 'When the next run starts (its cron time plus the spread offset); absent while suspended or invalid.' }),
  active: z.array(JobReference).max(1000).optional().meta({ description: 'Jobs of this schedule that have not finished.' }),
  activeCount: z.int().min(0).optional().meta({ description: 'The length of active, for the printer column.' }),
  conditions: z.array(Condition).max(16).optional(),
  observedGeneration: z.int().min(0).optional(),
});
export type AnsibleScheduleStatus = z.infer<typeof AnsibleScheduleStatus>;

export const AnsibleSchedule = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(SCHEDULE_KIND),
  metadata: ObjectMeta,
  spec: AnsibleScheduleSpec,
  status: AnsibleScheduleStatus.optional(),
});
export type AnsibleSchedule = z.output<typeof AnsibleSchedule>;
export type StoredAnsibleSchedule = AnsibleSchedule & {
  metadata: AnsibleSchedule['metadata'] & { namespace: string; uid: string; resourceVersion: string; creationTimestamp: string };
};

export function parseAnsibleSchedule(raw: unknown): { ok: true; schedule: StoredAnsibleSchedule } | { ok: false; error: string } {
  const result = AnsibleSchedule.safeParse(raw);
  if (!result.success) return { ok: false, error: z.prettifyError(result.error) };
  const { metadata } = result.data;
  if (!metadata.namespace || !metadata.uid || !metadata.resourceVersion || !metadata.creationTimestamp) {
    return { ok: false, error: 'metadata.namespace, uid, resourceVersion and creationTimestamp must be set (an object read from the API server)' };
  }
  return { ok: true, schedule: result.data as StoredAnsibleSchedule };
}

const SCHEDULES_API = `/apis/${API_VERSION}`;

/** Paths of AnsibleSchedules (kube/client.ts' `paths` holds the AnsibleJob ones). */
export const schedulePaths = {
  schedules: (namespace?: string) => (namespace ? `${SCHEDULES_API}/namespaces/${namespace}/${SCHEDULE_PLURAL}` : `${SCHEDULES_API}/${SCHEDULE_PLURAL}`),
  schedule: (namespace: string, name: string) => `${schedulePaths.schedules(namespace)}/${name}`,
  scheduleStatus: (namespace: string, name: string) => `${schedulePaths.schedule(namespace, name)}/status`,
};
