/**
 * `ajo transmit | worker | process | run`: thin wrappers over the library API.
 * Options are validated by the library's zod schemas; this file only maps
 * flags to options and results to exit codes.
 */
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { Flag, RunOption, RunOptionName } from '../protocol/run-options.js';
import type { ProcessResult } from '../streaming/process.js';
import type { RunResult } from '../streaming/run.js';
import type { Composed, StatusDocument } from '../protocol/status-document.js';
import type { UnpackLimits } from '../protocol/zip.js';
import type { TransmitOptions } from '../streaming/transmit.js';
import { portNumber, positiveInteger, wholeNumber } from './common.js';
import { addProcessComposeOptions, composeFlagsOf } from './compose-options.js';
import { UsageError } from './errors.js';
import { stderrProgress } from './progress.js';
import { collectGarbageWhilePacking, keepYoungGenerationSmall } from './young-generation.js';

// Each command imports what it runs when it runs: a worker should not pay at start-up for
// process's HTTP server, transmit's YAML parser or the other direction's zip library.

const EXIT_BAD_INPUT = 1;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-e` like ansible-playbook: key=value pairs, a JSON/YAML mapping, or @file. */
export async function parseExtravars(values: readonly string[]): Promise<Record<string, unknown>> {
  const merged: Record<string, unknown> = {};
  for (const value of values) {
    let source = value;
    if (value.startsWith('@')) {
      source = await readFile(value.slice(1), 'utf8').catch((err: Error) => {
        throw new UsageError(`cannot read extra vars file ${value.slice(1)}: ${err.message}`);
      });
    }
    const trimmed = source.trim();
    if (trimmed.startsWith('{') || value.startsWith('@')) {
      const { parse } = await import('./yaml-parse.js');
      let parsed: unknown;
      try {
        parsed = parse(source);
      } catch (err) {
        // The YAML library's message adds a picture of the spot over several lines.
        throw new UsageError(`extra vars '${value}' are not YAML or JSON: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`extra vars '${value}' must be a mapping`);
      Object.assign(merged, parsed);
      continue;
    }
    for (const pair of trimmed.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`extra var '${pair}' is not key=value`);
      merged[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return merged;
}

/** The run options table, which main.ts loads only for the commands that take run options. */
export type RunOptionsTable = typeof import('../protocol/run-options.js');

interface RunFlag {
  name: RunOptionName;
  flag: Flag;
  /** Where commander files the flag's value: `--args` under `args`, for the option moduleArgs. */
  attribute: string;
}

const longFlag = (flag: Flag): string => flag.flags.split(/[ ,]+/).find((part) => part.startsWith('--'))!;

/**
 * commander's parser for each kind of flag value the run options table names
 * (typed loosely: commander stores whatever a parser returns).
 */
function parserFor(flag: Flag): ((value: string, previous: unknown) => unknown) | undefined {
  const long = longFlag(flag);
  switch (flag.value) {
    case 'count':
      return (_value: string, count: unknown) => ((count as number | undefined) ?? 0) + 1;
    case 'positive':
      return positiveInteger(long);
    case 'whole':
      return wholeNumber(long);
    case 'list':
    case 'extravars':
      return (value: string, previous: unknown) => collect(value, previous as string[] | undefined);
    default:
      return undefined;
  }
}

function runFlagsOf(table: RunOptionsTable): RunFlag[] {
  return (Object.entries(table.RUN_OPTIONS) as Array<[RunOptionName, RunOption]>).flatMap(([name, row]) =>
    row.flag ? [{ name, flag: row.flag, attribute: new Option(row.flag.flags).attributeName() }] : [],
  );
}

function addRunOptions(command: Command, table: RunOptionsTable | undefined, runFlags: readonly RunFlag[]): Command {
  for (const [group, heading] of Object.entries(table?.HELP_GROUPS ?? {})) {
    for (const { flag } of runFlags.filter((f) => f.flag.group === group)) {
      const option = new Option(flag.flags, flag.description).helpGroup(heading);
      const parse = parserFor(flag);
      command.addOption(parse ? option.argParser(parse) : option);
    }
  }
  return command;
}

/**
 * The flags as library options, checked with transmit's own schema so that a
 * bad value is a usage error naming the flag.
 */
