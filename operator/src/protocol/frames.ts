/**
 * The one place that owns the wire format shared by both streams
 * (transmit → worker and worker → process), as ansible-runner 2.x frames it:
 *
 *   {"kwargs": {...}}\n              run options (job stream only)
 *   {"status": ...}\n                 status lines (result stream only)
 *   {"uuid": ..., "counter": ...}\n   job events (result stream only)
 *   {"event": "keepalive"}\n          liveness, skipped by readers
 *   {"zipfile": N}\n<base64>          N zip bytes as 4*ceil(N/3) base64 chars, no newline after
 *   {"eof": true}\n                   end of stream
 *
 * Readers here are stricter than ansible-runner's: every way a stream can be
 * wrong is reported with what was expected, what was found, and where.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { dumps } from './pyjson.js';

export const EOF_LINE = '{"eof": true}\n';
export const KEEPALIVE_LINE = '{"event": "keepalive"}\n';

export function messageLine(message: unknown): string {
  return dumps(message) + '\n';
}

/**
 * How a worker ends a stream for a job that could not run or was stopped, as ansible-runner's
 * worker does: `{"status": "error", "job_explanation": ...}` (or "canceled") and the eof line.
 */
export function unfinishedEndLines(explanation: string, status: 'error' | 'canceled' = 'error'): string {
  return messageLine(new Map([['status', status], ['job_explanation', explanation]])) + EOF_LINE;
}

export function zipHeaderLine(size: number): string {
  return `{"zipfile": ${size}}\n`;
}

export const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3);

/** A stream that breaks the wire format. `offset` is the byte position in the input. */
export class StreamFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'StreamFormatError';
  }
}

// ---------------------------------------------------------------- writing

/**
 * Write text with backpressure, so a slow consumer never makes us buffer a whole stream. Once
 * the consumer is gone (the stream closed or destroyed) the write is dropped, not waited on.
 */
export async function writeOut(out: Writable, data: string | Buffer): Promise<void> {
  if (!out.write(data)) await drainOrClose(out);
}

async function drainOrClose(out: Writable): Promise<void> {
  // A stream already destroyed will emit neither: waiting for it would hang the writer for ever.
  if (out.destroyed) return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', fail);
      resolve();
    };
    const fail = (err: Error): void => {
      out.off('drain', done);
      out.off('close', done);
      reject(err);
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', fail);
  });
}

/**
 * Emit `{"zipfile": N}` and the base64 of the file, streamed in 3-byte-aligned
 * slices so the text equals one-shot encoding and memory stays flat.
 */
export async function writeZipFrame(out: Writable, zipFile: string): Promise<number> {
  const { size } = await stat(zipFile);
  await writeOut(out, zipHeaderLine(size));
  let carry = Buffer.alloc(0);
  for await (const chunk of createReadStream(zipFile, { highWaterMark: 3 * 16 * 1024 })) {
    const data = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const whole = data.length - (data.length % 3);
    if (whole) await writeOut(out, data.subarray(0, whole).toString('base64'));
    carry = Buffer.from(data.subarray(whole));
  }
  if (carry.length) await writeOut(out, carry.toString('base64'));
  return size;
}

// ---------------------------------------------------------------- reading

export interface FrameReaderOptions {
  /** Where decoded zip payloads are staged; each is deleted once the consumer moves on. */
  tmpDir: string;
  /** Keys that take precedence over `zipfile` on this side (ansible-runner checks them first). */
  keysBeforeZip?: readonly string[];
  /** Longest JSON line accepted. Events can be several MB (a big debug), garbage can be endless. */
  maxLineBytes?: number;
}

export type Frame =
  | { kind: 'message'; value: Record<string, unknown>; raw: Buffer; offset: number }
  | { kind: 'zip'; size: number; file: string; offset: number }
  | { kind: 'eof'; offset: number };

export const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024;

const BASE64_CHAR = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=') BASE64_CHAR[c.charCodeAt(0)] = 1;
const WHITESPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) WHITESPACE[c] = 1;

/** Pulls bytes from an async source and hands out lines and base64 runs. */
class ByteCursor {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Bytes consumed before `chunk`. */
  private base = 0;
  private done = false;
  private readonly iterator: AsyncIterator<Buffer | string>;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  get offset(): number {
    return this.base + this.pos;
  }

  private async fill(): Promise<boolean> {
    while (!this.done && this.pos >= this.chunk.length) {
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        break;
      }
      this.base += this.chunk.length;
      this.chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      this.pos = 0;
    }
    return this.pos < this.chunk.length;
  }

  /** The next line without its `\n`; a final line without `\n` counts, as with readline(). Null at end. */
  async readLine(maxBytes: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let length = 0;
    while (await this.fill()) {
      const newline = this.chunk.indexOf(0x0a, this.pos);
      const end = newline === -1 ? this.chunk.length : newline;
      length += end - this.pos;
      if (length > maxBytes) {
        throw new StreamFormatError(`a line is longer than the limit of ${maxBytes} bytes (no newline found)`, this.offset);
      }
      parts.push(this.chunk.subarray(this.pos, end));
      this.pos = newline === -1 ? end : newline + 1;
      if (newline !== -1) return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
    }
    return parts.length ? Buffer.concat(parts, length) : null;
  }

  /**
   * Consume exactly `count` base64 characters, skipping ASCII whitespace as
   * ansible-runner does, and pass them on in runs. Returns how many were found
   * before the input ended.
   */
  async readBase64(count: number, sink: (run: Buffer) => Promise<void>): Promise<number> {
    let found = 0;
    while (found < count && (await this.fill())) {
      const chunk = this.chunk;
      let i = this.pos;
      let runStart = i;
      while (i < chunk.length && found < count) {
        const byte = chunk[i]!;
        if (BASE64_CHAR[byte]) {
          found++;
          i++;
          continue;
        }
        if (!WHITESPACE[byte]) {
          this.pos = i;
          throw new StreamFormatError(
            `unexpected ${describeByte(byte)} inside the zip payload after ${found} of ${count} base64 characters ` +
              '(the length in {"zipfile": N} is larger than the payload, or the payload is corrupt)',
            this.offset,
          );
        }
        if (i > runStart) await sink(chunk.subarray(runStart, i));
        i++;
        runStart = i;
      }
      if (i > runStart) await sink(chunk.subarray(runStart, i));
      this.pos = i;
    }
    return found;
  }
}

