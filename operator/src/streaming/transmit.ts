/**
 * `transmit`: a private data dir plus run options → a job stream.
 *
 * The kwargs line carries ansible-runner's 30 transmit keys in its order and
 * with its types (forks as a string, roles_path as a list), so its worker
 * accepts our streams unchanged. Options its CLI lacks but its API accepts
 * (tags, skip_tags, extravars, timeout) are added only when set.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { z } from 'zod';
import { EOF_LINE, messageLine, writeOut, writeZipFrame } from '../protocol/frames.js';
import { parseRunnerKwargs, type RunnerKwargs } from '../protocol/kwargs.js';
import { packDirectory, type ZipProgress } from '../protocol/zip.js';

export const DEFAULT_CONTAINER_IMAGE = 'quay.io/ansible/ansible-runner:devel';

export const transmitOptionsSchema = z
  .object({
    privateDataDir: z.string().min(1),
    playbook: z.string().min(1).optional(),
    module: z.string().min(1).optional(),
    moduleArgs: z.string().optional(),
    hostPattern: z.string().optional(),
    ident: z.string().min(1).regex(/^[^/\\\0]+$/, 'ident must not contain slashes or NUL').optional(),
    binary: z.string().optional(),
    inventory: z.string().optional(),
    limit: z.string().optional(),
    tags: z.string().optional(),
    skipTags: z.string().optional(),
    verbosity: z.number().int().min(0).max(6).optional(),
    forks: z.number().int().positive().optional(),
    cmdline: z.string().optional(),
    extravars: z.record(z.string(), z.unknown()).optional(),
    projectDir: z.string().optional(),
    artifactDir: z.string().optional(),
    rolesPath: z.string().optional(),
    rotateArtifacts: z.number().int().min(0).optional(),
    quiet: z.boolean().optional(),
    json: z.boolean().optional(),
    omitEventData: z.boolean().optional(),
    onlyFailedEventData: z.boolean().optional(),
    omitEnvFiles: z.boolean().optional(),
    containerImage: z.string().optional(),
    containerVolumeMounts: z.array(z.string()).optional(),
    containerOptions: z.array(z.string()).optional(),
    /** Maximum runtime of the whole job in seconds (Ansible's `async`, for a job). */
    timeout: z.number().int().positive().optional(),
    /** Send only the kwargs line (the worker already has the files). */
    onlyTransmitKwargs: z.boolean().optional(),
    /** Leave the top-level `artifacts/` of earlier local runs out of the payload. */
    excludeArtifacts: z.boolean().optional(),
    /** Where the zip is staged before it is framed (its size must be known first). */
    tmpDir: z.string().optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (!!o.playbook === !!o.module) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of a playbook (-p) or a module (-m)' });
    }
    if (o.hostPattern && o.playbook) {
      ctx.addIssue({ code: 'custom', message: 'the --hosts option can only be used with -m' });
    }
  });

/**
 * Exactly one of a playbook or a module, in the type as in the schema, so a
 * job with neither is flagged by the compiler and not only at run time.
 */
export type RequirePlaybookOrModule<T extends { playbook?: string | undefined; module?: string | undefined }> = Omit<T, 'playbook' | 'module'> &
  ({ playbook: string; module?: undefined } | { module: string; playbook?: undefined });

export type TransmitOptions = RequirePlaybookOrModule<z.input<typeof transmitOptionsSchema>>;

/** The kwargs object, in ansible-runner's key order and types. */
export function buildKwargs(options: z.output<typeof transmitOptionsSchema>): Map<string, unknown> {
  const o = options;
  const kwargs = new Map<string, unknown>([
    ['ident', o.ident ?? randomUUID().replace(/-/g, '')],
    ['binary', o.binary ?? null],
    ['playbook', o.playbook ?? null],
    ['module', o.module ?? null],
    ['module_args', o.moduleArgs ?? null],
    ['host_pattern', o.hostPattern ?? null],
    ['verbosity', o.verbosity ?? null],
    ['quiet', o.quiet ?? false],
    ['rotate_artifacts', o.rotateArtifacts ?? 0],
    ['json_mode', o.json ?? false],
    ['omit_event_data', o.omitEventData ?? false],
    ['only_failed_event_data', o.onlyFailedEventData ?? false],
    ['inventory', o.inventory ?? null],
    ['forks', o.forks === undefined ? null : String(o.forks)],
    ['project_dir', o.projectDir ?? null],
    ['artifact_dir', o.artifactDir ?? null],
    ['roles_path', o.rolesPath === undefined ? null : [o.rolesPath]],
    ['process_isolation', null],
    ['process_isolation_executable', null],
    ['process_isolation_path', null],
    ['process_isolation_hide_paths', null],
    ['process_isolation_show_paths', null],
    ['process_isolation_ro_paths', null],
    ['container_image', o.containerImage ?? DEFAULT_CONTAINER_IMAGE],
    ['container_volume_mounts', o.containerVolumeMounts ?? null],
    ['container_options', o.containerOptions ?? null],
    ['directory_isolation_base_path', null],
    ['cmdline', o.cmdline ?? null],
    ['limit', o.limit ?? null],
    ['suppress_env_files', o.omitEnvFiles ?? false],
  ]);
  if (o.tags !== undefined) kwargs.set('tags', o.tags);
  if (o.skipTags !== undefined) kwargs.set('skip_tags', o.skipTags);
  if (o.extravars !== undefined) kwargs.set('extravars', o.extravars);
  if (o.timeout !== undefined) kwargs.set('timeout', o.timeout);
  return kwargs;
}

