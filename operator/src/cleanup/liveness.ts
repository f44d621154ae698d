import { readFileSync } from 'node:fs';
import path from 'node:path';

export type PidFileState =
  | { kind: 'none' }
  | { kind: 'invalid'; content: string }
  | { kind: 'dead'; pid: number }
  | { kind: 'alive'; pid: number };

/** True when a process with this pid exists; EPERM means it exists but is not ours. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Read `<dir>/pid` the way ansible-runner writes it (the pid on the first line)
 * and test the process. ansible-runner 2.3.1 inverts this test; here a live
 * pid protects its dir. Only positive integers count: kill(0) and kill(-1)
 * would probe process groups, not a job.
 */
export function pidFileState(dir: string): PidFileState {
  let content: string;
  try {
    content = readFileSync(path.join(dir, 'pid'), 'utf8');
  } catch {
    return { kind: 'none' };
  }
  const firstLine = content.split('\n', 1)[0]!.trim();
  if (!/^\d+$/.test(firstLine)) return { kind: 'invalid', content: firstLine };
  const pid = Number(firstLine);
  if (!Number.isSafeInteger(pid) || pid < 1) return { kind: 'invalid', content: firstLine };
  return processExists(pid) ? { kind: 'alive', pid } : { kind: 'dead', pid };
}
