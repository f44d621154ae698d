// (a) `process` of a result stream with >= 100,000 events into a fresh directory.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ajo, cacheDir, runner } from '../lib/env.mjs';
import { eventStream } from '../lib/event-stream.mjs';
import { measurePipeline, takeTurns } from '../lib/measure.mjs';

export async function processCase({ reps, log }) {
  const stream = await eventStream(log);
  log(`process: ${stream.events} events, ${Math.round(stream.bytes / 1048576)} MB stream (${stream.file})`);
  const variant = (name, command) => {
    const outDir = path.join(cacheDir, 'process', `out-${name}`);
    return {
      name,
      prepare: () => rmSync(outDir, { recursive: true, force: true }),
      // Both print the playbook output, as for a user; it goes to /dev/null.
      run: () => measurePipeline([{ argv: command(outDir), label: name }], { stdin: stream.file }),
      outDir,
    };
  };
  const variants = [variant('ajo', (out) => ajo('process', out)), variant('ansible-runner', (out) => runner('process', out))];
  const summaries = await takeTurns(reps, variants, log);
  for (const { outDir } of variants) rmSync(outDir, { recursive: true, force: true });
  return [
    {
      case: `(a) process, ${stream.events.toLocaleString('en')} events`,
      ajo: summaries.ajo,
      runner: summaries['ansible-runner'],
      target: 'ajo >= 5x faster',
      met: summaries['ansible-runner'].wallMs / summaries.ajo.wallMs >= 5,
    },
  ];
}
