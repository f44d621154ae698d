// The informer backs off when watches end at once without an event, as behind a proxy that cuts every stream, and resets on the first event.
import { Informer } from '../../../operator/src/kube/informer.js';
import { createLogger } from '../../../operator/src/kube/log.js';
import { waitFor } from '../../helpers/wait.js';
import { localApi, type LocalApi } from './local-api.js';

interface LogLine {
  msg: string;
  emptyWatches?: number;
  retryInMs?: number;
}

describe('Informer: watches that end without events', () => {
  let api: LocalApi | undefined;
  let informer: Informer | undefined;
  afterEach(async () => {
    await informer?.stop();
    await api?.close();
  });

  test('a run of empty watches waits growing delays (capped), and one event resets the run', async () => {
    let watches = 0;
    api = await localApi((request, response) => {
      const url = new URL(request.url ?? '/', 'http://local');
      response.setHeader('content-type', 'application/json');
      if (url.searchParams.get('watch') !== '1') {
        response.end(JSON.stringify({ metadata: { resourceVersion: '10' }, items: [] }));
        return;
      }
      watches += 1;
      // The seventh watch delivers one event; every other one ends at once, empty.
      if (watches === 7) response.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', namespace: 'ns', resourceVersion: '11' } } })}\n`);
      response.end();
    });
    const lines: LogLine[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as LogLine) });
    informer = new Informer({ client: api.client, path: '/apis/x/v1/namespaces/ns/things', resource: 'things', logger, onEvent: () => undefined, backoff: { initialMs: 1, maxMs: 4 } });
    informer.start();
    await waitFor('ten watches', async () => (watches >= 10 ? true : undefined));
    await informer.stop();

    const waits = lines.filter((line) => line.msg === 'watch ended without events; waiting before the next');
    // Watches 1-6 empty: waits after the 2nd to the 6th (the first empty end is a quiet timeout).
    // Watch 7 delivers: no wait. Watches 8, 9: a new run, again from the 2nd.
    expect(waits.slice(0, 6).map((line) => line.emptyWatches)).toEqual([2, 3, 4, 5, 6, 2]);
    const delays = waits.slice(0, 5).map((line) => line.retryInMs!);
    // 1, 2, 4, 4, 4 ms with ±20% jitter (rounded): growing, then held at the cap.
    expect(delays[1]! > delays[0]! && delays[2]! > delays[1]!).toBe(true);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(5);
    expect(informer.get('ns/a')).toBeDefined();
  });
});
