/**
 * Hands env/ssh_key to `ssh-add` through a FIFO in the artifact dir, as the
 * runner does, so the key never sits in a regular file. Unlike the runner's
 * blocking writer thread (which hangs its process for good if ssh-add never
 * opens the FIFO), we poll for a reader without blocking and give up when the
 * job ends; the FIFO is removed in every case.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 20;

export interface SshKeyFeeder {
  /** Stop waiting for a reader and remove the FIFO. */
  stop(): void;
}

export function feedSshKey(fifo: string, key: string): SshKeyFeeder {
  rmSync(fifo, { force: true });
  execFileSync('mkfifo', ['-m', '600', fifo]);
  let stopped = false;
  const data = Buffer.from(key, 'utf8');
  void (async () => {
    while (!stopped) {
      let fd: number;
      try {
        // O_NONBLOCK: fails with ENXIO until ssh-add has opened the other end.
        fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch {
        await sleep(POLL_MS);
        continue;
      }
      try {
        let offset = 0;
        while (offset < data.length && !stopped) {
          try {
            offset += writeSync(fd, data, offset);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
            await sleep(POLL_MS);
          }
        }
      } catch {
        // Reader went away; ssh-add reports its own error in the job output.
      } finally {
        closeSync(fd);
      }
      return;
    }
  })();
  return {
    stop() {
      stopped = true;
      rmSync(fifo, { force: true });
    },
  };
}
