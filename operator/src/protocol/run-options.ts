/**
 * The run options of a job, in one table: each row gives the library option
 * (name and zod type), its CLI flag, and the kwargs key it travels under with
 * the value's transform on the way. The CLI flags, transmit's option schema,
 * the kwargs line and the kwargs schema of incoming streams all derive from it.
 *
 * Rows with a kwargs key are in ansible-runner 2.3.1's order: the 30 keys its
 * transmit CLI always writes (with `unset`, the value it writes when the
 * option is not given), then the keys only its Python API sends, which ajo
 * adds only when set (no `unset`).
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { RoleVarsError, roleVarsJson } from './role-play.js';

export const DEFAULT_CONTAINER_IMAGE = 'quay.io/ansible/ansible-runner:devel';

/** How a flag's text becomes the option's value: cli/ owns the parsers, the table names them. */
export type FlagValue =
  | 'text' // <value> as given
  | 'switch' // no value: true when given
  | 'count' // no value, repeatable: how often it was given (-vvv)
  | 'positive' // a whole number of at least 1
  | 'whole' // a whole number, 0 included
  | 'list' // <value>, repeatable: the values in order
  | 'extravars'; // <value>, repeatable: key=value, a JSON/YAML mapping or @file, merged

export const HELP_GROUPS = {
  run: 'What to run:',
  role: 'Roles (-r):',
  ansible: 'Ansible options:',
  runner: 'ansible-runner options:',
} as const;

export interface Flag {
  /** commander's flags string: `-p, --playbook <file>`. */
  flags: string;
  description: string;
  value: FlagValue;
  group: keyof typeof HELP_GROUPS;
}

export interface Kwarg {
  key: string;
  /** What an incoming stream may carry under the key (nullable too); any sender's types, not only ours. */
  accepts: z.ZodType;
  /** The wire value of a set option; the option's value when absent. */
  send?: (value: never) => unknown;
  /** The value sent when the option is not set; without it the key is left out. */
  unset?: () => unknown;
}

export interface RunOption {
  /** The library option's type; rows without one are kwargs that ajo's transmit never sets. */
  schema?: z.ZodType;
  flag?: Flag;
  kwarg?: Kwarg;
}

const text = z.string();
const stringList = z.array(z.string());
const stringMap = z.record(z.string(), z.unknown());
const flag = z.boolean();
const whole = z.number().int().min(0);
const positive = z.number().int().positive();
const alwaysNull = () => null;
const alwaysFalse = () => false;

