import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { createTestNamespace, httpGetShellFunction, kubeClients, waitForPodPhase } from './kube.js';
import { clusterTier, describeCluster, describeWithNode } from './tier.js';

describeCluster('cluster tier: API server', () => {
  const { core } = kubeClients();

  test('answers over TLS with its version and serves the default namespace', async () => {
    const { config } = kubeClients();
    expect(config.getCurrentCluster()?.server).toMatch(/^https:\/\//);
    const version = await config.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const namespace = await core.readNamespace({ name: 'default' });
    expect(namespace.status?.phase).toBe('Active');
  });

  test('refuses a request without credentials', async () => {
    const { config } = kubeClients();
    const server = config.getCurrentCluster()?.server ?? '';
    const anonymous = new k8s.KubeConfig();
    anonymous.loadFromOptions({
      clusters: [{ name: 'c', server, caData: config.getCurrentCluster()?.caData, skipTLSVerify: false }],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'nobody' }],
      currentContext: 'x',
    });
    await expect(anonymous.makeApiClient(k8s.CoreV1Api).listNamespace()).rejects.toThrow(/401|403/);
  });
});

describeWithNode('cluster tier: a node that runs pods', () => {
  test('the node is Ready', async () => {
    const { items } = await kubeClients().core.listNode();
    const ready = items.filter((node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    expect(ready.length).toBeGreaterThan(0);
  });

  const { core } = kubeClients();
  const image = clusterTier().testImage;
  let namespace = '';

  beforeAll(async () => {
    namespace = await createTestNamespace(core, 'ajo-smoke');
  });

  afterAll(async () => {
    if (namespace !== '') await core.deleteNamespace({ name: namespace });
  });

  const pod = (name: string, spec: Omit<k8s.V1PodSpec, 'restartPolicy'>): k8s.V1Pod => ({
    metadata: { name, namespace },
    spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, ...spec },
  });

  test('a pod runs a command in a locally built image, succeeds, and its logs read back, with a ConfigMap volume seen inside', async () => {
    const token = randomBytes(8).toString('hex');
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'greeting' }, data: { 'greeting.txt': `hello ${token}` } } });
    await core.createNamespacedPod({
      namespace,
      body: pod('reader', {
        containers: [
          {
            name: 'main',
            image,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'echo "uid=$(id -u) config=$(cat /config/greeting.txt)"'],
            volumeMounts: [{ name: 'config', mountPath: '/config', readOnly: true }],
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'greeting' } }],
      }),
    });

    const done = await waitForPodPhase(core, namespace, 'reader', ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    const logs = await core.readNamespacedPodLog({ name: 'reader', namespace, container: 'main' });
    expect(logs).toBe(`uid=0 config=hello ${token}\n`);
  });

  test('an emptyDir shared by two containers carries a file from one to the other', async () => {
    const token = randomBytes(8).toString('hex');
    await core.createNamespacedPod({
      namespace,
      body: pod('shared', {
        containers: [
          {
            name: 'writer',
            image,
            imagePullPolicy: 'IfNotPresent',
            // Written under another name and renamed, so the reader never sees half a file.
            command: ['sh', '-c', `echo ${token} > /shared/.note && mv /shared/.note /shared/note`],
            volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
          },
          {
            name: 'reader',
            image,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'for i in $(seq 1 300); do [ -f /shared/note ] && exec cat /shared/note; sleep 0.1; done; echo "no note after 30 s" >&2; exit 1'],
            volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
          },
        ],
        volumes: [{ name: 'shared', emptyDir: {} }],
      }),
    });

    const done = await waitForPodPhase(core, namespace, 'shared', ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    const logs = await core.readNamespacedPodLog({ name: 'shared', namespace, container: 'reader' });
    expect(logs).toBe(`${token}\n`);
  });

  test('a Service routes a request from one pod to another (kube-proxy)', async () => {
    const token = randomBytes(8).toString('hex');
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'web', namespace, labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'httpd', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', `mkdir /www && echo ${token} > /www/index.html && exec httpd -f -p 8080 -h /www`] }],
        },
      },
    });
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    await waitForPodPhase(core, namespace, 'web', ['Running']);
    await core.createNamespacedPod({
      namespace,
      body: pod('client', {
        containers: [
          {
            name: 'main',
            image,
            imagePullPolicy: 'IfNotPresent',
            // WEB_SERVICE_HOST is the Service's IP; the page is the log's last line.
            command: ['sh', '-c', `${httpGetShellFunction(30)}get "$WEB_SERVICE_HOST" 80`],
          },
        ],
      }),
    });
    const done = await waitForPodPhase(core, namespace, 'client', ['Succeeded', 'Failed']);
    const logs = await core.readNamespacedPodLog({ name: 'client', namespace, container: 'main' });
    // The logs ride along, so a failure shows what the pod saw.
    expect(`${done.status?.phase}\n${logs}`).toMatch(/^Succeeded\nattempt 1\n/);
    expect(logs.trimEnd().split('\n').at(-1)).toBe(token);
  });

  test('cluster DNS: a pod resolves the API server and a new Service by name, its short name through the search path, and reaches it (CoreDNS)', async () => {
    const token = randomBytes(8).toString('hex');
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'named-web', namespace, labels: { app: 'named-web' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'httpd', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', `mkdir /www && echo ${token} > /www/index.html && exec httpd -f -p 8080 -h /www`] }],
        },
      },
    });
    const service = await core.createNamespacedService({ namespace, body: { metadata: { name: 'named-web' }, spec: { selector: { app: 'named-web' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    const apiServer = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    await waitForPodPhase(core, namespace, 'named-web', ['Running']);
    await core.createNamespacedPod({
      namespace,
      body: pod('resolver', {
        containers: [
          {
            name: 'main',
            image,
            imagePullPolicy: 'IfNotPresent',
            // nslookup asks the pod's nameserver (the cluster DNS the kubelet wrote into
            // resolv.conf). For the short name it walks the search path, printing the name
            // that answered (and exiting 1 for the search domains that did not). Static
            // httpGetShellFunction's get fetches the page from that address.
            command: [
              'sh',
              '-c',
              `cat /etc/resolv.conf && nslookup -type=a kubernetes.default.svc.cluster.local && nslookup -type=a named-web.${namespace}.svc.cluster.local && ` +
                `short="$(nslookup -type=a named-web | awk '/^Name:/ { name = $2 } /^Address: / { print name, $2 }')"; echo "short name: $short"; ` +
                `${httpGetShellFunction(30)}get "\${short#* }" 80`,
            ],
          },
        ],
      }),
    });
    const done = await waitForPodPhase(core, namespace, 'resolver', ['Succeeded', 'Failed']);
    const logs = await core.readNamespacedPodLog({ name: 'resolver', namespace, container: 'main' });
    // The logs ride along, so a failure shows what the pod saw.
    expect(`${done.status?.phase}\n${logs}`).toMatch(/^Succeeded\n/);
    expect(logs).toMatch(/^nameserver 10\.96\.0\.10$/m);
    expect(logs).toMatch(new RegExp(`^search ${namespace}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`, 'm'));
    const answer = (name: string) => new RegExp(`Name:\\s+${name.replaceAll('.', '\\.')}\\s+Address:\\s+([0-9.]+)`).exec(logs)?.[1];
    expect(answer('kubernetes.default.svc.cluster.local')).toBe(apiServer.spec?.clusterIP);
    expect(answer(`named-web.${namespace}.svc.cluster.local`)).toBe(service.spec?.clusterIP);
    expect(logs).toContain(`short name: named-web.${namespace}.svc.cluster.local ${service.spec?.clusterIP}\n`);
    expect(logs.trimEnd().split('\n').at(-1)).toBe(token);
  });
});
