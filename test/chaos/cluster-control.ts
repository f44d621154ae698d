/** Stops, kills, starts and restarts the local test cluster's components for chaos cases, through test/cluster/ctl. */
import path from 'node:path';
import { execa } from 'execa';
import { clusterScriptsDir } from '../cluster/local-cluster.js';

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'containerd' | 'kubelet' | 'kube-proxy'
  // The second node's own (test/cluster/up --nodes 2).
  | 'containerd-2' | 'kubelet-2';
export type Verb = 'stop' | 'kill' | 'start' | 'restart';

const ctl = path.join(clusterScriptsDir, 'ctl');

/**
 * Runs `ctl <verb> <component>`: returns once the verb is done (stopped: the process has exited;
 * started: healthy again). ctl's progress goes to this process's stderr; its one stdout line is returned.
 */
export async function clusterControl(verb: Verb, component: Component): Promise<string> {
  const result = await execa(ctl, [verb, component], { stdin: 'ignore', stderr: 'inherit', timeout: 600_000 });
  return String(result.stdout).trim();
}

/** Every component and whether it runs, from `ctl status`. */
export async function clusterStatus(): Promise<Map<Component, number | undefined>> {
  const result = await execa(ctl, ['status'], { stdin: 'ignore', reject: false });
  const status = new Map<Component, number | undefined>();
  for (const line of String(result.stdout).split('\n').filter(Boolean)) {
    const [name, state, pid] = line.split(' ');
    status.set(name as Component, state === 'running' ? Number(pid) : undefined);
  }
  return status;
}

/** Starts whatever is stopped (after a failed case), so the shared cluster is left whole. */
export async function restoreCluster(): Promise<void> {
  const order: Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy'];
  const status = await clusterStatus();
  for (const component of order) if (status.get(component) === undefined) await clusterControl('start', component);
}
