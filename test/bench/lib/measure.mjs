// Wall time and peak RSS of a command or a shell pipeline of commands.
//
// Each stage runs under GNU time (`/usr/bin/time -o`), which reports the stage's own
// maximum resident set size from wait4(); the wall time is the whole pipeline's, taken
// here around one `sh -c`, so both tools pay the same shell and time(1) start-up.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scrubbedEnv, shellQuote } from './env.mjs';

const TIME_FORMAT = '%e %M %x %U %S';

/**
 * @typedef {{ argv: string[], label?: string }} Stage
 * @typedef {{ stdin?: string, stdout?: string, cwd?: string, env?: Record<string, string>, allowExit?: number[] }} PipelineOptions
 * @typedef {{ label: string, rssKb: number, exit: number, cpuMs: number }} StageResult
 * @typedef {{ wallMs: number, peakRssKb: number, cpuMs: number, stages: StageResult[] }} Measurement
 */

/** @returns {Promise<Measurement>} */
export async function measurePipeline(/** @type {Stage[]} */ stages, /** @type {PipelineOptions} */ options = {}) {
  const scratch = mkdtempSync(path.join(tmpdir(), 'ajo-bench-time-'));
  try {
    const timeFile = (index) => path.join(scratch, `stage-${index}`);
    const stderrFile = path.join(scratch, 'stderr');
    // The group's redirections reach the first stage's stdin and the last stage's stdout.
    const pipeline = stages
      .map((stage, index) => ['/usr/bin/time', '-f', TIME_FORMAT, '-o', timeFile(index), ...stage.argv].map(shellQuote).join(' '))
      .join(' | ');
    const script = `{ ${pipeline}; } < ${shellQuote(options.stdin ?? '/dev/null')} > ${shellQuote(options.stdout ?? '/dev/null')} 2> ${shellQuote(stderrFile)}`;

    const started = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      const shell = spawn('/bin/sh', ['-c', script], { env: options.env ?? scrubbedEnv, cwd: options.cwd, stdio: 'ignore' });
      shell.on('error', reject);
      shell.on('exit', resolve);
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;

    const results = stages.map((stage, index) => ({ label: stage.label ?? path.basename(stage.argv[0]), ...readTimeFile(timeFile(index)) }));
    const allowed = options.allowExit ?? [0];
    const failed = results.find((stage) => !allowed.includes(stage.exit));
    if (failed) {
      const stderr = readFileSync(stderrFile, 'utf8').slice(-2000);
      throw new Error(`${failed.label} exited ${failed.exit} in: ${script}\n--- stderr (tail) ---\n${stderr}`);
    }
    // CPU time (user + system, the stage's waited-for children included) is what load from
    // elsewhere disturbs least: on a busy machine it tells where wall time would go.
    return { wallMs, peakRssKb: Math.max(...results.map((stage) => stage.rssKb)), cpuMs: results.reduce((sum, stage) => sum + stage.cpuMs, 0), stages: results };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function readTimeFile(file) {
  // time(1) prepends "Command exited with non-zero status N" (or "Command terminated by
  // signal N") to its format line; the format line is always last.
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const [, rssKb, exit, userS, systemS] = (lines.at(-1) ?? '').split(' ').map(Number);
  if (!Number.isFinite(rssKb)) throw new Error(`unreadable time(1) output: ${lines.join(' / ')}`);
  const signalled = lines.find((line) => line.startsWith('Command terminated by signal'));
  return { rssKb, exit: signalled ? 128 + Number(signalled.split(' ').at(-1)) : exit, cpuMs: Math.round((userS + systemS) * 1000) };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** The nearest-rank percentile: the smallest value that at least p% of the values are not above (p90 of 15: the 14th). */
export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
};

/**
 * @typedef {{ name: string, run: (rep: number) => Promise<Measurement>, prepare?: (rep: number) => void | Promise<void> }} Variant
 * @typedef {{ wallMs: number, p90WallMs: number, cpuMs: number, peakRssKb: number, runs: Measurement[] }} Summary
 */

/**
 * Runs every variant `reps` times, taking turns (a, b, c, a, b, c, ...) so that load from
 * elsewhere on the machine hits all of them alike, with `prepare` (untimed) before each
 * run. Summarises each variant by its median wall time (the machine is noisy), its 90th
 * percentile, its median CPU time, and the highest peak RSS seen (memory is a ceiling, not
 * an average).
 * @returns {Promise<Record<string, Summary>>}
 */
export async function takeTurns(reps, /** @type {Variant[]} */ variants, log = () => {}) {
  const runs = Object.fromEntries(variants.map((variant) => [variant.name, []]));
  for (let rep = 0; rep < reps; rep += 1) {
    for (const variant of variants) {
      await variant.prepare?.(rep);
      const result = await variant.run(rep);
      log(`  ${variant.name} #${rep + 1}: ${(result.wallMs / 1000).toFixed(2)} s, ${formatMb(result.peakRssKb)}`);
      runs[variant.name].push(result);
    }
  }
  return Object.fromEntries(
    Object.entries(runs).map(([name, measured]) => [
      name,
      { wallMs: median(measured.map((run) => run.wallMs)), p90WallMs: percentile(measured.map((run) => run.wallMs), 90), cpuMs: median(measured.map((run) => run.cpuMs)), peakRssKb: Math.max(...measured.map((run) => run.peakRssKb)), runs: measured },
    ]),
  );
}

export const formatMb = (kb) => `${Math.round(kb / 1024)} MB`;
