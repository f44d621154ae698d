// Leader election heals itself on the real Lease API (a private kube-apiserver + etcd): two operator replicas; the leader that loses its lease (taken over by an edit, or unable to renew behind a black-holed network) stops leading and exits, and the standby takes over only once the lease object's last record has expired.
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { KubeClient, paths } from '../../operator/src/kube/client.js';
import type { LeaseSpec } from '../../operator/src/kube/leader-election.js';
import { createLogger } from '../../operator/src/kube/log.js';
import { startOperator, type RunningOperator } from '../../operator/src/manager/operator.js';
import { describeOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';
import { ensureCrd } from './harness.js';
import { ControlPlane, controlPlaneSkipReason } from './self-healing-control-plane.js';
import { TcpProxy } from './self-healing-proxy.js';

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: LeaseSpec;
}

/** Short, so a takeover takes seconds; the leader gives up (2 s) well before others may take over (6 s). */
const ELECTION = { leaseDurationMs: 6000, renewDeadlineMs: 2000, retryPeriodMs: 250 };

const micro = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

describeOrSkip('Leader election self-healing against a real API server', controlPlaneSkipReason(), () => {
  let plane: ControlPlane;
  const namespace = 'leader';
  const replicas: RunningOperator[] = [];
  const proxies: TcpProxy[] = [];
  const watches: AbortController[] = [];

  beforeAll(async () => {
    plane = await ControlPlane.start();
    await ensureCrd(plane.client());
    await plane.client().create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }, 400_000);

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.abort();
    for (const replica of replicas.splice(0)) await replica.stop();
    for (const proxy of proxies.splice(0)) await proxy.close();
  }, 120_000);

  afterAll(async () => {
    await plane?.stop();
  }, 60_000);

  /** What happened, in the order it happened in this process: `a became leader`, `a stopped leading`, `a exited`. */
  function newTimeline() {
    const timeline: string[] = [];
    const logger = createLogger({
      level: 'info',
      write: (line) => {
        const entry = JSON.parse(line) as { msg: string; identity?: string };
        if (entry.msg === 'became leader' || entry.msg === 'stopped leading') timeline.push(`${entry.identity} ${entry.msg}`);
      },
    });
    return { timeline, logger };
  }

  /** An operator replica; losing the lead is what makes `ajo operator` exit, so here it stops. */
  async function replica(identity: string, client: KubeClient, leaseName: string, { timeline, logger }: ReturnType<typeof newTimeline>) {
    const running: RunningOperator = await startOperator({
      client,
      namespaces: [namespace],
      concurrency: 2,
      podOptions: { defaultImage: 'ajo-runner:test', processImage: 'ajo-runner:test', composeImage: 'ajo-runner:test', statusPort: 8765 },
      logger,
      identity,
      leaderElection: { namespace, leaseName, ...ELECTION },
      onLostLeadership: () => {
        timeline.push(`${identity} exited`);
        void running.stop();
      },
    });
    replicas.push(running);
    return running;
  }

  /** Every version of the lease, in order, from a watch started before anyone campaigns (a watch delivers each change, none skipped). */
  async function leaseHistory(leaseName: string) {
    const history: Lease[] = [];
    const controller = new AbortController();
    watches.push(controller);
    const admin = plane.client();
    const list = await admin.get<{ metadata: { resourceVersion: string } }>(paths.leases(namespace));
    void admin
      .watch(paths.leases(namespace), { fieldSelector: `metadata.name=${leaseName}`, resourceVersion: list.metadata.resourceVersion }, (event) => {
        if (event.type === 'ADDED' || event.type === 'MODIFIED') history.push(event.object as unknown as Lease);
      }, controller.signal)
      .catch(() => undefined);
    return history;
  }

  /**
   * The record that made `identity` the holder, and the record it replaced. A replica learns it
   * leads from its own write's response; the watch delivers that write a moment later, so wait
   * for the watch rather than read the history at once.
   */
  async function takeover(history: Lease[], identity: string) {
    const index = await waitFor(`the watch delivers ${identity}'s takeover`, async () => {
      const found = history.findIndex((lease, i) => i > 0 && lease.spec.holderIdentity === identity && history[i - 1]!.spec.holderIdentity !== identity);
      return found > 0 ? found : undefined;
    }, 30_000);
    return { before: history[index - 1]!, after: history[index]! };
  }

  const expectTakeoverAfterExpiry = ({ before, after }: { before: Lease; after: Lease }) => {
    // The standby took over only once the replaced record had expired by the lease's own terms:
    // its acquireTime is at least the old record's renewTime plus the old record's duration.
    const expiry = Date.parse(before.spec.renewTime!) + before.spec.leaseDurationSeconds! * 1000;
    expect(Date.parse(after.spec.acquireTime!)).toBeGreaterThanOrEqual(expiry);
    expect(after.spec.leaseTransitions).toBe((before.spec.leaseTransitions ?? 0) + 1);
  };

  test('the lease taken over by an edit: the leader stops leading and exits at once; the standby waits for the edited record to expire, then leads', async () => {
    const leaseName = 'edited';
    const history = await leaseHistory(leaseName);
    const recorder = newTimeline();
    const { timeline } = recorder;
    const a = await replica('a', new KubeClient(plane.access()), leaseName, recorder);
    await waitFor('a leads', async () => (a.isLeader() ? true : undefined), 60_000);
    const b = await replica('b', new KubeClient(plane.access()), leaseName, recorder);

    // Someone else writes the lease (kubectl edit, another operator build): a conflict with
    // a's renewals is retried on the next version.
    const admin = plane.client();
    await waitFor('the lease edited', async () => {
      const lease = await admin.get<Lease>(paths.lease(namespace, leaseName));
      const now = Date.now();
      const spec = { ...lease.spec, holderIdentity: 'intruder', acquireTime: micro(now), renewTime: micro(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 };
      return admin.replace(paths.lease(namespace, leaseName), { ...lease, spec });
    }, 30_000, 50);

    await waitFor('b leads', async () => (b.isLeader() ? true : undefined), 120_000);
    expect(timeline).toEqual(['a became leader', 'a stopped leading', 'a exited', 'b became leader']);
    expect(a.isLeader()).toBe(false);
    expect(a.controller()).toBeUndefined();
    expect(b.controller()).toBeDefined();

    const change = await takeover(history, 'b');
    expect(change.before.spec.holderIdentity).toBe('intruder');
    expectTakeoverAfterExpiry(change);
    // a never wrote the lease again after the edit.
    const edit = history.findIndex((lease) => lease.spec.holderIdentity === 'intruder');
    expect(history.slice(edit).map((lease) => lease.spec.holderIdentity)).not.toContain('a');
  }, 300_000);

  test('renewals black-holed (connection up, nothing arrives, requests hang): the leader stops leading before the standby may take over, and exits', async () => {
    const leaseName = 'partitioned';
    const history = await leaseHistory(leaseName);
    const recorder = newTimeline();
    const { timeline } = recorder;
    // a reaches the API server only through a proxy the test controls.
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: plane.apiPort });
    proxies.push(proxy);
    const a = await replica('a', new KubeClient(proxy.access(plane.access())), leaseName, recorder);
    await waitFor('a leads', async () => (a.isLeader() ? true : undefined), 60_000);
    const b = await replica('b', new KubeClient(plane.access()), leaseName, recorder);
    // b has seen a's lease renewed at least once before the partition.
    const renewalsBefore = history.length;
    await waitFor('a renews while b campaigns', async () => (history.length >= renewalsBefore + 2 ? true : undefined), 60_000);

    // The partition: a's open connections go silent and new ones are accepted and never answered.
    proxy.setMode('blackhole');
    proxy.freeze();

    await waitFor('b leads', async () => (b.isLeader() ? true : undefined), 120_000);
    // The order in which it happened in this process: a gave up before b began.
    expect(timeline).toEqual(['a became leader', 'a stopped leading', 'a exited', 'b became leader']);
    expect(a.controller()).toBeUndefined();
    expect(b.controller()).toBeDefined();

    const change = await takeover(history, 'b');
    expect(change.before.spec.holderIdentity).toBe('a');
    expectTakeoverAfterExpiry(change);
  }, 300_000);
});
