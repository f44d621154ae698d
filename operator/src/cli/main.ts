#!/usr/bin/env node
/**
 * The `ajo` binary. Commands that talk to Kubernetes are loaded only when
 * asked for: @kubernetes/client-node costs more start-up time than a whole
 * `ajo worker` of a short job should.
 */
import './compile-cache.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerStreamingCommands } from './streaming-commands.js';
import { UsageError } from './errors.js';

const KUBE_COMMANDS = new Set(['operator', 'submit', 'status', 'cancel', 'list']);

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('ajo')
    .description('Ansible jobs, ansible-runner compatible: transmit | worker | process, on Kubernetes or locally')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  const workerCommand = registerStreamingCommands(program);
  const wanted = argv[2];
  const wantsHelp = wanted === undefined || wanted === 'help' || wanted === '-h' || wanted === '--help';
  if (wanted === 'worker' && argv[3] === 'cleanup') {
    const { registerWorkerCleanupCommand } = await import('./worker-cleanup.js');
    registerWorkerCleanupCommand(workerCommand);
  }
  if (wantsHelp || (wanted !== undefined && KUBE_COMMANDS.has(wanted))) {
    const { registerKubeCommands } = await import('./kube-commands.js');
    registerKubeCommands(program);
  }
  return program;
}

async function main(argv: readonly string[]): Promise<void> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`ajo: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`ajo: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
