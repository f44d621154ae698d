// `ajo worker cleanup`: the flags of `ansible-runner worker cleanup` plus
// --dry-run, --engine-host and prune filters. Lists are space separated like
// argparse's nargs lists (`--remove-images a b`); `a,b` is one value, as in
// ansible-runner whatever its help text says.
import { Command, CommanderError, Option } from 'commander';
import * as z from 'zod';

import { GRACE_PERIOD_DEFAULT_MINUTES } from '../cleanup/dirs.js';
import { untilCutoff } from '../cleanup/images.js';
import { runWorkerCleanup, type WorkerCleanupOptions } from '../cleanup/run.js';

/** argparse exits 2 on usage errors; commander would exit 1. */
const USAGE_EXIT_CODE = 2;

const LABEL_FILTER = /^!?[^=\s!][^=\s]*(=.*)?$/;

const CleanupFlags = z
  .object({
    filePattern: z.string().min(1, 'argument --file-pattern: expected a non-empty glob').optional(),
    excludeStrings: z.array(z.string()).default([]),
    gracePeriod: z
      .string()
      // Python's int() accepts surrounding blanks and a sign; a negative grace would delete everything.
      .refine((v) => /^\s*[+-]?\d+\s*$/.test(v), { error: (issue) => `argument --grace-period: invalid int value: '${String(issue.input)}'` })
      .transform((v) => Number(v.trim()))
      .refine((n) => n >= 0, { error: (issue) => `argument --grace-period: must be 0 or more minutes, got ${String(issue.input)}` }),
    removeImages: z.array(z.string().min(1, 'argument --remove-images: empty image reference')).default([]),
    imagePrune: z.boolean().default(false),
    imagePruneLabel: z
      .array(z.string().regex(LABEL_FILTER, 'argument --image-prune-label: expected KEY, KEY=VALUE, !KEY or !KEY=VALUE'))
      .default([]),
    imagePruneUntil: z
      .string()
      .refine((v) => untilCutoff(v) !== undefined, {
        error: (issue) => `argument --image-prune-until: invalid value '${String(issue.input)}': expected a duration like 24h, unix seconds or an RFC 3339 time`,
      })
      .optional(),
    processIsolationExecutable: z.enum(['docker', 'podman'], {
      error: (issue) => `argument --process-isolation-executable: invalid choice: '${String(issue.input)}' (choose from 'docker', 'podman')`,
    }),
    engineHost: z.string().min(1).optional(),
    dryRun: z.boolean().default(false),
  })
  .strict();

export type CleanupFlags = z.input<typeof CleanupFlags>;

/** Validate commander's raw option values; throws a ZodError naming the bad argument. */
export function parseCleanupFlags(raw: CleanupFlags): WorkerCleanupOptions {
  const flags = CleanupFlags.parse(raw);
  return {
    filePattern: flags.filePattern,
    excludeStrings: flags.excludeStrings,
    gracePeriodMinutes: flags.gracePeriod,
    removeImages: flags.removeImages,
    imagePrune: flags.imagePrune,
    imagePruneLabels: flags.imagePruneLabel,
    imagePruneUntil: flags.imagePruneUntil,
    processIsolationExecutable: flags.processIsolationExecutable,
    engineHost: flags.engineHost,
    dryRun: flags.dryRun,
  };
}

function isUsageError(err: CommanderError): boolean {
  return err.exitCode !== 0 && err.code !== 'commander.executeSubCommandAsync';
}

export function registerWorkerCleanupCommand(worker: Command): Command {
  const cleanup = worker
    .command('cleanup')
    .description('Cleanup private_data_dir patterns from prior jobs and supporting temporary folders.')
    .option('--file-pattern <glob>', 'A file glob pattern to find private_data_dir folders to remove. Example: --file-pattern=/tmp/.ansible-runner-*')
    .option('--exclude-strings <string...>', 'Keywords in directory name or path to avoid deleting (space separated).')
    .option(
      '--remove-images <tag...>',
      'Podman or docker tags to delete (space separated). Podman images are untagged; use --image-prune to delete the layers. Example: --remove-images quay.io/user/image:devel quay.io/user/builder:latest',
    )
    .option(
      '--grace-period <minutes>',
      'Time (in minutes) after last modification to exclude a folder from deletion for. Value of 0 indicates that no folders will be excluded based on modified time.',
      String(GRACE_PERIOD_DEFAULT_MINUTES),
    )
    .option('--image-prune', 'Prune dangling images (after untagging).')
    .option('--image-prune-label <filter...>', 'Only prune images with these labels: KEY, KEY=VALUE, !KEY, !KEY=VALUE.')
    .option('--image-prune-until <when>', 'Only prune images created before this: a duration (24h) or a timestamp.')
    .addOption(new Option('--process-isolation-executable <exe>', 'The container engine to clean up images for (docker or podman).').default('podman'))
    .option('--engine-host <url>', 'Engine API endpoint, unix:///path.sock or tcp://host:port (default: $AJO_ENGINE_HOST, $DOCKER_HOST or $CONTAINER_HOST, then the usual socket).')
    .option('--dry-run', 'List what would be removed; remove nothing.')
    .exitOverride((err) => {
      process.exit(isUsageError(err) ? USAGE_EXIT_CODE : err.exitCode);
    })
    .action(async (raw: CleanupFlags, command: Command) => {
      let options: WorkerCleanupOptions;
      try {
        options = parseCleanupFlags(raw);
      } catch (err) {
        if (!(err instanceof z.ZodError)) throw err;
        command.error(`error: ${err.issues.map((i) => i.message).join('; ')}`, { exitCode: USAGE_EXIT_CODE, code: 'ajo.usage' });
      }
      const result = await runWorkerCleanup(options, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
      process.exitCode = result.exitCode;
    });
  return cleanup;
}
