/**
 * The run options a job stream carries in its `{"kwargs": {...}}` line, as a
 * worker accepts them.
 *
 * ansible-runner passes this object straight into RunnerConfig, so the key set is
 * RunnerConfig's: the keys transmit writes (run-options.ts), plus the ones only
 * its Python API sends (envvars, settings, ssh_key, ...). An unknown key makes
 * ansible-runner's worker crash with a TypeError; ours names the key instead.
 */
import * as z from 'zod';
import { runOptionKwargsShape } from './run-options.js';

const nullableString = z.string().nullable().optional();
const flag = z.boolean().nullable().optional();
const stringMap = z.record(z.string(), z.unknown());

export const runnerKwargsSchema = z
  .object({
    ...runOptionKwargsShape,
    // Python API extras that transmit never writes.
    container_workdir: nullableString,
    container_auth_data: stringMap.nullable().optional(),
    host_cwd: nullableString,
    envvars: stringMap.nullable().optional(),
    passwords: stringMap.nullable().optional(),
    settings: stringMap.nullable().optional(),
    ssh_key: nullableString,
    fact_cache: nullableString,
    fact_cache_type: nullableString,
    check_job_event_data: flag,
    suppress_output_file: flag,
    suppress_ansible_output: flag,
  })
  .strict()
  .superRefine((kwargs, ctx) => {
    const hasPlaybook = kwargs.playbook != null && kwargs.playbook !== '';
    const hasModule = kwargs.module != null && kwargs.module !== '';
    if (hasPlaybook === hasModule) {
      ctx.addIssue({
        code: 'custom',
        message: hasPlaybook
          ? 'kwargs name both a playbook and a module; exactly one is allowed'
          : 'kwargs name neither a playbook nor a module; exactly one is required',
      });
    }
  });

export type RunnerKwargs = z.infer<typeof runnerKwargsSchema>;

/** Turn zod's issues into one line a user can act on. */
export function describeKwargsError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown run option(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
      const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
      return where + issue.message;
    })
    .join('; ');
}

export function parseRunnerKwargs(value: unknown): { ok: true; kwargs: RunnerKwargs } | { ok: false; error: string } {
  const result = runnerKwargsSchema.safeParse(value);
  return result.success ? { ok: true, kwargs: result.data } : { ok: false, error: describeKwargsError(result.error) };
}
