/**
 * Resolving an AnsibleJob that names a template (spec.templateRef): the template's job spec
 * with the job's overrides, refused when the template does not let a field be overridden.
 * Pure; the result is recorded once in status.template, so a later template edit never
 * changes a job that already exists.
 */
import * as z from 'zod';
import {
  AnsibleJobSpec,
  TemplateJobSpec,
  type AnsibleJobStatus,
  type OverridableField,
  type StoredAnsibleJob,
} from '../../api/ansible-job.js';
import type { AnsibleJobTemplate } from '../../api/ansible-job-template.js';

export type Resolution =
  | { kind: 'resolved'; template: NonNullable<AnsibleJobStatus['template']> }
  | { kind: 'refused'; reason: 'OverrideNotAllowed' | 'InvalidTemplate'; message: string };

/** The override fields a job sets, in a stable order. */
export function overriddenFields(job: StoredAnsibleJob): OverridableField[] {
  const overrides = job.spec.overrides ?? {};
  return (['extraVars', 'limit', 'tags'] as const).filter((field) => overrides[field] !== undefined);
}

export function resolveTemplate(job: StoredAnsibleJob, template: AnsibleJobTemplate): Resolution {
  const allowed = new Set(template.spec.overridable ?? []);
  const refused = overriddenFields(job).filter((field) => !allowed.has(field));
  const name = template.metadata.name;
  if (refused.length > 0) {
    const may = allowed.size > 0 ? `it allows only ${[...allowed].join(', ')}` : 'it allows no overrides';
    return {
      kind: 'refused',
      reason: 'OverrideNotAllowed',
      message: `AnsibleJobTemplate ${name} does not let a job override ${refused.join(', ')} (${may}; see its spec.overridable)`,
    };
  }
  const base = template.spec.job;
  const overrides = job.spec.overrides ?? {};
  const source = base.source
    ? {
        ...base.source,
        ...(overrides.extraVars !== undefined ? { extraVars: { ...(base.source.extraVars ?? {}), ...overrides.extraVars } } : {}),
        ...(overrides.limit !== undefined ? { limit: overrides.limit } : {}),
        ...(overrides.tags !== undefined ? { tags: overrides.tags } : {}),
      }
    : undefined;
  // The job's own queue and priority win: the same template may feed several queues.
  const resolved = {
    ...base,
    ...(source ? { source } : {}),
    ...(job.spec.queue !== undefined ? { queue: job.spec.queue } : {}),
    ...(job.spec.priority !== undefined ? { priority: job.spec.priority } : {}),
  };
  const checked = TemplateJobSpec.safeParse(resolved);
  if (!checked.success) return { kind: 'refused', reason: 'InvalidTemplate', message: `AnsibleJobTemplate ${name}: ${z.prettifyError(checked.error)}` };
  return {
    kind: 'resolved',
    template: {
      name,
      uid: template.metadata.uid ?? '',
      generation: template.metadata.generation ?? 0,
      spec: JSON.parse(JSON.stringify(checked.data)) as Record<string, unknown>,
    },
  };
}

/**
 * The job as the controller runs it: for a template job, the recorded resolved spec with the
 * job's own suspend (cancel works the same) and TTL; any other job unchanged. undefined when a
 * recorded spec no longer parses (it was edited by hand).
 */
export function effectiveJob(job: StoredAnsibleJob): StoredAnsibleJob | undefined {
  const recorded = job.status?.template;
  if (!job.spec.templateRef || !recorded) return job;
  const spec = AnsibleJobSpec.safeParse({
    ...recorded.spec,
    suspend: job.spec.suspend,
    ...(job.spec.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: job.spec.ttlSecondsAfterFinished } : {}),
  });
  return spec.success ? { ...job, spec: spec.data } : undefined;
}
