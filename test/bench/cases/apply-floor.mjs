// (i) kubectl apply → running worker pod of hello-world (a payload AnsibleJob) against the floor:
// a bare Pod of the same worker container (image, command, mounts), alternated, 10 of each, on
// the same cluster in the same run. Runs the delivery e2e test that measures both (it needs the
// chart installed and our images) and reads what it saved.
import { e2eTimingSkipReason, EXAMPLES_TEST, HELM_INSTALL_TEST, runE2eTiming } from '../lib/e2e-timing.mjs';

/** What the operator may add to a pod's start (issue #14). */
const ADDED_CEILING_MS = 300;

export const applyFloorSkipReason = e2eTimingSkipReason;

export async function applyFloorCase({ log }) {
  log('floor: running the e2e timing case (test/e2e/delivery.test.ts: the chart, hello-world, a bare Pod of its worker container)');
  const result = await runE2eTiming({ file: 'test/e2e/delivery', testName: 'time from kubectl apply to a running worker pod', resultFile: 'apply-to-running.json', alsoRun: [HELM_INSTALL_TEST, EXAMPLES_TEST] });
  return {
    case: '(i) kubectl apply → worker pod running, hello-world AnsibleJob vs a bare Pod of its worker container, median of 10 each',
    floor: { result, addedMs: result.addedMs },
    target: `ajo adds < ${ADDED_CEILING_MS} ms`,
    met: result.addedMs < ADDED_CEILING_MS,
  };
}
