// Test plumbing for the self-healing tests: a TCP proxy between a client and a real API server that can freeze connections, black-hole the network or cut every connection, so a failure happens exactly when the test says.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ClusterAccess } from '../../operator/src/kube/access.js';

/**
 * What happens to traffic:
 *  - `open`: bytes flow both ways;
 *  - `refuse`: new connections are reset at once (the server is down or the port closed);
 *  - `blackhole`: new connections are accepted and nothing is ever forwarded either way (a
 *    network partition: requests hang, nothing errors).
 * Connections open when the mode changes keep going; freeze() or cut() act on them.
 */
export type ProxyMode = 'open' | 'refuse' | 'blackhole';

interface Pair {
  client: Socket;
  upstream?: Socket;
  frozen: boolean;
}

export class TcpProxy {
  private mode: ProxyMode = 'open';
  private readonly pairs = new Set<Pair>();
  /** Connections accepted so far (whatever the mode). */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.onConnection(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as AddressInfo).port);
    return proxy;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
  }

  /** Connections currently open through the proxy (frozen ones included). */
  get openConnections(): number {
    return this.pairs.size;
  }

  /**
   * Every open connection stops carrying bytes, both ways, and is never closed by the proxy:
   * the client sees a connection that is up and silent, whatever the server sends or closes.
   */
  freeze(): number {
    let frozen = 0;
    for (const pair of this.pairs) {
      if (pair.frozen) continue;
      pair.frozen = true;
      pair.client.pause();
      pair.upstream?.pause();
      frozen += 1;
    }
    return frozen;
  }

  /** Every open connection is reset, both sides. */
  cut(): void {
    for (const pair of this.pairs) this.drop(pair);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /**
   * `access` with its requests sent through this proxy: same credentials and TLS settings.
   * The API server's certificate must name 127.0.0.1 (both ours and the shared cluster's do).
   */
  access(access: ClusterAccess): ClusterAccess {
    const server = `https://127.0.0.1:${this.port}`;
    return {
      server,
      namespace: access.namespace,
      prepare: (url, method) => access.prepare(url, method),
    };
  }

  private drop(pair: Pair) {
    this.pairs.delete(pair);
    pair.client.resetAndDestroy();
    if (pair.upstream) pair.upstream.resetAndDestroy();
  }

  private onConnection(client: Socket, target: { host: string; port: number }) {
    this.accepted += 1;
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, frozen: this.mode === 'blackhole' };
    this.pairs.add(pair);
    client.on('close', () => {
      if (!pair.frozen) this.drop(pair);
    });
    if (pair.frozen) {
      client.pause();
      return;
    }
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => {
      if (!pair.frozen) this.drop(pair);
    });
    client.on('data', (chunk) => {
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
    client.on('end', () => {
      if (!pair.frozen) upstream.end();
    });
    upstream.on('end', () => {
      if (!pair.frozen) client.end();
    });
  }
}
