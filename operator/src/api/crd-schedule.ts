/** Builds the AnsibleSchedule CustomResourceDefinition from the zod source in ansible-schedule.ts, with crd.ts' converter. */
import {
  AnsibleScheduleSpec,
  AnsibleScheduleStatus,
  MAX_SCHEDULE_NAME_LENGTH,
  SCHEDULE_KIND,
  SCHEDULE_PLURAL,
  SCHEDULE_SHORT_NAMES,
  SCHEDULE_SINGULAR,
} from './ansible-schedule.js';
import { buildCustomResourceDefinition, type CustomResourceDefinition } from './crd.js';

/**
 * Next Run is a string column: kubectl prints a `date` column as an age, and a time in the
 * future comes out as "<invalid>".
 */
const printerColumns = [
  { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule' },
  { name: 'Timezone', type: 'string', jsonPath: '.spec.timeZone', priority: 1 },
  { name: 'Suspend', type: 'boolean', jsonPath: '.spec.suspend' },
  { name: 'Active', type: 'integer', jsonPath: '.status.activeCount' },
  { name: 'Last Run', type: 'date', jsonPath: '.status.lastScheduleTime' },
  { name: 'Next Run', type: 'string', jsonPath: '.status.nextScheduleTime' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

export function buildScheduleCrd(): CustomResourceDefinition {
  return buildCustomResourceDefinition({
    kind: SCHEDULE_KIND,
    plural: SCHEDULE_PLURAL,
    singular: SCHEDULE_SINGULAR,
    shortNames: SCHEDULE_SHORT_NAMES,
    description: 'AnsibleSchedule creates an AnsibleJob from its jobTemplate at each time of a cron line.',
    spec: AnsibleScheduleSpec,
    status: AnsibleScheduleStatus,
    printerColumns,
    rules: [
      {
        rule: `self.metadata.name.size() <= ${MAX_SCHEDULE_NAME_LENGTH}`,
        message: `metadata.name must be at most ${MAX_SCHEDULE_NAME_LENGTH} characters (it is a label value on the schedule's jobs)`,
      },
    ],
  });
}
