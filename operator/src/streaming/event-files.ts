/**
 * Writing job_events/<counter>-<uuid>.json files.
 *
 * A small file costs three syscalls (open, write, close), which on a long job is most of
 * `process`'s time. The first events are written synchronously, as they arrive; past
 * OFFLOAD_AFTER events a worker thread takes over the writes in batches, so the kernel's
 * file creation overlaps with parsing the stream instead of following it. Short jobs never
 * pay for starting the thread. A writer made with `{ thread: false }` never starts it: the
 * thread is a second V8 isolate, ~24 MB of RSS, which a sidecar following a worker's pace
 * (hundreds of events a second, against ~10,000 synchronous writes a second) does not need.
 */
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { withPath } from '../protocol/fs-errors.js';

const OFFLOAD_AFTER = 2000;
/** Batches in flight before `write` waits: bounds memory when the disk is slower than the stream. */
const MAX_BATCHES_IN_FLIGHT = 8;
const MAX_BATCH_FILES = 1024;

interface Batch {
  files: string[];
  ends: number[];
  chunks: Buffer[];
  bytes: number;
}

const emptyBatch = (): Batch => ({ files: [], ends: [], chunks: [], bytes: 0 });

export interface EventFileWriterOptions {
  /** Hand writes past the first OFFLOAD_AFTER to a worker thread (default true). */
  thread?: boolean;
}

export class EventFileWriter {
  private readonly offloadAfter: number;
  private written = 0;
  private worker: Worker | undefined;
  private batch = emptyBatch();
  private flushScheduled = false;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;

  constructor(options: EventFileWriterOptions = {}) {
    this.offloadAfter = options.thread === false ? Number.POSITIVE_INFINITY : OFFLOAD_AFTER;
  }

  /** Queues (or writes) one file; resolves at once unless too many batches are in flight. */
  async write(file: string, data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.written += 1;
    if (this.written <= this.offloadAfter) {
      try {
        writeFileSync(file, data, { mode: 0o600 });
      } catch (error) {
        throw withPath(error, file);
      }
      return;
    }
    this.batch.files.push(file);
    this.batch.chunks.push(data);
    this.batch.bytes += data.length;
    this.batch.ends.push(this.batch.bytes);
    if (this.batch.files.length >= MAX_BATCH_FILES) this.send();
    else if (!this.flushScheduled) {
      // Sent once the reader has no more buffered lines, so a live stream's files appear promptly.
      this.flushScheduled = true;
      setImmediate(() => this.send());
    }
    while (this.inFlight >= MAX_BATCHES_IN_FLIGHT && !this.failure) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure) throw this.failure;
  }

  /** Resolves when every queued file is on disk; rejects with the first write failure. */
  async drain(): Promise<void> {
    this.send();
    while (this.inFlight > 0 && !this.failure) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await this.worker?.terminate();
    this.worker = undefined;
    if (this.failure) throw this.failure;
  }

  private send(): void {
    this.flushScheduled = false;
    if (this.batch.files.length === 0 || this.failure) return;
    const { files, ends, chunks } = this.batch;
    this.batch = emptyBatch();
    const data = Buffer.concat(chunks);
    const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    this.inFlight += 1;
    this.ensureWorker().postMessage({ files, ends, buffer }, [buffer]);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (message: { error?: string; code?: string; syscall?: string; path?: string }) => {
      // Rebuilt with its code and file, so that ENOSPC reads as such, with the path.
      const { error, code, syscall, path } = message;
      if (error) this.failure ??= Object.assign(new Error(error), { code, syscall, path });
      this.inFlight -= 1;
      this.wake();
    });
    worker.on('error', (error) => {
      this.failure ??= error;
      this.wake();
    });
    this.worker = worker;
    return worker;
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

// Plain JavaScript, run in the worker thread: write each file of a batch, report once per batch.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { writeFileSync } = require('node:fs');
parentPort.on('message', ({ files, ends, buffer }) => {
  const data = Buffer.from(buffer);
  let start = 0;
  let i = 0;
  try {
    for (; i < files.length; i++) {
      writeFileSync(files[i], data.subarray(start, ends[i]), { mode: 0o600 });
      start = ends[i];
    }
    parentPort.postMessage({});
  } catch (error) {
    parentPort.postMessage({ error: error.message, code: error.code, syscall: error.syscall, path: error.path ?? files[i] });
  }
});
`;
