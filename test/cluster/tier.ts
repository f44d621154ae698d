import { describeOrSkip } from '../helpers/skip.js';
import { localClusterInfo, startSecondNode } from './local-cluster.js';
import { tierEnv } from './jest-global-setup.js';

/**
 * What the cluster tier has to offer in this test run, as the jest global
 * setup (test/cluster/jest-global-setup.ts) left it in the environment.
 */
export interface ClusterTier {
  /** An API server answers at `kubeconfig`. */
  available: boolean;
  /** Why not, when `available` is false. */
  reason: string;
  kubeconfig: string;
  /** A Ready node runs pods (false for `up --control-plane-only`). */
  nodeRunsPods: boolean;
  /** Why pods cannot run, when `nodeRunsPods` is false. */
  nodeReason: string;
  /** An image every node has without pulling (locally built busybox). */
  testImage: string;
}

export { tierEnv };

export function clusterTier(env: NodeJS.ProcessEnv = process.env): ClusterTier {
  const kubeconfig = env.KUBECONFIG ?? '';
  const skipReason = env[tierEnv.skipReason];
  const reason = skipReason ?? (kubeconfig === '' ? 'KUBECONFIG is not set and no cluster was started (run through the jest "cluster" project, or test/cluster/up)' : '');
  const available = reason === '';
  const nodeReason = available ? (env[tierEnv.nodeSkipReason] ?? '') : reason;
  return {
    available,
    reason,
    kubeconfig,
    nodeRunsPods: available && nodeReason === '',
    nodeReason,
    testImage: env[tierEnv.testImage] ?? localClusterInfo(env).testImage,
  };
}

/** A suite that needs an API server. Skipped, with the reason printed, when there is none. */
export function describeCluster(name: string, fn: () => void): void {
  const tier = clusterTier();
  describeOrSkip(name, tier.available ? null : `needs the cluster tier: ${tier.reason}`, fn);
}

/** A suite that needs a node that runs pods. Skipped, with the reason printed, when there is none. */
export function describeWithNode(name: string, fn: () => void): void {
  const tier = clusterTier();
  describeOrSkip(name, tier.nodeRunsPods ? null : `needs the cluster tier: ${tier.nodeReason}`, fn);
}

/**
 * A suite that needs two nodes (node 1 and the tainted second node of `test/cluster/up --nodes 2`).
 * Starts the second node at collection time when a node runs pods; skipped, with the reason
 * printed, when there is no node or the second one cannot start.
 */
export function describeWithTwoNodes(name: string, fn: () => void): void {
  const tier = clusterTier();
  let reason: string | null = tier.nodeRunsPods ? null : tier.nodeReason;
  if (reason === null) {
    const second = startSecondNode();
    if (!second.ok) reason = `the second node could not start: ${second.reason}`;
  }
  describeOrSkip(name, reason === null ? null : `needs two nodes: ${reason}`, fn);
}
