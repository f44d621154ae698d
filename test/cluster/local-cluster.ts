import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Directory of the cluster scripts (test/cluster). */
export const clusterScriptsDir = path.dirname(fileURLToPath(import.meta.url));

const ClusterInfo = z.object({
  stateDir: z.string(),
  binDir: z.string(),
  kubernetesVersion: z.string(),
  helmVersion: z.string(),
  kubeconfig: z.string(),
  apiServer: z.string(),
  bridge: z.string(),
  podCidr: z.string(),
  nodeName: z.string(),
  testImage: z.string(),
  pauseImage: z.string(),
  cgroupRoot: z.string(),
  clusterDnsIp: z.string(),
  clusterDomain: z.string(),
  corednsVersion: z.string(),
  corednsImage: z.string(),
  /** Every node's bridge, node 1's first (the extra nodes' whether they run or not). */
  bridges: z.array(z.string()),
  /** The node `up --nodes 2` adds (see there): tainted `taint`, labelled `label`=true. */
  secondNode: z.object({
    name: z.string(),
    label: z.string(),
    taint: z.string(),
    podCidr: z.string(),
    address: z.string(),
    bridge: z.string(),
  }),
});
export type ClusterInfo = z.infer<typeof ClusterInfo>;

/**
 * Settings of the local cluster, read from test/cluster/info so that the shell
 * scripts stay the one place where names, addresses and paths are decided.
 */
export function localClusterInfo(env: NodeJS.ProcessEnv = process.env): ClusterInfo {
  const json = execFileSync(path.join(clusterScriptsDir, 'info'), { env, encoding: 'utf8' });
  return ClusterInfo.parse(JSON.parse(json));
}

/** Where a test may run the second node's pods: its label and taint, as pod spec fields. */
export interface NodePlacement {
  nodeSelector: Record<string, string>;
  tolerations: Array<{ key: string; operator: 'Exists'; effect: 'NoSchedule' }>;
}

/**
 * The pod spec fields that put a pod on the second node: it is tainted, so that nothing else
 * on the shared cluster lands there, and only a pod that tolerates the taint and selects the
 * node's label runs there.
 */
export function secondNodePlacement(info: ClusterInfo): NodePlacement {
  return {
    nodeSelector: { [info.secondNode.label]: 'true' },
    tolerations: [{ key: info.secondNode.label, operator: 'Exists', effect: 'NoSchedule' }],
  };
}

/** The field that pins a pod to node 1 (it is the default node anyway; pinned, a test says so). */
export function firstNodePlacement(info: ClusterInfo): Pick<NodePlacement, 'nodeSelector'> {
  return { nodeSelector: { 'kubernetes.io/hostname': info.nodeName } };
}

export type SecondNodeResult = { ok: true } | { ok: false; reason: string };

/**
 * Adds the second node to the local cluster (`test/cluster/up --nodes 2`; idempotent, node 1's
 * processes are left alone) and waits until it is Ready. Synchronous, so that a suite can decide
 * at collection time whether it runs or is skipped with the reason. Needs root and the local
 * cluster (the one test/cluster/info names): a cluster of another KUBECONFIG gets no node added.
 */
export function startSecondNode(env: NodeJS.ProcessEnv = process.env): SecondNodeResult {
  const info = localClusterInfo(env);
  if (env.KUBECONFIG !== undefined && path.resolve(env.KUBECONFIG) !== path.resolve(info.kubeconfig)) {
    return { ok: false, reason: `KUBECONFIG=${env.KUBECONFIG} is not the local cluster's (${info.kubeconfig}); test/cluster/up --nodes 2 adds a node to that one only` };
  }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'test/cluster/up --nodes 2 needs root (it starts a kubelet and containerd and creates a bridge)' };
  const up = spawnSync(path.join(clusterScriptsDir, 'up'), ['--nodes', '2'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60 * 1000 });
  if (up.status === 0) return { ok: true };
  // up's last log line names what failed; the whole log goes to stderr for the post-mortem.
  process.stderr.write(up.stderr);
  const last = up.stderr.trim().split('\n').at(-1) ?? '';
  return { ok: false, reason: `test/cluster/up --nodes 2 failed (${up.error?.message ?? `exit code ${String(up.status)}`}): ${last}` };
}
