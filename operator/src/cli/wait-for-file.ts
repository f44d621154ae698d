/** Waits, without polling, until a file appears: the worker of a spec.source job waits so for the sidecar's compose. */
import { existsSync, watch } from 'node:fs';
import path from 'node:path';

export class WaitTimeoutError extends Error {}

/**
 * Resolves once `file` exists. The directory is watched (inotify) before the first look, so a
 * file made between the two is not missed; the writer renames it into place, so it is whole.
 */
export async function waitForFile(file: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const dir = path.dirname(file);
  const name = path.basename(file);
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(dir, { persistent: true });
    const timer = setTimeout(() => finish(new WaitTimeoutError(`${file} did not appear within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const onAbort = (): void => finish(new Error(`stopped while waiting for ${file}`));
    function finish(error?: Error): void {
      clearTimeout(timer);
      watcher.close();
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    }
    watcher.on('change', (_event, changed) => {
      if ((changed === null || String(changed) === name) && existsSync(file)) finish();
    });
    watcher.on('error', (error) => finish(error));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    else if (existsSync(file)) finish();
  });
}
