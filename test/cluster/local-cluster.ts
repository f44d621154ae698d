import { execFileSync } from 'node:child_process';
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
