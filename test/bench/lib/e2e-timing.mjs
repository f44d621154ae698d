// Runs one timing test of the e2e suite through jest and reads the result file it writes: the
// cases that need the whole e2e setting (the chart, our images, SSH hosts) measure there.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, repoRoot } from './env.mjs';

/** Where the e2e tests save their timing results. */
export const e2eResultsDir = path.join(path.dirname(cacheDir), 'e2e');

/** @returns {string | undefined} why an e2e timing case cannot run here */
export function e2eTimingSkipReason() {
  if (!process.env.KUBECONFIG) return '$KUBECONFIG is not set (start the local cluster with test/cluster/up and export the KUBECONFIG it prints)';
  if (process.getuid?.() !== 0) return 'the e2e fixtures (the sshd-host image) are built as root';
  return undefined;
}

/** The delivery suite's first test: its other tests need the chart it installs (jest -t skips it otherwise). */
export const HELM_INSTALL_TEST = 'helm install: the operator becomes ready';
/** The delivery suite's examples test: the floor case takes its payload from the `payload` example job. */
export const EXAMPLES_TEST = 'examples: a ConfigMap project';

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Runs the tests of `file` named like `testName` (and like each of `alsoRun`: tests of the same
 * suite it needs to have run first, such as the one that installs the chart) and returns the
 * JSON the test saved in `resultFile` (under e2eResultsDir); a run that did not write a fresh
 * file is an error.
 */
export async function runE2eTiming({ file, testName, resultFile, alsoRun = [] }) {
  const result = path.join(e2eResultsDir, resultFile);
  const before = statSync(result, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const code = await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--selectProjects', 'cluster', '--testPathPattern', file, '-t', [...alsoRun, testName].map(escapeRegExp).join('|')],
      { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('close', resolve);
  });
  const after = statSync(result, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (code !== 0 || after <= before) throw new Error(`the e2e timing case (${file}: ${testName}) did not produce ${result} (jest exited ${code})`);
  return JSON.parse(readFileSync(result, 'utf8'));
}
