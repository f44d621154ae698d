import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadClusterAccess } from '../../../operator/src/kube/access.js';

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
