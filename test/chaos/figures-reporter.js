// Jest reporter: the chaos cases' figures (one JSON line per case, written by test/chaos/harness.ts) as one table at the end of the run.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** FIGURES_ENV in harness.ts. Set here, before any test worker starts, so every worker writes to the same file. */
const FIGURES_ENV = 'AJO_CHAOS_FIGURES';

export default class ChaosFiguresReporter {
  constructor() {
    if (!process.env[FIGURES_ENV]) {
      this.dir = mkdtempSync(path.join(tmpdir(), 'ajo-chaos-figures-'));
      process.env[FIGURES_ENV] = path.join(this.dir, 'figures.jsonl');
    }
    this.file = process.env[FIGURES_ENV];
  }

  onRunComplete() {
    const lines = existsSync(this.file) ? readFileSync(this.file, 'utf8').split('\n').filter(Boolean) : [];
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    if (lines.length === 0) return;
    const rows = lines.map((line) => JSON.parse(line));
    const cell = (text) => String(text).replaceAll('|', '\\|');
    const table = [
      '| case | started | succeeded | failed (reason) | lost | run twice | interrupted, retried | status converged |',
      '|---|---|---|---|---|---|---|---|',
      ...rows.map((row) => {
        const reasons = [...new Set(row.failed.map((entry) => entry.replace(/^[^:]+: /, '')))].join(', ');
        return `| ${cell(row.case)} | ${row.started} | ${row.succeeded} | ${row.failed.length}${reasons ? ` (${cell(reasons)})` : ''} | ${row.lost.length} | ${row.twice.length} | ${row.interrupted} | ${row.convergedSeconds} s |`;
      }),
    ];
    process.stdout.write(`\nchaos figures (${rows.length} case${rows.length === 1 ? '' : 's'}):\n${table.join('\n')}\n`);
  }
}