async function toTransmitOptions(dir: string, flags: Record<string, unknown>, runFlags: readonly RunFlag[]): Promise<TransmitOptions> {
  const options: Record<string, unknown> = { privateDataDir: dir };
  for (const { name, flag, attribute } of runFlags) {
    const value = flags[attribute];
    if (value === undefined) continue;
    options[name] = flag.value === 'extravars' ? await parseExtravars(value as string[]) : value;
  }
  const [{ transmitOptionsSchema }] = await Promise.all([import('../streaming/transmit.js'), import('./zod-jitless.js')]);
  const checked = transmitOptionsSchema.safeParse(options);
  if (!checked.success) {
    throw new UsageError(
      checked.error.issues
        .map((issue) => {
          const run = runFlags.find((f) => f.name === issue.path[0]);
          return (run ? `${longFlag(run.flag)}: ` : '') + issue.message;
        })
        .join('; '),
    );
  }
  noteRolesPath(dir, checked.data);
  return options as TransmitOptions;
}

/**
 * ansible-runner's -r never puts DIR/roles on the worker's roles path (2.3.1
 * sends no ANSIBLE_ROLES_PATH), so a role kept there is not found unless
 * --roles-path says where: a note, as the role may be installed elsewhere.
 */
function noteRolesPath(dir: string, options: { role?: string; rolesPath?: string }): void {
  if (!options.role || options.rolesPath !== undefined) return;
  if (existsSync(path.join(dir, 'roles', options.role)) && !existsSync(path.join(dir, 'project', 'roles', options.role))) {
    process.stderr.write(`ajo: note: the worker does not look in ${path.join(dir, 'roles')} unless told to: add --roles-path ../roles\n`);
  }
}

function limitOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--max-unpacked-bytes <n>', 'refuse archives declaring more than n bytes (default: 95% of the free space where they unpack)').argParser(
        wholeNumber('--max-unpacked-bytes'),
      ),
    )
    .addOption(
      new Option('--max-compression-ratio <n>', 'also refuse members compressed more than n:1 (off by default: legitimate files reach 1000:1)').argParser(
        wholeNumber('--max-compression-ratio'),
      ),
    );
}

async function limitsFrom(flags: { maxUnpackedBytes?: number; maxCompressionRatio?: number }): Promise<UnpackLimits> {
  const { DEFAULT_UNPACK_LIMITS } = await import('../protocol/zip.js');
  return {
    ...DEFAULT_UNPACK_LIMITS,
    ...(flags.maxUnpackedBytes !== undefined && { maxTotalBytes: flags.maxUnpackedBytes }),
    ...(flags.maxCompressionRatio !== undefined && { maxRatio: flags.maxCompressionRatio }),
  };
}

async function closeOutput(out: Writable): Promise<void> {
  if (out === process.stdout) return;
  out.end();
  await once(out, 'finish');
}

/** One line a human reads at the end: how the job went. */
function summaryLine(doc: StatusDocument): string {
  const counts = doc.hostCounts;
  const hosts = counts
    ? ` ok=${counts.ok} changed=${counts.changed} failures=${counts.failures} unreachable=${counts.unreachable} skipped=${counts.skipped}`
    : '';
  return `ajo: ${doc.status ?? 'unknown'} rc=${doc.rc ?? '-'} events=${doc.eventCount}${hosts} artifacts=${doc.artifactsDir}`;
}

/**
 * Wait until stdin has something (or has ended). In `transmit | worker | process`
 * process has nothing to do until the worker writes; loading its modules only
 * then leaves both CPUs to transmit and worker while they start, which is the
 * pipeline's critical path, and puts that work beside ansible-playbook, which
 * keeps one CPU busy. Buffered data stays in the stream for the real reader.
 */
async function firstInput(stream: NodeJS.ReadStream): Promise<void> {
  if (stream.isTTY || stream.readableLength > 0 || stream.readableEnded) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('readable', done).off('end', done).off('error', done);
      resolve();
    };
    stream.on('readable', done).on('end', done).on('error', done);
  });
}

/**
 * A spec.source job's worker starts beside the sidecar that composes its stream: wait for
 * compose's outcome file, then for the stream it names. A failed compose leaves no stream:
 * its reason is in the outcome, and the operator reads it from the sidecar.
 */
async function waitForInput(outcomeFile: string, input: string | undefined, seconds: number, signal: AbortSignal): Promise<{ ok: true } | { ok: false; explanation: string }> {
  if (!input) return { ok: false, explanation: '--wait-for needs --input: the stream it waits for' };
  const { waitForFile } = await import('./wait-for-file.js');
  try {
    await waitForFile(outcomeFile, seconds * 1000, signal);
  } catch (err) {
    return { ok: false, explanation: `no job stream: ${(err as Error).message}` };
  }
  if (existsSync(input)) return { ok: true };
  const outcome = readFileSync(outcomeFile, 'utf8').trim();
  return { ok: false, explanation: `no job stream at ${input}: compose did not make one (${outcome.slice(0, 1000)})` };
}

