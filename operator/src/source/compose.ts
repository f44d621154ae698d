/**
 * `ajo compose`, the library side: a Source plus its mounted ConfigMaps and Secrets → a
 * private data dir in `<workDir>/pdd` → a transmit stream in `output`, with the commit, the
 * stream's sha256, its size and file count. Every failure is a ComposeError with a reason.
 *
 * Nothing is written outside workDir and output; what compose made in workDir (the data dir
 * with its keys and passwords, the checkout, the credentials) is removed when it ends.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Source } from '../api/source.js';
import { transmit, type TransmitOptions } from '../streaming/transmit.js';
import { ComposeError, invalidSource } from './errors.js';
import { baseEnvironment, fetchRevision, gitAccess } from './git.js';
import type { ComposeSuccess } from './outcome.js';
import { PROJECT_DIR, planDataDirFiles, runOptionsFor, type ReadData } from './plan.js';
import { checkSymlinks, placeCheckout, placeConfigMapProject, placeInlineProject, projectEntry } from './project.js';
import { installRequirements } from './requirements.js';
import { readKey, type VolumeRoots } from './volumes.js';

export const DEFAULT_COMPOSE_TIMEOUT_SECONDS = 600;

export interface ComposeOptions {
  source: Source;
  volumes: VolumeRoots;
  workDir: string;
  /** Where the transmit stream is written. */
  output: string;
  /** The whole compose (git, ansible-galaxy) must be done within this; default 600. */
  timeoutSeconds?: number;
  /** Aborts the compose and kills its children (SIGTERM). */
  signal?: AbortSignal;
  /** The environment git and ansible-galaxy start from (PATH, proxies, CAs); default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * The worker's HOME (a volume it shares with compose): credentials.knownHosts becomes its
   * ~/.ssh/known_hosts, which ssh reads for every managed host, in ajo's worker and ansible-runner's.
   */
  workerHome?: string;
}

/** What compose makes inside workDir (and removes again). */
const OWN_DIRS = ['pdd', 'checkout', 'credentials', 'tmp', 'home'];

export async function compose(options: ComposeOptions): Promise<ComposeSuccess> {
  const workDir = path.resolve(options.workDir);
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  // A second run in the same pod (a restarted container) finds the first one's leftovers in the same emptyDir.
  const clean = (): void => {
    for (const dir of OWN_DIRS) rmSync(path.join(workDir, dir), { recursive: true, force: true });
  };
  clean();
  try {
    return await composeInto(workDir, options);
  } catch (err) {
    rmSync(options.output, { force: true });
    throw err;
  } finally {
    clean();
  }
}

async function composeInto(workDir: string, options: ComposeOptions): Promise<ComposeSuccess> {
  const { source, signal } = options;
  const deadline = Date.now() + (options.timeoutSeconds ?? DEFAULT_COMPOSE_TIMEOUT_SECONDS) * 1000;
  const read: ReadData = (ref) => readKey(options.volumes, ref);
  const pdd = path.join(workDir, 'pdd');
  const projectRoot = path.join(pdd, PROJECT_DIR);
  mkdirSync(pdd, { mode: 0o700 });
  const baseEnv = options.env ?? process.env;

  let commit: string | undefined;
  let env = baseEnvironment(workDir, baseEnv);
  const project = source.project;
  // Where the time goes, reported with the outcome: apply → running of a source job pays for it.
  const clock = stepClock();
  if (project?.git) {
    const access = gitAccess(project.git, read, workDir, baseEnv);
    env = access.env;
    const checkout = path.join(workDir, 'checkout');
    commit = await fetchRevision({ url: project.git.url, revision: project.git.revision, dir: checkout, access, deadline, signal });
    clock.lap('gitMs');
    placeCheckout(checkout, project.git.path, projectRoot);
  } else if (project?.configMap) {
    placeConfigMapProject(project.configMap, options.volumes, read, projectRoot);
  } else if (project?.inline) {
    placeInlineProject(project.inline, projectRoot);
  }
  signal?.throwIfAborted();

  if (project) {
    checkSymlinks(projectRoot);
    if (source.playbook !== undefined) projectEntry(projectRoot, source.playbook, 'playbook');
    if (source.inventory?.path !== undefined) projectEntry(projectRoot, source.inventory.path, 'inventory path', true);
    clock.lap('projectMs');
    await installRequirements({ source, projectRoot, workDir, env, deadline, signal });
    clock.lap('requirementsMs');
    // Roles and collections from git bring their own links.
    checkSymlinks(projectRoot);
  } else if (source.requirements !== undefined) {
    throw invalidSource('requirements need a project');
  }
  signal?.throwIfAborted();

  for (const file of planDataDirFiles(source, read)) {
    const target = path.join(pdd, file.path);
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, file.content, { mode: file.mode });
  }

  writeKnownHosts(source, read, options.workerHome);
  clock.lap('dataDirMs');

  const transmitOptions = { privateDataDir: pdd, tmpDir: path.join(workDir, 'tmp'), ...runOptionsFor(source) } as TransmitOptions;
  const stream = await writeStream(transmitOptions, options.output);
  clock.lap('transmitMs');
  return { ...(commit !== undefined && { commit }), ...stream, timingsMs: clock.laps };
}

/** Milliseconds per step, each from the end of the one before. */
function stepClock(): { laps: Record<string, number>; lap: (name: string) => void } {
  let last = performance.now();
  const laps: Record<string, number> = {};
  return {
    laps,
    lap(name) {
      const now = performance.now();
      laps[name] = (laps[name] ?? 0) + Math.round(now - last);
      last = now;
    },
  };
}

function writeKnownHosts(source: Source, read: ReadData, workerHome: string | undefined): void {
  const ref = source.credentials?.knownHosts;
  if (!ref) return;
  if (!workerHome) throw invalidSource('credentials.knownHosts needs the worker\'s HOME (--worker-home) to write ~/.ssh/known_hosts into');
  const lines = read({ kind: 'ConfigMap', ...ref });
  const sshDir = path.join(workerHome, '.ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(sshDir, 'known_hosts'), lines, { mode: 0o644 });
}

/** transmit into `output`, hashing and counting the bytes on their way. */
async function writeStream(options: TransmitOptions, output: string): Promise<Omit<ComposeSuccess, 'commit'>> {
  const hash = createHash('sha256');
  let bytes = 0;
  let files = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const written = pipeline(tee, createWriteStream(output, { mode: 0o600 }));
  try {
    await transmit(options, tee, { onProgress: (progress) => (files = progress.files) });
  } catch (err) {
    await written.catch(() => undefined);
    throw new ComposeError('ComposeFailed', `transmit failed: ${(err as Error).message}`);
  }
  await written;
  return { sha256: hash.digest('hex'), bytes, files };
}
