/**
 * The run options a transmit stream carries in its `{"kwargs": {...}}` line.
 *
 * ansible-runner passes this object straight into RunnerConfig, so the key set is
 * RunnerConfig's: the 30 keys its `transmit` CLI always writes, plus the ones its
 * Python API may add (envvars, extravars, settings, tags, ...). An unknown key
 * makes ansible-runner's worker crash with a TypeError; ours names the key instead.
 */
import { z } from 'zod';

const nullableString = z.string().nullable().optional();
const nullableStringList = z.array(z.string()).nullable().optional();
const flag = z.boolean().nullable().optional();
const stringMap = z.record(z.string(), z.unknown());

export const runnerKwargsSchema = z
  .object({
    ident: z.union([z.string(), z.number()]).nullable().optional(),
    binary: nullableString,
    playbook: nullableString,
    module: nullableString,
    module_args: nullableString,
    host_pattern: nullableString,
    verbosity: z.number().int().min(0).nullable().optional(),
    quiet: flag,
    rotate_artifacts: z.number().int().min(0).nullable().optional(),
    json_mode: flag,
    omit_event_data: flag,
    only_failed_event_data: flag,
    // The Python API also accepts inventory as a dict/list; the CLI sends a path.
    inventory: z.union([z.string(), z.array(z.string()), stringMap]).nullable().optional(),
    // ansible-runner's CLI sends forks as a string ("5"); the API may send an int.
    forks: z.union([z.string().regex(/^\d+$/, 'forks must be a whole number'), z.number().int().positive()]).nullable().optional(),
    project_dir: nullableString,
    artifact_dir: nullableString,
    roles_path: z.union([z.string(), z.array(z.string())]).nullable().optional(),
    process_isolation: flag,
    process_isolation_executable: nullableString,
    process_isolation_path: nullableString,
    process_isolation_hide_paths: nullableStringList,
    process_isolation_show_paths: nullableStringList,
    process_isolation_ro_paths: nullableStringList,
    container_image: nullableString,
    container_volume_mounts: nullableStringList,
    container_options: nullableStringList,
    container_workdir: nullableString,
    container_auth_data: stringMap.nullable().optional(),
    directory_isolation_base_path: nullableString,
    cmdline: nullableString,
    limit: nullableString,
    suppress_env_files: flag,
    // Python API extras.
    host_cwd: nullableString,
    envvars: stringMap.nullable().optional(),
    extravars: stringMap.nullable().optional(),
    passwords: stringMap.nullable().optional(),
    settings: stringMap.nullable().optional(),
    ssh_key: nullableString,
    tags: nullableString,
    skip_tags: nullableString,
    /** Maximum runtime of the whole job in seconds: Ansible's `async` for a job. */
    timeout: z.number().int().positive().nullable().optional(),
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

/** The keys ansible-runner's transmit CLI always writes, in its order. */
export const TRANSMIT_KWARG_KEYS = [
  'ident',
  'binary',
  'playbook',
  'module',
  'module_args',
  'host_pattern',
  'verbosity',
  'quiet',
  'rotate_artifacts',
  'json_mode',
  'omit_event_data',
  'only_failed_event_data',
  'inventory',
  'forks',
  'project_dir',
  'artifact_dir',
  'roles_path',
  'process_isolation',
  'process_isolation_executable',
  'process_isolation_path',
  'process_isolation_hide_paths',
  'process_isolation_show_paths',
  'process_isolation_ro_paths',
  'container_image',
  'container_volume_mounts',
  'container_options',
  'directory_isolation_base_path',
  'cmdline',
  'limit',
  'suppress_env_files',
] as const;

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
