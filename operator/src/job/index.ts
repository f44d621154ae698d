/**
 * runJob: run one Ansible job in an unpacked private data dir the way
 * ansible-runner's worker does (Runner.run in pexpect mode), reporting status
 * dicts and job events as ordered maps ready for `dumps`.
 *
 * Data flows one way: pty bytes → UTF-8 text → DisplayDecoder (markers →
 * decoded events, stdout file text) → EventAssembler (partial merge) →
 * onEvent. Timers and the abort signal only ever kill the process group; the
 * outcome is decided once the process has exited.
 */
import path from 'node:path';
import type { PyObject } from '../protocol/pyjson.js';
import type { RunnerKwargs } from '../protocol/kwargs.js';
import { prepareArtifactDir, removeLeftoverPartials, rotateArtifacts, StdoutFile, writeCommandFile, writeResultFiles } from './artifacts-files.js';
import { prepareJobConfig, type JobConfig } from './config.js';
import { DisplayDecoder } from './display-decoder.js';
import { EventAssembler } from './events.js';
import { which } from './executables.js';
import { PromptResponder } from './passwords.js';
import { spawnInPty } from './pty.js';
import { feedSshKey, type SshKeyFeeder } from './ssh-key.js';

export { JobConfigError } from './config.js';
export { DisplayDecoder } from './display-decoder.js';
export type { JobConfig } from './config.js';

export type JobStatus = 'successful' | 'failed' | 'timeout' | 'canceled';

export interface RunJobOptions {
  /** Already unpacked. */
  privateDataDir: string;
  kwargs: RunnerKwargs;
  /** Abort = cancel (SIGTERM on the worker): status 'canceled', rc 254, child process group killed. */
  signal?: AbortSignal;
  /** Status dicts exactly as runner's status_callback: starting (with command, env, cwd), running, final. */
  onStatus(status: PyObject): void;
  /** Each event as an ordered Map in runner's key order. */
  onEvent(event: PyObject): void;
  /** The environment copied into the job (the runner's os.environ.copy()); defaults to process.env. */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface JobResult {
  status: JobStatus;
  rc: number;
  artifactDir: string;
  ident: string;
}

/** rc the runner reports for a job it killed (timeout or cancel). */
export const KILLED_RC = 254;
/** rc when the binary cannot be executed (pexpect's spawn error). */
export const MISSING_BINARY_RC = 127;

function statusDict(config: JobConfig, status: string): PyObject {
  const dict: PyObject = new Map([
    ['status', status],
    ['runner_ident', config.ident],
  ]);
  if (status === 'starting') {
    dict.set('command', [...config.command]);
    dict.set('env', new Map(config.env));
    dict.set('cwd', config.cwd);
  }
  return dict;
}

interface ProcessOutcome {
  rc: number;
  timedOut: boolean;
  canceled: boolean;
}

export async function runJob(opts: RunJobOptions): Promise<JobResult> {
  const config = await prepareJobConfig({ privateDataDir: opts.privateDataDir, kwargs: opts.kwargs, baseEnv: opts.baseEnv ?? process.env });
  opts.onStatus(statusDict(config, 'starting'));

  const jobEventsDir = prepareArtifactDir(config.artifactDir);
  writeCommandFile(config.artifactDir, config.command, config.cwd, config.env);
  rotateArtifacts(path.dirname(config.artifactDir), config.rotateArtifacts);
  const stdoutFile = config.suppressOutputFile ? null : new StdoutFile(config.artifactDir);

  let lastActivity = Date.now();
  const assembler = new EventAssembler({ ident: config.ident, jobEventsDir, requirePartials: config.checkJobEventData });
  const decoder = new DisplayDecoder({
    onEvent: (decoded) => {
      lastActivity = Date.now();
      opts.onEvent(assembler.assemble(decoded));
    },
    onStdoutFile: (text) => stdoutFile?.write(text),
  });

  opts.onStatus(statusDict(config, 'running'));
  let outcome: ProcessOutcome;
  try {
    outcome = await runProcess(config, decoder, opts.signal, () => {
      lastActivity = Date.now();
    }, () => lastActivity);
  } finally {
    stdoutFile?.close();
    removeLeftoverPartials(jobEventsDir);
  }

  const status: JobStatus = outcome.canceled ? 'canceled' : outcome.rc === 0 && !outcome.timedOut ? 'successful' : outcome.timedOut ? 'timeout' : 'failed';
  opts.onStatus(statusDict(config, status));
  writeResultFiles(config.artifactDir, status, outcome.rc);
  return { status, rc: outcome.rc, artifactDir: config.artifactDir, ident: config.ident };
}

async function runProcess(
  config: JobConfig,
  decoder: DisplayDecoder,
  signal: AbortSignal | undefined,
  markActivity: () => void,
  lastActivity: () => number,
): Promise<ProcessOutcome> {
  // Canceled while the job was being prepared: never start ansible-playbook only to kill it.
  if (signal?.aborted) return { rc: KILLED_RC, timedOut: false, canceled: true };
  const program = config.command[0] ?? '';
  if (!which(program, config.env.get('PATH'), config.cwd)) {
    // What pexpect's spawn error looks like once it went through the filter.
    decoder.write(`The command was not found or was not executable: ${program}.`);
    decoder.write('\n');
    decoder.close();
    return { rc: MISSING_BINARY_RC, timedOut: false, canceled: false };
  }

  const sshKey: SshKeyFeeder | null = config.sshKey ? feedSshKey(config.sshKey.fifo, config.sshKey.data) : null;
  const child = spawnInPty(config.command, config.env, config.cwd);
  const utf8 = new TextDecoder('utf-8');
  const prompts = new PromptResponder(config.passwordPrompts);
  let timedOut = false;
  let canceled = false;
  let failure: unknown = null;

  const kill = (): void => child.killGroup();
  const cancel = (): void => {
    if (timedOut) return;
    canceled = true;
    kill();
  };
  signal?.addEventListener('abort', cancel, { once: true });
  if (signal?.aborted) cancel();

  const timers: NodeJS.Timeout[] = [];
  if (config.jobTimeoutSeconds) {
    timers.push(
      setTimeout(() => {
        if (canceled) return;
        timedOut = true;
        kill();
      }, config.jobTimeoutSeconds * 1000),
    );
  }
  if (config.idleTimeoutSeconds) {
    const idleMs = config.idleTimeoutSeconds * 1000;
    timers.push(
      setInterval(() => {
        if (Date.now() - lastActivity() > idleMs) {
          timedOut = true;
          kill();
        }
      }, Math.min(1000, Math.max(50, idleMs / 4))),
    );
  }

  child.onData((chunk) => {
    if (failure) return;
    const text = utf8.decode(chunk, { stream: true });
    if (!text) return;
    try {
      decoder.write(text);
      const reply = prompts.feed(text);
      if (reply) {
        if (reply.answer !== null) child.write(reply.answer);
        markActivity();
      }
    } catch (error) {
      // A broken partial file or a failing onEvent: stop the job, report after exit.
      failure = error;
      kill();
    }
  });

  const { exitCode, signal: exitSignal } = await child.exited;
  for (const timer of timers) clearTimeout(timer);
  signal?.removeEventListener('abort', cancel);
  sshKey?.stop();
  if (failure) throw failure;
  const tail = utf8.decode();
  if (tail) decoder.write(tail);
  decoder.close();

  // A process ended by someone else's signal has no exit status in pexpect; report it shell-style.
  const rc = timedOut || canceled ? KILLED_RC : exitCode ?? 128 + (exitSignal ?? 0);
  return { rc, timedOut, canceled };
}
