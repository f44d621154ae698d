/**
 * The AnsibleJobTemplate API: a job spec without a run, plus which launch-time fields a job
 * made from it may override (AWX's "prompt on launch"). One zod source for types and CRD.
 */
import * as z from 'zod';
import { Condition, ObjectMeta, OverridableField, Phase, TemplateJobSpec } from './ansible-job.js';
import { buildCustomResourceDefinition, type CustomResourceDefinition } from './crd.js';

export const TEMPLATE_KIND = 'AnsibleJobTemplate';
export const TEMPLATE_PLURAL = 'ansiblejobtemplates';
export const TEMPLATE_SINGULAR = 'ansiblejobtemplate';
export const TEMPLATE_SHORT_NAMES = ['ajt'];

export const AnsibleJobTemplateSpec = z
  .object({
    job: TemplateJobSpec.meta({ description: 'The AnsibleJob spec every job made from this template runs.' }),
    overridable: z.array(OverridableField).max(OverridableField.options.length).optional().meta({
      description: "Fields a job may set in spec.overrides (extraVars, limit, tags); anything else is refused. They apply to a spec.source job's fields.",
    }),
  })
  .refine((spec) => !spec.overridable?.length || spec.job.source !== undefined, {
    message: 'overridable fields need job.source (a payload has its variables baked in)',
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.overridable) || size(self.overridable) == 0 || has(self.job.source)',
        message: 'overridable fields need job.source (a payload has its variables baked in)',
      },
    ],
  });
export type AnsibleJobTemplateSpec = z.output<typeof AnsibleJobTemplateSpec>;

export const AnsibleJobTemplateStatus = z.object({
  lastJob: z
    .object({ name: z.string().max(253), phase: Phase.optional(), creationTimestamp: z.string().max(64).optional() })
    .optional()
    .meta({ description: 'The newest job made from this template that still exists.' }),
  runs: z
    .object({
      total: z.int().min(0),
      active: z.int().min(0).meta({ description: 'Not finished (Queued, Pending, Running).' }),
      succeeded: z.int().min(0),
      failed: z.int().min(0).meta({ description: 'Failed, TimedOut or Cancelled.' }),
    })
    .optional()
    .meta({ description: 'Counted from the jobs that exist now (a deleted or expired job no longer counts).' }),
  conditions: z.array(Condition).max(16).optional(),
});
export type AnsibleJobTemplateStatus = z.infer<typeof AnsibleJobTemplateStatus>;

export const AnsibleJobTemplate = z.object({
  apiVersion: z.string(),
  kind: z.literal(TEMPLATE_KIND),
  metadata: ObjectMeta,
  spec: AnsibleJobTemplateSpec,
  status: AnsibleJobTemplateStatus.optional(),
});
export type AnsibleJobTemplate = z.output<typeof AnsibleJobTemplate>;

export function buildTemplateCrd(): CustomResourceDefinition {
  return buildCustomResourceDefinition({
    kind: TEMPLATE_KIND,
    plural: TEMPLATE_PLURAL,
    singular: TEMPLATE_SINGULAR,
    shortNames: TEMPLATE_SHORT_NAMES,
    description: 'AnsibleJobTemplate holds an AnsibleJob spec that jobs name in spec.templateRef (ajo launch).',
    spec: AnsibleJobTemplateSpec,
    status: AnsibleJobTemplateStatus,
    printerColumns: [
      { name: 'Last Job', type: 'string', jsonPath: '.status.lastJob.name' },
      { name: 'Last Phase', type: 'string', jsonPath: '.status.lastJob.phase' },
      { name: 'Runs', type: 'integer', jsonPath: '.status.runs.total' },
      { name: 'Active', type: 'integer', jsonPath: '.status.runs.active' },
      { name: 'Succeeded', type: 'integer', jsonPath: '.status.runs.succeeded', priority: 1 },
      { name: 'Failed', type: 'integer', jsonPath: '.status.runs.failed', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}
