/**
 * `transmit`: a private data dir plus run options → a job stream.
 *
 * The kwargs line carries ansible-runner's 30 transmit keys in its order and
 * with its types (forks as a string, roles_path as a list), so its worker
 * accepts our streams unchanged. Options its CLI lacks but its API accepts
 * (tags, skip_tags, extravars, timeout) are added only when set. The options,
 * keys and transforms come from one table, protocol/run-options.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import * as z from 'zod';
import { EOF_LINE, messageLine, writeOut, writeZipFrame } from '../protocol/frames.js';
import { parseRunnerKwargs, type RunnerKwargs } from '../protocol/kwargs.js';
import { rolePlaybook } from '../protocol/role-play.js';
import { kwargsFor, runOptionsShape } from '../protocol/run-options.js';
import { packDirectory, type ZipProgress } from '../protocol/zip.js';

export { DEFAULT_CONTAINER_IMAGE } from '../protocol/run-options.js';

export const transmitOptionsSchema = z
  .object({
    privateDataDir: z.string().min(1),
    ...runOptionsShape,
    /** Send only the kwargs line (the worker already has the files). */
    onlyTransmitKwargs: z.boolean().optional(),
    /** Leave the top-level `artifacts/` of earlier local runs out of the payload. */
    excludeArtifacts: z.boolean().optional(),
    /** Where the zip is staged before it is framed (its size must be known first). */
    tmpDir: z.string().optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if ([o.playbook, o.module, o.role].filter(Boolean).length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of a playbook (-p), a module (-m) or a role (-r)' });
    }
    if (o.hostPattern !== undefined && o.playbook) {
      ctx.addIssue({ code: 'custom', path: ['hostPattern'], message: 'the --hosts option can only be used with -m or -r' });
    }
    if (!o.role) {
      if (o.roleVars !== undefined) ctx.addIssue({ code: 'custom', path: ['roleVars'], message: 'only means something with a role (-r)' });
      if (o.roleSkipFacts) ctx.addIssue({ code: 'custom', path: ['roleSkipFacts'], message: 'only means something with a role (-r)' });
    } else if (o.projectDir !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['projectDir'], message: "-r writes its playbook into DIR/project, so it cannot be combined with --project-dir" });
    }
  });

/**
 * Exactly one of a playbook, a module or a role, in the type as in the schema, so a
 * job with none is flagged by the compiler and not only at run time.
 */
export type RequireWhatToRun<T extends { playbook?: string | undefined; module?: string | undefined; role?: string | undefined }> = Omit<
  T,
  'playbook' | 'module' | 'role'
> &
  (
    | { playbook: string; module?: undefined; role?: undefined }
    | { module: string; playbook?: undefined; role?: undefined }
    | { role: string; playbook?: undefined; module?: undefined }
  );

export type TransmitOptions = RequireWhatToRun<z.input<typeof transmitOptionsSchema>>;

/**
 * The worker joins `inventory` onto its private data dir, so only a path
 * inside ours means the same thing there. A relative path is taken from
 * `base`: the private data dir, or with -r its inventory/ (role_manager's rule).
 */
async function inventoryInsideDataDir(privateDataDir: string, inventory: string, base: string): Promise<string> {
  const absolute = path.resolve(base, inventory);
  const relative = path.relative(path.resolve(privateDataDir), absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new TransmitError(`inventory '${inventory}' is outside the private data dir; put it inside so it travels with the job`);
  }
  await stat(absolute).catch(() => {
    throw new TransmitError(`inventory '${inventory}' does not exist in ${base}`);
  });
  return relative;
}

/**
 * role_manager's dump_artifact: project/ is made (0700) when missing and the
 * playbook written read-only (0400) for the zip; the returned function undoes
 * both once the zip is made, as role_manager does after transmit.
 */
async function placeRolePlaybook(privateDataDir: string, name: string, text: string): Promise<() => Promise<void>> {
  const project = path.join(privateDataDir, 'project');
  const created = await mkdir(project, { mode: 0o700 }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw err;
    },
  );
  const file = path.join(project, name);
  // rmdir, not rm -r: whatever else appeared in project/ meanwhile is not ours to delete.
  const removeProject = async () => {
    if (!created) return;
    await rmdir(project).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'ENOENT') throw err;
    });
  };
  await writeFile(file, text, { mode: 0o400, flag: 'wx' }).catch(async (err: unknown) => {
    await removeProject();
    throw err;
  });
  let undone = false;
  return async () => {
    if (undone) return;
    undone = true;
    await rm(file, { force: true });
    await removeProject();
  };
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
  if (o.inventory !== undefined) {
    o.inventory = await inventoryInsideDataDir(o.privateDataDir, o.inventory, o.role ? path.join(o.privateDataDir, 'inventory') : o.privateDataDir);
  }
  let play: string | undefined;
  if (o.role) {
    play = rolePlaybook({ role: o.role, roleVars: o.roleVars, skipFacts: o.roleSkipFacts, hosts: o.hostPattern });
    // role_manager's file name, which travels as the playbook relative to project/.
    o.playbook = randomUUID().replace(/-/g, '');
  }
  const kwargs = kwargsFor(o);
  const checked = parseRunnerKwargs(Object.fromEntries(kwargs));
  if (!checked.ok) throw new TransmitError(checked.error);

  const result: TransmitResult = { kwargs: checked.kwargs, zipBytes: 0, entries: 0, skipped: [] };
  const kwargsLine = messageLine(new Map([['kwargs', kwargs]]));
  if (o.onlyTransmitKwargs) {
    await writeOut(out, kwargsLine);
  } else {
    const staging = await mkdtemp(path.join(o.tmpDir ?? os.tmpdir(), 'ajo-transmit-'));
    let removePlay: (() => Promise<void>) | undefined;
    try {
      // Placed before anything is written, so that a read-only DIR fails with an empty stream.
      if (play !== undefined) removePlay = await placeRolePlaybook(o.privateDataDir, o.playbook!, play);
      await writeOut(out, kwargsLine);
      const zipFile = path.join(staging, 'data.zip');
      const packed = await packDirectory(o.privateDataDir, zipFile, { excludeTopLevel: o.excludeArtifacts ? ['artifacts'] : [], onProgress });
      await removePlay?.(); // DIR is as it was as soon as the zip exists
      result.entries = packed.entries;
      result.skipped = packed.skipped;
      result.zipBytes = await writeZipFrame(out, zipFile);
    } finally {
      await removePlay?.();
      await rm(staging, { recursive: true, force: true });
    }
  }
  await writeOut(out, EOF_LINE);
  return result;
}
