/**
 * The one-line progress display of long CLI work (transmit's packing, the worker's unpacking).
 *
 * Hand-written: the line is two counts and a rate (~50 lines), while the
 * progress libraries draw bars or spinners and bring dependencies that every
 * CLI start would load for a line most runs never show.
 */

/** Work done so far: files (and symlinks) and the bytes of their contents; `done` on the last report. */
export interface Progress {
  files: number;
  bytes: number;
  done?: boolean;
}

/** Below this a rate is mostly start-up noise, so it is left out. */
const MIN_RATE_MS = 200;
/** Repaint at most this often: nobody reads faster, and each repaint is a write to the terminal. */
export const REPAINT_MS = 250;

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 1234567 → "1,234,567" (fixed, whatever the locale: the line is also read by tests and logs). */
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Decimal units like `ls -h --si` and transfer tools: 999 B, 1.2 kB, 412 MB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 999.5 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit > 0 && value < 9.95 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** `ajo transmit: 1,234 files, 412 MB, 85 MB/s` (no rate until enough time has passed to measure one). */
export function progressLine(label: string, progress: Progress, elapsedMs: number): string {
  const files = `${formatCount(progress.files)} file${progress.files === 1 ? '' : 's'}`;
  const rate = elapsedMs >= MIN_RATE_MS ? `, ${formatBytes((progress.bytes * 1000) / elapsedMs)}/s` : '';
  return `${label} ${files}, ${formatBytes(progress.bytes)}${rate}`;
}

export interface ProgressWriterOptions {
  write: (text: string) => void;
  now?: () => number;
}

/**
 * Repaints one line in place (`\r`, then erase to the end of the line) at most
 * every REPAINT_MS. The report marked `done`, or `finish()` after a failure,
 * paints the final numbers and ends the line; the rate is measured from the
 * first report to the last, so a late finish does not dilute it.
 */
export class ProgressWriter {
  private readonly now: () => number;
  private latest: Progress | undefined;
  private startedAt = 0;
  private latestAt = 0;
  private paintedAt = -Infinity;
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly options: ProgressWriterOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  update(progress: Progress): void {
    if (this.finished) return;
    const now = this.now();
    if (this.latest === undefined) this.startedAt = now;
    this.latest = { ...progress };
    this.latestAt = now;
    if (progress.done) {
      this.finish();
    } else if (now - this.paintedAt >= REPAINT_MS) {
      this.paintedAt = now;
      this.paint(this.latest);
    }
  }

  /** End the line with the latest numbers; nothing when no report came (the work never started). */
  finish(): void {
    if (this.finished || this.latest === undefined) return;
    this.finished = true;
    this.paint(this.latest);
    this.options.write('\n');
  }

  private paint(progress: Progress): void {
    this.options.write(`\r${progressLine(this.label, progress, this.latestAt - this.startedAt)}\x1b[K`);
  }
}

/**
 * A progress writer on stderr when a person is watching it: stderr is a
 * terminal, and stdout does not show on it too (a job stream there would
 * tear the line apart).
 */
export function stderrProgress(label: string, stdoutShown: boolean): ProgressWriter | undefined {
  if (!process.stderr.isTTY || stdoutShown) return undefined;
  return new ProgressWriter(label, { write: (text) => process.stderr.write(text) });
}
