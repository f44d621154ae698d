// `ajo operator`'s cleanup flags, each with an environment variable so that a
// Helm chart sets them from values. Artifacts and image cleanup are off unless
// their flags are given; the orphan/TTL sweep runs unless the interval is 0.
import { Option, type Command } from 'commander';
import { wholeNumber } from './common.js';

import { GRACE_PERIOD_DEFAULT_MINUTES } from '../cleanup/dirs.js';
import {
  CleanupConfigError,
  cleanupConfigProblems,
  DEFAULT_ARTIFACTS_PATTERN,
  DEFAULT_CLEANUP_INTERVAL_SECONDS,
  DEFAULT_ORPHAN_MIN_AGE_SECONDS,
  DEFAULT_TTL_GRACE_SECONDS,
  type CleanupConfig,
} from '../sweep/reconciler.js';

export interface CleanupFlags {
  cleanupInterval: number;
  cleanupOrphanMinAge: number;
  artifactsDir?: string;
  cleanupPattern?: string;
  cleanupGracePeriod?: number;
  imageCleanupEndpoint?: string;
  imageCleanupRemove?: string[];
  imagePrune?: boolean;
  imagePruneLabel?: string[];
  imagePruneUntil?: string;
}

/** Repeatable, and comma separated so that one environment variable can hold a list. */
const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((item) => item.trim()).filter(Boolean)];

export function addCleanupOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--cleanup-interval <seconds>', 'seconds between cleanup sweeps (orphaned pods and payload Secrets, expired AnsibleJobs); 0 = no sweeps')
        .env('AJO_CLEANUP_INTERVAL')
        .default(DEFAULT_CLEANUP_INTERVAL_SECONDS)
        .argParser(wholeNumber('--cleanup-interval')),
    )
    .addOption(
      new Option('--cleanup-orphan-min-age <seconds>', 'orphaned pods and Secrets younger than this are kept')
        .env('AJO_CLEANUP_ORPHAN_MIN_AGE')
        .default(DEFAULT_ORPHAN_MIN_AGE_SECONDS)
        .argParser(wholeNumber('--cleanup-orphan-min-age')),
    )
    .addOption(new Option('--artifacts-dir <dir>', 'where the artifacts volume is mounted; sweeping it is off without this').env('AJO_ARTIFACTS_DIR'))
    .addOption(new Option('--cleanup-pattern <glob>', `dirs to sweep, relative to --artifacts-dir (default: ${DEFAULT_ARTIFACTS_PATTERN})`).env('AJO_CLEANUP_PATTERN'))
    .addOption(
      new Option('--cleanup-grace-period <minutes>', `keep artifacts dirs modified within this many minutes; 0 = no age filter (default: ${GRACE_PERIOD_DEFAULT_MINUTES})`)
        .env('AJO_CLEANUP_GRACE_PERIOD')
        .argParser(wholeNumber('--cleanup-grace-period')),
    )
    .addOption(new Option('--image-cleanup-endpoint <url>', 'Docker/Podman engine (unix:///path.sock or tcp://host:port) for image cleanup; off without it').env('AJO_IMAGE_CLEANUP_ENDPOINT'))
    .addOption(new Option('--image-cleanup-remove <ref...>', 'image references to remove on each sweep').env('AJO_IMAGE_CLEANUP_REMOVE').argParser(list))
    .addOption(new Option('--image-prune', 'prune dangling images on each sweep').env('AJO_IMAGE_PRUNE'))
    .addOption(new Option('--image-prune-label <filter...>', 'only prune images with these labels: KEY, KEY=VALUE, !KEY, !KEY=VALUE').env('AJO_IMAGE_PRUNE_LABEL').argParser(list))
    .addOption(new Option('--image-prune-until <when>', 'only prune images created before this: 24h, unix seconds, or RFC 3339').env('AJO_IMAGE_PRUNE_UNTIL'));
}

/**
 * The reconciler's configuration, or undefined when sweeps are off. Throws a
 * message naming the flag for every inconsistent combination.
 */
export function cleanupConfigFromFlags(flags: CleanupFlags): CleanupConfig | undefined {
  const problems: string[] = [];
  const artifactsOnly = flags.cleanupPattern !== undefined || flags.cleanupGracePeriod !== undefined;
  if (artifactsOnly && flags.artifactsDir === undefined) problems.push('--cleanup-pattern and --cleanup-grace-period need --artifacts-dir');
  const imageWork = (flags.imageCleanupRemove?.length ?? 0) > 0 || flags.imagePrune === true;
  const pruneOnly = (flags.imagePruneLabel?.length ?? 0) > 0 || flags.imagePruneUntil !== undefined;
  if ((imageWork || pruneOnly) && flags.imageCleanupEndpoint === undefined) {
    problems.push('image cleanup needs an explicit --image-cleanup-endpoint (there is no default engine)');
  }
  if (pruneOnly && !flags.imagePrune) problems.push('--image-prune-label and --image-prune-until need --image-prune');
  if (flags.cleanupInterval === 0) {
    if (flags.artifactsDir !== undefined || flags.imageCleanupEndpoint !== undefined) problems.push('--cleanup-interval 0 turns sweeps off, but artifacts or image cleanup was asked for');
    if (problems.length > 0) throw new CleanupConfigError(problems.join('; '));
    return undefined;
  }
  const config: CleanupConfig = {
    intervalMs: flags.cleanupInterval * 1000,
    orphanMinAgeMs: flags.cleanupOrphanMinAge * 1000,
    ttlGraceMs: DEFAULT_TTL_GRACE_SECONDS * 1000,
    ...(flags.artifactsDir !== undefined && {
      artifacts: {
        dir: flags.artifactsDir,
        pattern: flags.cleanupPattern ?? DEFAULT_ARTIFACTS_PATTERN,
        gracePeriodMinutes: flags.cleanupGracePeriod ?? GRACE_PERIOD_DEFAULT_MINUTES,
      },
    }),
    ...(flags.imageCleanupEndpoint !== undefined && {
      images: {
        endpoint: flags.imageCleanupEndpoint,
        remove: flags.imageCleanupRemove ?? [],
        prune: flags.imagePrune === true,
        pruneLabels: flags.imagePruneLabel ?? [],
        ...(flags.imagePruneUntil !== undefined && { pruneUntil: flags.imagePruneUntil }),
      },
    }),
  };
  problems.push(...cleanupConfigProblems(config));
  if (problems.length > 0) throw new CleanupConfigError(problems.join('; '));
  return config;
}
