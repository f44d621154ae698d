/**
 * `worker`: a job stream in → the job run → a result stream out.
 *
 * Whatever goes wrong, the result stream ends with a status line and
 * `{"eof": true}` (unless the process is killed outright), so the far side
 * always learns why; bad input also becomes a thrown WorkerInputError for the
 * CLI to print and exit non-zero on, where ansible-runner exits 0.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { EOF_LINE, KEEPALIVE_LINE, readFrames, StreamFormatError, unfinishedEndLines, writeOut, writeZipFrame } from '../protocol/frames.js';
import { parseRunnerKwargs, type RunnerKwargs } from '../protocol/kwargs.js';
import { dumps, type PyObject } from '../protocol/pyjson.js';
import { describeFileSystemError } from '../protocol/fs-errors.js';
import { DEFAULT_UNPACK_LIMITS, packDirectory, preloadZipReader, unpackArchive, UnsafeArchiveError, type UnpackLimits, type ZipProgress } from '../protocol/zip.js';
import { prefetchDisplayCallbackDir } from '../job/executables.js';
import { preloadPty } from '../job/pty.js';
import { JobConfigError, runJob, type JobResult } from '../job/index.js';

export interface WorkerOptions {
  /** Unpack here and keep it afterwards; without it a temp dir is used and removed. */
  privateDataDir?: string;
  /** With privateDataDir: remove it before unpacking and after the job. */
  delete?: boolean;
  /** Emit `{"event": "keepalive"}` when the stream has been quiet this long (0 = never, as runner's default). */
  keepaliveSeconds?: number;
  /** Refuse to run unless the job stream hashes to this (hex sha256). */
  inputSha256?: string;
  limits?: UnpackLimits;
  /** Called as the private data dir is unpacked. */
  onUnpackProgress?: (progress: ZipProgress) => void;
  signal?: AbortSignal;
  tmpDir?: string;
}

export type WorkerResult =
  | { ok: true; job: JobResult }
  /** `canceled`: the signal aborted before the job started; the stream's status says 'canceled'. */
  | { ok: false; explanation: string; canceled?: boolean };

export class WorkerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerInputError';
  }
}

/** Serialises every write to the result stream, and tracks quiet time for keepalives. */
class ResultWriter {
  private chain: Promise<void> = Promise.resolve();
  private lastWrite = Date.now();
  constructor(private readonly out: Writable) {}

  write(text: string): Promise<void> {
    this.lastWrite = Date.now();
    this.chain = this.chain.then(() => writeOut(this.out, text));
    return this.chain;
  }

  zip(file: string): Promise<void> {
    this.lastWrite = Date.now();
    this.chain = this.chain.then(() => writeZipFrame(this.out, file).then(() => undefined));
    return this.chain;
  }

  quietForMs(): number {
    return Date.now() - this.lastWrite;
  }

  flush(): Promise<void> {
    return this.chain;
  }
}

interface ReceivedJob {
  kwargs: RunnerKwargs;
}

/** Read the job stream into `dataDir`; validate everything before anything runs. */
async function receiveJob(source: AsyncIterable<Buffer | string>, dataDir: string, options: WorkerOptions): Promise<ReceivedJob> {
  const { signal } = options;
  const hash = options.inputSha256 ? createHash('sha256') : null;
  // A cancel stops reading at the next chunk, not only once the whole stream is in.
  async function* watched(): AsyncGenerator<Buffer | string> {
    for await (const chunk of source) {
      signal?.throwIfAborted();
      hash?.update(chunk);
      yield chunk;
    }
  }
  let kwargs: unknown = undefined;
  const tmpDir = options.tmpDir ?? os.tmpdir();
  const frames = readFrames(hash || signal ? watched() : source, { tmpDir, keysBeforeZip: ['kwargs'] });
  for await (const frame of frames) {
    if (frame.kind === 'message' && 'kwargs' in frame.value) kwargs = frame.value.kwargs;
    if (frame.kind === 'zip') await unpackArchive(frame.file, dataDir, options.limits ?? DEFAULT_UNPACK_LIMITS, { signal, onProgress: options.onUnpackProgress });
  }
  signal?.throwIfAborted();
  if (hash && options.inputSha256) {
    const actual = hash.digest('hex');
    if (actual !== options.inputSha256.toLowerCase()) {
      throw new WorkerInputError(`the job stream's sha256 is ${actual}, expected ${options.inputSha256} (payload corrupt or replaced)`);
    }
  }
  if (kwargs === undefined) throw new WorkerInputError('the job stream has no {"kwargs": ...} line before {"eof": true}');
  const parsed = parseRunnerKwargs(kwargs);
  if (!parsed.ok) throw new WorkerInputError(`invalid kwargs: ${parsed.error}`);
  return { kwargs: parsed.kwargs };
}