function cancelOnSignals(): AbortController {
  const controller = new AbortController();
  const cancel = (): void => controller.abort();
  process.once('SIGTERM', cancel);
  process.once('SIGINT', cancel);
  return controller;
}

/**
 * `table` is left out for the commands that take no run options: loading it
 * (and zod with it) would cost a worker's start-up ~0.2 s for nothing.
 */
export function registerStreamingCommands(program: Command, table?: RunOptionsTable): Command {
  const runFlags = table ? runFlagsOf(table) : [];
  addRunOptions(
    program
      .command('transmit')
      .description('pack a private data dir and run options into a job stream on stdout')
      .argument('<dir>', 'private data dir')
      .option('--only-transmit-kwargs', 'send only the run options, not the files'),
    table,
    runFlags,
  ).action(async (dir: string, flags: Record<string, unknown>) => {
    keepYoungGenerationSmall();
    const options = await toTransmitOptions(dir, flags, runFlags);
    const { transmit } = await import('../streaming/transmit.js');
    const progress = stderrProgress('ajo transmit:', process.stdout.isTTY === true);
    try {
      const packed = collectGarbageWhilePacking();
      await transmit({ ...options, onlyTransmitKwargs: flags.onlyTransmitKwargs === true }, process.stdout, {
        onProgress: (p) => {
          packed(p.bytes);
          progress?.update(p);
        },
      });
    } finally {
      progress?.finish();
    }
  });

  const workerCommand = limitOptions(
    program
      .command('worker')
      .description('run a job stream (stdin or --input) and write the result stream (stdout or --output)')
      .option('--private-data-dir <dir>', 'unpack and keep the job here (default: a temp dir removed afterwards)')
      .option('--delete', 'with --private-data-dir: remove the dir before and after the job')
      .option('--keepalive-seconds <n>', 'emit keepalive lines when quiet this long (0: never)', wholeNumber('--keepalive-seconds'), 0)
      .option('--input <file>', 'read the job stream from this file instead of stdin')
      .option('--output <file>', 'append the result stream to this file instead of stdout')
      .option('--input-sha256 <hex>', 'refuse to run unless the job stream has this sha256')
      .option('--wait-for <file>', 'first wait until this file exists (the outcome of a compose in another container); then --input must exist')
      .option('--wait-seconds <n>', 'how long --wait-for waits', positiveInteger('--wait-seconds'), 900),
  ).action(async (flags) => {
    const controller = cancelOnSignals();
    if (flags.waitFor) {
      const ready = await waitForInput(flags.waitFor, flags.input, flags.waitSeconds, controller.signal);
      if (!ready.ok) {
        process.stderr.write(`ajo worker: ${ready.explanation}\n`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
    }
    const input = flags.input ? createReadStream(flags.input) : process.stdin;
    const output = flags.output ? createWriteStream(flags.output, { flags: 'a', mode: 0o600 }) : process.stdout;
    // Ask for the display callback first: that Python start-up then overlaps with loading the job runner.
    (await import('../job/executables.js')).prefetchDisplayCallbackDir();
    // Loaded on demand: the job runner pulls in node-pty, which transmit and process never need.
    const { worker } = await import('../streaming/worker.js');
    const progress = stderrProgress('ajo worker: unpacked', output === process.stdout && process.stdout.isTTY === true);
    const result = await worker(input, output, {
      privateDataDir: flags.privateDataDir,
      delete: flags.delete,
      keepaliveSeconds: flags.keepaliveSeconds,
      inputSha256: flags.inputSha256,
      limits: await limitsFrom(flags),
      signal: controller.signal,
      onUnpackProgress: (p) => progress?.update(p),
    }).finally(() => progress?.finish());
    await closeOutput(output);
    if (!result.ok) {
      process.stderr.write(`ajo worker: ${result.explanation}\n`);
      process.exitCode = result.canceled ? (await import('../job/index.js')).KILLED_RC : EXIT_BAD_INPUT;
      return;
    }
    process.exitCode = result.job.rc;
  });

  limitOptions(
    addProcessComposeOptions(program
      .command('process')
      .description('write artifacts from a result stream (stdin or --follow FILE) and print the playbook output')
      .argument('<dir>', 'directory that receives artifacts/')
      .option('--ident <id>', 'write to DIR/artifacts/ID/ instead of DIR/artifacts/')
      .option('--follow <file>', 'follow this file as the worker appends to it, until eof')
      .option('--status-port <port>', 'serve the status document on this port (GET /status)', portNumber('--status-port'))
      .option('--status-file <file>', 'keep the status document in this file')
      .option('--termination-log <file>', 'write the final status document here (Kubernetes termination message)')
      .option('-q, --quiet', 'do not print the playbook output')),
  ).action(async (dir: string, flags) => {
    let composed: Composed | undefined;
    if (flags.compose) {
      // A spec.source job's sidecar: compose the stream the worker waits for, then follow it.
      const { runCompose } = await import('./compose-command.js');
      const composeFlags = composeFlagsOf(flags);
      if ('missing' in composeFlags) throw new UsageError(`--compose needs ${composeFlags.missing.join(', ')}`);
      const run = await runCompose(composeFlags);
      if (run.success === undefined) {
        process.exitCode = run.exitCode;
        return;
      }
      composed = run.success;
    }
    if (!flags.follow && flags.statusPort === undefined) await firstInput(process.stdin);
    const [{ followFile }, { processStream, ProcessError }, { StatusPublisher }] = await Promise.all([
      import('../streaming/follow.js'),
      import('../streaming/process.js'),
      import('../streaming/status-publisher.js'),
    ]);
    const publisher = new StatusPublisher({ port: flags.statusPort, file: flags.statusFile, terminationLog: flags.terminationLog });
    await publisher.start();
    const controller = cancelOnSignals();
    const source = flags.follow ? followFile(flags.follow, { signal: controller.signal }) : process.stdin;
    // SIGTERM/SIGINT cut stdin too: process then reports the stream cut short instead of waiting for a writer that may never end.
    if (!flags.follow) controller.signal.addEventListener('abort', () => process.stdin.destroy(), { once: true });
    let result: ProcessResult | undefined;
    try {
      result = await processStream(source, {
        privateDataDir: dir,
        ident: flags.ident,
        display: flags.quiet ? undefined : process.stdout,
        onUpdate: (doc) => publisher.update(doc),
        ...(composed ? { composed } : {}),
        limits: await limitsFrom(flags),
        // Following a file is the pod's sidecar, paced by the worker and under a memory limit:
        // no writer thread (a second V8 isolate, ~24 MB) for a speed it cannot use.
        ...(flags.follow ? { writeThread: false } : {}),
      });
      process.stderr.write(summaryLine(result.document) + '\n');
      process.exitCode = result.rc ?? (result.status === 'successful' ? 0 : 1);
    } catch (err) {
      if (!(err instanceof ProcessError)) throw err;
      if (controller.signal.aborted) {
        process.stderr.write(`ajo process: canceled by a signal before the result stream's eof; what arrived is in ${dir}\n`);
        process.exitCode = (await import('../job/index.js')).KILLED_RC;
        return;
      }
      process.stderr.write(`ajo process: ${err.message}\n`);
      process.exitCode = EXIT_BAD_INPUT;
    } finally {
      await publisher.finish();
      await publisher.stop();
    }
  });

  limitOptions(
    addRunOptions(
      program
        .command('run')
        .description('transmit, work and process in one go, with no cluster (the embedded default)')
        .argument('<dir>', 'private data dir; artifacts land in DIR/artifacts/')
        .option('-q, --quiet', 'do not print the playbook output'),
      table,
      runFlags,
    ),
  ).action(async (dir: string, flags: Record<string, unknown> & { maxUnpackedBytes?: number; maxCompressionRatio?: number }) => {
    keepYoungGenerationSmall();
    const options = await toTransmitOptions(dir, flags, runFlags);
    const controller = cancelOnSignals();
    (await import('../job/executables.js')).prefetchDisplayCallbackDir();
    const [{ run }, { ProcessError }] = await Promise.all([import('../streaming/run.js'), import('../streaming/process.js')]);
    const limits = await limitsFrom(flags);
    // Both lines end before the playbook prints anything, so stdout may share the terminal.
    const packing = stderrProgress('ajo run: packed', false);
    const packed = collectGarbageWhilePacking();
    const unpacking = stderrProgress('ajo run: unpacked', false);
    let result: RunResult;
    try {
      result = await run({
        ...options,
        display: flags.quiet ? undefined : process.stdout,
        signal: controller.signal,
        limits,
        onPackProgress: (p) => {
          packed(p.bytes);
          packing?.update(p);
        },
        onUnpackProgress: (p) => unpacking?.update(p),
      });
    } catch (err) {
      // process failed (a full disk, a refused archive): the job was canceled, the temp files removed.
      if (!(err instanceof ProcessError)) throw err;
      process.stderr.write(`ajo run: ${err.message}\n`);
      process.exitCode = EXIT_BAD_INPUT;
      return;
    } finally {
      packing?.finish();
      unpacking?.finish();
    }
    process.stderr.write(summaryLine(result.process.document) + '\n');
    if (!result.worker.ok) process.stderr.write(`ajo run: ${result.worker.explanation}\n`);
    process.exitCode = result.process.rc ?? 1;
  });

  return workerCommand;
}
