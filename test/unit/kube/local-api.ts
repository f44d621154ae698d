// A stand-in Kubernetes API server for unit tests of the client and what sits on it: a request handler on a free local port, and a KubeClient that talks to it.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient, type ClusterAccess } from '../../../operator/src/kube/client.js';
import { nodePool } from '../../../operator/src/kube/transport.js';

export interface LocalApi {
  client: KubeClient;
  /** Stops listening and drops open connections: later requests find nobody there. */
  stop: () => Promise<void>;
  /** stop(), and the client's connection pool is closed too. */
  close: () => Promise<void>;
}

export async function localApi(handle: RequestListener): Promise<LocalApi> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = nodePool(url, {});
  const access: ClusterAccess = {
    server: url,
    namespace: 'default',
    prepare: async () => ({ headers: {}, transport: pool.transport }),
  };
  const stop = async () => {
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    client: new KubeClient(access),
    stop,
    close: async () => {
      await stop();
      pool.close();
    },
  };
}