function checkRoleVars(vars: string, ctx: z.RefinementCtx): void {
  try {
    roleVarsJson(vars);
  } catch (err) {
    if (!(err instanceof RoleVarsError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
}

export const RUN_OPTIONS = {
  ident: {
    schema: z.string().min(1).regex(/^[^/\\\0]+$/, 'ident must not contain slashes or NUL'),
    flag: { flags: '--ident <id>', description: 'job identifier (default: 32 random hex digits)', value: 'text', group: 'runner' },
    kwarg: { key: 'ident', accepts: z.union([z.string(), z.number()]), unset: () => randomUUID().replace(/-/g, '') },
  },
  binary: {
    schema: text,
    flag: { flags: '-b, --binary <path>', description: 'ansible binary to run', value: 'text', group: 'runner' },
    kwarg: { key: 'binary', accepts: text, unset: alwaysNull },
  },
  playbook: {
    schema: z.string().min(1),
    flag: { flags: '-p, --playbook <file>', description: 'playbook to run, relative to DIR/project', value: 'text', group: 'run' },
    kwarg: { key: 'playbook', accepts: text, unset: alwaysNull },
  },
  module: {
    schema: z.string().min(1),
    flag: { flags: '-m, --module <name>', description: 'run one module ad hoc instead of a playbook', value: 'text', group: 'run' },
    kwarg: { key: 'module', accepts: text, unset: alwaysNull },
  },
  moduleArgs: {
    schema: text,
    flag: { flags: '-a, --args <args>', description: 'module arguments (with -m)', value: 'text', group: 'run' },
    kwarg: { key: 'module_args', accepts: text, unset: alwaysNull },
  },
  hostPattern: {
    schema: text,
    flag: { flags: '--hosts <pattern>', description: "host pattern (with -m), or the role's play hosts (with -r; default all)", value: 'text', group: 'run' },
    kwarg: { key: 'host_pattern', accepts: text, unset: alwaysNull },
  },
  verbosity: {
    schema: z.number().int().min(0).max(6),
    flag: { flags: '-v, --verbose', description: 'more ansible verbosity (repeat: -vvv)', value: 'count', group: 'ansible' },
    kwarg: { key: 'verbosity', accepts: whole, unset: alwaysNull },
  },
  quiet: {
    schema: flag,
    kwarg: { key: 'quiet', accepts: flag, unset: alwaysFalse },
  },
  rotateArtifacts: {
    schema: whole,
    flag: { flags: '--rotate-artifacts <n>', description: 'keep this many artifact dirs (0: all)', value: 'whole', group: 'runner' },
    kwarg: { key: 'rotate_artifacts', accepts: whole, unset: () => 0 },
  },
  json: {
    schema: flag,
    flag: { flags: '-j, --json', description: 'JSON event output', value: 'switch', group: 'runner' },
    kwarg: { key: 'json_mode', accepts: flag, unset: alwaysFalse },
  },
  omitEventData: {
    schema: flag,
    flag: { flags: '--omit-event-data', description: 'send events without event_data', value: 'switch', group: 'runner' },
    kwarg: { key: 'omit_event_data', accepts: flag, unset: alwaysFalse },
  },
  onlyFailedEventData: {
    schema: flag,
    flag: { flags: '--only-failed-event-data', description: 'send event_data only for failures', value: 'switch', group: 'runner' },
    kwarg: { key: 'only_failed_event_data', accepts: flag, unset: alwaysFalse },
  },
  inventory: {
    schema: text,
    flag: { flags: '-i, --inventory <path>', description: 'inventory path inside DIR (default: DIR/inventory); with -r, inside DIR/inventory', value: 'text', group: 'ansible' },
    // The Python API also accepts inventory as a dict or a list; the CLI sends a path.
    kwarg: { key: 'inventory', accepts: z.union([z.string(), stringList, stringMap]), unset: alwaysNull },
  },
  forks: {
    schema: positive,
    flag: { flags: '--forks <n>', description: 'parallel hosts', value: 'positive', group: 'ansible' },
    // ansible-runner's CLI sends forks as a string ("5"); its API may send an int.
    kwarg: {
      key: 'forks',
      accepts: z.union([z.string().regex(/^\d+$/, 'forks must be a whole number'), positive]),
      send: (forks: number) => String(forks),
      unset: alwaysNull,
    },
  },
  projectDir: {
    schema: text,
    flag: { flags: '--project-dir <path>', description: 'project directory on the worker', value: 'text', group: 'runner' },
    kwarg: { key: 'project_dir', accepts: text, unset: alwaysNull },
  },
  artifactDir: {
    schema: text,
    flag: { flags: '--artifact-dir <path>', description: 'artifact directory on the worker', value: 'text', group: 'runner' },
    kwarg: { key: 'artifact_dir', accepts: text, unset: alwaysNull },
  },
  rolesPath: {
    schema: text,
    flag: {
      flags: '--roles-path <path>',
      description: "ANSIBLE_ROLES_PATH on the worker, relative to its project dir: '../roles' for DIR/roles",
      value: 'text',
      group: 'role',
    },
    kwarg: { key: 'roles_path', accepts: z.union([z.string(), stringList]), send: (path: string) => [path], unset: alwaysNull },
  },
  // ajo never wraps the job in bwrap or a container: the pod is the isolation.
  processIsolation: { kwarg: { key: 'process_isolation', accepts: flag, unset: alwaysNull } },
  processIsolationExecutable: { kwarg: { key: 'process_isolation_executable', accepts: text, unset: alwaysNull } },
  processIsolationPath: { kwarg: { key: 'process_isolation_path', accepts: text, unset: alwaysNull } },
  processIsolationHidePaths: { kwarg: { key: 'process_isolation_hide_paths', accepts: stringList, unset: alwaysNull } },
  processIsolationShowPaths: { kwarg: { key: 'process_isolation_show_paths', accepts: stringList, unset: alwaysNull } },
  processIsolationRoPaths: { kwarg: { key: 'process_isolation_ro_paths', accepts: stringList, unset: alwaysNull } },
  containerImage: {
    schema: text,
    flag: { flags: '--container-image <image>', description: 'container image (for container-based workers)', value: 'text', group: 'runner' },
    kwarg: { key: 'container_image', accepts: text, unset: () => DEFAULT_CONTAINER_IMAGE },
  },
  containerVolumeMounts: {
    schema: stringList,
    flag: { flags: '--container-volume-mount <mount>', description: 'container volume mount (repeatable)', value: 'list', group: 'runner' },
    kwarg: { key: 'container_volume_mounts', accepts: stringList, unset: alwaysNull },
  },
  containerOptions: {
    schema: stringList,
    flag: { flags: '--container-option <option>', description: 'container option (repeatable)', value: 'list', group: 'runner' },
    kwarg: { key: 'container_options', accepts: stringList, unset: alwaysNull },
  },
  directoryIsolationBasePath: { kwarg: { key: 'directory_isolation_base_path', accepts: text, unset: alwaysNull } },
  cmdline: {
    schema: text,
    flag: { flags: '--cmdline <args>', description: 'extra ansible-playbook arguments', value: 'text', group: 'ansible' },
    kwarg: { key: 'cmdline', accepts: text, unset: alwaysNull },
  },
  limit: {
    schema: text,
    flag: { flags: '--limit <pattern>', description: 'limit the play to these hosts', value: 'text', group: 'ansible' },
    kwarg: { key: 'limit', accepts: text, unset: alwaysNull },
  },
  omitEnvFiles: {
    schema: flag,
    flag: { flags: '--omit-env-files', description: 'do not write env files into artifacts', value: 'switch', group: 'runner' },
    kwarg: { key: 'suppress_env_files', accepts: flag, unset: alwaysFalse },
  },
  // ---- keys ansible-runner's API sends but not its transmit CLI: only when set.
  tags: {
    schema: text,
    flag: { flags: '--tags <tags>', description: 'only run tasks with these tags', value: 'text', group: 'ansible' },
    kwarg: { key: 'tags', accepts: text },
  },
  skipTags: {
    schema: text,
    flag: { flags: '--skip-tags <tags>', description: 'skip tasks with these tags', value: 'text', group: 'ansible' },
    kwarg: { key: 'skip_tags', accepts: text },
  },
  extravars: {
    schema: stringMap,
    flag: { flags: '-e, --extravars <vars>', description: 'extra vars: key=value, JSON/YAML mapping, or @file (repeatable)', value: 'extravars', group: 'ansible' },
    kwarg: { key: 'extravars', accepts: stringMap },
  },
  timeout: {
    /** Maximum runtime of the whole job in seconds: Ansible's `async`, for a job. */
    schema: positive,
    flag: {
      flags: '--timeout <seconds>',
      description: "maximum runtime of the whole job (Ansible's async); status 'timeout' after it",
      value: 'positive',
      group: 'ansible',
    },
    kwarg: { key: 'timeout', accepts: positive },
  },
  // ---- no kwargs of their own: -r becomes the playbook it writes into project/.
  role: {
    schema: z.string().min(1),
    flag: { flags: '-r, --role <name>', description: 'run one role instead of a playbook (see --roles-path)', value: 'text', group: 'run' },
  },
  roleVars: {
    // ansible-runner's `key=value …` (checked here, so a mistake is a usage error), or a mapping.
    schema: z.union([z.string().superRefine(checkRoleVars), stringMap]),
    flag: { flags: '--role-vars <vars>', description: "the role's variables: 'key=value …', each value a Python literal or text", value: 'text', group: 'role' },
  },
  roleSkipFacts: {
    schema: flag,
    flag: { flags: '--role-skip-facts', description: 'do not gather facts before the role', value: 'switch', group: 'role' },
  },
} as const satisfies Record<string, RunOption>;

type Table = typeof RUN_OPTIONS;
export type RunOptionName = { [K in keyof Table]: Table[K] extends { schema: z.ZodType } ? K : never }[keyof Table];

type OptionsShape = { [K in RunOptionName]: Table[K] extends { schema: infer S extends z.ZodType } ? z.ZodOptional<S> : never };
type KwargOf<E> = E extends { kwarg: { key: infer N extends string; accepts: infer S extends z.ZodType } } ? [N, S] : never;
type KwargsShape = { [K in keyof Table as KwargOf<Table[K]>[0]]: z.ZodOptional<z.ZodNullable<KwargOf<Table[K]>[1]>> };

const rows = Object.entries(RUN_OPTIONS) as Array<[RunOptionName | keyof Table, RunOption]>;

/** The run options as library options, each optional. */
export const runOptionsShape = Object.fromEntries(
  rows.flatMap(([name, row]) => (row.schema ? [[name, row.schema.optional()]] : [])),
) as OptionsShape;

/** The kwargs keys transmit writes, as an incoming stream may carry them (any may be null). */
export const runOptionKwargsShape = Object.fromEntries(
  rows.flatMap(([, row]) => (row.kwarg ? [[row.kwarg.key, row.kwarg.accepts.nullable().optional()]] : [])),
) as KwargsShape;

/** The kwargs object in ansible-runner's key order, with its value types. */
export function kwargsFor(options: Partial<Record<RunOptionName, unknown>>): Map<string, unknown> {
  const kwargs = new Map<string, unknown>();
  for (const [name, row] of rows) {
    if (!row.kwarg) continue;
    const value = row.schema ? options[name as RunOptionName] : undefined;
    if (value !== undefined) kwargs.set(row.kwarg.key, row.kwarg.send ? (row.kwarg.send as (v: unknown) => unknown)(value) : value);
    else if (row.kwarg.unset) kwargs.set(row.kwarg.key, row.kwarg.unset());
  }
  return kwargs;
}
