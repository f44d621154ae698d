// (b) `transmit` of mixed private data dirs of several sizes; the stream goes to /dev/null.
import { ajo, runner } from '../lib/env.mjs';
import { measurePipeline, takeTurns } from '../lib/measure.mjs';
import { mixedDir } from '../lib/mixed-dir.mjs';

const RSS_CEILING_KB = 150 * 1024;
/** Issue #14: flat at any size, so a much lower bar for the largest dir. */
const LARGE_RSS_CEILING_KB = 100 * 1024;

/** ajo and ansible-runner transmit the same dir, taking turns; one results row. */
async function compareTransmit({ source, reps, log, title, rssCeilingKb }) {
  const variant = (name, argv) => ({ name, run: () => measurePipeline([{ argv, label: name }]) });
  const summaries = await takeTurns(
    reps,
    [variant('ajo', ajo('transmit', source.dir, '-p', 'x.yml')), variant('ansible-runner', runner('transmit', source.dir, '-p', 'x.yml'))],
    log,
  );
  const ajoSummary = summaries.ajo;
  const runnerSummary = summaries['ansible-runner'];
  return {
    case: `${title} (${source.files.toLocaleString('en')} files)`,
    ajo: ajoSummary,
    runner: runnerSummary,
    target: `ajo wall <= runner; ajo RSS < ${rssCeilingKb / 1024} MB`,
    met: ajoSummary.wallMs <= runnerSummary.wallMs && ajoSummary.peakRssKb < rssCeilingKb,
  };
}

export async function transmitCase({ reps, sizesMb, log }) {
  const rows = [];
  for (const sizeMb of sizesMb) {
    const source = mixedDir(sizeMb, log);
    log(`transmit: ${sizeMb} MB dir, ${source.files} files, ${source.symlinks} symlinks (${source.dir})`);
    rows.push(await compareTransmit({ source, reps, log, title: `(b) transmit, ${sizeMb} MB dir`, rssCeilingKb: RSS_CEILING_KB }));
  }
  return rows;
}

/** (b2) one large dir, many files (default 2 GB, 100,000 files): memory must not grow with either. */
export async function transmitLargeCase({ reps, sizeMb, files, log }) {
  // Every file but the two large ones, the medium logs and the two fixed ones is small.
  const source = mixedDir(sizeMb, log, { smallFiles: files - 4 - Math.round(30 * (sizeMb / 100)) });
  log(`transmit-large: ${sizeMb} MB dir, ${source.files} files, ${source.symlinks} symlinks (${source.dir})`);
  return compareTransmit({ source, reps, log, title: `(b2) transmit, ${(sizeMb / 1024).toFixed(1)} GB dir`, rssCeilingKb: LARGE_RSS_CEILING_KB });
}
