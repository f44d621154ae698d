#!/usr/bin/env node
/**
 * The `ajo` binary. Commands that talk to Kubernetes are loaded only when
 * asked for: @kubernetes/client-node costs more start-up time than a whole
 * `ajo worker` of a short job should.
 */
import './compile-cache.js';
import { Command, CommanderError } from 'commander';
import { registerStreamingCommands } from './streaming-commands.js';
import { packageVersion } from './common.js';
import { UsageError } from './errors.js';

const KUBE_COMMANDS = new Set(['operator', 'submit', 'launch', 'status', 'cancel', 'list']);
const RUN_OPTION_COMMANDS = new Set(['transmit', 'run']);
/** A mistake in how a command was called, as argparse (and so ansible-runner) exits for one. */
const EXIT_USAGE = 2;

/** The words that reach `command`: `ajo worker cleanup`. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * A usage error as one line that says where the help is, rather than the
 * whole help text after it. Commander puts a suggestion ("(Did you mean
 * --forks?)") on a second line; it joins the first.
 */
export function usageLine(message: string, command: Command): string {
  const lines = message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim().replace(/^\((.*)\)$/, '$1'))
    .filter(Boolean)
    .map((line, i) => (i === 0 ? line : line[0]!.toLowerCase() + line.slice(1)));
  return `ajo: ${lines.join('; ')} (see '${commandPath(command)} --help')\n`;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

async function buildProgram(argv: readonly string[]): Promise<{ program: Command; running: () => Command }> {
  const program = new Command('ajo')
    .description('Ansible jobs, ansible-runner compatible: transmit | worker | process, on Kubernetes or locally')
    .version(packageVersion())
    .exitOverride();
  const wanted = argv[2];
  const wantsHelp = wanted === undefined || wanted === 'help' || wanted === '-h' || wanted === '--help';
  const runOptions = wantsHelp || RUN_OPTION_COMMANDS.has(wanted!) ? await import('../protocol/run-options.js') : undefined;
  const workerCommand = registerStreamingCommands(program, runOptions);
  if (wanted === 'worker' && argv[3] === 'cleanup') {
    const { registerWorkerCleanupCommand } = await import('./worker-cleanup.js');
    registerWorkerCleanupCommand(workerCommand);
  }
  if (wantsHelp || wanted === 'compose') {
    const { registerComposeCommand } = await import('./compose-command.js');
    registerComposeCommand(program);
  }
  if (wantsHelp || (wanted !== undefined && KUBE_COMMANDS.has(wanted))) {
    const { registerKubeCommands } = await import('./kube-commands.js');
    registerKubeCommands(program);
  }
  for (const command of allCommands(program)) {
    command.configureOutput({ outputError: (message, write) => write(usageLine(message, command)) });
  }
  // Usage errors found inside an action (a bad -e value) point at that command's help too.
  let running = program;
  program.hook('preAction', (_program, actionCommand) => {
    running = actionCommand;
  });
  return { program, running: () => running };
}

async function main(argv: readonly string[]): Promise<void> {
  const { program, running } = await buildProgram(argv);
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with 0; everything else commander stops for is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`ajo: ${err.message} (see '${commandPath(running())} --help')\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`ajo: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
