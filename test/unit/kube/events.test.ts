// The Event recorder against a stand-in API server on a local port: the Event it posts, its names, and that a refusal is logged, not thrown.
import { EVENT_MESSAGE_LIMIT, EventRecorder } from '../../../operator/src/kube/events.js';
import { createLogger } from '../../../operator/src/kube/log.js';
import { localApi, type LocalApi } from './local-api.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');

interface Received {
  method: string;
  url: string;
  body: any;
}

let api: LocalApi;
let received: Received[];
let status: number;

beforeEach(async () => {
  received = [];
  status = 201;
  api = await localApi((request, response) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', url: request.url ?? '', body: JSON.parse(text) });
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(status < 300 ? text : JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'events is forbidden' }));
    });
  });
});
afterEach(() => api.close());

const job = { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', namespace: 'ns', name: 'demo', uid: 'uid-1', resourceVersion: '7' };

test('posts a core/v1 Event about the subject, as the reporting instance, with the message capped', async () => {
  const recorder = new EventRecorder({ client: api.client, logger: createLogger({ write: () => undefined }), instance: 'op-1', now: () => NOW });
  await recorder.record(job, { type: 'Warning', reason: 'Interrupted', message: 'x'.repeat(EVENT_MESSAGE_LIMIT + 10), action: 'Interrupted' });
  expect(received).toHaveLength(1);
  const [{ method, url, body }] = received as [Received];
  expect(method).toBe('POST');
  expect(url).toBe('/api/v1/namespaces/ns/events');
  expect(body).toEqual({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: expect.stringMatching(/^demo\.[0-9a-f]+$/), namespace: 'ns' },
    involvedObject: job,
    type: 'Warning',
    reason: 'Interrupted',
    message: 'x'.repeat(EVENT_MESSAGE_LIMIT),
    source: { component: 'ajo-operator' },
    reportingComponent: 'ajo.dev/operator',
    reportingInstance: 'op-1',
    action: 'Interrupted',
    firstTimestamp: '2026-11-23T12:00:00.000Z',
    lastTimestamp: '2026-11-23T12:00:00.000Z',
    count: 1,
  });
});

test('names: the subject, then a hex time; Events in the same millisecond differ; long subjects fit 253 characters', async () => {
  const recorder = new EventRecorder({ client: api.client, logger: createLogger({ write: () => undefined }), now: () => NOW });
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'ns', name: 'l'.repeat(253) };
  await recorder.record(job, { type: 'Normal', reason: 'Launched', message: 'a', action: 'Launched' });
  await recorder.record(job, { type: 'Normal', reason: 'Running', message: 'b', action: 'Running' });
  await recorder.record(lease, { type: 'Normal', reason: 'CleanupSwept', message: 'c', action: 'Cleanup' });
  const names = received.map(({ body }) => body.metadata.name as string);
  expect(new Set(names).size).toBe(3);
  expect(BigInt(`0x${names[0]!.slice('demo.'.length)}`)).toBe(BigInt(NOW) * 1_000_000n);
  expect(names[2]!.length).toBeLessThanOrEqual(253);
  // Without a uid the subject is still named; without an instance the component reports.
  expect(received[2]!.body.involvedObject).toEqual({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'ns', name: lease.name });
  expect(received[2]!.body.reportingInstance).toBe('ajo-operator');
});

test('a refused or unreachable API server is logged, never thrown', async () => {
  const lines: string[] = [];
  const recorder = new EventRecorder({ client: api.client, logger: createLogger({ write: (line) => lines.push(line) }), now: () => NOW });
  status = 403;
  await expect(recorder.record(job, { type: 'Normal', reason: 'Launched', message: 'a', action: 'Launched' })).resolves.toBeUndefined();
  await api.stop();
  await expect(recorder.record(job, { type: 'Normal', reason: 'Running', message: 'b', action: 'Running' })).resolves.toBeUndefined();
  const logged = lines.map((line) => JSON.parse(line));
  expect(logged).toEqual([
    expect.objectContaining({ level: 'warn', msg: 'could not record an Event', object: 'AnsibleJob ns/demo', reason: 'Launched', error: expect.stringContaining('events is forbidden') }),
    expect.objectContaining({ level: 'warn', msg: 'could not record an Event', object: 'AnsibleJob ns/demo', reason: 'Running', error: expect.stringContaining('cannot reach the Kubernetes API server') }),
  ]);
});
