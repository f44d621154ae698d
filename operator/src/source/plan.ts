/**
 * The pure half of a compose: from a Source and the ConfigMap/Secret values it names, which
 * files the private data dir gets (env/, inventory/) and which run options travel in the
 * kwargs. Nothing here touches the file system, so every rule is unit-tested.
 */
import path from 'node:path';
import { parse as parseYaml, type Tags } from 'yaml';
import type { Source } from '../api/source.js';
import type { TransmitOptions } from '../streaming/transmit.js';
import { invalidSource } from './errors.js';

/** A ConfigMap or Secret key, as the compose reads it from its mounted volume. */
export interface DataRef {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  key: string;
}

export const describeRef = (ref: DataRef): string => `${ref.kind} ${ref.name} key ${ref.key}`;

/** A file of the private data dir: its path inside it, content and mode. */
export interface PlannedFile {
  path: string;
  content: string | Buffer;
  mode: number;
}

/** What the plan needs read from the volumes, by the reference it was named with. */
export type ReadData = (ref: DataRef) => Buffer;

/**
 * The prompts ansible asks with --ask-vault-pass, --ask-become-pass and --ask-pass, as the
 * Python regular expressions (compiled with re.M) of ansible-runner's env/passwords. The
 * become prompt also matches `BECOME password[defaults to SSH password]:`, which ansible
 * shows when -k and -K are given together.
 */
export const PASSWORD_PROMPTS = {
  vaultPassword: { pattern: String.raw`^Vault password:\s*?$`, flag: '--ask-vault-pass' },
  becomePassword: { pattern: String.raw`^BECOME password.*:\s*?$`, flag: '--ask-become-pass' },
  connectionPassword: { pattern: String.raw`^SSH password:\s*?$`, flag: '--ask-pass' },
} as const;
type PasswordName = keyof typeof PASSWORD_PROMPTS;
const PASSWORD_NAMES = Object.keys(PASSWORD_PROMPTS) as PasswordName[];

/** The ssh-auth Secret key that holds the private key (kubernetes.io/ssh-auth). */
export const SSH_PRIVATE_KEY = 'ssh-privatekey';

// YAML 1.1 like ansible's loader (`yes` is true), but dates stay the text they were written as.
const withoutTimestamps = (tags: Tags): Tags => tags.filter((tag) => typeof tag !== 'object' || tag.tag !== 'tag:yaml.org,2002:timestamp');

