/**
 * `run`: transmit → worker → process in one process, with no cluster.
 *
 * The stages talk through the real wire format over in-memory pipes, so the
 * embedded default exercises exactly what a worker pod does.
 */
import { PassThrough, type Writable } from 'node:stream';
import { processStream, type ProcessResult } from './process.js';
import type { StatusDocument } from '../protocol/status-document.js';
import type { ZipProgress } from '../protocol/zip.js';
import { transmit, type TransmitOptions } from './transmit.js';
import { worker, type WorkerOptions, type WorkerResult } from './worker.js';

export type RunOptions = TransmitOptions & {
  display?: Writable;
  signal?: AbortSignal;
  keepaliveSeconds?: number;
  /** Where the worker unpacks; a temp dir by default, as a remote worker would use. */
  workerDataDir?: string;
  onUpdate?: (doc: StatusDocument) => void;
  /** Called as transmit packs the private data dir. */
  onPackProgress?: (progress: ZipProgress) => void;
  /** Called as the worker unpacks it. */
  onUnpackProgress?: (progress: ZipProgress) => void;
};

export interface RunResult {
  worker: WorkerResult;
  process: ProcessResult;
}

export async function run(options: RunOptions): Promise<RunResult> {
  const { display, signal, keepaliveSeconds, workerDataDir, onUpdate, onPackProgress, onUnpackProgress, ...transmitOptions } = options;
  // Bounded pipes: each stage waits for the next, so memory stays flat.
  const jobStream = new PassThrough({ highWaterMark: 1024 * 1024 });
  const resultStream = new PassThrough({ highWaterMark: 1024 * 1024 });
  const workerOptions: WorkerOptions = { privateDataDir: workerDataDir, keepaliveSeconds, signal, onUnpackProgress };

  // Earlier runs' artifacts stay home: re-sending them would grow every payload.
  // transmit ends jobStream when done (and destroys it on failure), so the worker never waits on it.
  const sending = transmit({ ...transmitOptions, excludeArtifacts: true }, jobStream, { onProgress: onPackProgress });
  const working = worker(jobStream, resultStream, workerOptions).finally(() => resultStream.end());
  // process writes into the directory transmit packs, so it starts once packing is done.
  const processing = sending.then(() => processStream(resultStream, { privateDataDir: options.privateDataDir, display, onUpdate }));

  const [, workerResult, processResult] = await Promise.all([sending, working, processing]);
  return { worker: workerResult, process: processResult };
}
