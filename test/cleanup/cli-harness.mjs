// Stand-in for the lead's `ajo` entry point until it exists: `ajo worker`
// with only the cleanup subcommand, run as `node cli-harness.mjs cleanup ...`.
// Needs `npm run build` first (it imports the compiled CLI).
import { Command } from 'commander';
import { registerWorkerCleanupCommand } from '../../operator/dist/cli/worker-cleanup.js';

const worker = new Command('worker');
registerWorkerCleanupCommand(worker);
await worker.parseAsync(process.argv);
