// (a) `process` of a result stream with >= 100,000 events into a fresh directory, once on
// the disk and once on tmpfs. Both tools write one file per event, and on this kind of
// machine (a VM whose disk costs ~100-200 us of kernel time per file created) the disk
// alone is a floor of 10-20 s for 100k files, the same for both; tmpfs shows what the
// tools themselves cost.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ajo, cacheDir, runner } from '../lib/env.mjs';
import { eventStream } from '../lib/event-stream.mjs';
import { measurePipeline, takeTurns } from '../lib/measure.mjs';

const TMPFS = '/dev/shm';

export async function processCase({ reps, log }) {
  const stream = await eventStream(log);
  const rows = [];
  const targets = [['disk', path.join(cacheDir, 'process')], ...(existsSync(TMPFS) ? [['tmpfs', path.join(TMPFS, 'ajo-bench-process')]] : [])];
  for (const [where, base] of targets) {
    log(`process: ${stream.events} events, ${Math.round(stream.bytes / 1048576)} MB stream (${stream.file}), artifacts on ${where} (${base})`);
    rows.push(await processInto(base, where, stream, reps, log));
  }
  return rows;
}

async function processInto(base, where, stream, reps, log) {
  const variant = (name, command) => {
    const outDir = path.join(base, `out-${name}`);
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
  if (where === 'tmpfs') rmSync(base, { recursive: true, force: true });
  return {
    case: `(a) process, ${stream.events.toLocaleString('en')} events, artifacts on ${where}`,
    ajo: summaries.ajo,
    runner: summaries['ansible-runner'],
    target: 'ajo >= 5x faster',
    met: summaries['ansible-runner'].wallMs / summaries.ajo.wallMs >= 5,
  };
}
