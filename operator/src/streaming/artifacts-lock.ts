/**
 * An exclusive lock on an artifacts directory, so that two `process` runs never write into
 * the same one at once. The second fails at once, naming the holder, rather than waiting (a
 * job can run for hours) or interleaving two jobs' files.
 *
 * The lock is a file created with O_EXCL that holds the holder's pid, host name and pid
 * namespace. A lock left by a process that died where we can see its pid is taken over;
 * elsewhere (another pod sharing the volume, another container of this pod) the pid cannot
 * be tested, so such a lock holds until it is removed by hand.
 */
import { closeSync, constants as fsConstants, linkSync, openSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processExists } from '../job/pid.js';

export const LOCK_FILE = '.ajo-process.lock';

/** Another process holds the directory, or a lock file there names none. */
export class ArtifactsInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactsInUseError';
  }
}

interface Holder {
  pid: number;
  host: string;
  /** Where the pid means something: two containers of a pod share a host name, not their pids. */
  pidNamespace: string;
}

function ourPidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return 'unknown';
  }
}

/** Whether the holder's pid can be tested from here. */
function visibleHere(holder: Holder): boolean {
  return holder.host === os.hostname() && holder.pidNamespace === ourPidNamespace();
}

function parseHolder(content: string): Holder | null {
  const match = /^(\d+)\n([^\n]+)\n([^\n]+)\n$/.exec(content);
  return match ? { pid: Number(match[1]), host: match[2]!, pidNamespace: match[3]! } : null;
}

/** The lock file's content, or null when it has gone in the meantime. */
function readLock(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function inUse(dir: string, file: string, holder: Holder | null): ArtifactsInUseError {
  if (!holder) return new ArtifactsInUseError(`the artifacts directory ${dir} is locked by ${file}, which names no process; remove it if no ajo process writes there`);
  if (!visibleHere(holder)) {
    return new ArtifactsInUseError(`the artifacts directory ${dir} is in use by an ajo process on ${holder.host} (pid ${holder.pid}); if it is gone, remove ${file}`);
  }
  return new ArtifactsInUseError(`the artifacts directory ${dir} is in use by another ajo process (pid ${holder.pid}); wait for it, or write elsewhere (another DIR or --ident)`);
}

/**
 * Remove a dead holder's lock, unless someone replaced it meanwhile: the lock is renamed
 * aside first (atomic), and if what was moved is not the stale content read before, it was a
 * live process's fresh lock and is linked back.
 */
function removeStale(file: string, staleContent: string): void {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if (readFileSync(aside, 'utf8') !== staleContent) linkSync(aside, file);
  } finally {
    unlinkSync(aside);
  }
}

const TAKEOVER_ATTEMPTS = 3;

/** Take the lock on `dir` (which must exist); the returned function releases it. */
export function lockArtifactsDir(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  const mine = `${process.pid}\n${os.hostname()}\n${ourPidNamespace()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      return () => {
        // Only our own: an artifacts zip may have replaced the file with one of its members.
        if (readLock(file) === mine) unlinkSync(file);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const content = readLock(file);
    const holder = content === null ? null : parseHolder(content);
    const stale = content === null || (holder !== null && visibleHere(holder) && !processExists(holder.pid));
    if (!stale || attempt >= TAKEOVER_ATTEMPTS) throw inUse(dir, file, holder);
    if (content !== null) removeStale(file, content);
  }
}