function explain(err: unknown): string {
  if (err instanceof StreamFormatError) return `malformed job stream at byte ${err.offset}: ${err.message}`;
  if (err instanceof UnsafeArchiveError) return `refused to extract the private data directory: ${err.message}`;
  if (err instanceof WorkerInputError) return err.message;
  if (err instanceof JobConfigError) return `invalid job: ${err.message}`;
  return `worker failed: ${describeFileSystemError(err) ?? (err as Error).message ?? String(err)}`;
}

async function prepareDataDir(options: WorkerOptions): Promise<{ dir: string; removeAfter: boolean }> {
  if (!options.privateDataDir) {
    return { dir: await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'ajo-worker-')), removeAfter: true };
  }
  if (options.delete) await rm(options.privateDataDir, { recursive: true, force: true });
  await mkdir(options.privateDataDir, { recursive: true, mode: 0o700 });
  return { dir: options.privateDataDir, removeAfter: !!options.delete };
}

/** Run the job stream from `source`, writing the result stream to `out`. */
export async function worker(source: AsyncIterable<Buffer | string>, out: Writable, options: WorkerOptions = {}): Promise<WorkerResult> {
  // Both take a while and need nothing from the job; they overlap with receiving it.
  prefetchDisplayCallbackDir();
  preloadZipReader();
  preloadPty();
  const writer = new ResultWriter(out);
  const { dir, removeAfter } = await prepareDataDir(options);
  const keepalive = startKeepalive(writer, options.keepaliveSeconds ?? 0);
  try {
    let received: ReceivedJob;
    try {
      received = await receiveJob(source, dir, options);
    } catch (err) {
      // Canceled before ansible-playbook started: nothing ran, so there is no job and no artifacts.
      const canceled = options.signal?.aborted === true;
      const explanation = canceled ? 'canceled before the job started (while receiving and unpacking it)' : explain(err);
      await writer.write(unfinishedEndLines(explanation, canceled ? 'canceled' : 'error'));
      return { ok: false, explanation, canceled };
    }
    const job = await runJob({
      privateDataDir: dir,
      kwargs: received.kwargs,
      signal: options.signal,
      onStatus: (status: PyObject) => void writer.write(dumps(status) + '\n'),
      onEvent: (event: PyObject) => void writer.write(dumps(event) + '\n'),
    });
    await sendArtifacts(writer, job.artifactDir, options.tmpDir);
    await writer.write(EOF_LINE);
    return { ok: true, job };
  } catch (err) {
    // A failure after the job started still ends the stream, so process never hangs.
    const explanation = explain(err);
    await writer.write(unfinishedEndLines(explanation)).catch(() => undefined);
    return { ok: false, explanation };
  } finally {
    clearInterval(keepalive);
    await writer.flush().catch(() => undefined);
    if (removeAfter) await rm(dir, { recursive: true, force: true });
  }
}

async function sendArtifacts(writer: ResultWriter, artifactDir: string, tmpDir?: string): Promise<void> {
  const staging = await mkdtemp(path.join(tmpDir ?? os.tmpdir(), 'ajo-artifacts-'));
  try {
    const zipFile = path.join(staging, 'artifacts.zip');
    await packDirectory(artifactDir, zipFile);
    await writer.zip(zipFile);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function startKeepalive(writer: ResultWriter, seconds: number): NodeJS.Timeout | undefined {
  if (seconds <= 0) return undefined;
  const timer = setInterval(() => {
    if (writer.quietForMs() >= seconds * 1000) void writer.write(KEEPALIVE_LINE);
  }, Math.max(250, (seconds * 1000) / 4));
  timer.unref();
  return timer;
}
