/**
 * Decoder of the `awx_display` callback's in-band markers: the TypeScript
 * counterpart of ansible-runner's OutputEventFilter.
 *
 * The callback writes `ESC[K <base64 chunks, each followed by ESC[<n>D> ESC[K`
 * around every piece of display output: a begin marker holding `{"uuid": ...}`
 * and an end marker holding `{}`. Text between a begin and an end marker is
 * that event's stdout; complete lines outside any marker pair become
 * runner-made `verbose` events, one per line.
 *
 * We reproduce OutputEventFilter's decisions chunk for chunk (when it searches,
 * when it flushes stray lines, what it writes to the `stdout` artifact), so the
 * same sequence of reads gives the same events and bytes. What we do not copy
 * is its cost: it re-scans the whole pending buffer on every chunk that carries
 * `ESC[K`; we remember how far the buffer is known to hold no marker and only
 * look at new text, which keeps decoding linear in the size of the output.
 */
import { randomUUID } from 'node:crypto';
import { parsePyJson, type PyObject, type PyValue } from '../protocol/pyjson.js';
import { countNewlines, rstripNewlines, splitlinesKeepEnds } from './python-compat.js';

const MARKER_EDGE = '\x1b[K';

/** One event as the filter hands it to the runner, before runner_ident/partial/created are added. */
export interface DecodedEvent {
  /**
   * For callback events: the begin marker's object followed by counter, stdout,
   * start_line, end_line. For stray lines: event, uuid, counter, stdout,
   * start_line, end_line.
   */
  fields: PyObject;
  /**
   * Stray lines flushed together share one dict in OutputEventFilter, so the
   * runner stamps `created` once per batch; events with the same batch number
   * must get the same `created`. Null for callback events.
   */
  verboseBatch: number | null;
}

export interface DisplayDecoderSink {
  onEvent(event: DecodedEvent): void;
  /** Text OutputEventFilter writes to its file handle (the `stdout` artifact). */
  onStdoutFile(text: string): void;
}

type MarkerScan = { kind: 'match'; end: number } | { kind: 'fail' } | { kind: 'incomplete' };

const BASE64_CHAR = /[A-Za-z0-9+/=]/;
// Python's `\d` in a str pattern is any Unicode decimal digit.
const DIGIT = /\p{Nd}/u;

/** Try to match `ESC[K (base64+ ESC[\d+D)+ ESC[K` at `start`, which holds `ESC[K`. */
function scanMarker(s: string, start: number): MarkerScan {
  let i = start + MARKER_EDGE.length;
  let groups = 0;
  for (;;) {
    if (i >= s.length) return { kind: 'incomplete' };
    if (groups > 0 && s.charCodeAt(i) === 0x1b) {
      const rest = s.slice(i, i + 3);
      if (rest === MARKER_EDGE) return { kind: 'match', end: i + 3 };
      return MARKER_EDGE.startsWith(rest) && i + rest.length === s.length ? { kind: 'incomplete' } : { kind: 'fail' };
    }
    let j = i;
    while (j < s.length && BASE64_CHAR.test(s[j]!)) j++;
    if (j === s.length) return { kind: 'incomplete' };
    if (j === i) return { kind: 'fail' };
    // ESC [ digits+ D
    if (s.charCodeAt(j) !== 0x1b) return { kind: 'fail' };
    if (j + 1 >= s.length) return { kind: 'incomplete' };
    if (s[j + 1] !== '[') return { kind: 'fail' };
    let k = j + 2;
    while (k < s.length && DIGIT.test(s[k]!)) k++;
    if (k === s.length) return { kind: 'incomplete' };
    if (k === j + 2 || s[k] !== 'D') return { kind: 'fail' };
    groups++;
    i = k + 1;
  }
}

/** The marker's JSON object, or an empty map when it does not decode (as the runner's `except ValueError`). */
export function decodeMarkerPayload(markerBody: string): PyObject {
  const base64 = markerBody.replace(/\x1b\[\p{Nd}+D/gu, '');
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return new Map();
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(base64, 'base64'));
    const value: PyValue = parsePyJson(text);
    return value instanceof Map ? value : new Map();
  } catch {
    return new Map();
  }
}

function isTruthy(value: PyValue | undefined): boolean {
  if (value === undefined || value === null || value === false || value === '' || value === 0) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof Map) return value.size > 0;
  return true;
}

