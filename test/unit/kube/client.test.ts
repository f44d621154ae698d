// The Kubernetes client's paths and how it reports a request that fails, against a stand-in server on a local port.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KubeUnreachableError, paths } from '../../../operator/src/kube/client.js';
import { localApi, type LocalApi } from './local-api.js';

let api: LocalApi;
let handle: (request: IncomingMessage, response: ServerResponse) => void = () => undefined;

beforeEach(async () => {
  api = await localApi((request, response) => handle(request, response));
});
afterEach(() => api.close());

test('AnsibleJob paths come from the API group, version and plural', () => {
  expect(paths.ansibleJobs()).toBe('/apis/ajo.dev/v1alpha1/ansiblejobs');
  expect(paths.ansibleJobs('ns')).toBe('/apis/ajo.dev/v1alpha1/namespaces/ns/ansiblejobs');
  expect(paths.ansibleJob('ns', 'demo')).toBe('/apis/ajo.dev/v1alpha1/namespaces/ns/ansiblejobs/demo');
  expect(paths.ansibleJobStatus('ns', 'demo')).toBe('/apis/ajo.dev/v1alpha1/namespaces/ns/ansiblejobs/demo/status');
});

test('a server that never answers: the request times out with a message that says so', async () => {
  handle = () => undefined;
  const failure = api.client.get('/api/v1/namespaces/ns/pods', { timeoutMs: 50 });
  await expect(failure).rejects.toThrow(KubeUnreachableError);
  await expect(failure).rejects.toThrow(/^cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+: GET \/api\/v1\/namespaces\/ns\/pods timed out$/);
});

test('a watch has no timeout: a dropped connection is reported as such, and the caller aborting is not an error of ours', async () => {
  handle = (request) => request.socket.destroy();
  const stop = new AbortController();
  const dropped = api.client.watch('/api/v1/pods', {}, () => undefined, stop.signal);
  await expect(dropped).rejects.toThrow(KubeUnreachableError);
  await expect(dropped).rejects.not.toThrow(/timed out/);

  let answered!: () => void;
  const asked = new Promise<void>((resolve) => (answered = resolve));
  handle = () => answered();
  const aborted = api.client.get('/api/v1/pods', { signal: stop.signal });
  await asked;
  stop.abort();
  await expect(aborted).rejects.not.toThrow(KubeUnreachableError);
});
