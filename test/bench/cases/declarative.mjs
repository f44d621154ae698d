// (e) apply → the play's first event for a declarative git job (spec.source: the pod's sidecar
// clones the in-cluster git server and composes the stream while the worker waits) against a
// payload job of the same playbook and hosts, alternated, 10 of each. The measurement needs the
// e2e setting (the chart installed, the SSH hosts and the git server deployed), so this case
// runs that one e2e test through jest and reads what it saved. Needs $KUBECONFIG of the local
// test cluster (test/cluster/up) and root, as the e2e suite does.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, repoRoot } from '../lib/env.mjs';

const RESULT = path.join(path.dirname(cacheDir), 'e2e', 'apply-to-running-declarative.json');
/** The compose step may add this much to apply → the play's start for a small repository. */
const COMPOSE_CEILING_MS = 1000;

/** @returns {string | undefined} why the case cannot run here */
export function declarativeSkipReason() {
  if (!process.env.KUBECONFIG) return '$KUBECONFIG is not set (start the local cluster with test/cluster/up and export the KUBECONFIG it prints)';
  if (process.getuid?.() !== 0) return 'the e2e fixtures (the sshd-host image) are built as root';
  return undefined;
}

export async function declarativeCase({ log }) {
  const before = statSync(RESULT, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  log('declarative: running the e2e timing case (test/e2e/declarative.test.ts; the chart, two SSH hosts, a git server)');
  const code = await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--selectProjects', 'cluster', '--testPathPattern', 'test/e2e/declarative', '-t', 'time from kubectl apply'],
      { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('close', resolve);
  });
  const after = statSync(RESULT, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (code !== 0 || after <= before) throw new Error(`the e2e timing case did not produce ${RESULT} (jest exited ${code})`);
  const result = JSON.parse(readFileSync(RESULT, 'utf8'));
  const addedMs = result.declarativeGit.medianMs - result.payload.medianMs;
  return {
    case: "(e) kubectl apply → the play's first event, declarative git job vs payload job (same playbook, two SSH hosts), median of 10 each",
    declarative: { result, addedMs },
    target: `compose adds < ${COMPOSE_CEILING_MS} ms`,
    met: addedMs < COMPOSE_CEILING_MS,
  };
}
