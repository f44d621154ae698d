/**
 * spec.source of the AnsibleJob API: a job written by hand — the project (git, a ConfigMap or
 * inline files), what to run, the inventory, variables, options and credentials — which an init
 * container composes into a private data dir and a transmit stream inside the worker pod.
 *
 * The resource only names ConfigMaps and Secrets; their data never passes through the operator.
 */
import * as z from 'zod';
import { kubeName } from './names.js';


/** ConfigMap and Secret keys: Kubernetes allows letters, digits, '-', '_' and '.'. */
const dataKey = z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/);

/** A path inside the project or the private data dir, written by hand: never absolute, never `..`. */
export const ProjectPath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^/]/, { message: 'must be a relative path' })
  .refine((path) => !path.split('/').includes('..'), { message: "must not contain '..' segments" })
  .meta({
    description: "A relative path; '..' segments and absolute paths are refused.",
    'x-kubernetes-validations': [
      { rule: "!self.startsWith('/')", message: 'must be a relative path' },
      { rule: "!self.split('/').exists(p, p == '..')", message: "must not contain '..' segments" },
    ],
  });

export const ConfigMapKeyRef = z.object({
  name: kubeName.meta({ description: 'ConfigMap in the AnsibleJob namespace.' }),
  key: dataKey,
});
export const SecretKeyRef = z.object({
  name: kubeName.meta({ description: 'Secret in the AnsibleJob namespace.' }),
  key: dataKey,
});
export type ConfigMapKeyRef = z.infer<typeof ConfigMapKeyRef>;
export type SecretKeyRef = z.infer<typeof SecretKeyRef>;

export const GitProject = z
  .object({
    url: z.string().min(1).max(2048).meta({
      description: 'Clone URL: ssh://, git@host:path (scp-like), https:// or http://.',
    }),
    revision: z.string().min(1).max(256).optional().meta({
      description: "Branch, tag or commit to check out; the remote's default branch when unset.",
    }),
    path: ProjectPath.optional().meta({ description: 'Sub directory of the repository to use as the project.' }),
    authSecret: kubeName.optional().meta({
      description:
        "Secret with the credentials: for SSH `ssh-privatekey` (a kubernetes.io/ssh-auth Secret) and `known_hosts` (required: there is no trust on first use); for HTTPS `password` (a token) and optionally `username` (a kubernetes.io/basic-auth Secret).",
    }),
  })
  .meta({ description: 'A git repository; the resolved commit is recorded in status.source.commit.' });

export const ConfigMapProject = z
  .object({
    name: kubeName.meta({ description: 'ConfigMap in the AnsibleJob namespace.' }),
    items: z
      .array(z.object({ key: dataKey, path: ProjectPath }))
      .max(256)
      .optional()
      .meta({ description: 'Key to path mapping (keys cannot hold a `/`); every key at the top level when unset.' }),
  })
  .meta({ description: "A ConfigMap whose keys are the project's files." });

export const MAX_INLINE_BYTES = 65_536;
export const InlineFile = z.object({
  path: ProjectPath,
  content: z.string().max(MAX_INLINE_BYTES),
});
export const InlineProject = z
  .array(InlineFile)
  .min(1)
  .max(64)
  .refine((files) => files.reduce((sum, file) => sum + file.content.length, 0) <= MAX_INLINE_BYTES, {
    message: `inline files may hold at most ${MAX_INLINE_BYTES} characters in all`,
  })
  .refine((files) => new Set(files.map((file) => file.path)).size === files.length, { message: 'paths must be unique' })
  .meta({
    description: `Files written in the manifest, for small playbooks (at most ${MAX_INLINE_BYTES} characters in all).`,
    'x-kubernetes-validations': [
      {
        rule: `self.map(f, size(f.content)).sum() <= ${MAX_INLINE_BYTES}`,
        message: `inline files may hold at most ${MAX_INLINE_BYTES} characters in all`,
      },
      { rule: 'self.all(f, self.exists_one(g, g.path == f.path))', message: 'paths must be unique' },
    ],
  });

export const Project = z
  .object({
    git: GitProject.optional(),
    configMap: ConfigMapProject.optional(),
    inline: InlineProject.optional(),
  })
  .refine((project) => [project.git, project.configMap, project.inline].filter(Boolean).length === 1, {
    message: 'must name exactly one of git, configMap or inline',
  })
  .meta({
    description: 'Where the project (the playbooks, roles, files) comes from.',
    'x-kubernetes-validations': [
      {
        rule: "[has(self.git), has(self.configMap), has(self.inline)].filter(x, x).size() == 1",
        message: 'must name exactly one of git, configMap or inline',
      },
    ],
  });

export const AdHocModule = z.object({
  name: z.string().min(1).max(253).meta({ description: 'Module name, e.g. ansible.builtin.ping.' }),
  args: z.string().max(16_384).optional().meta({ description: 'Module arguments (`-a`).' }),
  hosts: z.string().min(1).max(1024).default('all').meta({ description: 'Host pattern.' }),
});

