// (e) apply → the play's first event for a declarative git job (spec.source: the pod's sidecar
// clones the in-cluster git server and composes the stream while the worker waits) against a
// payload job of the same playbook and hosts, alternated, 10 of each. The measurement needs the
// e2e setting (the chart installed, the SSH hosts and the git server deployed), so this case
// runs that one e2e test through jest and reads what it saved. Needs $KUBECONFIG of the local
// test cluster (test/cluster/up) and root, as the e2e suite does.
import { e2eTimingSkipReason, runE2eTiming } from '../lib/e2e-timing.mjs';

/** The compose step may add this much to apply → the play's start for a small repository. */
const COMPOSE_CEILING_MS = 1000;

export const declarativeSkipReason = e2eTimingSkipReason;

export async function declarativeCase({ log }) {
  log('declarative: running the e2e timing case (test/e2e/declarative.test.ts; the chart, two SSH hosts, a git server)');
  const result = await runE2eTiming({ file: 'test/e2e/declarative', testName: 'time from kubectl apply', resultFile: 'apply-to-running-declarative.json' });
  const addedMs = result.declarativeGit.medianMs - result.payload.medianMs;
  return {
    case: "(e) kubectl apply → the play's first event, declarative git job vs payload job (same playbook, two SSH hosts), median of 10 each",
    declarative: { result, addedMs },
    target: `compose adds < ${COMPOSE_CEILING_MS} ms`,
    met: addedMs < COMPOSE_CEILING_MS,
  };
}
