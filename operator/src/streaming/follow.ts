/**
 * Follow a file that another process is still appending to, like `tail -F`
 * for one file: the `process` sidecar reads the worker's output this way from
 * a shared volume, so pod logs (rotated, split at 16 KiB) never carry the stream.
 */
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FollowOptions {
  /** How often to look for new bytes once the reader has caught up. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Bytes per read (default 64 KiB): each read is a fresh buffer, garbage until the lines in it are written. */
  chunkBytes?: number;
}

async function waitForFile(file: string, pollMs: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) return;
    await sleep(pollMs, undefined, { signal });
  }
}

/** Yields the file's bytes as they appear, until the consumer stops or `signal` aborts. */
export async function* followFile(file: string, options: FollowOptions = {}): AsyncGenerator<Buffer> {
  const pollMs = options.pollMs ?? 100;
  // 1 MiB reads kept ~3.5 MB more RSS in the sidecar for nothing: a worker appends far less
  // than that between two polls (docs/bench.md, "The sidecar").
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  await waitForFile(file, pollMs, options.signal);
  const handle = await open(file, 'r');
  try {
    let position = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const buffer = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await handle.read(buffer, 0, chunkBytes, position);
      if (bytesRead > 0) {
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
        continue;
      }
      const { size, nlink, ino } = await handle.stat();
      if (size < position) throw new Error(`${file} shrank from ${position} to ${size} bytes while being followed`);
      if (size > position) continue;
      // A file deleted or replaced before eof was abandoned: a writer could still append to it, but
      // nothing says one will, and waiting for one would hang forever.
      if (nlink === 0) throw new Error(`${file} was deleted while being followed, after ${position} bytes and before the stream's end`);
      if ((await stat(file).catch(() => null))?.ino !== ino) {
        throw new Error(`${file} was moved or replaced while being followed, after ${position} bytes and before the stream's end`);
      }
      await sleep(pollMs, undefined, { signal: options.signal });
    }
  } finally {
    await handle.close();
  }
}
