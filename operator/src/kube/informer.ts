/**
 * A list/watch cache that heals itself. client-node's own informer stops after
 * some errors and users report silent stalls (client-node#596, #958), so this one:
 *  - relists on 410 Gone (an expired resourceVersion) and before the first watch;
 *  - after any other error, waits with capped exponential backoff plus jitter and watches
 *    again from the last resourceVersion (a stale one comes back as 410 and relists);
 *  - asks the server to end each watch after a few minutes and aborts it itself a little
 *    later, so a connection that silently stops delivering can never stall the cache;
 *  - backs off, as after an error, when watches end normally without delivering a single
 *    event (not even a bookmark) again and again: a proxy or load balancer that closes every
 *    stream at once would otherwise have the loop re-watch as fast as it can;
 *  - relists periodically and reports every object again (`resync`), so the controller
 *    re-examines everything even if an event was lost.
 * The loop only ends when stop() is called.
 *
 * An optional `transform` shapes each object before it is cached and reported: a controller
 * keeps only what it reads, so that the cache's size follows the objects' count, not their
 * history (managedFields, status text). A list page is transformed item by item as it
 * arrives, so the full objects of one page at most are alive at once.
 *
 * Pages are small (DEFAULT_PAGE_SIZE) for the same reason: a page's JSON text and its parsed
 * objects are what the process's peak is made of during a list of thousands of objects.
 */
import type { KubeClient, Query, WatchEvent } from './client.js';
import { isGone } from './client.js';
import type { Logger } from './log.js';
import type { OperatorMetrics } from './metrics.js';

/**
 * Objects per list page. 100 rather than 500: with 10,000 finished AnsibleJobs the first list's
 * peak RSS was ~10 MB lower (docs/bench.md, case f) for 100 list requests instead of 20 per
 * relist (one relist every resync, 10 minutes by default).
 */
export const DEFAULT_PAGE_SIZE = 100;

export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface InformerOptions {
  client: KubeClient;
  /** Collection path, e.g. /api/v1/namespaces/ns/pods. */
  path: string;
  /** A label for logs and metrics. */
  resource: string;
  labelSelector?: string;
  /**
   * List from the API server's watch cache (`resourceVersion=0`, as client-go's reflector does)
   * except after a 410, when the list must be current. For a selector that matches few of many
   * objects: served from etcd, the server reads every object of the collection to filter them,
   * whatever the page size (measured with 10,000 AnsibleJobs, none labelled, under load:
   * 26-39 s, past the client's 30 s timeout, against 0.2-0.4 s from the cache). Not for a
   * collection listed whole: the cache ignores `limit` and answers in one response.
   */
  listFromWatchCache?: boolean;
  /** Full relist interval. */
  resyncMs?: number;
  pageSize?: number;
  logger: Logger;
  metrics?: OperatorMetrics;
  onEvent: (type: InformerEventType, object: Record<string, unknown>) => void;
  /** Applied to every object before it is cached and passed to onEvent; must be pure. */
  transform?: (object: Record<string, unknown>) => Record<string, unknown>;
  /** For tests: the watch timeout requested from the server, in seconds. */
  watchTimeoutSeconds?: () => number;
  backoff?: { initialMs: number; maxMs: number };
}

