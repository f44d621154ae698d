#!/usr/bin/env node
// `npm run bench`: ajo against the real ansible-runner, in the same run, on
//   (a) process of a >= 100k-event result stream,
//   (b) transmit of mixed private data dirs (100 MB and 500 MB), (b2) of 2 GB with 100,000 files,
//   (c) a whole short job (transmit | worker | process, and run) against plain ansible-playbook,
//   (d) the operator at scale (1,000 AnsibleJobs, optionally beside --kept N finished ones; needs $KUBECONFIG),
//   (e) apply → running of a declarative git job against a payload job (needs $KUBECONFIG, root),
//   (f) the operator idle with 10,000 finished AnsibleJobs kept (needs $KUBECONFIG),
//   (g) a queue at scale: 1,000 AnsibleJobs in one AnsibleQueue with maxRunning 50 (needs $KUBECONFIG),
//   (h) a queue draining 100 real jobs 5 at a time against one Indexed Job (needs $KUBECONFIG, a node),
//   (i) apply → running worker pod of hello-world against a bare Pod of its worker container (needs $KUBECONFIG, root),
//   (j) a worker pod's containers (cgroup peak memory, CPU) against ansible-runner worker + a plain loop (same).
// Prints progress on stderr and the results table on stdout. Benchmarks report; they never
// fail on a missed target (only on a broken run). See docs/bench.md.
//
//   node test/bench/run.mjs [--only process,transmit,transmit-large,pipeline,operator,declarative,floor,pod-cost,history,queue,drain] [--reps N]
//                           [--sizes 100,500] [--large-size 2048] [--large-files 100000] [--jobs 1000] [--kept 0] [--history-jobs 10000]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyFloorCase, applyFloorSkipReason } from './cases/apply-floor.mjs';
import { podCostCase, podCostSkipReason } from './cases/pod-cost.mjs';
import { declarativeCase, declarativeSkipReason } from './cases/declarative.mjs';
import { historyCase } from './cases/history.mjs';
import { operatorCase, operatorSkipReason } from './cases/operator.mjs';
import { pipelineCase } from './cases/pipeline.mjs';
import { processCase } from './cases/process.mjs';
import { queueCase, queueSkipReason } from './cases/queue.mjs';
import { queueDrainCase, queueDrainSkipReason } from './cases/queue-drain.mjs';
import { transmitCase, transmitLargeCase } from './cases/transmit.mjs';
import { ajoCli, cacheDir, runnerBin } from './lib/env.mjs';
import { renderTable } from './lib/report.mjs';

const CASES = ['process', 'transmit', 'transmit-large', 'pipeline', 'operator', 'declarative', 'floor', 'pod-cost', 'history', 'queue', 'drain'];

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', default: CASES.join(',') },
      reps: { type: 'string' },
      sizes: { type: 'string', default: '100,500' },
      'large-size': { type: 'string', default: '2048' },
      'large-files': { type: 'string', default: '100000' },
      jobs: { type: 'string', default: '1000' },
      'history-jobs': { type: 'string', default: '10000' },
      kept: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node test/bench/run.mjs [--only process,transmit,transmit-large,pipeline,operator,declarative,floor,pod-cost,history,queue,drain] [--reps N] [--sizes 100,500] [--large-size 2048] [--large-files 100000] [--jobs 1000] [--kept 0] [--history-jobs 10000]\n');
    process.exit(0);
  }
  const only = values.only.split(',').filter(Boolean);
  const unknown = only.filter((name) => !CASES.includes(name));
  if (unknown.length) fail(`unknown case ${unknown.join(', ')}; the cases are ${CASES.join(', ')}`);
  const positive = (text, what) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1) fail(`${what} must be a positive whole number, not ${JSON.stringify(text)}`);
    return value;
  };
  const reps = values.reps === undefined ? undefined : positive(values.reps, '--reps');
  return {
    only,
    // Wall times are medians: more runs where a run is short, fewer where it takes minutes.
    // The pipeline's targets are on the median and the 90th percentile of 15.
    reps: { process: reps ?? 3, transmit: reps ?? 3, transmitLarge: reps ?? 1, pipeline: reps ?? 15 },
    sizesMb: values.sizes.split(',').map((size) => positive(size, '--sizes')),
    large: { sizeMb: positive(values['large-size'], '--large-size'), files: positive(values['large-files'], '--large-files') },
    jobs: positive(values.jobs, '--jobs'),
    historyJobs: positive(values['history-jobs'], '--history-jobs'),
    // Finished AnsibleJobs already in the operator case's namespace (0: none).
    kept: values.kept === '0' ? 0 : positive(values.kept, '--kept'),
  };
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function preflight() {
  const missing = [
    [ajoCli, 'run `npm run build` first'],
    [runnerBin, 'install python3-ansible-runner (Debian) so ajo can be compared with it'],
    ['/usr/bin/time', 'install GNU time (`apt-get install time`): it measures each command\'s peak RSS'],
  ].filter(([file]) => !existsSync(file));
  if (missing.length) fail(missing.map(([file, hint]) => `${file} is missing: ${hint}`).join('\n'));
}

