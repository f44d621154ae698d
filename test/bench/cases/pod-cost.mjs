// (j) What a worker pod costs beyond ansible-playbook: each container's cgroup peak memory and
// CPU time, ajo's pod (ajo worker + ajo process) against the real ansible-runner worker with a
// plain shell loop beside it, for a short play and a 10,000-event play. Runs the delivery e2e
// test that measures them (it needs the chart and our images) and reads what it saved.
import { e2eTimingSkipReason, HELM_INSTALL_TEST, runE2eTiming } from '../lib/e2e-timing.mjs';

/** Issue #14: the sidecar's memory for the long play. */
const SIDECAR_CEILING_BYTES = 40 * 1024 * 1024;

export const podCostSkipReason = e2eTimingSkipReason;

export async function podCostCase({ log }) {
  log('pod-cost: running the e2e case (test/e2e/delivery.test.ts: three pods per play, their cgroups sampled)');
  const result = await runE2eTiming({ file: 'test/e2e/delivery', testName: 'what a worker pod costs', resultFile: 'pod-cost.json', alsoRun: [HELM_INSTALL_TEST] });
  // Judged on what a memory limit must hold (memory.stat rss + mapped_file, sampled): the
  // high-water mark also counts the page cache of the 10,000 event files the sidecar writes
  // (4 KiB and an inode each, ~56 MB), which the kernel reclaims under a limit and which
  // ansible-runner's process would be charged alike (docs/bench.md, "The sidecar").
  const sidecar = result.plays.long.ajo.containers.process?.peakRssBytes ?? Number.POSITIVE_INFINITY;
  return {
    case: '(j) a worker pod\'s containers: cgroup peak memory and CPU time, ajo against ansible-runner worker with a plain loop',
    podCost: { result },
    target: 'ajo process (sidecar) rss + mapped_file < 40 MB for the 10,000-event play',
    met: sidecar < SIDECAR_CEILING_BYTES,
  };
}
