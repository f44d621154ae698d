// listFromWatchCache: the first page of a list asks for resourceVersion=0, continued pages and the list after a 410 do not.
import { Informer } from '../../../operator/src/kube/informer.js';
import { createLogger } from '../../../operator/src/kube/log.js';
import { waitFor } from '../../helpers/wait.js';
import { localApi, type LocalApi } from './local-api.js';

interface ListRequest {
  resourceVersion: string | null;
  continue: string | null;
  labelSelector: string | null;
}

describe('Informer: lists from the watch cache', () => {
  let api: LocalApi | undefined;
  let informer: Informer | undefined;
  afterEach(async () => {
    await informer?.stop();
    await api?.close();
  });

  async function run(listFromWatchCache: boolean | undefined): Promise<ListRequest[]> {
    const lists: ListRequest[] = [];
    let watches = 0;
    api = await localApi((request, response) => {
      const url = new URL(request.url ?? '/', 'http://local');
      response.setHeader('content-type', 'application/json');
      if (url.searchParams.get('watch') !== '1') {
        lists.push({ resourceVersion: url.searchParams.get('resourceVersion'), continue: url.searchParams.get('continue'), labelSelector: url.searchParams.get('labelSelector') });
        // Two pages, as etcd answers a paged list (a watch cache would answer in one).
        const second = url.searchParams.get('continue') === 'page-2';
        const item = { metadata: { name: second ? 'b' : 'a', namespace: 'ns', resourceVersion: '10' } };
        response.end(JSON.stringify({ metadata: { resourceVersion: '10', continue: second ? '' : 'page-2' }, items: [item] }));
        return;
      }
      watches += 1;
      // The first watch finds its version expired: the informer must relist.
      if (watches === 1) {
        response.statusCode = 410;
        response.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
        return;
      }
      response.end();
    });
    const logger = createLogger({ level: 'error', write: () => undefined });
    informer = new Informer({
      client: api.client,
      path: '/apis/x/v1/namespaces/ns/things',
      resource: 'things',
      labelSelector: 'ajo.dev/schedule',
      ...(listFromWatchCache === undefined ? {} : { listFromWatchCache }),
      logger,
      onEvent: () => undefined,
      backoff: { initialMs: 1, maxMs: 4 },
    });
    informer.start();
    await waitFor('the list after the 410', async () => (lists.length >= 4 ? true : undefined));
    await informer.stop();
    expect(informer.list().map((object) => (object.metadata as { name: string }).name).sort()).toEqual(['a', 'b']);
    return lists.slice(0, 4);
  }

  test('with it: the first page from the cache (resourceVersion=0), its continuation without a version, and after a 410 a current list', async () => {
    expect(await run(true)).toEqual([
      { resourceVersion: '0', continue: null, labelSelector: 'ajo.dev/schedule' },
      { resourceVersion: null, continue: 'page-2', labelSelector: 'ajo.dev/schedule' },
      { resourceVersion: null, continue: null, labelSelector: 'ajo.dev/schedule' },
      { resourceVersion: null, continue: 'page-2', labelSelector: 'ajo.dev/schedule' },
    ]);
  });

  test('without it: every list is current (no resourceVersion)', async () => {
    expect((await run(undefined)).map((list) => list.resourceVersion)).toEqual([null, null, null, null]);
  });
});
