/** Builds the AnsibleSchedule CustomResourceDefinition from the zod source in ansible-schedule.ts, with crd.ts' converter. */
import { CATEGORIES, GROUP, VERSION } from './ansible-job.js';
import {
  AnsibleScheduleSpec,
  AnsibleScheduleStatus,
  MAX_SCHEDULE_NAME_LENGTH,
  SCHEDULE_KIND,
  SCHEDULE_PLURAL,
  SCHEDULE_SHORT_NAMES,
  SCHEDULE_SINGULAR,
} from './ansible-schedule.js';
import { jsonSchemaOf, type CustomResourceDefinition } from './crd.js';

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
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${SCHEDULE_PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'ajo' } },
    spec: {
      group: GROUP,
      names: {
        kind: SCHEDULE_KIND,
        listKind: `${SCHEDULE_KIND}List`,
        plural: SCHEDULE_PLURAL,
        singular: SCHEDULE_SINGULAR,
        shortNames: SCHEDULE_SHORT_NAMES,
        categories: CATEGORIES,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'AnsibleSchedule creates an AnsibleJob from its jobTemplate at each time of a cron line.',
              required: ['spec'],
              'x-kubernetes-validations': [
                {
                  rule: `self.metadata.name.size() <= ${MAX_SCHEDULE_NAME_LENGTH}`,
                  message: `metadata.name must be at most ${MAX_SCHEDULE_NAME_LENGTH} characters (it is a label value on the schedule's jobs)`,
                },
              ],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: jsonSchemaOf(AnsibleScheduleSpec, 'input'),
                status: jsonSchemaOf(AnsibleScheduleStatus, 'output'),
              },
            },
          },
        },
      ],
    },
  };
}
