/**
 * Running git and ansible-galaxy for a compose: output collected (bounded), a deadline, and
 * the compose's abort signal (SIGTERM), so that no child outlives or outwaits the compose.
 */
import { spawn } from 'node:child_process';

export interface ProgramResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The deadline passed and the program was killed. */
  timedOut: boolean;
}

export interface RunProgramOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) once this many milliseconds have passed. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Enough of a program's output for any message; the rest is dropped from the middle. */
const KEEP_BYTES = 64 * 1024;

function collector(): { add: (chunk: Buffer) => void; text: () => string } {
  const head: Buffer[] = [];
  let headBytes = 0;
  let tail = Buffer.alloc(0);
  let dropped = false;
  return {
    add(chunk) {
      if (headBytes < KEEP_BYTES / 2) {
        head.push(chunk);
        headBytes += chunk.length;
        return;
      }
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > KEEP_BYTES / 2) {
        tail = tail.subarray(tail.length - KEEP_BYTES / 2);
        dropped = true;
      }
    },
    text: () => Buffer.concat(head).toString('utf8') + (dropped ? '\n…\n' : '') + tail.toString('utf8'),
  };
}

/** Run `command args`; resolves with how it ended (never rejects for a non-zero exit). */
export function runProgram(command: string, args: readonly string[], options: RunProgramOptions): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    // A process group of its own: git's ssh (or galaxy's git) holds the same pipes, and a kill
    // that reached only the first program would leave us waiting for its children.
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        child.kill(signal); // the group is gone already, or never was
      }
    };
    const stdout = collector();
    const stderr = collector();
    child.stdout.on('data', stdout.add);
    child.stderr.on('data', stderr.add);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGKILL');
    }, Math.max(1, options.timeoutMs));
    const onAbort = (): void => killGroup('SIGTERM');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      // Whatever the program left behind in its group goes with it.
      if (code !== 0) killGroup('SIGKILL');
      resolve({ code, signal, stdout: stdout.text(), stderr: stderr.text(), timedOut });
    });
  });
}