/** One extra vars document (YAML or JSON) as a mapping, or InvalidSource saying what is wrong with it. */
export function parseVarsDocument(what: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseYaml(text, { version: '1.1', customTags: withoutTimestamps });
  } catch (err) {
    throw invalidSource(`${what} is not YAML or JSON: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Map) {
    throw invalidSource(`${what} must be a mapping of variables, not ${Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'this' : `a ${typeof value}`}`);
  }
  return value as Record<string, unknown>;
}

/** extraVarsFrom in order, then extraVars: later top-level keys replace earlier ones, as repeated -e do. */
export function mergeExtraVars(source: Source, read: ReadData): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const from of source.extraVarsFrom ?? []) {
    const ref: DataRef = from.configMap ? { kind: 'ConfigMap', ...from.configMap } : { kind: 'Secret', ...from.secret! };
    Object.assign(merged, parseVarsDocument(`extra vars from ${describeRef(ref)}`, read(ref).toString('utf8')));
  }
  Object.assign(merged, source.extraVars ?? {});
  return merged;
}

/** The ansible-playbook (or ansible) flags that no run option carries: env/cmdline. */
export function cmdlineFor(source: Source): string | undefined {
  const flags: string[] = [];
  if (source.check) flags.push('--check');
  if (source.diff) flags.push('--diff');
  for (const name of PASSWORD_NAMES) if (source.credentials?.[name]) flags.push(PASSWORD_PROMPTS[name].flag);
  return flags.length ? flags.join(' ') : undefined;
}

/**
 * A password as typed at a prompt: trailing line ends dropped, since Secrets made from files
 * (`kubectl create secret generic --from-file`) usually end with one, and the answer is
 * followed by a newline anyway.
 */
export const promptAnswer = (value: Buffer): string => value.toString('utf8').replace(/[\r\n]+$/, '');

/** env/passwords: prompt pattern → answer, for each password the source names. */
export function passwordsFor(source: Source, read: ReadData): Record<string, string> | undefined {
  const passwords: Record<string, string> = {};
  for (const name of PASSWORD_NAMES) {
    const ref = source.credentials?.[name];
    if (ref) passwords[PASSWORD_PROMPTS[name].pattern] = promptAnswer(read({ kind: 'Secret', ...ref }));
  }
  return Object.keys(passwords).length ? passwords : undefined;
}

/** The private key, ending with a newline (ssh-add refuses some key files without one). */
export function sshKeyFor(source: Source, read: ReadData): string | undefined {
  const name = source.credentials?.sshKeySecret;
  if (!name) return undefined;
  const key = read({ kind: 'Secret', name, key: SSH_PRIVATE_KEY }).toString('utf8');
  if (!key.trim()) throw invalidSource(`Secret ${name} key ${SSH_PRIVATE_KEY} is empty`);
  return key.endsWith('\n') ? key : key + '\n';
}

/** The inventory file the source gives by value (inline, ConfigMap or Secret), if any. */
export function inventoryFileFor(source: Source, read: ReadData): string | Buffer | undefined {
  const inventory = source.inventory;
  if (!inventory) return undefined;
  if (inventory.inline !== undefined) return inventory.inline.endsWith('\n') ? inventory.inline : inventory.inline + '\n';
  if (inventory.configMap) return read({ kind: 'ConfigMap', ...inventory.configMap });
  if (inventory.secret) return read({ kind: 'Secret', ...inventory.secret });
  return undefined;
}

export const PROJECT_DIR = 'project';
export const INVENTORY_FILE = 'inventory/hosts';

/** Files of env/ and inventory/ (the project is placed by project.ts). Secrets get mode 0600. */
export function planDataDirFiles(source: Source, read: ReadData): PlannedFile[] {
  const files: PlannedFile[] = [];
  const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';
  const extraVars = mergeExtraVars(source, read);
  if (Object.keys(extraVars).length) files.push({ path: 'env/extravars', content: json(extraVars), mode: 0o600 });
  if (source.env && Object.keys(source.env).length) files.push({ path: 'env/envvars', content: json(source.env), mode: 0o600 });
  const cmdline = cmdlineFor(source);
  if (cmdline) files.push({ path: 'env/cmdline', content: cmdline, mode: 0o600 });
  const passwords = passwordsFor(source, read);
  if (passwords) files.push({ path: 'env/passwords', content: json(passwords), mode: 0o600 });
  const sshKey = sshKeyFor(source, read);
  if (sshKey) files.push({ path: 'env/ssh_key', content: sshKey, mode: 0o600 });
  const inventory = inventoryFileFor(source, read);
  if (inventory !== undefined) files.push({ path: INVENTORY_FILE, content: inventory, mode: source.inventory?.secret ? 0o600 : 0o644 });
  return files;
}

/** What to run and how, as transmit's run options (protocol/run-options.ts). */
export function runOptionsFor(source: Source): Omit<TransmitOptions, 'privateDataDir'> {
  const common = {
    ...(source.inventory?.path !== undefined && { inventory: projectRelative(source.inventory.path) }),
    ...(source.limit !== undefined && { limit: source.limit }),
    ...(source.verbosity !== undefined && { verbosity: source.verbosity }),
    ...(source.forks !== undefined && { forks: source.forks }),
    ...(source.tags?.length && { tags: source.tags.join(',') }),
    ...(source.skipTags?.length && { skipTags: source.skipTags.join(',') }),
  };
  if (source.module) {
    return {
      ...common,
      module: source.module.name,
      hostPattern: source.module.hosts,
      ...(source.module.args !== undefined && { moduleArgs: source.module.args }),
    };
  }
  return { ...common, playbook: normalizeRelative(source.playbook!) };
}

/** A path of the project as the private data dir sees it: `project/<path>`. */
export const projectRelative = (relative: string): string => path.posix.join(PROJECT_DIR, normalizeRelative(relative));

/**
 * A relative path written by hand, normalized (`./a//b/` → `a/b`); InvalidSource if it is
 * absolute, leaves its root or names the root itself.
 */
export function normalizeRelative(relative: string, what = 'path'): string {
  const normalized = path.posix.normalize(relative).replace(/\/+$/, '');
  if (path.posix.isAbsolute(relative) || normalized === '..' || normalized.startsWith('../') || relative.includes('\0')) {
    throw invalidSource(`${what} '${relative}' must stay inside the project`);
  }
  if (normalized === '.' || normalized === '') throw invalidSource(`${what} '${relative}' names no file`);
  return normalized;
}

/** `root/relative`, refusing anything that would land outside root. */
export function insideRoot(root: string, relative: string, what = 'path'): string {
  return path.join(root, normalizeRelative(relative, what));
}

/**
 * The requirements files to install: the one the source names, or those of the usual three
 * that the project has (`exists` says which).
 */
export function requirementsFilesFor(source: Source, exists: (relative: string) => boolean): string[] {
  if (source.requirements !== undefined) {
    const named = normalizeRelative(source.requirements, 'requirements');
    if (!exists(named)) throw invalidSource(`requirements file '${source.requirements}' is not in the project`);
    return [named];
  }
  return ['requirements.yml', 'roles/requirements.yml', 'collections/requirements.yml'].filter(exists);
}

/** Which ansible-galaxy installs a requirements document needs: the old format is a list of roles. */
export function requirementsKinds(what: string, text: string): { roles: boolean; collections: boolean } {
  let value: unknown;
  try {
    value = parseYaml(text, { version: '1.1', customTags: withoutTimestamps });
  } catch (err) {
    throw invalidSource(`${what} is not YAML: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  if (value === null || value === undefined) return { roles: false, collections: false };
  if (Array.isArray(value)) return { roles: value.length > 0, collections: false };
  if (typeof value !== 'object') throw invalidSource(`${what} must be a list of roles or a mapping with roles and collections`);
  const document = value as Record<string, unknown>;
  const listed = (key: string): boolean => Array.isArray(document[key]) && (document[key] as unknown[]).length > 0;
  return { roles: listed('roles'), collections: listed('collections') };
}
