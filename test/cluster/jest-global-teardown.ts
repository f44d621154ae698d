import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

// Jest loads this file with Node's own module loader (transpiled, but without
// the project's module mapping), so it imports no relative modules.

const clusterScriptsDir = path.dirname(fileURLToPath(import.meta.url));
const startedByRunEnv = 'AJO_CLUSTER_STARTED_BY_RUN'; // tierEnv.startedByRun in jest-global-setup.ts

/**
 * Stops the cluster the global setup started (never one it found through
 * KUBECONFIG), unless AJO_KEEP_CLUSTER=1, and then checks, independently of
 * the script, that `down` left no process, mount, link, cgroup or iptables
 * chain of ours behind. Leftovers fail the run with a list of what is left.
 *
 * This is the one place where that can be checked on the very cluster the
 * suites used: a test doing it would pull the cluster from under the other
 * suites, and a second cluster cannot run beside the first (kube-proxy's
 * KUBE-* chains are machine-wide).
 */
export default async function globalTeardown(): Promise<void> {
  if (process.env[startedByRunEnv] !== '1') return;
  if (process.env.AJO_KEEP_CLUSTER === '1') {
    process.stderr.write(`\n[cluster tier] AJO_KEEP_CLUSTER=1: leaving the cluster up (KUBECONFIG=${process.env.KUBECONFIG ?? ''})\n`);
    return;
  }
  // `jest-<pid>` as in jest-global-setup.ts (holderName).
  const down = await execa(path.join(clusterScriptsDir, 'down'), ['--release', `jest-${process.pid}`], { stdin: 'ignore', stderr: 'inherit', reject: false });
  if (down.exitCode === 0 && down.stdout.startsWith('kept')) {
    process.stderr.write(`\n[cluster tier] cluster left running for the other test runs using it (${down.stdout})\n`);
    return;
  }
  const leftovers = describeResidue(findResidue(localClusterInfo()));
  if (down.exitCode !== 0 || leftovers.length > 0) {
    throw new Error(
      `test/cluster/down (exit code ${String(down.exitCode)}) left behind:\n  ${leftovers.join('\n  ') || '(nothing found by jest-global-teardown.ts; see down\'s own report above)'}`,
    );
  }
  process.stderr.write('\n[cluster tier] down: no process, mount, link, cgroup or KUBE-* chain left\n');
}

const ResidueScope = z.object({ stateDir: z.string(), bridges: z.array(z.string()), cgroupRoot: z.string() });
type ResidueScope = z.infer<typeof ResidueScope>;

/** The names and paths that mark things as ours, from the scripts (test/cluster/info). */
export function localClusterInfo(): ResidueScope {
  return ResidueScope.parse(JSON.parse(execFileSync(path.join(clusterScriptsDir, 'info'), { encoding: 'utf8' })));
}

/**
 * What a local cluster has left on this machine, checked independently of the
 * shell scripts' own `leftovers` so that a bug in one is caught by the other.
 */
export interface Residue {
  processes: string[];
  mounts: string[];
  links: string[];
  iptablesChains: string[];
  cgroups: string[];
}

export function findResidue(cluster: ResidueScope): Residue {
  return {
    processes: processesUsing(cluster.stateDir),
    mounts: mountsUnder(cluster.stateDir),
    links: cluster.bridges.flatMap(linksOf),
    iptablesChains: kubeChains(),
    cgroups: cgroupsNamed(cluster.cgroupRoot),
  };
}

export function describeResidue(residue: Residue): string[] {
  return Object.entries(residue).flatMap(([kind, items]: [string, string[]]) => items.map((item) => `${kind}: ${item}`));
}

/** Every daemon of ours, containerd's shims included, names a path in the state dir. */
function processesUsing(stateDir: string): string[] {
  const marker = `${stateDir}/`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .flatMap((pid) => {
      const commandLine = readOrEmpty(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
      return commandLine.includes(marker) ? [`${pid} ${commandLine.slice(0, 160)}`] : [];
    });
}

function mountsUnder(stateDir: string): string[] {
  const marker = `${stateDir}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(marker));
}

/** A node's bridge itself and any veth still attached to it. */
function linksOf(bridge: string): string[] {
  const links = ipLinks();
  return links.filter((link) => link.ifname === bridge || link.master === bridge).map((link) => link.ifname);
}

const IpLinks = z.array(z.object({ ifname: z.string(), master: z.string().optional() }));

function ipLinks(): z.infer<typeof IpLinks> {
  return IpLinks.parse(JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })));
}

/** kube-proxy and the kubelet name every chain they create KUBE-*. */
function kubeChains(): string[] {
  return ['iptables-save', 'ip6tables-save'].flatMap((tool) => {
    let dump: string;
    try {
      dump = execFileSync(tool, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return [];
    }
    let table = '';
    return dump.split('\n').flatMap((line) => {
      if (line.startsWith('*')) table = line.slice(1);
      const chain = /^:(KUBE-\S+)/.exec(line)?.[1];
      return chain === undefined ? [] : [`${tool.replace('-save', '')} -t ${table} ${chain}`];
    });
  });
}

function cgroupsNamed(cgroupRoot: string): string[] {
  const base = '/sys/fs/cgroup';
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .map((hierarchy) => path.join(base, hierarchy, cgroupRoot))
    .filter((dir) => existsSync(dir));
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
