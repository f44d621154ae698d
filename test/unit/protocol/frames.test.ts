// writeOut's back-pressure: it waits for a slow reader and never for one that is gone.
import { PassThrough, Writable } from 'node:stream';
import { writeOut } from '../../../operator/src/protocol/frames.js';

describe('writeOut', () => {
  test('waits for drain while the reader is slow, then resolves', async () => {
    const out = new PassThrough({ highWaterMark: 4 });
    let resolved = false;
    const writing = writeOut(out, 'more than four bytes').then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    out.resume();
    await writing;
    expect(resolved).toBe(true);
  });

  test('does not wait on a stream destroyed before the write', async () => {
    const out = new PassThrough({ highWaterMark: 4 });
    out.on('error', () => {});
    out.destroy();
    await new Promise((resolve) => out.once('close', resolve));
    await expect(writeOut(out, 'more than four bytes')).resolves.toBeUndefined();
  });

  test('stops waiting when the stream closes during the wait', async () => {
    const out = new Writable({ highWaterMark: 4, write: () => {} });
    const writing = writeOut(out, 'more than four bytes');
    out.destroy();
    await expect(writing).resolves.toBeUndefined();
  });
});
