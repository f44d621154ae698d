// The progress line as pure logic: its text, and when the throttled writer repaints (a fake clock).
import { formatBytes, formatCount, progressLine, ProgressWriter, REPAINT_MS } from '../../../operator/src/cli/progress.js';

test('counts and sizes read the same whatever the locale', () => {
  expect([0, 999, 1000, 1234567].map(formatCount)).toEqual(['0', '999', '1,000', '1,234,567']);
  expect([0, 999, 1000, 1234, 99_949, 412_000_000, 8.5e9, 3e12].map(formatBytes)).toEqual([
    '0 B',
    '999 B',
    '1.0 kB',
    '1.2 kB',
    '100 kB',
    '412 MB',
    '8.5 GB',
    '3.0 TB',
  ]);
});

test('the line: files, bytes, and a rate once enough time has passed to measure one', () => {
  expect(progressLine('ajo transmit:', { files: 1234, bytes: 412e6 }, 4847)).toBe('ajo transmit: 1,234 files, 412 MB, 85 MB/s');
  expect(progressLine('ajo transmit:', { files: 1, bytes: 27 }, 3)).toBe('ajo transmit: 1 file, 27 B');
});

function writer() {
  let clock = 1000;
  const written: string[] = [];
  const progress = new ProgressWriter('ajo worker: unpacked', { write: (t) => written.push(t), now: () => clock });
  return { progress, written, tick: (ms: number) => (clock += ms) };
}

test('repaints in place at most every REPAINT_MS, and the done report ends the line', () => {
  const { progress, written, tick } = writer();
  progress.update({ files: 1, bytes: 100 });
  tick(REPAINT_MS - 1);
  progress.update({ files: 2, bytes: 200 });
  tick(1);
  progress.update({ files: 3, bytes: 1_000_000 });
  tick(750);
  progress.update({ files: 4, bytes: 2_000_000, done: true });
  progress.update({ files: 5, bytes: 3_000_000 });
  progress.finish();
  expect(written).toEqual([
    '\rajo worker: unpacked 1 file, 100 B\x1b[K',
    '\rajo worker: unpacked 3 files, 1.0 MB, 4.0 MB/s\x1b[K',
    '\rajo worker: unpacked 4 files, 2.0 MB, 2.0 MB/s\x1b[K',
    '\n',
  ]);
});

test('finish after a failure ends the line once; with no report at all it writes nothing', () => {
  const { progress, written, tick } = writer();
  progress.finish();
  expect(written).toEqual([]);
  progress.update({ files: 1, bytes: 10 });
  tick(10);
  progress.update({ files: 2, bytes: 20 });
  progress.finish();
  progress.finish();
  expect(written).toEqual(['\rajo worker: unpacked 1 file, 10 B\x1b[K', '\rajo worker: unpacked 2 files, 20 B\x1b[K', '\n']);
});
