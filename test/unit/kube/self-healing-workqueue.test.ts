// The work queue heals itself: failed keys come back with per-key exponential backoff that grows, caps and resets; adds are deduplicated; a key added while it is processed is processed again after, never twice at once, never lost — also under load with many keys and workers.
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { silentLogger } from '../../../operator/src/kube/log.js';
import { createOperatorMetrics } from '../../../operator/src/kube/metrics.js';
import { WorkQueue } from '../../../operator/src/kube/workqueue.js';
import { seededRandom as random } from '../../helpers/seeded-random.mjs';

/** Resolves at the next macrotask: every pending microtask (a handler's continuation, the queue's finally) has run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise the test resolves when it chooses. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('WorkQueue backoff (fake clock: delays are asserted to the millisecond, not measured)', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  test('a failing key comes back after base·2^(n−1) ms, capped at maxDelayMs; success resets it; keys back off independently', async () => {
    jest.useFakeTimers();
    const calls: { key: string; at: number }[] = [];
    let failuresLeft: Record<string, number> = { k: 6, j: 2 };
    const metrics = createOperatorMetrics();
    const queue = new WorkQueue({
      concurrency: 2,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      logger: silentLogger,
      metrics,
      handler: async (key) => {
        calls.push({ key, at: Date.now() });
        if ((failuresLeft[key] ?? 0) > 0) {
          failuresLeft[key] = (failuresLeft[key] ?? 0) - 1;
          throw new Error(`${key} fails`);
        }
        return undefined;
      },
    });
    queue.start();
    const callsOf = (key: string) => calls.filter((call) => call.key === key);

    /** The next call of `key` comes exactly `delay` ms after its previous one: not a millisecond earlier. */
    const expectRetryAfter = async (key: string, delay: number) => {
      const before = callsOf(key).length;
      await jest.advanceTimersByTimeAsync(delay - 1);
      expect(callsOf(key)).toHaveLength(before);
      await jest.advanceTimersByTimeAsync(1);
      expect(callsOf(key)).toHaveLength(before + 1);
      const [previous, latest] = callsOf(key).slice(-2);
      expect(latest!.at - previous!.at).toBe(delay);
    };

    queue.add('k');
    await jest.advanceTimersByTimeAsync(0);
    expect(callsOf('k')).toHaveLength(1);
    // k fails 6 times: it is retried after 100, 200, 400, 800, then the cap 1000, 1000; the 7th call succeeds.
    await expectRetryAfter('k', 100);
    // j starts failing while k is backing off: its own count starts at the base delay.
    queue.add('j');
    await jest.advanceTimersByTimeAsync(0);
    await expectRetryAfter('k', 200);
    for (const delay of [400, 800, 1000, 1000]) await expectRetryAfter('k', delay);
    expect(callsOf('k')).toHaveLength(7);
    const jCalls = callsOf('j');
    expect(jCalls).toHaveLength(3);
    expect(jCalls[1]!.at - jCalls[0]!.at).toBe(100);
    expect(jCalls[2]!.at - jCalls[1]!.at).toBe(200);

    // k succeeded, so nothing more is scheduled for it...
    await jest.advanceTimersByTimeAsync(60_000);
    expect(callsOf('k')).toHaveLength(7);
    // ...and its next failure starts again from the base delay.
    failuresLeft = { k: 1 };
    queue.add('k');
    await jest.advanceTimersByTimeAsync(0);
    await expectRetryAfter('k', 100);
    expect(callsOf('k')).toHaveLength(9);
    expect((await metrics.registry.getSingleMetric('ajo_workqueue_retries_total')?.get())?.values[0]?.value).toBe(6 + 2 + 1);
    await queue.stop();
  });

  test('a handler may ask to see its key again later; the earliest requested time wins', async () => {
    jest.useFakeTimers();
    const calls: number[] = [];
    const queue = new WorkQueue({
      concurrency: 1,
      logger: silentLogger,
      handler: async () => {
        calls.push(Date.now());
        return calls.length === 1 ? 5000 : undefined;
      },
    });
    queue.start();
    const start = Date.now();
    queue.add('k');
    await jest.advanceTimersByTimeAsync(0);
    queue.addAfter('k', 9000); // later than the handler's 5000: ignored
    queue.addAfter('k', 3000); // earlier: wins
    await jest.advanceTimersByTimeAsync(2999);
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([start, start + 3000]);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(calls).toHaveLength(2);
    await queue.stop();
  });
});

