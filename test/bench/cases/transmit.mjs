// (b) `transmit` of mixed private data dirs of several sizes; the stream goes to /dev/null.
import { ajo, runner } from '../lib/env.mjs';
import { measurePipeline, takeTurns } from '../lib/measure.mjs';
import { mixedDir } from '../lib/mixed-dir.mjs';

const RSS_CEILING_KB = 150 * 1024;

export async function transmitCase({ reps, sizesMb, log }) {
  const rows = [];
  for (const sizeMb of sizesMb) {
    const source = mixedDir(sizeMb, log);
    log(`transmit: ${sizeMb} MB dir, ${source.files} files, ${source.symlinks} symlinks (${source.dir})`);
    const variant = (name, argv) => ({ name, run: () => measurePipeline([{ argv, label: name }]) });
    const summaries = await takeTurns(
      reps,
      [variant('ajo', ajo('transmit', source.dir, '-p', 'x.yml')), variant('ansible-runner', runner('transmit', source.dir, '-p', 'x.yml'))],
      log,
    );
    const ajoSummary = summaries.ajo;
    const runnerSummary = summaries['ansible-runner'];
    rows.push({
      case: `(b) transmit, ${sizeMb} MB dir (${source.files.toLocaleString('en')} files)`,
      ajo: ajoSummary,
      runner: runnerSummary,
      target: 'ajo wall <= runner; ajo RSS < 150 MB',
      met: ajoSummary.wallMs <= runnerSummary.wallMs && ajoSummary.peakRssKb < RSS_CEILING_KB,
    });
  }
  return rows;
}
