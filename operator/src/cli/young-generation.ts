/** Keeps the memory of the commands that pack a directory flat: V8's young generation, and garbage outside the heap. */
import v8 from 'node:v8';
import { garbageCollector, type CollectGarbage } from '../manager/heap-compaction.js';

/**
 * Packing a tree of many small files makes a little short-lived garbage per file (stats,
 * headers, promises), and V8 answers a steady stream of it by doubling its young generation up
 * to 2 × 16 MiB, which it then keeps: ~55 MB of `ajo transmit`'s peak for 100,000 files, more
 * than everything else it holds (docs/bench.md, "Transmit flat"). With the growth
 * factor at 1 the young generation stays at its first size; the extra scavenges cost about as
 * much CPU as they save in page faults (measured: 4.7–5.9 s of CPU either way).
 *
 * Why this flag and not `--max-semi-space-size=1`: the maximum is read once, when the heap is
 * set up, so it works only on node's command line or in NODE_OPTIONS, which the bin does not
 * own; the growth factor is read at each growth, so setting it here, before any packing, works
 * (measured, the same run: 103 MB → 85 MB peak RSS for 100,000 files).
 */
export function keepYoungGenerationSmall(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/** A full collection after each this many bytes packed. */
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/**
 * Returns a callback to give the bytes packed so far; it runs a full collection each time
 * another COLLECT_EVERY_BYTES have gone by.
 *
 * Why: what a pack allocates lives mostly outside V8's heap (zlib's output chunks, headers),
 * and V8 starts a full collection for it only after ~64 MB more of such memory than at the
 * last one, while the heap itself barely grows; until then the dead chunks, and the malloc
 * arenas they leave behind, add ~5-15 MB to `ajo transmit`'s peak (docs/bench.md, "Transmit
 * under 100 MB"). A full collection of its ~12 MB heap takes a few milliseconds: ~250 of them for
 * 2 GB, no CPU time to measure beside the deflating.
 */
export function collectGarbageWhilePacking(): (bytesPacked: number) => void {
  let collect: CollectGarbage | undefined;
  let next = COLLECT_EVERY_BYTES;
  return (bytesPacked) => {
    if (bytesPacked < next) return;
    next = bytesPacked + COLLECT_EVERY_BYTES;
    // Made only once a pack is large enough to need it: a new context costs start-up time.
    collect ??= garbageCollector();
    collect({ type: 'major' });
  };
}
