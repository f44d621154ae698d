/**
 * `process`: a result stream → artifacts on disk, live output, and a summary.
 *
 * Files come out as ansible-runner's process writes them: each event in
 * `artifacts/[IDENT/]job_events/<counter>-<uuid>.json` holding the wire line's
 * exact bytes, then the worker's artifacts zip unpacked beside them. Unlike
 * ansible-runner, a broken or truncated stream is an error (non-zero exit,
 * precise message), while every event already received stays on disk.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { ArtifactsInUseError, lockArtifactsDir } from './artifacts-lock.js';
import { EventFileWriter } from './event-files.js';
import type { JobEvent } from '../protocol/events.js';
import { readFrames, StreamFormatError, writeOut, type Frame } from '../protocol/frames.js';
import { describeFileSystemError } from '../protocol/fs-errors.js';
import { DEFAULT_UNPACK_LIMITS, preloadZipReader, unpackArchive, UnsafeArchiveError, type UnpackLimits } from '../protocol/zip.js';
import { hostCountsFromStats, runnerStatusSchema, type Composed, type RunnerStatus, type StatusDocument } from '../protocol/status-document.js';

export interface ProcessOptions {
  privateDataDir: string;
  /** Artifacts go to `artifacts/IDENT/` with an ident, else straight into `artifacts/`. */
  ident?: string;
  /** Where playbook output is printed (stdout for the CLI); omit to stay quiet. */
  display?: Writable;
  /** What compose made for this job (spec.source), carried in every status document. */
  composed?: Composed;
  /** Called whenever the summary changes (for the status endpoint and file). */
  onUpdate?: (doc: StatusDocument) => void;
  /** Each job event as it is read (keepalives are not events). */
  onEvent?: (event: JobEvent) => void;
  tmpDir?: string;
  limits?: UnpackLimits;
  maxLineBytes?: number;
  /**
   * How many event files may be written at once. The default, 1, writes them in order
   * (event-files.ts: synchronously at first, then in batches on a worker thread); handing
   * each file to libuv's thread pool instead (open, write, close: three round trips) made
   * `process` 5x slower on 100k events (docs/bench.md). More than 1 writes through the
   * thread pool, that many at a time, for volumes where a write waits on the network.
   */
  writeConcurrency?: number;
  /**
   * Whether the in-order writer may move event files to a worker thread past its first
   * 2,000 (default true): faster on a stream read at disk speed, ~24 MB more RSS. The
   * sidecar, which follows a worker's pace, turns it off (docs/bench.md, "The sidecar").
   */
  writeThread?: boolean;
}

export interface ProcessResult {
  status: RunnerStatus | null;
  rc: number | null;
  eventCount: number;
  artifactsDir: string;
  document: StatusDocument;
}

export class ProcessError extends Error {
  constructor(
    message: string,
    readonly document: StatusDocument,
  ) {
    super(message);
    this.name = 'ProcessError';
  }
}

const STDOUT_TAIL_LINES = 40;
const SAFE_UUID = /^[A-Za-z0-9_.-]+$/;

/** Keeps the last lines of output for the status document without holding all of it. */
class TailBuffer {
  private lines: string[] = [];
  push(text: string): void {
    for (const line of text.split(/\r?\n/)) this.lines.push(line);
    if (this.lines.length > STDOUT_TAIL_LINES * 2) this.lines = this.lines.slice(-STDOUT_TAIL_LINES);
  }
  toString(): string {
    return this.lines.slice(-STDOUT_TAIL_LINES).join('\n');
  }
}

/** Bounded parallel file writes, for volumes with a high latency per write. */
class WritePool {
  private inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;
  constructor(private readonly limit: number) {}
  async add(task: () => Promise<void>): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.inFlight.size >= this.limit) await Promise.race(this.inFlight);
    const p: Promise<void> = task()
      .catch((err: Error) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }
}