export const keyOf = (object: KubeObject): string =>
  `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

export class Informer {
  private readonly store = new Map<string, Record<string, unknown>>();
  private resourceVersion: string | undefined;
  private synced = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private syncWaiters: (() => void)[] = [];
  /** Set while a relist is due: `initial`, `gone` (410), `resync`. */
  private relistReason: string | undefined = 'initial';
  private lastRelistAt = 0;

  private readonly shape: (object: Record<string, unknown>) => Record<string, unknown>;

  constructor(private readonly options: InformerOptions) {
    this.shape = options.transform ?? ((object) => object);
  }

  get(key: string): Record<string, unknown> | undefined {
    return this.store.get(key);
  }
  list(): Record<string, unknown>[] {
    return [...this.store.values()];
  }
  hasSynced(): boolean {
    return this.synced;
  }

  /** Records an object the controller just wrote, so it acts on it before the watch echoes it. */
  update(object: Record<string, unknown>) {
    const key = keyOf(object as KubeObject);
    const current = this.store.get(key) as KubeObject | undefined;
    const incoming = object as KubeObject;
    if (current && Number(current.metadata?.resourceVersion) > Number(incoming.metadata?.resourceVersion)) return;
    this.store.set(key, this.shape(object));
  }

  start(): void {
    this.loop ??= this.run();
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private baseQuery(): Query {
    return this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {};
  }

  private async relist(): Promise<void> {
    const { client, path, pageSize = DEFAULT_PAGE_SIZE } = this.options;
    const fresh = new Map<string, Record<string, unknown>>();
    let continueToken: string | undefined;
    let listVersion: string | undefined;
    // A continued page must not name a version (the token holds it); only the first may.
    const fromCache = this.options.listFromWatchCache === true && this.relistReason !== 'gone';
    do {
      const version = fromCache && continueToken === undefined ? { resourceVersion: '0' } : {};
      const page = await client.get<{ metadata?: { resourceVersion?: string; continue?: string }; items?: Record<string, unknown>[] }>(
        path,
        { query: { ...this.baseQuery(), ...version, limit: pageSize, continue: continueToken }, signal: this.stopping.signal },
      );
      for (const item of page.items ?? []) fresh.set(keyOf(item as KubeObject), this.shape(item));
      continueToken = page.metadata?.continue || undefined;
      listVersion = page.metadata?.resourceVersion;
    } while (continueToken);

    const previous = new Map(this.store);
    this.store.clear();
    for (const [key, object] of fresh) this.store.set(key, object);
    for (const [key, object] of fresh) {
      const old = previous.get(key) as KubeObject | undefined;
      const type: InformerEventType = !old ? 'add' : old.metadata?.resourceVersion === (object as KubeObject).metadata?.resourceVersion ? 'resync' : 'update';
      this.options.onEvent(type, object);
    }
    for (const [key, object] of previous) if (!fresh.has(key)) this.options.onEvent('delete', object);
    this.resourceVersion = listVersion;
    this.lastRelistAt = Date.now();
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private applyWatchEvent(event: WatchEvent) {
    const object = (event.type === 'BOOKMARK' ? event.object : this.shape(event.object)) as KubeObject & Record<string, unknown>;
    const version = object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (version) this.resourceVersion = version;
      return;
    }
    const key = keyOf(object);
    if (event.type === 'DELETED') {
      this.store.delete(key);
      this.options.onEvent('delete', object);
    } else {
      const existed = this.store.has(key);
      this.store.set(key, object);
      this.options.onEvent(existed ? 'update' : 'add', object);
    }
    if (version) this.resourceVersion = version;
  }

  /** One watch, until the server or the guard ends it; whether it delivered any event. */
  private async watchOnce(): Promise<boolean> {
    const timeoutSeconds = this.options.watchTimeoutSeconds?.() ?? 240 + Math.floor(Math.random() * 120);
    // A guard for connections that stop delivering without closing.
    const guard = new AbortController();
    const timer = setTimeout(() => guard.abort(), (timeoutSeconds + 30) * 1000);
    const signal = AbortSignal.any([guard.signal, this.stopping.signal]);
    let delivered = false;
    try {
      await this.options.client.watch(
        this.options.path,
        { ...this.baseQuery(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (event) => {
          delivered = true;
          this.applyWatchEvent(event);
        },
        signal,
      );
      return delivered;
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<void> {
    const { logger, metrics, resource, resyncMs = 10 * 60_000 } = this.options;
    const backoff = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    let failures = 0;
    let emptyWatches = 0;
    const delayAfter = (count: number) => Math.min(backoff.maxMs, backoff.initialMs * 2 ** (count - 1)) * (0.8 + Math.random() * 0.4);
    while (!this.stopping.signal.aborted) {
      try {
        if (this.relistReason) {
          metrics?.informerRelists.inc({ resource, reason: this.relistReason });
          await this.relist();
          this.relistReason = undefined;
        }
        const delivered = await this.watchOnce();
        failures = 0;
        if (Date.now() - this.lastRelistAt >= resyncMs) this.relistReason = 'resync';
        emptyWatches = delivered ? 0 : emptyWatches + 1;
        // One empty end is a quiet collection whose watch timed out; a run of them is a stream
        // cut at once. Growing delays either way, reset by the first event.
        if (emptyWatches > 1) {
          const delay = delayAfter(emptyWatches - 1);
          logger.debug('watch ended without events; waiting before the next', { resource, emptyWatches, retryInMs: Math.round(delay) });
          await sleep(delay, this.stopping.signal);
        }
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        if (isGone(error)) {
          logger.info('watch expired (410 Gone); relisting', { resource });
          this.relistReason = 'gone';
          continue;
        }
        failures += 1;
        metrics?.informerWatchErrors.inc({ resource });
        const delay = delayAfter(failures);
        logger.warn('list/watch failed; retrying', { resource, error, retryInMs: Math.round(delay), failures });
        await sleep(delay, this.stopping.signal);
      }
    }
  }
}
