// The informer's transform: every object, from a list page, a watch event or the controller's own write, is cached and reported in its transformed form.
import type { ServerResponse } from 'node:http';
import { Informer } from '../../../operator/src/kube/informer.js';
import { silentLogger } from '../../../operator/src/kube/log.js';
import { waitFor } from '../../helpers/wait.js';
import { localApi, type LocalApi } from './local-api.js';

type JsonRecord = Record<string, unknown>;

const object = (name: string, resourceVersion: string): JsonRecord => ({
  metadata: { name, namespace: 'ns', resourceVersion, managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }] },
  spec: { big: 'x'.repeat(1024) },
});

/** Drops managedFields and spec.big, and marks the object so a test sees it went through. */
function transform(raw: JsonRecord): JsonRecord {
  const { managedFields: _managedFields, ...metadata } = raw.metadata as JsonRecord;
  return { metadata, shaped: true };
}

describe('Informer transform', () => {
  let api: LocalApi | undefined;
  let informer: Informer | undefined;
  afterEach(async () => {
    await informer?.stop();
    await api?.close();
  });

  test('list items, watch events and update() are cached transformed, and onEvent sees the cached form', async () => {
    const watches: ServerResponse[] = [];
    api = await localApi((request, response) => {
      const url = new URL(request.url ?? '/', 'http://local');
      response.setHeader('content-type', 'application/json');
      if (url.searchParams.get('watch') !== '1') {
        response.end(JSON.stringify({ metadata: { resourceVersion: '10' }, items: [object('a', '5'), object('b', '6')] }));
        return;
      }
      // One event, then the stream stays open until the informer stops.
      response.write(`${JSON.stringify({ type: 'ADDED', object: object('c', '11') })}\n`);
      watches.push(response);
    });
    const seen: JsonRecord[] = [];
    informer = new Informer({ client: api.client, path: '/apis/x/v1/namespaces/ns/things', resource: 'things', logger: silentLogger, transform, onEvent: (_type, cached) => seen.push(cached) });
    informer.start();
    await informer.waitForSync();
    await waitFor('the watched object cached', async () => informer?.get('ns/c'));

    for (const key of ['ns/a', 'ns/b', 'ns/c']) expect(informer.get(key)).toEqual({ metadata: expect.not.objectContaining({ managedFields: expect.anything() }), shaped: true });
    expect(seen).toHaveLength(3);
    for (const cached of seen) expect(cached).toEqual(expect.objectContaining({ shaped: true }));

    informer.update(object('a', '12'));
    expect(informer.get('ns/a')).toEqual({ metadata: { name: 'a', namespace: 'ns', resourceVersion: '12' }, shaped: true });
    for (const response of watches) response.end();
  });
});
