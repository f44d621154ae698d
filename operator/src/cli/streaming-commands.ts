/**
 * `ajo transmit | worker | process | run`: thin wrappers over the library API.
 * Options are validated by the library's zod schemas; this file only maps
 * flags to options and results to exit codes.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ProcessResult } from '../streaming/process.js';
import type { RunResult } from '../streaming/run.js';
import type { StatusDocument } from '../protocol/status-document.js';
import type { UnpackLimits } from '../protocol/zip.js';
import type { TransmitOptions } from '../streaming/transmit.js';
import { UsageError } from './errors.js';

// Each command imports what it runs when it runs: a worker should not pay at start-up for
// process's HTTP server, transmit's YAML parser or the other direction's zip library.

const EXIT_BAD_INPUT = 1;

function wholeNumber(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-e` like ansible-playbook: key=value pairs, a JSON/YAML mapping, or @file. */
export async function parseExtravars(values: readonly string[]): Promise<Record<string, unknown>> {
  const merged: Record<string, unknown> = {};
  for (const value of values) {
    let source = value;
    if (value.startsWith('@')) source = await readFile(value.slice(1), 'utf8');
    const trimmed = source.trim();
    if (trimmed.startsWith('{') || value.startsWith('@')) {
      const { parse } = await import('yaml');
      const parsed: unknown = parse(source);
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

function addRunOptions(command: Command): Command {
  return command
    .option('-p, --playbook <file>', 'playbook to run, relative to DIR/project')
    .option('-m, --module <name>', 'run one module ad hoc instead of a playbook')
    .option('-a, --args <args>', 'module arguments (with -m)')
    .option('--hosts <pattern>', 'host pattern (with -m)')
    .option('-i, --inventory <path>', 'inventory inside DIR (default: DIR/inventory)')
    .option('--limit <pattern>', 'limit the play to these hosts')
    .option('--tags <tags>', 'only run tasks with these tags')
    .option('--skip-tags <tags>', 'skip tasks with these tags')
    .option('-v, --verbose', 'more ansible verbosity (repeat: -vvv)', (_v: string, n: number) => n + 1, 0)
    .option('--forks <n>', 'parallel hosts', wholeNumber('--forks'))
    .option('--cmdline <args>', 'extra ansible-playbook arguments')
    .option('-e, --extravars <vars>', 'extra vars: key=value, JSON/YAML mapping, or @file (repeatable)', collect)
    .option('--ident <id>', 'job identifier (default: random)')
    .option('--timeout <seconds>', "maximum runtime of the whole job (Ansible's async); status 'timeout' after it", wholeNumber('--timeout'))
    .option('-b, --binary <path>', 'ansible binary to run')
    .option('--roles-path <path>', 'roles path')
    .option('--project-dir <path>', 'project directory on the worker')
    .option('--artifact-dir <path>', 'artifact directory on the worker')
    .option('--rotate-artifacts <n>', 'keep this many artifact dirs', wholeNumber('--rotate-artifacts'))
    .option('-j, --json', 'JSON event output')
    .option('--omit-event-data', 'send events without event_data')
    .option('--only-failed-event-data', 'send event_data only for failures')
    .option('--omit-env-files', 'do not write env files into artifacts')
    .option('--container-image <image>', 'container image (for container-based workers)')
    .option('--container-volume-mount <mount>', 'container volume mount (repeatable)', collect)
    .option('--container-option <option>', 'container option (repeatable)', collect);
}

type RunFlags = {
  playbook?: string;
  module?: string;
  args?: string;
  hosts?: string;
  inventory?: string;
  limit?: string;
  tags?: string;
  skipTags?: string;
  verbose: number;
  forks?: number;
  cmdline?: string;
  extravars?: string[];
  ident?: string;
  timeout?: number;
  binary?: string;
  rolesPath?: string;
  projectDir?: string;
  artifactDir?: string;
  rotateArtifacts?: number;
  json?: boolean;
  omitEventData?: boolean;
  onlyFailedEventData?: boolean;
  omitEnvFiles?: boolean;
  containerImage?: string;
  containerVolumeMount?: string[];
  containerOption?: string[];
};

async function toTransmitOptions(dir: string, f: RunFlags): Promise<TransmitOptions> {
  if (!f.playbook && !f.module) throw new UsageError('the -p option must be specified when not using -m');
  return {
    privateDataDir: dir,
    playbook: f.playbook,
    module: f.module,
    moduleArgs: f.args,
    hostPattern: f.hosts,
    inventory: f.inventory,
    limit: f.limit,
    tags: f.tags,
    skipTags: f.skipTags,
    verbosity: f.verbose > 0 ? f.verbose : undefined,
    forks: f.forks,
    cmdline: f.cmdline,
    extravars: f.extravars?.length ? await parseExtravars(f.extravars) : undefined,
    ident: f.ident,
    timeout: f.timeout,
    binary: f.binary,
    rolesPath: f.rolesPath,
    projectDir: f.projectDir,
    artifactDir: f.artifactDir,
    rotateArtifacts: f.rotateArtifacts,
    json: f.json,
    omitEventData: f.omitEventData,
    onlyFailedEventData: f.onlyFailedEventData,
    omitEnvFiles: f.omitEnvFiles,
    containerImage: f.containerImage,
    containerVolumeMounts: f.containerVolumeMount,
    containerOptions: f.containerOption,
  };
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

function cancelOnSignals(): AbortController {
  const controller = new AbortController();
  const cancel = (): void => controller.abort();
  process.once('SIGTERM', cancel);
  process.once('SIGINT', cancel);
  return controller;
}

export function registerStreamingCommands(program: Command): Command {
  addRunOptions(
    program
      .command('transmit')
      .description('pack a private data dir and run options into a job stream on stdout')
      .argument('<dir>', 'private data dir')
      .option('--only-transmit-kwargs', 'send only the run options, not the files'),
  ).action(async (dir: string, flags: RunFlags & { onlyTransmitKwargs?: boolean }) => {
    const options = await toTransmitOptions(dir, flags);
    const { transmit } = await import('../streaming/transmit.js');
    await transmit({ ...options, onlyTransmitKwargs: flags.onlyTransmitKwargs }, process.stdout);
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
      .option('--input-sha256 <hex>', 'refuse to run unless the job stream has this sha256'),
  ).action(async (flags) => {
    const input = flags.input ? createReadStream(flags.input) : process.stdin;
    const output = flags.output ? createWriteStream(flags.output, { flags: 'a', mode: 0o600 }) : process.stdout;
    const controller = cancelOnSignals();
    // Ask for the display callback first: that Python start-up then overlaps with loading the job runner.
    (await import('../job/executables.js')).prefetchDisplayCallbackDir();
    // Loaded on demand: the job runner pulls in node-pty, which transmit and process never need.
    const { worker } = await import('../streaming/worker.js');
    const result = await worker(input, output, {
      privateDataDir: flags.privateDataDir,
      delete: flags.delete,
      keepaliveSeconds: flags.keepaliveSeconds,
      inputSha256: flags.inputSha256,
      limits: await limitsFrom(flags),
      signal: controller.signal,
    });
    await closeOutput(output);
    if (!result.ok) {
      process.stderr.write(`ajo worker: ${result.explanation}\n`);
      process.exitCode = result.canceled ? (await import('../job/index.js')).KILLED_RC : EXIT_BAD_INPUT;
      return;
    }
    process.exitCode = result.job.rc;
  });

  limitOptions(
    program
      .command('process')
      .description('write artifacts from a result stream (stdin or --follow FILE) and print the playbook output')
      .argument('<dir>', 'directory that receives artifacts/')
      .option('--ident <id>', 'write to DIR/artifacts/ID/ instead of DIR/artifacts/')
      .option('--follow <file>', 'follow this file as the worker appends to it, until eof')
      .option('--status-port <port>', 'serve the status document on this port (GET /status)', wholeNumber('--status-port'))
      .option('--status-file <file>', 'keep the status document in this file')
      .option('--termination-log <file>', 'write the final status document here (Kubernetes termination message)')
      .option('-q, --quiet', 'do not print the playbook output'),
  ).action(async (dir: string, flags) => {
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
    let result: ProcessResult | undefined;
    try {
      result = await processStream(source, {
        privateDataDir: dir,
        ident: flags.ident,
        display: flags.quiet ? undefined : process.stdout,
        onUpdate: (doc) => publisher.update(doc),
        limits: await limitsFrom(flags),
      });
      process.stderr.write(summaryLine(result.document) + '\n');
      process.exitCode = result.rc ?? (result.status === 'successful' ? 0 : 1);
    } catch (err) {
      if (!(err instanceof ProcessError)) throw err;
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
    ),
  ).action(async (dir: string, flags: RunFlags & { quiet?: boolean; maxUnpackedBytes?: number; maxCompressionRatio?: number }) => {
    const options = await toTransmitOptions(dir, flags);
    const controller = cancelOnSignals();
    (await import('../job/executables.js')).prefetchDisplayCallbackDir();
    const [{ run }, { ProcessError }] = await Promise.all([import('../streaming/run.js'), import('../streaming/process.js')]);
    const limits = await limitsFrom(flags);
    let result: RunResult;
    try {
      result = await run({ ...options, display: flags.quiet ? undefined : process.stdout, signal: controller.signal, limits });
    } catch (err) {
      // process failed (a full disk, a refused archive): the job was canceled, the temp files removed.
      if (!(err instanceof ProcessError)) throw err;
      process.stderr.write(`ajo run: ${err.message}\n`);
      process.exitCode = EXIT_BAD_INPUT;
      return;
    }
    process.stderr.write(summaryLine(result.process.document) + '\n');
    if (!result.worker.ok) process.stderr.write(`ajo run: ${result.worker.explanation}\n`);
    process.exitCode = result.process.rc ?? 1;
  });

  return workerCommand;
}
