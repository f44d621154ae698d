/**
 * A work queue keyed by object (namespace/name), with client-go's guarantees:
 *  - a key is queued at most once, however often it is added (dedupe);
 *  - a key is never processed by two workers at once: adding it while it is being processed
 *    marks it dirty, and it is queued again when the worker is done;
 *  - at most `concurrency` keys are processed at a time;
 *  - a key whose handler throws is retried with per-key exponential backoff; success resets it;
 *  - a handler may ask to see its key again after a delay (timers, polling); the earliest
 *    requested time wins.
 */
import type { Logger } from './log.js';
import type { OperatorMetrics } from './metrics.js';

export interface WorkQueueOptions {
  concurrency: number;
  /** Returns a delay after which to process the key again, if any. */
  handler: (key: string) => Promise<number | undefined>;
  logger: Logger;
  metrics?: OperatorMetrics;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private running = false;
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WorkQueueOptions) {}

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    this.options.metrics?.queueAdds.inc();
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.options.metrics?.queueDepth.set(this.queue.length);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  private addRateLimited(key: string): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    this.options.metrics?.queueRetries.inc();
    const base = this.options.baseDelayMs ?? 50;
    const max = this.options.maxDelayMs ?? 300_000;
    this.addAfter(key, Math.min(max, base * 2 ** (failures - 1)));
  }

  start(): void {
    this.running = true;
    this.pump();
  }

  /** Stops taking keys and waits for the ones in flight. */
  async stop(): Promise<void> {
    this.running = false;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running && this.active < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.queued.delete(key);
      this.options.metrics?.queueDepth.set(this.queue.length);
      this.processing.add(key);
      this.active += 1;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const again = await this.options.handler(key);
      this.failures.delete(key);
      if (again !== undefined) this.addAfter(key, again);
    } catch (error) {
      this.options.logger.warn('reconcile failed; will retry', { key, error, failures: (this.failures.get(key) ?? 0) + 1 });
      if (this.running) this.addRateLimited(key);
    } finally {
      this.processing.delete(key);
      this.active -= 1;
      if (this.dirty.delete(key) && this.running) this.add(key);
      if (this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.pump();
    }
  }
}
