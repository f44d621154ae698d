// The second node of the local cluster (test/cluster/up --nodes 2): Ready beside node 1, tainted, and one pod network with it.
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { createTestNamespace, httpGetShellFunction, kubeClients, waitForPodPhase } from './kube.js';
import { firstNodePlacement, localClusterInfo, secondNodePlacement } from './local-cluster.js';
import { clusterTier, describeWithTwoNodes } from './tier.js';

describeWithTwoNodes('cluster tier: two nodes on one machine', () => {
  const { core } = kubeClients();
  const info = localClusterInfo();
  const image = clusterTier().testImage;
  const tokens = { one: randomBytes(8).toString('hex'), two: randomBytes(8).toString('hex') };
  const ips = { one: '', two: '' };
  let namespace = '';

  // A busybox httpd serving `token`, ready once it listens.
  const server = (name: string, token: string, placement: Partial<k8s.V1PodSpec>): k8s.V1Pod => ({
    metadata: { name, labels: { app: name } },
    spec: {
      ...placement,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'httpd',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', `mkdir /www && echo ${token} > /www/index.html && exec httpd -f -p 8080 -h /www`],
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        },
      ],
    },
  });

  // A pod that runs `script` once and stops; its phase and logs are the result.
  const client = (name: string, script: string, placement: Partial<k8s.V1PodSpec>): k8s.V1Pod => ({
    metadata: { name },
    spec: {
      ...placement,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script] }],
    },
  });

  const get = httpGetShellFunction(60);

  async function runClient(pod: k8s.V1Pod): Promise<{ node: string; logs: string }> {
    const name = pod.metadata?.name ?? '';
    await core.createNamespacedPod({ namespace, body: pod });
    const done = await waitForPodPhase(core, namespace, name, ['Succeeded', 'Failed'], 180_000);
    const logs = await core.readNamespacedPodLog({ name, namespace, container: 'main' });
    // The logs ride along, so a failure shows what the pod saw.
    expect(`${done.status?.phase}\n${logs}`).toMatch(/^Succeeded\n/);
    return { node: done.spec?.nodeName ?? '', logs };
  }

  beforeAll(async () => {
    namespace = await createTestNamespace(core, 'ajo-two-nodes');
    await core.createNamespacedPod({ namespace, body: server('web-one', tokens.one, firstNodePlacement(info)) });
    await core.createNamespacedPod({ namespace, body: server('web-two', tokens.two, secondNodePlacement(info)) });
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'web-one' }, spec: { selector: { app: 'web-one' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    for (const [key, name] of [['one', 'web-one'], ['two', 'web-two']] as const) {
      const running = await waitForPodPhase(core, namespace, name, ['Running'], 180_000);
      ips[key] = running.status?.podIP ?? '';
    }
  }, 400_000);

  afterAll(async () => {
    if (namespace !== '') await core.deleteNamespace({ name: namespace });
  });

  test('both nodes are Ready; the second carries the taint that keeps other pods off it', async () => {
    const nodes = new Map((await core.listNode()).items.map((node) => [node.metadata?.name ?? '', node]));
    const ready = (name: string) => nodes.get(name)?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    expect(ready(info.nodeName)).toBe('True');
    expect(ready(info.secondNode.name)).toBe('True');
    const taints = (name: string) => (nodes.get(name)?.spec?.taints ?? []).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`);
    expect(taints(info.secondNode.name)).toContain(info.secondNode.taint);
    expect(taints(info.nodeName)).not.toContain(info.secondNode.taint);
    expect(nodes.get(info.secondNode.name)?.metadata?.labels?.[info.secondNode.label]).toBe('true');
    // Each node has its own address (its bridge's): the API server reaches each kubelet there.
    const internalIp = (name: string) => nodes.get(name)?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    expect(internalIp(info.secondNode.name)).toBe(info.secondNode.address);
    expect(internalIp(info.nodeName)).not.toBe(info.secondNode.address);
  });

  test('each server runs on its own node, with an address in that node\'s pod subnet', async () => {
    const one = await core.readNamespacedPod({ name: 'web-one', namespace });
    const two = await core.readNamespacedPod({ name: 'web-two', namespace });
    expect(one.spec?.nodeName).toBe(info.nodeName);
    expect(two.spec?.nodeName).toBe(info.secondNode.name);
    // The nodes' subnets are /24s (10.244.<node - 1>.0/24).
    const prefix = (cidr: string) => cidr.replace(/\.0\/24$/, '.');
    expect(ips.one.startsWith(prefix(info.podCidr))).toBe(true);
    expect(ips.two.startsWith(prefix(info.secondNode.podCidr))).toBe(true);
  });

  test('a pod on node 1 reaches the pod on node 2 by its IP', async () => {
    const result = await runClient(client('from-one', `${get}get ${ips.two} 8080`, firstNodePlacement(info)));
    expect(result.node).toBe(info.nodeName);
    expect(result.logs.trimEnd().split('\n').at(-1)).toBe(tokens.two);
  });

  test('a pod on node 2 reaches the pod on node 1 by its IP, and a Service by its DNS name through the cluster DNS', async () => {
    const service = await core.readNamespacedService({ name: 'web-one', namespace });
    const script =
      `${get}nslookup -type=a web-one.${namespace}.svc.cluster.local && ` +
      `get ${ips.one} 8080 && echo "--- service" && get web-one.${namespace}.svc.cluster.local 80`;
    const result = await runClient(client('from-two', script, secondNodePlacement(info)));
    expect(result.node).toBe(info.secondNode.name);
    const answer = new RegExp(`Name:\\s+web-one\\.${namespace}\\.svc\\.cluster\\.local\\s+Address:\\s+([0-9.]+)`).exec(result.logs)?.[1];
    expect(answer).toBe(service.spec?.clusterIP);
    const [byIp = '', byService = ''] = result.logs.split('--- service\n');
    expect(byIp.trimEnd().split('\n').at(-1)).toBe(tokens.one);
    expect(byService.trimEnd().split('\n').at(-1)).toBe(tokens.one);
  });

  test('a pod that does not ask for the second node stays off it', async () => {
    const result = await runClient(client('default-placement', 'echo placed', {}));
    expect(result.node).toBe(info.nodeName);
  });
});