describe('WorkQueue dedupe and no lost updates', () => {
  test('a key added many times while queued is processed once', async () => {
    const processed: string[] = [];
    const queue = new WorkQueue({ concurrency: 4, logger: silentLogger, handler: async (key) => void processed.push(key) });
    for (let i = 0; i < 100; i += 1) for (const key of ['a', 'b', 'c']) queue.add(key);
    expect(queue.depth).toBe(3);
    queue.start();
    await tick();
    expect(processed.sort()).toEqual(['a', 'b', 'c']);
    await queue.stop();
  });

  test('a key added during its processing is processed exactly once more, after the first run ends, never concurrently', async () => {
    const events: string[] = [];
    const first = gate();
    let runs = 0;
    const queue = new WorkQueue({
      concurrency: 4,
      logger: silentLogger,
      handler: async (key) => {
        runs += 1;
        const run = runs;
        events.push(`start ${key} ${run}`);
        if (run === 1) await first.opened;
        events.push(`end ${key} ${run}`);
        return undefined;
      },
    });
    queue.start();
    queue.add('a');
    await tick();
    expect(events).toEqual(['start a 1']);
    // 50 adds while a is being processed: free workers are idle, yet a does not start again.
    for (let i = 0; i < 50; i += 1) queue.add('a');
    await tick();
    expect(events).toEqual(['start a 1']);
    expect(queue.depth).toBe(0);
    first.open();
    await tick();
    await tick();
    expect(events).toEqual(['start a 1', 'end a 1', 'start a 2', 'end a 2']);
    await queue.stop();
  });

  test('a key re-added while its failing run is in flight is processed again at once (the backoff does not swallow the newer add)', async () => {
    const first = gate();
    const runs: number[] = [];
    const queue = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 3_600_000,
      logger: silentLogger,
      handler: async () => {
        runs.push(runs.length + 1);
        if (runs.length === 1) {
          await first.opened;
          throw new Error('first run fails');
        }
        return undefined;
      },
    });
    queue.start();
    queue.add('a');
    await tick();
    queue.add('a');
    first.open();
    await tick();
    await tick();
    expect(runs).toEqual([1, 2]);
    await queue.stop();
  });

  test('under load (2000 keys, 8 workers, bursts of adds interleaved with processing): never two runs of a key at once, never more than 8 runs, every last add seen, no run without a newer add', async () => {
    const concurrency = 8;
    const keys = Array.from({ length: 2000 }, (_, i) => `ns/job-${i}`);
    const rand = random(16);
    const version = new Map<string, number>();
    const bursts = new Map<string, number>();
    const lastSeen = new Map<string, number>();
    const runs = new Map<string, number>();
    const inFlight = new Set<string>();
    let active = 0;
    let maxActive = 0;
    const violations: string[] = [];

    const queue = new WorkQueue({
      concurrency,
      logger: silentLogger,
      handler: async (key) => {
        if (inFlight.has(key)) violations.push(`${key} processed twice at once`);
        inFlight.add(key);
        active += 1;
        maxActive = Math.max(maxActive, active);
        runs.set(key, (runs.get(key) ?? 0) + 1);
        // What a reconcile reads: the state as of its start. A run that sees nothing newer than
        // the previous run of its key was a wasted, duplicate run.
        const seen = version.get(key) ?? 0;
        if (seen <= (lastSeen.get(key) ?? 0)) violations.push(`${key} run again without a newer add (saw ${seen})`);
        lastSeen.set(key, seen);
        const ticks = Math.floor(rand() * 4);
        for (let i = 0; i < ticks; i += 1) await tick();
        active -= 1;
        inFlight.delete(key);
        return undefined;
      },
    });
    queue.start();

    let totalAdds = 0;
    for (let round = 0; round < 400; round += 1) {
      // A burst: a few keys, each changed and added several times in a row (as watch events come in).
      const burstSize = 1 + Math.floor(rand() * 20);
      for (let b = 0; b < burstSize; b += 1) {
        const key = keys[Math.floor(rand() * keys.length)]!;
        bursts.set(key, (bursts.get(key) ?? 0) + 1);
        const repeats = 1 + Math.floor(rand() * 5);
        for (let r = 0; r < repeats; r += 1) {
          version.set(key, (version.get(key) ?? 0) + 1);
          queue.add(key);
          totalAdds += 1;
        }
      }
      if (rand() < 0.7) await tick();
    }
    // Quiescent: nothing queued, nothing running, checked at a macrotask boundary (the queue's bookkeeping runs in microtasks).
    for (let i = 0; i < 10_000 && (queue.depth > 0 || active > 0); i += 1) await tick();
    await tick();
    expect(queue.depth).toBe(0);
    expect(active).toBe(0);

    expect(violations).toEqual([]);
    expect(maxActive).toBe(concurrency);
    let totalRuns = 0;
    for (const [key, finalVersion] of version) {
      // No lost update: the last run of every key started after its last add.
      expect({ key, seen: lastSeen.get(key) }).toEqual({ key, seen: finalVersion });
      // Dedupe: a burst of adds leads to at most two runs (one that starts at its first add, one
      // for the adds that came while that one ran); the violations above show no run was wasted.
      expect(runs.get(key) ?? 0).toBeLessThanOrEqual(2 * (bursts.get(key) ?? 0));
      totalRuns += runs.get(key) ?? 0;
    }
    expect(totalRuns).toBeLessThan(totalAdds);
    await queue.stop();
  });
});
