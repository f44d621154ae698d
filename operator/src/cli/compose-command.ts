/**
 * `ajo compose`: the first step of a spec.source job's sidecar. Reads the Source (a
 * downward-API file), composes the private data dir from the mounted ConfigMaps, Secrets and
 * a git checkout, writes the transmit stream, and reports one JSON line (outcome.ts) on
 * stdout, in the termination log and in the outcome file the worker waits for.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { Source } from '../api/source.js';
import { compose, DEFAULT_COMPOSE_TIMEOUT_SECONDS } from '../source/compose.js';
import { ComposeError } from '../source/errors.js';
import { COMPOSE_EXIT, exitCodeFor, terminationMessage, type ComposeFailure, type ComposeOutcome, type ComposeSuccess } from '../source/outcome.js';
import { positiveInteger } from './common.js';

export interface ComposeFlags {
  source: string;
  configmaps: string;
  secrets: string;
  workDir: string;
  output: string;
  terminationLog?: string;
  outcomeFile?: string;
  workerHome?: string;
  /** Seconds; the library's default when unset. */
  timeout?: number;
}

/** How long a SIGTERMed compose may take to stop its children before it exits anyway. */
const TERMINATE_GRACE_MS = 5000;

export function registerComposeCommand(program: Command): void {
  program
    .command('compose')
    .description('compose a spec.source job (git, ConfigMaps, Secrets) into a transmit stream: the first step of a source job\'s sidecar')
    .requiredOption('--source <file>', 'the Source as JSON (in a pod: the downward-API file of its annotation)')
    .requiredOption('--configmaps <dir>', 'where ConfigMaps are mounted, as <dir>/<name>/<key>')
    .requiredOption('--secrets <dir>', 'where Secrets are mounted, as <dir>/<name>/<key>')
    .requiredOption('--work-dir <dir>', 'scratch space: the private data dir, the checkout (emptied again at the end)')
    .requiredOption('--output <file>', 'where the transmit stream is written')
    .option('--worker-home <dir>', "the worker's HOME: credentials.knownHosts is written to its .ssh/known_hosts")
    .option('--termination-log <file>', 'also write the JSON outcome line here (a pod: /dev/termination-log)')
    .option('--outcome-file <file>', 'write the JSON outcome line here last, whole (renamed into place): the worker waits for it')
    .option('--timeout <seconds>', 'the whole compose must be done within this', positiveInteger('--timeout'), DEFAULT_COMPOSE_TIMEOUT_SECONDS)
    .action(async (flags: ComposeFlags) => {
      process.exitCode = (await runCompose(flags)).exitCode;
    });
}

function report(flags: ComposeFlags, outcome: ComposeOutcome, stream: NodeJS.WriteStream, human?: string): void {
  const line = terminationMessage(outcome);
  if (flags.terminationLog) {
    try {
      writeFileSync(flags.terminationLog, line);
    } catch (err) {
      process.stderr.write(`ajo compose: cannot write the termination log ${flags.terminationLog}: ${(err as Error).message}\n`);
    }
  }
  if (flags.outcomeFile) {
    // Renamed into place, so whoever waits for it never reads half a line.
    const partial = `${flags.outcomeFile}.partial`;
    try {
      writeFileSync(partial, line + '\n', { mode: 0o644 });
      renameSync(partial, flags.outcomeFile);
    } catch (err) {
      process.stderr.write(`ajo compose: cannot write the outcome file ${flags.outcomeFile}: ${(err as Error).message}\n`);
    }
  }
  stream.write((human ?? line) + '\n');
}

export type ComposeRun = { exitCode: number; success?: ComposeSuccess };

const fail = (flags: ComposeFlags, failure: ComposeFailure, exitCode: number): ComposeRun => {
  report(flags, failure, process.stderr, `ajo compose: ${failure.reason}: ${failure.message}`);
  return { exitCode };
};

export async function runCompose(flags: ComposeFlags): Promise<ComposeRun> {
  let text: string;
  try {
    text = readFileSync(flags.source, 'utf8');
  } catch (err) {
    return fail(flags, { reason: 'InvalidSource', message: `cannot read the source ${flags.source}: ${(err as Error).message}` }, COMPOSE_EXIT.usage);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(flags, { reason: 'InvalidSource', message: `the source ${flags.source} is not JSON: ${(err as Error).message}` }, COMPOSE_EXIT.usage);
  }
  const parsed = Source.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ` : '') + issue.message).join('; ');
    return fail(flags, { reason: 'InvalidSource', message: `the source is not valid: ${issues}` }, COMPOSE_EXIT.usage);
  }

  const abort = new AbortController();
  const onTerm = (): void => {
    abort.abort(new Error('terminated (SIGTERM)'));
    // Children get SIGTERM through the signal; a compose that still has not ended goes anyway.
    setTimeout(() => process.exit(COMPOSE_EXIT.terminated), TERMINATE_GRACE_MS).unref();
  };
  process.once('SIGTERM', onTerm);
  // The Node start-up and module loading before compose began: part of what a source job's pod pays.
  const startupMs = Math.round(performance.now());
  try {
    const success = await compose({
      source: parsed.data,
      volumes: { configMaps: flags.configmaps, secrets: flags.secrets },
      workDir: flags.workDir,
      output: flags.output,
      ...(flags.timeout !== undefined ? { timeoutSeconds: flags.timeout } : {}),
      signal: abort.signal,
      ...(flags.workerHome ? { workerHome: flags.workerHome } : {}),
    });
    const reported = { ...success, timingsMs: { startupMs, ...success.timingsMs } };
    report(flags, reported, process.stdout);
    return { exitCode: COMPOSE_EXIT.ok, success: reported };
  } catch (err) {
    if (abort.signal.aborted) return fail(flags, { reason: 'ComposeFailed', message: 'terminated (SIGTERM) before the stream was complete' }, COMPOSE_EXIT.terminated);
    if (err instanceof ComposeError) return fail(flags, { reason: err.reason, message: err.message }, exitCodeFor(err.reason));
    return fail(flags, { reason: 'ComposeFailed', message: (err as Error).message ?? String(err) }, COMPOSE_EXIT.failed);
  } finally {
    process.off('SIGTERM', onTerm);
  }
}
