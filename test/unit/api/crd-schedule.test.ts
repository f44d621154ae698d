// The AnsibleSchedule CRD: generated from zod, and its admission patterns held against the cron parser.
import { readFileSync } from 'node:fs';
import { CRON_FIELD_PATTERNS, CRON_MACRO_PATTERN, MACROS_ADMITTED } from '../../../operator/src/api/ansible-schedule.js';
import { buildScheduleCrd } from '../../../operator/src/api/crd-schedule.js';
import { renderScheduleCrdYaml, SCHEDULE_CRD_FILE } from '../../../operator/src/api/generate-crd.js';
import { MACROS, parseCron } from '../../../operator/src/schedule/index.js';

/** What the CEL rules decide, with the same patterns in JavaScript: null when admitted, else the failing rule. */
function admission(line: string): string | null {
  const trimmed = line.trim();
  if (CRON_MACRO_PATTERN.test(trimmed)) return null;
  const fields = trimmed.split(' ').filter((field) => field !== '');
  if (fields.length !== 5) return 'fields';
  const failing = CRON_FIELD_PATTERNS.findIndex((pattern, index) => !pattern.test(fields[index]!));
  return failing < 0 ? null : `field ${failing}`;
}

describe('AnsibleSchedule CRD', () => {
  test('the committed CRD (and the chart copy) is exactly what the zod source generates', () => {
    const committed = readFileSync(new URL(`../../../${SCHEDULE_CRD_FILE}`, import.meta.url), 'utf8');
    expect(committed).toBe(renderScheduleCrdYaml());
    expect(readFileSync(new URL(`../../../charts/ajo/${SCHEDULE_CRD_FILE}`, import.meta.url), 'utf8')).toBe(committed);
  });

  test('names, short name, status subresource and printer columns', () => {
    const crd = buildScheduleCrd();
    const version = (crd.spec.versions as { subresources: unknown; additionalPrinterColumns: { name: string }[] }[])[0]!;
    expect(crd.metadata.name).toBe('ansibleschedules.ajo.dev');
    expect(crd.spec.names).toMatchObject({ kind: 'AnsibleSchedule', shortNames: ['asched'], categories: ['ajo'] });
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.map((column) => column.name)).toEqual(['Schedule', 'Timezone', 'Suspend', 'Active', 'Last Run', 'Next Run', 'Age']);
  });

  test('the admission macros are the parser macros', () => {
    expect([...MACROS_ADMITTED].sort()).toEqual(Object.keys(MACROS).map((macro) => macro.slice(1)).sort());
  });

  test('every line the parser takes passes admission (admission is never stricter)', () => {
    const accepted = [
      '* * * * *', '*/5 * * * *', '0 9-17/2 * jan-MAR mon-fri', '5/15 * * * *', '0 0 13 * 5', '0 0 29 2 *', '00 07 * * 7', '59 23 31 12 6',
      '1,2,3-10/3 0-23 1-31 1-12 0-7', '0 0 * * SUN-sat', '  0 0 * * *  ', '0  0 * * *', '@daily', '@HOURLY', '@annually', '0 */2 * * *', '0 0 */90 * *',
    ];
    for (const line of accepted) {
      expect([line, parseCron(line).ok]).toEqual([line, true]);
      expect([line, admission(line)]).toEqual([line, null]);
    }
  });

  test('admission refuses out-of-range values, step 0, Quartz syntax, six fields and unknown macros, naming the field', () => {
    const refused: [string, string][] = [
      ['61 * * * *', 'field 0'], ['* 24 * * *', 'field 1'], ['0 0 0 * *', 'field 2'], ['0 0 32 * *', 'field 2'], ['0 0 * 13 *', 'field 3'],
      ['0 0 * * 8', 'field 4'], ['*/0 * * * *', 'field 0'], ['0 0 ? * *', 'field 2'], ['0 0 * * * *', 'fields'], ['@reboot', 'fields'],
      ['@every 5m', 'fields'], ['0 0 * foo *', 'field 3'], ['1- * * * *', 'field 0'], ['', 'fields'],
    ];
    for (const [line, rule] of refused) {
      expect([line, parseCron(line).ok]).toEqual([line, false]);
      expect([line, admission(line)]).toEqual([line, rule]);
    }
  });

  test('what only the parser sees passes admission and is left to the Invalid condition', () => {
    for (const line of ['5-3 * * * *', '0 0 30 2 *', '0 0 31 4,6,9,11 *']) {
      expect([line, admission(line)]).toEqual([line, null]);
      expect([line, parseCron(line).ok]).toEqual([line, false]);
    }
  });
});

describe('the AnsibleSchedule example of docs/schedules.md', () => {
  test('is a valid AnsibleSchedule', async () => {
    const { parse } = await import('yaml');
    const { AnsibleSchedule } = await import('../../../operator/src/api/ansible-schedule.js');
    const doc = readFileSync(new URL('../../../docs/schedules.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const parsed = AnsibleSchedule.safeParse(parse(yaml));
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(parseCron(parsed.data!.spec.schedule).ok).toBe(true);
  });
});