export const Inventory = z
  .object({
    inline: z.string().min(1).max(MAX_INLINE_BYTES).optional().meta({ description: 'An INI or YAML inventory.' }),
    configMap: ConfigMapKeyRef.optional(),
    secret: SecretKeyRef.optional(),
    path: ProjectPath.optional().meta({ description: 'A file or directory in the project.' }),
  })
  .refine((inventory) => [inventory.inline, inventory.configMap, inventory.secret, inventory.path].filter(Boolean).length === 1, {
    message: 'must name exactly one of inline, configMap, secret or path',
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.inline), has(self.configMap), has(self.secret), has(self.path)].filter(x, x).size() == 1',
        message: 'must name exactly one of inline, configMap, secret or path',
      },
    ],
  });

export const VarsSource = z
  .object({ configMap: ConfigMapKeyRef.optional(), secret: SecretKeyRef.optional() })
  .refine((from) => (from.configMap === undefined) !== (from.secret === undefined), {
    message: 'must name exactly one of configMap or secret',
  })
  .meta({
    description: 'A key holding a YAML or JSON mapping of variables.',
    'x-kubernetes-validations': [
      { rule: 'has(self.configMap) != has(self.secret)', message: 'must name exactly one of configMap or secret' },
    ],
  });

const passwordRef = (what: string) =>
  SecretKeyRef.optional().meta({ description: `Secret key holding the ${what}; answered at ansible's prompt (env/passwords).` });

export const Credentials = z.object({
  sshKeySecret: kubeName.optional().meta({
    description: "A kubernetes.io/ssh-auth Secret: `ssh-privatekey` becomes the private data dir's env/ssh_key.",
  }),
  knownHosts: ConfigMapKeyRef.optional().meta({
    description:
      "known_hosts lines of the managed hosts (ssh-keyscan output); written to the worker's ~/.ssh/known_hosts, so that host keys are checked as ssh always does.",
  }),
  vaultPassword: passwordRef('vault password'),
  becomePassword: passwordRef('become (sudo) password'),
  connectionPassword: passwordRef('SSH connection password'),
});

const envName = z.string().min(1).max(253).regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

export const Source = z
  .object({
    project: Project.optional(),
    playbook: ProjectPath.optional().meta({ description: 'Playbook path in the project.' }),
    module: AdHocModule.optional().meta({ description: 'An ad hoc module to run instead of a playbook.' }),
    inventory: Inventory.optional().meta({ description: "Ansible's default inventory (localhost) when unset." }),
    extraVars: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: 'Extra variables (env/extravars).', 'x-kubernetes-preserve-unknown-fields': true }),
    extraVarsFrom: z.array(VarsSource).max(16).optional().meta({
      description: 'Mappings of extra variables from ConfigMaps and Secrets, merged in order; extraVars wins.',
    }),
    env: z.record(envName, z.string().max(16_384)).optional().meta({ description: 'Environment variables (env/envvars).' }),
    limit: z.string().min(1).max(1024).optional(),
    tags: z.array(z.string().min(1).max(253)).max(64).optional(),
    skipTags: z.array(z.string().min(1).max(253)).max(64).optional(),
    verbosity: z.int().min(0).max(5).optional(),
    forks: z.int().min(1).max(1000).optional(),
    check: z.boolean().optional().meta({ description: 'Run in check mode (--check).' }),
    diff: z.boolean().optional().meta({ description: 'Show differences (--diff).' }),
    requirements: ProjectPath.optional().meta({
      description:
        'A requirements.yml in the project whose roles and collections are installed (ansible-galaxy) before the play; by default requirements.yml, roles/requirements.yml and collections/requirements.yml are used when present.',
    }),
    credentials: Credentials.optional(),
  })
  .refine((source) => (source.playbook === undefined) !== (source.module === undefined), {
    message: 'must name exactly one of playbook or module',
  })
  .refine((source) => source.playbook === undefined || source.project !== undefined, { message: 'a playbook needs a project' })
  .refine((source) => source.inventory?.path === undefined || source.project !== undefined, {
    message: 'an inventory path needs a project',
  })
  .meta({
    description: 'A job written by hand; the sidecar of its pod composes it into a transmit stream while the worker waits.',
    'x-kubernetes-validations': [
      { rule: 'has(self.playbook) != has(self.module)', message: 'must name exactly one of playbook or module' },
      { rule: '!has(self.playbook) || has(self.project)', message: 'a playbook needs a project' },
      { rule: '!has(self.inventory) || !has(self.inventory.path) || has(self.project)', message: 'an inventory path needs a project' },
    ],
  });
export type Source = z.output<typeof Source>;
export type SourceInput = z.input<typeof Source>;

/** Every ConfigMap a source names, in a stable order (deduplicated). */
export function configMapsOf(source: Source): string[] {
  const names = [
    source.project?.configMap?.name,
    source.inventory?.configMap?.name,
    ...(source.extraVarsFrom ?? []).map((from) => from.configMap?.name),
    source.credentials?.knownHosts?.name,
  ];
  return [...new Set(names.filter((name): name is string => name !== undefined))].sort();
}

/** Every Secret a source names, in a stable order (deduplicated). */
export function secretsOf(source: Source): string[] {
  const credentials = source.credentials;
  const names = [
    source.project?.git?.authSecret,
    source.inventory?.secret?.name,
    ...(source.extraVarsFrom ?? []).map((from) => from.secret?.name),
    credentials?.sshKeySecret,
    credentials?.vaultPassword?.name,
    credentials?.becomePassword?.name,
    credentials?.connectionPassword?.name,
  ];
  return [...new Set(names.filter((name): name is string => name !== undefined))].sort();
}
