import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

// Jest loads this file with Node's own module loader (transpiled, but without
// the project's module mapping), so it imports no relative modules: tier.ts
// and the tests import from here instead.

/** Environment variables by which this setup hands the tier to test workers. */
export const tierEnv = {
  skipReason: 'AJO_CLUSTER_SKIP_REASON',
  nodeSkipReason: 'AJO_CLUSTER_NODE_SKIP_REASON',
  startedByRun: 'AJO_CLUSTER_STARTED_BY_RUN',
  testImage: 'AJO_TEST_IMAGE',
} as const;

const clusterScriptsDir = path.dirname(fileURLToPath(import.meta.url));

const SetupInfo = z.object({ stateDir: z.string(), testImage: z.string() });

/** The local cluster's settings, from the scripts (test/cluster/info). */
function localClusterInfo(): z.infer<typeof SetupInfo> {
  return SetupInfo.parse(JSON.parse(execFileSync(path.join(clusterScriptsDir, 'info'), { encoding: 'utf8' })));
}

/**
 * Provides the cluster tier for the jest project "cluster":
 * - KUBECONFIG set: that cluster is used as it is (a user's kind cluster, or
 *   one CI started); we neither start nor stop anything.
 * - otherwise: test/cluster/up starts ours (building its binaries on the first
 *   run), falling back to a node-less control plane when the node cannot start.
 * A tier that cannot start is recorded, never thrown: the suites that need it
 * print the reason and are skipped (see tier.ts).
 */
export default async function globalSetup(): Promise<void> {
  process.env[tierEnv.testImage] ??= localClusterInfo().testImage;
  if (process.env.KUBECONFIG) {
    announce(`using the cluster of KUBECONFIG=${process.env.KUBECONFIG}`);
    return;
  }
  if (process.getuid?.() !== 0) {
    skipTier('test/cluster/up needs root (it starts containerd and a kubelet, and creates a bridge)');
    return;
  }
  const full = await up(holdArgs);
  if (full.ok) {
    useCluster(full.kubeconfig);
    return;
  }
  const controlPlane = await up(['--control-plane-only', ...holdArgs]);
  if (controlPlane.ok) {
    useCluster(controlPlane.kubeconfig);
    process.env[tierEnv.nodeSkipReason] = `the node could not start: ${full.reason}`;
    announce(`control plane only; suites that need pods are skipped: ${full.reason}`);
    return;
  }
  skipTier(`test/cluster/up failed: ${controlPlane.reason}`);
}

/**
 * This run's hold on the cluster: another jest run in the same checkout may
 * use it at the same time, and the last one to finish stops it (down --release).
 */
export const holderName = (pid: number = process.pid): string => `jest-${pid}`;
const holdArgs = ['--hold', holderName(), '--holder-pid', String(process.pid)];

type UpResult = { ok: true; kubeconfig: string } | { ok: false; reason: string };

async function up(args: string[]): Promise<UpResult> {
  announce(`starting the local cluster: test/cluster/up ${args.join(' ')}`.trim());
  // Progress (and, on the first run, the build) streams to our stderr.
  const result = await execa(path.join(clusterScriptsDir, 'up'), args, {
    stdin: 'ignore',
    stderr: 'inherit',
    reject: false,
    timeout: 60 * 60 * 1000,
  });
  const kubeconfig = /^export KUBECONFIG=(.+)$/m.exec(result.stdout)?.[1];
  if (result.exitCode === 0 && kubeconfig !== undefined) return { ok: true, kubeconfig };
  const why = result.timedOut ? 'timed out' : `exit code ${String(result.exitCode)}`;
  return { ok: false, reason: `${why}; see the log above and ${localClusterInfo().stateDir}/logs` };
}

function useCluster(kubeconfig: string): void {
  process.env.KUBECONFIG = kubeconfig;
  process.env[tierEnv.startedByRun] = '1';
  announce(`started: KUBECONFIG=${kubeconfig}`);
}

function skipTier(reason: string): void {
  process.env[tierEnv.skipReason] = reason;
  announce(`SKIPPED tier: cluster: ${reason}`);
}

function announce(message: string): void {
  process.stderr.write(`\n[cluster tier] ${message}\n`);
}
