/**
 * Leader election on a coordination.k8s.io/v1 Lease, the client-go way: a candidate takes
 * the lease when it is free or its holder has not renewed it for leaseDuration, measured on
 * the candidate's own clock from the moment it last saw the record change (so clock skew
 * between replicas does not matter). Writes use the lease's resourceVersion, so two
 * candidates can never both win. The leader renews every retryPeriod; if it cannot renew
 * within renewDeadline it stops leading *before* anyone else may take over.
 */
import { isConflict, isNotFound, paths, type KubeClient } from './client.js';
import type { Logger } from './log.js';
import type { OperatorMetrics } from './metrics.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  metrics?: OperatorMetrics;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/** The fields of a coordination.k8s.io/v1 Lease that election reads and writes. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observedVersion: string | undefined;
  private observedAt = 0;
  /** The lease as this candidate last wrote it. */
  private written: Lease | undefined;
  /** Set when the last read of the lease named another live holder. */
  private lostTo: string | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private get leaseDurationMs() {
    return this.options.leaseDurationMs ?? 15_000;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader gives the lease up so a standby can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    if (this.leading) {
      await this.release().catch((error) => this.options.logger.warn('could not release the lease', { error }));
      this.setLeading(false);
    }
  }

  private setLeading(leading: boolean) {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.metrics?.leader.set(leading ? 1 : 0);
    this.options.logger.info(leading ? 'became leader' : 'stopped leading', { lease: this.options.name, identity: this.options.identity });
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  private async run(): Promise<void> {
    const retry = this.options.retryPeriodMs ?? 2_000;
    const renewDeadline = this.options.renewDeadlineMs ?? 10_000;
    // As in client-go, a leader's renew cycle starts with its first attempt after the last
    // successful renewal, and it has renewDeadline to succeed.
    let cycleStart: number | undefined;
    while (!this.stopped) {
      const attemptStart = Date.now();
      if (this.leading) cycleStart ??= attemptStart;
      // A leader's attempt may not outlive its renew deadline: a request hanging on a dead
      // connection (the client's default timeout is 30 s) would otherwise keep it leading
      // long after a standby, seeing no renewal for leaseDuration, has taken over.
      const timeoutMs = Math.max(1, cycleStart !== undefined ? cycleStart + renewDeadline - attemptStart : renewDeadline);
      let held = false;
      try {
        held = await this.tryAcquireOrRenew(timeoutMs);
      } catch (error) {
        this.options.logger.warn('lease update failed', { error });
      }
      const now = Date.now();
      if (held) {
        cycleStart = undefined;
        this.setLeading(true);
      } else if (this.leading && (now - (cycleStart ?? now) >= renewDeadline || this.lostTo !== undefined)) {
        // Also at once when the lease names someone else: it was taken over (edited, or
        // expired while we could not write), and two leaders must not run side by side.
        cycleStart = undefined;
        this.setLeading(false);
      }
      // A leader whose deadline comes before the next retry tries once more at the deadline
      // (and gives up then), rather than leading on past it.
      await sleep(cycleStart !== undefined ? Math.min(retry, Math.max(0, cycleStart + renewDeadline - Date.now())) : retry);
    }
  }

  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const { client, namespace, name, identity } = this.options;
    const start = Date.now();
    this.lostTo = undefined;
    const left = () => Math.max(1, timeoutMs - (Date.now() - start));
    // The leader renews with one write on the record it last wrote (client-go's fast path):
    // one round trip instead of two, which matters when the API server is slow. A conflict
    // (someone else wrote it) or a deleted lease falls back to reading it.
    const mine = this.written;
    if (this.leading && mine) {
      try {
        const renewed = await client.request<Lease>('PUT', paths.lease(namespace, name), {
          body: { ...mine, spec: { ...mine.spec, renewTime: microTime(Date.now()) } },
          timeoutMs,
        });
        this.remember(renewed, Date.now());
        return true;
      } catch (error) {
        this.written = undefined;
        if (!isConflict(error) && !isNotFound(error)) throw error;
      }
    }
    let existing: Lease | undefined;
    try {
      existing = await client.get<Lease>(paths.lease(namespace, name), { timeoutMs: left() });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    // Decided and stamped after the read: a takeover's acquireTime is then never earlier than
    // the moment the previous record was seen to expire.
    const now = Date.now();
    const desired: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!existing) {
      try {
        const created = await client.request<Lease>('POST', paths.leases(namespace), {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: desired },
          timeoutMs: left(),
        });
        this.remember(created, now);
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    }
    if (existing.metadata.resourceVersion !== this.observedVersion) {
      this.observedVersion = existing.metadata.resourceVersion;
      // When the read returned, not when it was sent: the record may have been written while
      // the read was under way, and its holder's clock starts no earlier than that write.
      this.observedAt = now;
    }
    const holder = existing.spec.holderIdentity;
    const heldByMe = holder === identity;
    const duration = (existing.spec.leaseDurationSeconds ?? 0) * 1000;
    if (!heldByMe && holder && now < this.observedAt + duration) {
      this.lostTo = holder;
      return false;
    }
    const spec: LeaseSpec = heldByMe
      ? { ...existing.spec, renewTime: desired.renewTime, leaseDurationSeconds: desired.leaseDurationSeconds }
      : { ...desired, leaseTransitions: (existing.spec.leaseTransitions ?? 0) + 1 };
    try {
      const updated = await client.request<Lease>('PUT', paths.lease(namespace, name), { body: { ...existing, spec }, timeoutMs: left() });
      this.remember(updated, now);
      return true;
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return false;
      throw error;
    }
  }

  private remember(lease: Lease, at: number) {
    this.written = lease;
    this.observedVersion = lease.metadata.resourceVersion;
    this.observedAt = at;
  }

  private async release(): Promise<void> {
    const { client, namespace, name, identity } = this.options;
    const existing = await client.getOrUndefined<Lease>(paths.lease(namespace, name));
    if (!existing || existing.spec.holderIdentity !== identity) return;
    await client.replace(paths.lease(namespace, name), {
      ...existing,
      spec: { ...existing.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(Date.now()) },
    });
  }
}
