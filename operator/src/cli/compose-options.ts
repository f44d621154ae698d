/** The `--compose-*` options of `ajo process`, kept apart from compose-command.ts so that registering them loads nothing heavy. */
import type { Command } from 'commander';
import type { ComposeFlags } from './compose-command.js';
import { positiveInteger } from './common.js';

/**
 * The same options for `ajo process --compose`, the sidecar of a spec.source job: it composes
 * the stream the worker waits for, then follows the worker's output, in one Node process.
 */
export function addProcessComposeOptions(command: Command): Command {
  return command
    .option('--compose <file>', 'first compose the stream from this Source (JSON), as `ajo compose --source`; its reason ends the run if it fails')
    .option('--compose-configmaps <dir>', 'with --compose: as `ajo compose --configmaps`')
    .option('--compose-secrets <dir>', 'with --compose: as `ajo compose --secrets`')
    .option('--compose-work-dir <dir>', 'with --compose: as `ajo compose --work-dir`')
    .option('--compose-output <file>', 'with --compose: as `ajo compose --output`')
    .option('--compose-outcome-file <file>', 'with --compose: as `ajo compose --outcome-file`')
    .option('--compose-worker-home <dir>', 'with --compose: as `ajo compose --worker-home`')
    .option('--compose-timeout <seconds>', 'with --compose: as `ajo compose --timeout`', positiveInteger('--compose-timeout'));
}

export interface ProcessComposeFlags {
  compose?: string;
  composeConfigmaps?: string;
  composeSecrets?: string;
  composeWorkDir?: string;
  composeOutput?: string;
  composeOutcomeFile?: string;
  composeWorkerHome?: string;
  composeTimeout?: number;
  terminationLog?: string;
}

/** The compose flags of `ajo process --compose`, or the names of the ones it lacks. */
export function composeFlagsOf(flags: ProcessComposeFlags & { compose: string }): ComposeFlags | { missing: string[] } {
  const { composeConfigmaps: configmaps, composeSecrets: secrets, composeWorkDir: workDir, composeOutput: output } = flags;
  if (configmaps === undefined || secrets === undefined || workDir === undefined || output === undefined) {
    const named = { '--compose-configmaps': configmaps, '--compose-secrets': secrets, '--compose-work-dir': workDir, '--compose-output': output };
    return { missing: Object.entries(named).filter(([, value]) => value === undefined).map(([flag]) => flag) };
  }
  return {
    source: flags.compose,
    configmaps,
    secrets,
    workDir,
    output,
    ...(flags.composeTimeout !== undefined ? { timeout: flags.composeTimeout } : {}),
    ...(flags.composeOutcomeFile ? { outcomeFile: flags.composeOutcomeFile } : {}),
    ...(flags.composeWorkerHome ? { workerHome: flags.composeWorkerHome } : {}),
    ...(flags.terminationLog ? { terminationLog: flags.terminationLog } : {}),
  };
}