function integerField(event: Record<string, unknown>, key: string): number | null {
  const value = event[key];
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

class ResultConsumer {
  readonly doc: StatusDocument;
  private readonly tail = new TailBuffer();
  private readonly pool: WritePool | null;
  private readonly files: EventFileWriter;
  private readonly jobEventsDir: string;

  constructor(
    private readonly options: ProcessOptions,
    readonly artifactsDir: string,
  ) {
    this.jobEventsDir = path.join(artifactsDir, 'job_events');
    this.files = new EventFileWriter({ thread: options.writeThread ?? true });
    const tail = this.tail;
    const concurrency = options.writeConcurrency ?? 1;
    this.pool = concurrency > 1 ? new WritePool(concurrency) : null;
    this.doc = {
      ident: options.ident ?? null,
      streamStatus: 'waiting',
      status: null,
      rc: null,
      eventCount: 0,
      lastEvent: null,
      hostCounts: null,
      // Joined only when the document is read (published), not on each of 100k events.
      get stdoutTail() {
        return tail.toString();
      },
      explanation: null,
      artifactsDir,
      startedAt: null,
      updatedAt: new Date().toISOString(),
      ...(options.composed ? { composed: options.composed } : {}),
    };
  }

  async prepare(): Promise<void> {
    await mkdir(path.dirname(this.artifactsDir), { recursive: true, mode: 0o755 });
    await mkdir(this.jobEventsDir, { recursive: true, mode: 0o700 });
  }

  private touch(): void {
    this.doc.updatedAt = new Date().toISOString();
    this.options.onUpdate?.(this.doc);
  }

  onStatus(line: Record<string, unknown>): void {
    const parsed = runnerStatusSchema.safeParse(line.status);
    this.doc.status = parsed.success ? parsed.data : 'error';
    if (typeof line.runner_ident === 'string' && this.doc.ident === null) this.doc.ident = line.runner_ident;
    if (this.doc.status === 'starting' || this.doc.status === 'running') this.doc.startedAt ??= new Date().toISOString();
    if (typeof line.job_explanation === 'string') this.doc.explanation = line.job_explanation;
    this.touch();
  }

  async onEvent(event: Record<string, unknown>, raw: Buffer, offset: number): Promise<void> {
    if (event.event === 'keepalive') return;
    const counter = integerField(event, 'counter');
    const uuid = event.uuid;
    if (counter === null || typeof uuid !== 'string') {
      throw new StreamFormatError(`an event line lacks a whole-number "counter" or a string "uuid" (event ${JSON.stringify(event.event)})`, offset);
    }
    // The uuid becomes a file name: refuse anything that could leave job_events/.
    if (!SAFE_UUID.test(uuid) || uuid === '.' || uuid === '..') {
      throw new StreamFormatError(`event ${counter} has a uuid that is not a safe file name: ${JSON.stringify(uuid.slice(0, 80))}`, offset);
    }
    if (typeof event.stdout === 'string') {
      if (this.options.display) await writeOut(this.options.display, event.stdout + '\n');
      if (event.stdout) this.tail.push(event.stdout);
    }
    // The uuid is a safe file name (checked above), so plain concatenation is a join.
    const file = `${this.jobEventsDir}/${counter}-${uuid}.json`;
    if (this.pool) await this.pool.add(() => writeFile(file, raw, { mode: 0o600 }));
    else await this.files.write(file, raw);
    this.doc.eventCount++;
    this.doc.lastEvent = { counter, event: String(event.event), created: typeof event.created === 'string' ? event.created : null };
    if (event.event === 'playbook_on_stats' && event.event_data && typeof event.event_data === 'object') {
      this.doc.hostCounts = hostCountsFromStats(event.event_data as Record<string, unknown>);
    }
    this.options.onEvent?.({ ...event, uuid, counter });
    this.touch();
  }

  async onArtifacts(zipFile: string): Promise<void> {
    await this.files.drain();
    await unpackArchive(zipFile, this.artifactsDir, this.options.limits ?? DEFAULT_UNPACK_LIMITS);
    const rc = await readFile(path.join(this.artifactsDir, 'rc'), 'utf8').catch(() => null);
    if (rc !== null && /^-?\d+$/.test(rc.trim())) this.doc.rc = Number(rc.trim());
    this.touch();
  }

  async finish(): Promise<void> {
    await this.pool?.drain();
    await this.files.drain();
  }
}

function artifactsDirFor(options: ProcessOptions): string {
  const base = path.join(options.privateDataDir, 'artifacts');
  return options.ident ? path.join(base, options.ident) : base;
}

/** Consume a result stream into `options.privateDataDir`. */
export async function processStream(source: AsyncIterable<Buffer | string>, options: ProcessOptions): Promise<ProcessResult> {
  preloadZipReader();
  await mkdir(options.privateDataDir, { recursive: true, mode: 0o700 });
  // ansible-runner's process keeps its own log here; an empty one keeps the layouts alike.
  await (await open(path.join(options.privateDataDir, 'daemon.log'), 'a', 0o600)).close();
  const consumer = new ResultConsumer(options, artifactsDirFor(options));
  let unlock: (() => void) | undefined;
  try {
    await consumer.prepare();
    unlock = lockArtifactsDir(consumer.artifactsDir);
    const frames = readFrames(source, {
      tmpDir: options.tmpDir ?? os.tmpdir(),
      keysBeforeZip: ['status'],
      maxLineBytes: options.maxLineBytes,
    });
    for await (const frame of frames) {
      consumer.doc.streamStatus = 'running';
      await consume(consumer, frame);
    }
    await consumer.finish();
  } catch (err) {
    await consumer.finish().catch(() => undefined);
    consumer.doc.streamStatus = 'broken';
    consumer.doc.explanation = describeFailure(err as Error);
    consumer.doc.updatedAt = new Date().toISOString();
    options.onUpdate?.(consumer.doc);
    throw new ProcessError(consumer.doc.explanation, consumer.doc);
  } finally {
    unlock?.();
  }
  consumer.doc.streamStatus = 'finished';
  if (consumer.doc.status === 'error' && consumer.doc.rc === null) consumer.doc.rc = 1;
  options.onUpdate?.(consumer.doc);
  return {
    status: consumer.doc.status,
    rc: consumer.doc.rc,
    eventCount: consumer.doc.eventCount,
    artifactsDir: consumer.artifactsDir,
    document: consumer.doc,
  };
}

async function consume(consumer: ResultConsumer, frame: Frame): Promise<void> {
  switch (frame.kind) {
    case 'message':
      if ('status' in frame.value) return consumer.onStatus(frame.value);
      return consumer.onEvent(frame.value, frame.raw, frame.offset);
    case 'zip':
      return consumer.onArtifacts(frame.file);
    case 'eof':
      return;
  }
}

function describeFailure(err: Error): string {
  if (err instanceof StreamFormatError) return `malformed result stream at byte ${err.offset}: ${err.message}`;
  if (err instanceof ArtifactsInUseError) return err.message;
  if (err instanceof UnsafeArchiveError) return `unsafe artifacts archive: ${err.message}`;
  return `processing failed: ${describeFileSystemError(err) ?? err.message}`;
}
