/** Whether a pid names a live process: the liveness test behind pid files and lock files. */

/** True when a process with this pid exists; EPERM means it exists but is not ours. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
