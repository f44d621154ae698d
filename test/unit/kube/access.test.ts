import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { inClusterAccess, loadClusterAccess } from '../../../operator/src/kube/access.js';
import { KubeClient, KubeUnreachableError } from '../../../operator/src/kube/client.js';

// Each test writes real kubeconfig files; access.ts reads them as kubectl would.
let dir: string;
const savedKubeconfig = process.env.KUBECONFIG;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ajo-access-'));
  delete process.env.KUBECONFIG;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = savedKubeconfig;
});

function kubeconfig(name: string, body: Record<string, unknown>): string {
  const file = path.join(dir, name);
  writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'Config', ...body }));
  return file;
}

const cluster = (name: string, server = `https://${name}.example:6443`) => ({ name, cluster: { server: `${server}/` } });
const context = (name: string, clusterName: string, user: string, namespace?: string) => ({ name, context: { cluster: clusterName, user, ...(namespace && { namespace }) } });
const authorizationOf = async (access: ReturnType<typeof loadClusterAccess>) => (await access.prepare(`${access.server}/version`, 'GET')).headers.authorization;

test('a bearer token user: the server without its trailing slash, the context namespace, the token on every request', async () => {
  const file = kubeconfig('config', {
    'current-context': 'main',
    clusters: [cluster('a')],
    users: [{ name: 'u', user: { token: 'secret-token' } }],
    contexts: [context('main', 'a', 'u', 'jobs')],
  });
  const access = loadClusterAccess(file);
  expect(access.server).toBe('https://a.example:6443');
  expect(access.namespace).toBe('jobs');
  expect(await authorizationOf(access)).toBe('Bearer secret-token');
});

test('a token file relative to its kubeconfig is read (and re-read), basic auth is encoded', async () => {
  writeFileSync(path.join(dir, 'token'), 'from-file\n');
  const withFile = kubeconfig('one', {
    'current-context': 'c',
    clusters: [cluster('a')],
    users: [{ name: 'u', user: { tokenFile: 'token' } }],
    contexts: [context('c', 'a', 'u')],
  });
  const access = loadClusterAccess(withFile);
  expect(access.namespace).toBe('default');
  expect(await authorizationOf(access)).toBe('Bearer from-file');

  const withBasic = kubeconfig('two', {
    'current-context': 'c',
    clusters: [cluster('a')],
    users: [{ name: 'u', user: { username: 'admin', password: 'pw' } }],
    contexts: [context('c', 'a', 'u')],
  });
  expect(await authorizationOf(loadClusterAccess(withBasic))).toBe(`Basic ${Buffer.from('admin:pw').toString('base64')}`);
});

test('KUBECONFIG lists files: merged as kubectl does, the first definition of a name wins', async () => {
  const first = kubeconfig('first', { 'current-context': 'second-ctx', users: [{ name: 'u', user: { token: 'first-wins' } }] });
  const second = kubeconfig('second', {
    'current-context': 'ignored',
    clusters: [cluster('b')],
    users: [{ name: 'u', user: { token: 'shadowed' } }],
    contexts: [context('second-ctx', 'b', 'u', 'ns-b')],
  });
  process.env.KUBECONFIG = [first, path.join(dir, 'missing'), second].join(path.delimiter);
  const access = loadClusterAccess();
  expect(access.server).toBe('https://b.example:6443');
  expect(access.namespace).toBe('ns-b');
  expect(await authorizationOf(access)).toBe('Bearer first-wins');
});

test('another identity keeps the server and CA and uses only the token given', async () => {
  const file = kubeconfig('config', {
    'current-context': 'c',
    clusters: [cluster('a')],
    users: [{ name: 'u', user: { token: 'admin' } }],
    contexts: [context('c', 'a', 'u')],
  });
  const access = loadClusterAccess(file, { token: 'service-account', namespace: 'team' });
  expect(access.server).toBe('https://a.example:6443');
  expect(access.namespace).toBe('team');
  expect(await authorizationOf(access)).toBe('Bearer service-account');
});

