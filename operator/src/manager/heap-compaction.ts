/**
 * Gives back the memory a burst of work leaves behind: once the operator is quiet again after
 * its heap grew, one compacting garbage collection.
 *
 * Why: after the first sync of 10,000 kept AnsibleJobs the idle operator sat at ~125 MB RSS,
 * and stayed there. V8 keeps the old-generation pages the burst filled (live objects scattered
 * over them) and the buffers that dead response objects still hold, and an idle process does
 * not collect again. One last-resort collection (what V8 runs before giving up on memory: it
 * compacts) brought the same process to ~103 MB (docs/bench.md, "The operator without undici").
 *
 * Level-based, on the heap's own numbers, so no controller has to report its work: every
 * check, if the committed heap is more than GROWTH_BYTES above what the last compaction left
 * and the heap in use has barely moved since the previous check (nothing running), collect.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** The heap figures one check reads (v8.getHeapStatistics()). */
export interface HeapSample {
  /** Committed heap (total_heap_size). */
  committed: number;
  /** In use, garbage not yet collected included (used_heap_size). */
  used: number;
}

/** Committed heap growth since the last compaction that is worth one. */
export const GROWTH_BYTES = 8 * 1024 * 1024;
/** Change of the heap in use between two checks below which the process counts as quiet. */
export const QUIET_BYTES = 1024 * 1024;
const CHECK_EVERY_MS = 15_000;

/** Whether to compact now, given the previous check and the committed heap after the last compaction. */
export function shouldCompact(now: HeapSample, previous: HeapSample | undefined, committedAfterLast: number): boolean {
  if (!previous) return false;
  const quiet = Math.abs(now.used - previous.used) < QUIET_BYTES;
  return quiet && now.committed - committedAfterLast > GROWTH_BYTES;
}

/** The gc() V8 exposes with --expose-gc: a full (major) collection; `last-resort` also compacts. */
export type CollectGarbage = (options: { type: 'major'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/**
 * V8's gc() without `--expose-gc` on the command line, which the bin and NODE_OPTIONS do not
 * own: the gc function of a context made while the flag is set. The flag is cleared again,
 * so no later context gets one. Costs a context (~1 ms); make it only when needed.
 */
export function garbageCollector(): CollectGarbage {
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as CollectGarbage;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** Starts the checks; returns a function that stops them. */
export function compactAfterBursts(onCompacted: (before: HeapSample, after: HeapSample) => void, everyMs = CHECK_EVERY_MS): () => void {
  let collect: CollectGarbage | undefined;
  const sample = (): HeapSample => {
    const statistics = v8.getHeapStatistics();
    return { committed: statistics.total_heap_size, used: statistics.used_heap_size };
  };
  let previous: HeapSample | undefined;
  let committedAfterLast = sample().committed;
  const timer = setInterval(() => {
    const now = sample();
    if (shouldCompact(now, previous, committedAfterLast)) {
      collect ??= garbageCollector();
      collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      const after = sample();
      committedAfterLast = after.committed;
      previous = after;
      onCompacted(now, after);
      return;
    }
    previous = now;
    // Shrunk on its own (a collection freed pages): measure growth from there.
    committedAfterLast = Math.min(committedAfterLast, now.committed);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