const log = (line) => process.stderr.write(`${line}\n`);

async function main() {
  const options = parseOptions();
  preflight();
  mkdirSync(cacheDir, { recursive: true });
  const started = Date.now();
  const rows = [];
  const skipped = [];
  if (options.only.includes('process')) rows.push(...(await processCase({ reps: options.reps.process, log })));
  if (options.only.includes('transmit')) rows.push(...(await transmitCase({ reps: options.reps.transmit, sizesMb: options.sizesMb, log })));
  // One run each by default: a 2 GB transmit takes tens of seconds on each side.
  if (options.only.includes('transmit-large')) rows.push(await transmitLargeCase({ reps: options.reps.transmitLarge, ...options.large, log }));
  if (options.only.includes('pipeline')) rows.push(...(await pipelineCase({ reps: options.reps.pipeline, log })));
  if (options.only.includes('operator')) {
    const reason = await operatorSkipReason();
    if (reason) {
      skipped.push(`SKIPPED operator scale: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await operatorCase({ jobs: options.jobs, kept: options.kept, log }));
    }
  }
  if (options.only.includes('declarative')) {
    const reason = declarativeSkipReason();
    if (reason) {
      skipped.push(`SKIPPED declarative apply → running: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await declarativeCase({ log }));
    }
  }
  if (options.only.includes('floor')) {
    const reason = applyFloorSkipReason();
    if (reason) {
      skipped.push(`SKIPPED apply → running against a bare Pod: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await applyFloorCase({ log }));
    }
  }
  if (options.only.includes('pod-cost')) {
    const reason = podCostSkipReason();
    if (reason) {
      skipped.push(`SKIPPED pod cost: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await podCostCase({ log }));
    }
  }
  if (options.only.includes('history')) {
    const reason = await operatorSkipReason();
    if (reason) {
      skipped.push(`SKIPPED operator with history: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await historyCase({ jobs: options.historyJobs, log }));
    }
  }
  if (options.only.includes('queue')) {
    const reason = await queueSkipReason();
    if (reason) {
      skipped.push(`SKIPPED queue scale: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await queueCase({ jobs: options.jobs, log }));
    }
  }
  if (options.only.includes('drain')) {
    const reason = await queueDrainSkipReason();
    if (reason) {
      skipped.push(`SKIPPED queue drain: ${reason}`);
      log(skipped.at(-1));
    } else {
      rows.push(await queueDrainCase({ log }));
    }
  }
  const totalSeconds = Math.round((Date.now() - started) / 1000);
  const resultsFile = path.join(cacheDir, 'results', `${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify({ started: new Date(started).toISOString(), totalSeconds, options, rows, skipped }, null, 2));
  process.stdout.write(`${renderTable(rows, skipped)}\nTotal ${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s; every run: ${resultsFile}\n`);
}

await main();
