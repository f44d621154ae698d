// The informer heals itself against a real kube-apiserver + etcd of its own: a watch expired by an etcd compaction (410 Gone) is relisted, a silent watch connection is abandoned and restarted, and a killed and restarted API server is reconnected to; each time the cache converges to the server's truth.
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { KubeApiError, KubeClient } from '../../operator/src/kube/client.js';
import { Informer, type InformerEventType } from '../../operator/src/kube/informer.js';
import { silentLogger } from '../../operator/src/kube/log.js';
import { createOperatorMetrics, type OperatorMetrics } from '../../operator/src/kube/metrics.js';
import { describeOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';
import { ControlPlane, controlPlaneSkipReason } from './self-healing-control-plane.js';
import { TcpProxy } from './self-healing-proxy.js';

type Obj = { metadata: { name: string; namespace: string; resourceVersion: string }; data?: Record<string, string> };
type List = { metadata: { resourceVersion: string }; items: Obj[] };

/** What the cache holds, comparable with what the server holds: name → resourceVersion. */
const versions = (objects: Obj[]) => Object.fromEntries(objects.map((o) => [o.metadata.name, o.metadata.resourceVersion]).sort());

async function metricValue(metrics: OperatorMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected));
  return match?.value ?? 0;
}

describeOrSkip('Informer self-healing against a real API server', controlPlaneSkipReason(), () => {
  let plane: ControlPlane;
  const informers: Informer[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    // ConfigMaps are served without the watch cache, straight from etcd, so that compacting
    // etcd expires their watches (a cached resource expires by the cache's window instead).
    plane = await ControlPlane.start({ uncachedResources: ['configmaps'] });
  }, 300_000);

  afterEach(async () => {
    for (const informer of informers.splice(0)) await informer.stop();
    for (const proxy of proxies.splice(0)) await proxy.close();
  }, 60_000);

  afterAll(async () => {
    await plane?.stop();
  }, 60_000);

  /** A proxy of this test's own between its informer and the API server. */
  async function newProxy() {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: plane.apiPort });
    proxies.push(proxy);
    return proxy;
  }

  async function namespace(name: string) {
    await plane.client().create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return name;
  }

  function startInformer(client: KubeClient, path: string, extra: { watchTimeoutSeconds?: () => number } = {}) {
    const metrics = createOperatorMetrics();
    const events: { type: InformerEventType; name: string }[] = [];
    const informer = new Informer({
      client,
      path,
      resource: 'test',
      logger: silentLogger,
      metrics,
      backoff: { initialMs: 50, maxMs: 1000 },
      onEvent: (type, object) => events.push({ type, name: (object as Obj).metadata.name }),
      ...extra,
    });
    informers.push(informer);
    informer.start();
    return { informer, metrics, events };
  }

  /** Waits until the cache holds exactly what the server lists. */
  async function converged(informer: Informer, path: string) {
    return waitFor(`the cache of ${path} equal to the server's list`, async () => {
      const truth = versions((await plane.client().get<List>(path)).items);
      const cached = versions(informer.list() as Obj[]);
      return JSON.stringify(cached) === JSON.stringify(truth) ? truth : undefined;
    }, 120_000);
  }

  test('410 Gone: a watch from a compacted resourceVersion relists, and changes made while the watch was away are all in the cache', async () => {
    const ns = await namespace('gone');
    const admin = plane.client();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const cm = (name: string, value: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value } });
    await admin.create(path, cm('a', '1'));
    await admin.create(path, cm('b', '1'));

    const proxy = await newProxy();
    const { informer, metrics, events } = startInformer(new KubeClient(proxy.access(plane.access())), path);
    await informer.waitForSync();
    await converged(informer, path);
    const before = (await admin.get<List>(path)).metadata.resourceVersion;

    // The informer loses the server: its watch is reset and new connections are refused.
    proxy.setMode('refuse');
    proxy.cut();
    const seenBefore = events.length;
    await admin.delete(`${path}/a`);
    await admin.mergePatch(`${path}/b`, { data: { value: '2' } });
    await admin.create(path, cm('c', '1'));
    await plane.compactEtcd();

    // The premise, checked on the server itself: a watch from before the changes is expired.
    const expired = await admin.watch(path, { resourceVersion: before }, () => undefined, AbortSignal.timeout(30_000)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(expired).toBeInstanceOf(KubeApiError);
    expect((expired as KubeApiError).status).toBe(410);

    proxy.setMode('open');
    const truth = await converged(informer, path);
    expect(Object.keys(truth)).toEqual(['b', 'c']);
    expect((informer.get(`${ns}/b`) as Obj).data).toEqual({ value: '2' });
    expect(await metricValue(metrics, 'ajo_informer_relists_total', { reason: 'gone' })).toBeGreaterThanOrEqual(1);
    // The relist told the controller about each change it had missed.
    expect(events.slice(seenBefore)).toEqual(expect.arrayContaining([{ type: 'delete', name: 'a' }, { type: 'update', name: 'b' }, { type: 'add', name: 'c' }]));

    // And the watch works again from the relist's resourceVersion.
    await admin.create(path, cm('d', '1'));
    expect(Object.keys(await converged(informer, path))).toEqual(['b', 'c', 'd']);
  }, 300_000);

  test('a stalled watch (connection up, nothing delivered, not even its end) is abandoned after its timeout and restarted', async () => {
    const ns = await namespace('stall');
    const admin = plane.client();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value: name } });
    await admin.create(path, cm('x'));

    const proxy = await newProxy();
    let frozen = -1;
    let openAtFreeze = 0;
    let acceptedAtFreeze = 0;
    const metrics = createOperatorMetrics();
    const informer = new Informer({
      client: new KubeClient(proxy.access(plane.access())),
      path,
      resource: 'test',
      logger: silentLogger,
      metrics,
      backoff: { initialMs: 50, maxMs: 1000 },
      // The server is asked to end each watch after 3 s; the informer gives up on one 30 s after that.
      watchTimeoutSeconds: () => 3,
      onEvent: (type, object) => {
        // Freeze the connection right as it delivers y: at this moment the watch is open and
        // streaming, so exactly that connection goes silent (the server's end of the watch,
        // 3 s later, never reaches the informer either).
        if (type === 'add' && (object as Obj).metadata.name === 'y' && frozen < 0) {
          acceptedAtFreeze = proxy.accepted;
          openAtFreeze = proxy.openConnections;
          frozen = proxy.freeze();
        }
      },
    });
    informers.push(informer);
    informer.start();
    await informer.waitForSync();
    await admin.create(path, cm('y'));
    await waitFor('y seen and its connection frozen', async () => (frozen >= 0 ? true : undefined), 60_000);
    // Every connection the informer had is silent (the watch's, and any idle one in its pool).
    expect(frozen).toBeGreaterThanOrEqual(1);
    expect(frozen).toBe(openAtFreeze);

    // Written while all its connections are silent: the informer can learn of z only by
    // abandoning that watch and starting another one on a new connection.
    await admin.create(path, cm('z'));
    const truth = await converged(informer, path);
    expect(Object.keys(truth)).toEqual(['x', 'y', 'z']);
    expect(proxy.accepted).toBeGreaterThan(acceptedAtFreeze);
    // It resumed the watch from its resourceVersion: no relist was needed.
    expect(await metricValue(metrics, 'ajo_informer_relists_total', { reason: 'initial' })).toBe(1);
    expect(await metricValue(metrics, 'ajo_informer_relists_total', { reason: 'gone' })).toBe(0);
  }, 300_000);

  test('the API server killed (SIGKILL) and restarted: the informer reconnects and converges, through the watch cache of the new server', async () => {
    const ns = await namespace('restart');
    const path = `/api/v1/namespaces/${ns}/secrets`;
    const secret = (name: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { value: name } });
    await plane.client().create(path, secret('s1'));
    await plane.client().create(path, secret('s2'));

    // Straight to the API server, no proxy: what goes away is the real process.
    const { informer, metrics } = startInformer(new KubeClient(plane.access()), path);
    await informer.waitForSync();
    await converged(informer, path);

    const killed = plane.apiServerPid;
    await plane.stopApiServer('SIGKILL');
    await plane.startApiServer();
    expect(plane.apiServerPid).not.toBe(killed);

    const admin = plane.client();
    await admin.delete(`${path}/s1`);
    await admin.create(path, secret('s3'));
    const truth = await converged(informer, path);
    expect(Object.keys(truth)).toEqual(['s2', 's3']);
    // It noticed the outage (at least the first reconnect was refused) and kept going.
    expect(await metricValue(metrics, 'ajo_informer_watch_errors_total', {})).toBeGreaterThanOrEqual(1);

    // Its watch is live on the new server.
    await admin.create(path, secret('s4'));
    expect(Object.keys(await converged(informer, path))).toEqual(['s2', 's3', 's4']);
  }, 400_000);
});
