/** Samples the cgroups of pods' containers on this node: peak memory and CPU time per container, for the bench-like e2e cases. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** What one container used, as its cgroup last reported it before the container ended. */
export interface ContainerCost {
  /** The kernel's high-water mark: page cache included (on v1, the 4 KiB page of every event file written, and its inode). */
  peakMemoryBytes: number;
  /**
   * The highest sampled memory that cannot be reclaimed: memory.stat rss + mapped_file (v1),
   * anon + file_mapped (v2). What a memory limit must hold; the cache above it is given back
   * under the limit (docs/bench.md, "The sidecar").
   */
  peakRssBytes: number;
  cpuSeconds: number;
}

/** v1 (this machine: hybrid) keeps memory and CPU in separate hierarchies; v2 keeps both in one. */
interface Layout {
  memoryRoot: string;
  cpuRoot: string;
  peakFile: string;
  /** The memory.stat keys whose sum is resident, non-reclaimable memory. */
  rssKeys: [string, string];
  cpu: (dir: string) => number;
}

function statSum(file: string, keys: readonly string[]): number {
  let sum = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [key, value] = line.split(' ');
    if (key && keys.includes(key)) sum += Number(value);
  }
  return sum;
}

function layout(cgroupRoot: string): Layout {
  const v1Memory = path.join('/sys/fs/cgroup/memory', cgroupRoot);
  if (existsSync(v1Memory)) {
    const cpuRoot = ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpuacct'].map((root) => path.join(root, cgroupRoot)).find(existsSync) ?? '';
    return {
      memoryRoot: v1Memory,
      cpuRoot,
      peakFile: 'memory.max_usage_in_bytes',
      rssKeys: ['rss', 'mapped_file'],
      cpu: (dir) => Number(readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e9,
    };
  }
  const v2 = path.join('/sys/fs/cgroup', cgroupRoot);
  return {
    memoryRoot: v2,
    cpuRoot: v2,
    peakFile: 'memory.peak',
    rssKeys: ['anon', 'file_mapped'],
    cpu: (dir) => Number(/usage_usec (\d+)/.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0) / 1e6,
  };
}

/** pod<uid> directories under the kubepods tree (QoS classes are one level down, Guaranteed pods are not). */
function podDirs(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith('pod')) found.set(entry.slice(3).replaceAll('_', '-'), path.join(dir, entry));
      else if (depth < 2 && (entry === 'kubepods' || entry === 'besteffort' || entry === 'burstable' || entry.startsWith('kubepods'))) visit(path.join(dir, entry), depth + 1);
    }
  };
  visit(root, 0);
  return found;
}

/**
 * Polls every pod's container cgroups until stopped. A container's cgroup is removed when it
 * ends, so each figure is the last one read before that: the peak is a high-water mark the
 * kernel keeps, so it is missed only if it was reached in the last interval; CPU time may miss
 * that last interval's work. The non-reclaimable figure (rss) has no high-water mark in the
 * kernel: it is the highest of the samples, so a peak shorter than `intervalMs` can be missed.
 * Reading a few small files every `intervalMs` costs little.
 */
export function sampleContainerCgroups(cgroupRoot = '/ajo', intervalMs = 50): { stop: () => Map<string, Map<string, ContainerCost>> } {
  const where = layout(cgroupRoot);
  const costs = new Map<string, Map<string, ContainerCost>>();
  const poll = () => {
    for (const [uid, memoryDir] of podDirs(where.memoryRoot)) {
      let containers: string[];
      try {
        containers = readdirSync(memoryDir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
      } catch {
        continue;
      }
      for (const id of containers) {
        try {
          const peakMemoryBytes = Number(readFileSync(path.join(memoryDir, id, where.peakFile), 'utf8'));
          const rssBytes = statSum(path.join(memoryDir, id, 'memory.stat'), where.rssKeys);
          const cpuDir = path.join(where.cpuRoot, path.relative(where.memoryRoot, memoryDir), id);
          const cpuSeconds = where.cpu(cpuDir);
          const pod = costs.get(uid) ?? new Map<string, ContainerCost>();
          costs.set(uid, pod);
          const before = pod.get(id);
          pod.set(id, {
            peakMemoryBytes: Math.max(peakMemoryBytes, before?.peakMemoryBytes ?? 0),
            peakRssBytes: Math.max(rssBytes, before?.peakRssBytes ?? 0),
            cpuSeconds: Math.max(cpuSeconds, before?.cpuSeconds ?? 0),
          });
        } catch {
          // The container ended between the listing and the read: its last figures stand.
        }
      }
    }
  };
  poll();
  const timer = setInterval(poll, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return costs;
    },
  };
}

/** A pod's containers by name, from its status (containerd://<id>) and what was sampled for its uid. */
export function costsByContainerName(
  sampled: Map<string, Map<string, ContainerCost>>,
  pod: { metadata: { uid: string }; status?: { containerStatuses?: Array<{ name: string; containerID?: string }> } },
): Record<string, ContainerCost> {
  const containers = sampled.get(pod.metadata.uid) ?? new Map<string, ContainerCost>();
  const named: Record<string, ContainerCost> = {};
  for (const status of pod.status?.containerStatuses ?? []) {
    const id = status.containerID?.replace(/^[a-z]+:\/\//, '');
    const cost = id ? containers.get(id) : undefined;
    if (cost) named[status.name] = cost;
  }
  return named;
}
