/**
 * `run`: transmit → worker → process in one process, with no cluster.
 *
 * The stages talk through the real wire format over in-memory pipes, so the
 * embedded default exercises exactly what a worker pod does.
 */
import { PassThrough, Writable } from 'node:stream';
import { processStream, type ProcessResult } from './process.js';
import type { StatusDocument } from '../protocol/status-document.js';
import type { UnpackLimits, ZipProgress } from '../protocol/zip.js';
import { transmit, type TransmitOptions } from './transmit.js';
import { worker, type WorkerOptions, type WorkerResult } from './worker.js';

export type RunOptions = TransmitOptions & {
  display?: Writable;
  signal?: AbortSignal;
  keepaliveSeconds?: number;
  /** Where the worker unpacks; a temp dir by default, as a remote worker would use. */
  workerDataDir?: string;
  onUpdate?: (doc: StatusDocument) => void;
  /** Caps for unpacking, in the worker (the payload) and in process (the artifacts). */
  limits?: UnpackLimits;
  /** Called as transmit packs the private data dir. */
  onPackProgress?: (progress: ZipProgress) => void;
  /** Called as the worker unpacks it. */
  onUnpackProgress?: (progress: ZipProgress) => void;
};

export interface RunResult {
  worker: WorkerResult;
  process: ProcessResult;
}

/**
 * A pipe from one stage to the next that stops carrying once the next stage is gone: from
 * then on writes are dropped, so the writing stage runs to its end and cleans up instead of
 * waiting forever for a reader that has stopped.
 */
class Relay extends Writable {
  private waiting: (() => void) | null = null;
  private dropping = false;

  constructor(private readonly out: PassThrough) {
    super();
    out.on('drain', () => this.release());
  }

  drop(): void {
    this.dropping = true;
    this.release();
  }

  private release(): void {
    const done = this.waiting;
    this.waiting = null;
    done?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.dropping || this.out.write(chunk)) done();
    else this.waiting = done;
  }

  override _final(done: () => void): void {
    this.out.end();
    done();
  }
}

/**
 * Runs the three stages. If process fails (a full disk, a refused archive), the job is
 * canceled, since nobody would receive what it does next, and the error is thrown once the
 * worker has stopped and removed its temp files.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const { display, signal, keepaliveSeconds, workerDataDir, onUpdate, limits, onPackProgress, onUnpackProgress, ...transmitOptions } = options;
  // Bounded pipes: each stage waits for the next, so memory stays flat.
  const jobStream = new PassThrough({ highWaterMark: 1024 * 1024 });
  const resultStream = new PassThrough({ highWaterMark: 1024 * 1024 });
  const toWorker = new Relay(jobStream);
  const toProcess = new Relay(resultStream);
  const processFailed = new AbortController();
  const workerOptions: WorkerOptions = {
    privateDataDir: workerDataDir,
    keepaliveSeconds,
    limits,
    signal: signal ? AbortSignal.any([signal, processFailed.signal]) : processFailed.signal,
    onUnpackProgress,
  };

  // Earlier runs' artifacts stay home: re-sending them would grow every payload. The relay is
  // ended here, whether transmit succeeded or not, so the worker sees a complete or a cut stream.
  const sending = transmit({ ...transmitOptions, excludeArtifacts: true }, toWorker, { end: false, onProgress: onPackProgress }).finally(() =>
    toWorker.end(),
  );
  const working = worker(jobStream, toProcess, workerOptions).finally(() => {
    toProcess.end();
    toWorker.drop();
  });
  // process writes into the directory transmit packs, so it starts once packing is done.
  const processing = sending.then(() => processStream(resultStream, { privateDataDir: options.privateDataDir, display, onUpdate, limits }));
  processing.catch(() => {
    processFailed.abort();
    toProcess.drop();
  });

  // Every stage has stopped before anything is thrown: the worker's temp files are gone by then.
  const failed = (await Promise.allSettled([sending, working, processing])).find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return { worker: await working, process: await processing };
}