function describeByte(byte: number): string {
  return byte >= 0x21 && byte < 0x7f ? `character '${String.fromCharCode(byte)}'` : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}

export function preview(raw: Buffer, max = 60): string {
  const text = raw.subarray(0, max).toString('utf8').replace(/[\u0000-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return raw.length > max ? `${text}...` : text;
}

function parseMessage(raw: Buffer, offset: number, afterZip: boolean): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    const hint = afterZip ? ' (it follows a zip payload: the length in {"zipfile": N} is probably smaller than the payload)' : '';
    const what = raw.length === 0 ? 'an empty line' : `'${preview(raw)}'`;
    throw new StreamFormatError(`expected a JSON line but found ${what}: ${(err as Error).message}${hint}`, offset);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StreamFormatError(`expected a JSON object but found '${preview(raw)}'`, offset);
  }
  return value as Record<string, unknown>;
}

function zipSize(value: Record<string, unknown>, offset: number): number {
  const size = value.zipfile;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new StreamFormatError(`{"zipfile": N} needs a non-negative whole number of bytes, got ${JSON.stringify(size)}`, offset);
  }
  return size;
}

/**
 * Read frames until `eof`. A stream that ends before `eof` is an error: the
 * producer died or the transport cut it, and the consumer must not take a
 * partial job for a whole one.
 */
export async function* readFrames(source: AsyncIterable<Buffer | string>, options: FrameReaderOptions): AsyncGenerator<Frame> {
  const cursor = new ByteCursor(source);
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const keysBeforeZip = options.keysBeforeZip ?? [];
  let afterZip = false;
  for (;;) {
    const offset = cursor.offset;
    const raw = await cursor.readLine(maxLine);
    if (raw === null) {
      throw new StreamFormatError('the stream ended before its {"eof": true} line (truncated stream?)', offset);
    }
    // A blank line carries nothing; runner chokes on the newline people add after base64, we don't.
    if (raw.length === 0 || (raw.length === 1 && raw[0] === 0x0d)) continue;
    const value = parseMessage(raw, offset, afterZip);
    afterZip = false;
    const kind = classify(value, keysBeforeZip);
    if (kind === 'eof') {
      yield { kind: 'eof', offset };
      return;
    }
    if (kind === 'message') {
      yield { kind: 'message', value, raw, offset };
      continue;
    }
    const size = zipSize(value, offset);
    const file = await receiveZip(cursor, size, options.tmpDir);
    try {
      yield { kind: 'zip', size, file, offset };
    } finally {
      await rm(path.dirname(file), { recursive: true, force: true });
    }
    afterZip = true;
  }
}

/** ansible-runner's dispatch order: this side's own key first, then zipfile, then eof. */
function classify(value: Record<string, unknown>, keysBeforeZip: readonly string[]): 'message' | 'zip' | 'eof' {
  if (keysBeforeZip.some((key) => key in value)) return 'message';
  if ('zipfile' in value) return 'zip';
  if ('eof' in value) return 'eof';
  return 'message';
}

async function receiveZip(cursor: ByteCursor, size: number, tmpDir: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpDir, 'ajo-zip-'));
  const file = path.join(dir, 'payload.zip');
  const out = createWriteStream(file, { mode: 0o600 });
  const expected = base64Length(size);
  let pending = Buffer.alloc(0);
  let written = 0;
  const decodeInto = async (text: Buffer): Promise<void> => {
    const bytes = Buffer.from(text.toString('latin1'), 'base64');
    written += bytes.length;
    await writeOut(out, bytes);
  };
  try {
    const found = await cursor.readBase64(expected, async (run) => {
      // Decode in groups of four characters so padding never lands mid-payload.
      const data = pending.length ? Buffer.concat([pending, run]) : run;
      const whole = data.length - (data.length % 4);
      if (whole) await decodeInto(data.subarray(0, whole));
      pending = Buffer.from(data.subarray(whole));
    });
    if (found < expected) {
      throw new StreamFormatError(
        `the stream ended inside a zip payload: ${found} of ${expected} base64 characters for ${size} bytes arrived`,
        cursor.offset,
      );
    }
    if (pending.length) await decodeInto(pending);
    if (written !== size) {
      throw new StreamFormatError(`the zip payload decodes to ${written} bytes but {"zipfile": ${size}} announced ${size}`, cursor.offset);
    }
    out.end();
    await once(out, 'close');
    return file;
  } catch (err) {
    out.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