export class DisplayDecoder {
  private counter = 0;
  private startLine = 0;
  private verboseBatches = 0;
  /** The begin marker of the event whose stdout is being collected. */
  private currentEvent: PyObject | null = null;
  /**
   * The filter's pending buffer, split in two: `settled` is known to hold no
   * marker start, so searches only look at `unsettled`.
   */
  private settled: string[] = [];
  private unsettled = '';
  /** OutputEventFilter's `_last_chunk`: the previous write, or what followed the last marker. */
  private lastChunk = '';

  constructor(private readonly sink: DisplayDecoderSink) {}

  get eventCount(): number {
    return this.counter;
  }

  write(data: string): void {
    this.unsettled += data;
    const shouldSearch = this.mentionsMarkerEdge(data);
    this.lastChunk = data;
    if (shouldSearch) {
      this.consumeMarkers();
      return;
    }
    if (this.currentEvent === null && data.includes('\n')) this.flushStrayLines();
  }

  /** End of output: whatever is pending becomes the current event's stdout or stray verbose lines. */
  close(): void {
    const pending = this.takeBuffer();
    if (pending) this.emit(pending, new Map());
  }

  private mentionsMarkerEdge(data: string): boolean {
    if (data.includes(MARKER_EDGE) || this.lastChunk.includes(MARKER_EDGE)) return true;
    return (this.lastChunk.slice(-2) + data.slice(0, 2)).includes(MARKER_EDGE);
  }

  private consumeMarkers(): void {
    for (;;) {
      const match = this.findMarker();
      if (!match) return;
      const before = this.settled.join('') + this.unsettled.slice(0, match.start);
      const payload = decodeMarkerPayload(this.unsettled.slice(match.start + MARKER_EDGE.length, match.end - MARKER_EDGE.length));
      const remainder = this.unsettled.slice(match.end);
      this.settled = [];
      this.unsettled = remainder;
      const stdout = this.emit(before, payload);
      this.lastChunk = remainder;
      // OutputEventFilter writes one line per marker: the (last) event's stdout.
      if (stdout && stdout !== '{}') this.sink.onStdoutFile(stdout + '\n');
    }
  }

  /** Leftmost complete marker in the unsettled text; settles what cannot start one. */
  private findMarker(): { start: number; end: number } | null {
    const text = this.unsettled;
    let from = 0;
    for (;;) {
      const start = text.indexOf(MARKER_EDGE, from);
      if (start < 0) {
        // Keep a possible `ESC[` split from its `K` for the next write.
        this.settle(Math.max(from, text.length - 2));
        return null;
      }
      const scan = scanMarker(text, start);
      if (scan.kind === 'match') return { start, end: scan.end };
      if (scan.kind === 'incomplete') {
        this.settle(start);
        return null;
      }
      from = start + 1;
    }
  }

  private settle(upTo: number): void {
    if (upTo <= 0) return;
    this.settled.push(this.unsettled.slice(0, upTo));
    this.unsettled = this.unsettled.slice(upTo);
  }

  private takeBuffer(): string {
    const all = this.settled.join('') + this.unsettled;
    this.settled = [];
    this.unsettled = '';
    return all;
  }

  private flushStrayLines(): void {
    const lines = splitlinesKeepEnds(this.takeBuffer());
    const last = lines[lines.length - 1];
    if (last !== undefined && !last.includes('\n')) this.unsettled = lines.pop()!;
    for (const line of lines) {
      this.emit(line, new Map());
      this.sink.onStdoutFile(line);
    }
  }

  /**
   * OutputEventFilter._emit_event: returns the stdout of the last event made
   * (the runner writes that one to the stdout file), or null if none was made.
   */
  private emit(bufferedStdout: string, nextMarker: PyObject): string | null {
    let lastStdout: string | null = null;
    if (this.currentEvent) {
      lastStdout = this.emitOne(new Map(this.currentEvent), bufferedStdout, null);
    } else if (bufferedStdout) {
      const batch = ++this.verboseBatches;
      for (const chunk of splitlinesKeepEnds(bufferedStdout)) {
        const fields: PyObject = new Map([['event', 'verbose'], ['uuid', randomUUID()]]);
        lastStdout = this.emitOne(fields, chunk, batch);
      }
    }
    this.currentEvent = isTruthy(nextMarker.get('uuid')) ? nextMarker : null;
    return lastStdout;
  }

  private emitOne(fields: PyObject, chunk: string, verboseBatch: number | null): string {
    const lines = countNewlines(chunk);
    const stdout = rstripNewlines(chunk);
    fields.set('counter', ++this.counter);
    fields.set('stdout', stdout);
    fields.set('start_line', this.startLine);
    fields.set('end_line', this.startLine + lines);
    this.startLine += lines;
    this.sink.onEvent({ fields, verboseBatch });
    return stdout;
  }
}