/**
 * The worker joins `inventory` onto its private data dir, so only a path
 * inside ours means the same thing there.
 */
async function inventoryInsideDataDir(privateDataDir: string, inventory: string): Promise<string> {
  const absolute = path.resolve(privateDataDir, inventory);
  const relative = path.relative(path.resolve(privateDataDir), absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new TransmitError(`inventory '${inventory}' is outside the private data dir; put it inside so it travels with the job`);
  }
  await stat(absolute).catch(() => {
    throw new TransmitError(`inventory '${inventory}' does not exist in the private data dir ${privateDataDir}`);
  });
  return relative;
}

export class TransmitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransmitError';
  }
}

export interface TransmitResult {
  kwargs: RunnerKwargs;
  zipBytes: number;
  entries: number;
  skipped: string[];
}

/** How `transmit` treats its output stream; kept apart from the job's options, which travel in the stream. */
export interface TransmitStreamOptions {
  /**
   * End `out` once the job stream is complete, as `stream.pipeline` and
   * `readable.pipe` do (default true); `false` leaves it open for more. Like
   * them, `process.stdout` and `process.stderr` are never ended.
   */
  end?: boolean;
  /** Called as files are packed into the payload. */
  onProgress?: (progress: ZipProgress) => void;
}

/**
 * Write the job stream for `options` to `out`. With `end` (the default), `out`
 * is ended when done and destroyed on failure, so a reader never waits for
 * bytes that will not come.
 */
export async function transmit(options: TransmitOptions, out: Writable, streamOptions: TransmitStreamOptions = {}): Promise<TransmitResult> {
  const owned = streamOptions.end !== false && out !== process.stdout && out !== process.stderr;
  try {
    const result = await writeJobStream(options, out, streamOptions.onProgress);
    if (owned) await endStream(out);
    return result;
  } catch (err) {
    // Without an error argument: an 'error' event nobody listens to yet would crash the caller.
    if (owned) out.destroy();
    throw err;
  }
}

async function endStream(out: Writable): Promise<void> {
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function writeJobStream(options: TransmitOptions, out: Writable, onProgress?: (progress: ZipProgress) => void): Promise<TransmitResult> {
  const parsed = transmitOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TransmitError(parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message).join('; '));
  const o = parsed.data;
  // Like ansible-runner: a missing private data dir is created and sent empty.
  await mkdir(o.privateDataDir, { recursive: true, mode: 0o700 });
  if (o.inventory !== undefined) o.inventory = await inventoryInsideDataDir(o.privateDataDir, o.inventory);
  const kwargs = buildKwargs(o);
  const checked = parseRunnerKwargs(Object.fromEntries(kwargs));
  if (!checked.ok) throw new TransmitError(checked.error);

  await writeOut(out, messageLine(new Map([['kwargs', kwargs]])));
  const result: TransmitResult = { kwargs: checked.kwargs, zipBytes: 0, entries: 0, skipped: [] };
  if (!o.onlyTransmitKwargs) {
    const staging = await mkdtemp(path.join(o.tmpDir ?? os.tmpdir(), 'ajo-transmit-'));
    try {
      const zipFile = path.join(staging, 'data.zip');
      const packed = await packDirectory(o.privateDataDir, zipFile, { excludeTopLevel: o.excludeArtifacts ? ['artifacts'] : [], onProgress });
      result.entries = packed.entries;
      result.skipped = packed.skipped;
      result.zipBytes = await writeZipFrame(out, zipFile);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  await writeOut(out, EOF_LINE);
  return result;
}
