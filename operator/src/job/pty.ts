/**
 * Runs the job's command under a pseudo-terminal, as pexpect does for the
 * runner: 80x24 (so ansible's banners are 80 columns), `\r\n` line ends and
 * stdout/stderr merged, echo off, SIGHUP ignored, in a session and process
 * group of its own (so a kill reaches every fork).
 *
 * node-pty cannot turn echo off and always adds TERM and PWD to the child's
 * environment; a tiny sh prologue fixes both before `exec`ing the real
 * command, so the process keeps its pid and sees exactly the job's env.
 *
 * node-pty is a native module and an optional peer dependency: only a worker
 * that runs a job loads it. There is no fallback without it: a pipe instead
 * of a terminal changes the bytes ansible writes (no CRLFs, colours or
 * 80-column banners) and cannot answer password prompts, so the streams
 * would no longer match ansible-runner's.
 */
import { createRequire } from 'node:module';
import type { IPty } from 'node-pty';
import { requirePeer } from '../protocol/optional-peer.js';
import { shlexQuote } from './python-compat.js';

type NodePty = typeof import('node-pty');
const require = createRequire(import.meta.url);
const PURPOSE = 'Running a job (ansible-playbook under a pseudo-terminal, as ansible-runner does)';

function loadNodePty(): NodePty {
  return requirePeer('node-pty', PURPOSE, () => require('node-pty') as NodePty);
}

/**
 * Load node-pty now, while the job stream is still arriving, so the spawn does
 * not wait for it; a missing module is reported by the spawn itself.
 */
export function preloadPty(): void {
  setImmediate(() => {
    try {
      loadNodePty();
    } catch {
      // spawnInPty reports it, where a job was actually asked for.
    }
  });
}

export const PTY_COLUMNS = 80;
export const PTY_ROWS = 24;

export interface PtyProcess {
  readonly pid: number;
  onData(listener: (chunk: Buffer) => void): void;
  /** Resolves after the output has been drained; exitCode is null when a signal ended the process. */
  readonly exited: Promise<{ exitCode: number | null; signal: number | null }>;
  write(text: string): void;
  /** SIGKILL to the whole process group, like Runner.handle_termination. */
  killGroup(): void;
}

function prologue(env: Map<string, string>): string {
  const steps = ["trap '' HUP", 'stty -echo 2>/dev/null'];
  if (!env.has('TERM')) steps.push('unset TERM');
  steps.push(env.has('PWD') ? `export PWD=${shlexQuote(env.get('PWD')!)}` : 'unset PWD');
  steps.push('exec "$@"');
  return steps.join('; ');
}

export function spawnInPty(command: string[], env: Map<string, string>, cwd: string): PtyProcess {
  const childEnv = Object.fromEntries(env);
  const pty: IPty = loadNodePty().spawn('/bin/sh', ['-c', prologue(env), 'sh', ...command], {
    name: env.get('TERM') ?? 'dumb',
    cols: PTY_COLUMNS,
    rows: PTY_ROWS,
    cwd,
    env: childEnv,
    encoding: null,
  } as Parameters<NodePty['spawn']>[2]);
  const exited = new Promise<{ exitCode: number | null; signal: number | null }>((resolve) => {
    pty.onExit(({ exitCode, signal }) => resolve(signal ? { exitCode: null, signal } : { exitCode, signal: null }));
  });
  return {
    pid: pty.pid,
    onData: (listener) => {
      pty.onData((data: string | Buffer) => listener(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
    },
    exited,
    write: (text) => pty.write(text),
    killGroup: () => {
      try {
        process.kill(-pty.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
}
