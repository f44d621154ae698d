/** The operator's HTTP endpoints: /metrics (Prometheus text), /healthz and /readyz. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from './metrics.js';

export interface ProbeServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Alive: the process serves requests and its loops have not died. */
  healthy: () => boolean;
  /** Ready: a standby is ready; a leader is ready once its caches are synced. */
  ready: () => boolean;
}

export async function startProbeServer(options: ProbeServerOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  // Not `import ... from 'node:http'`: an ES module import of node:http makes Node load every
  // export, its bundled undici among them (~14 MB of the idle operator's RSS; docs/bench.md).
  const server = process.getBuiltinModule('node:http').createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (code: number, type: string, body: string) => {
      response.writeHead(code, { 'content-type': type });
      response.end(body);
    };
    if (request.method !== 'GET') return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => reply(200, options.registry.contentType, text),
        (error: unknown) => reply(500, 'text/plain', `collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    if (path === '/healthz') return options.healthy() ? reply(200, 'text/plain', 'ok\n') : reply(503, 'text/plain', 'unhealthy\n');
    if (path === '/readyz') return options.ready() ? reply(200, 'text/plain', 'ok\n') : reply(503, 'text/plain', 'caches not synced\n');
    return reply(404, 'text/plain', 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return { server, port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