test('an exec user gets its credentials from the plugin, through client-node, on first use', async () => {
  const plugin = path.join(dir, 'credential-plugin');
  writeFileSync(
    plugin,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`,
  );
  chmodSync(plugin, 0o755);
  const file = kubeconfig('config', {
    'current-context': 'c',
    clusters: [cluster('a')],
    users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } } }],
    contexts: [context('c', 'a', 'u')],
  });
  const access = loadClusterAccess(file);
  expect(access.server).toBe('https://a.example:6443');
  expect(await authorizationOf(access)).toBe('Bearer from-plugin');
});

test.each([
  ['no current-context', { clusters: [cluster('a')] }, /cannot load kubeconfig from .*config: it has no current-context/],
  ['an unknown context', { 'current-context': 'x', contexts: [] }, /current-context "x" is not among its contexts/],
  ['an unknown cluster', { 'current-context': 'c', contexts: [context('c', 'nope', 'u')] }, /context "c" names cluster "nope", which it does not define/],
  ['an unknown user', { 'current-context': 'c', clusters: [cluster('a')], contexts: [context('c', 'a', 'who')] }, /context "c" names user "who", which it does not define/],
  ['a cluster without a server', { 'current-context': 'c', clusters: [{ name: 'a', cluster: {} }] }, /not a valid kubeconfig: clusters\.0\.cluster\.server/],
  [
    'an unreadable client certificate',
    { 'current-context': 'c', clusters: [cluster('a')], users: [{ name: 'u', user: { 'client-certificate': 'missing.crt' } }], contexts: [context('c', 'a', 'u')] },
    /ENOENT.*missing\.crt/,
  ],
] as [string, Record<string, unknown>, RegExp][])('a kubeconfig with %s is refused with a precise message', (_what, body, message) => {
  const file = kubeconfig('config', body);
  expect(() => loadClusterAccess(file)).toThrow(message);
});

test('a missing kubeconfig file named explicitly is an error that names it', () => {
  expect(() => loadClusterAccess(path.join(dir, 'absent'))).toThrow(/cannot load kubeconfig from .*absent: cannot read/);
});

/** Starts `server` on a free local port and returns the port. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

/** A stand-in API server that answers every request with `{}` and keeps the request headers. */
function apiServer(received: IncomingHttpHeaders[], options?: { key: Buffer; cert: Buffer }): Server {
  const answer = (request: { headers: IncomingHttpHeaders }, response: { writeHead: (code: number, headers: Record<string, string>) => void; end: (body: string) => void }) => {
    received.push(request.headers);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  };
  return options ? createTlsServer(options, answer) : createServer(answer);
}

test('through a proxy-url, an identity override still replaces the kubeconfig user: its token reaches the API server via the proxy', async () => {
  const received: IncomingHttpHeaders[] = [];
  const api = apiServer(received);
  const tunnels: string[] = [];
  // An HTTP CONNECT proxy, as kubectl's proxy-url expects.
  const proxy = createServer();
  proxy.on('connect', (request, client, head) => {
    tunnels.push(request.url ?? '');
    const [host, port] = (request.url ?? '').split(':');
    const upstream = connectTcp(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const apiPort = await listen(api);
  const proxyPort = await listen(proxy);
  try {
    const file = kubeconfig('config', {
      'current-context': 'c',
      clusters: [{ name: 'a', cluster: { server: `http://127.0.0.1:${apiPort}`, 'proxy-url': `http://127.0.0.1:${proxyPort}` } }],
      users: [{ name: 'u', user: { token: 'admin' } }],
      contexts: [context('c', 'a', 'u', 'jobs')],
    });
    expect(await authorizationOf(loadClusterAccess(file))).toBe('Bearer admin');

    const access = loadClusterAccess(file, { token: 'service-account', namespace: 'team' });
    expect(access.namespace).toBe('team');
    expect(await authorizationOf(access)).toBe('Bearer service-account');
    await new KubeClient(access).get('/version');
    expect(received.map((headers) => headers.authorization)).toEqual(['Bearer service-account']);
    expect(tunnels).toEqual([`127.0.0.1:${apiPort}`]);
  } finally {
    proxy.closeAllConnections();
    await Promise.all([close(api), close(proxy)]);
  }
});

describe("the pod's service account", () => {
  /** A self-signed certificate for 127.0.0.1, made by openssl. */
  const certificate = (name: string) => {
    const key = path.join(dir, `${name}.key`);
    const cert = path.join(dir, `${name}.crt`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  };
  const serviceAccount = (files: Record<string, string | Buffer>) => {
    const sa = path.join(dir, 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(sa, name), content);
    return sa;
  };

  test('the server from the environment, the namespace and token from the files, TLS checked against its ca.crt', async () => {
    const tls = certificate('api');
    const received: IncomingHttpHeaders[] = [];
    const api = apiServer(received, tls);
    const port = await listen(api);
    try {
      const sa = serviceAccount({ 'ca.crt': tls.cert, token: 'sa-token\n', namespace: 'jobs\n' });
      const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) };
      const access = inClusterAccess(sa, env);
      expect(access.server).toBe(`https://127.0.0.1:${port}`);
      expect(access.namespace).toBe('jobs');
      await new KubeClient(access).get('/version');
      expect(received.map((headers) => headers.authorization)).toEqual(['Bearer sa-token']);

      const overridden = inClusterAccess(sa, env, { token: 'other', namespace: 'team' });
      expect(overridden.namespace).toBe('team');
      await new KubeClient(overridden).get('/version');
      expect(received.map((headers) => headers.authorization)).toEqual(['Bearer sa-token', 'Bearer other']);

      // Another CA: the server's certificate is refused, so ca.crt is what TLS trusts.
      const stranger = serviceAccount({ 'ca.crt': certificate('stranger').cert });
      await expect(new KubeClient(inClusterAccess(stranger, env)).get('/version')).rejects.toThrow(KubeUnreachableError);
      expect(received).toHaveLength(2);
    } finally {
      await close(api);
    }
  });

  test('no namespace file means default, an IPv6 host is bracketed, a missing ca.crt or host is an error', () => {
    const sa = serviceAccount({ 'ca.crt': 'not read until a connection is made', token: 't' });
    const access = inClusterAccess(sa, { KUBERNETES_SERVICE_HOST: 'fd00::1' });
    expect(access.server).toBe('https://[fd00::1]:443');
    expect(access.namespace).toBe('default');
    expect(() => inClusterAccess(path.join(dir, 'absent'), { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toThrow(/ENOENT.*ca\.crt/);
    expect(() => inClusterAccess(sa, {})).toThrow('KUBERNETES_SERVICE_HOST is not set');
  });
});
