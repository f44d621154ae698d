// The node:http transport under the kube client: keep-alive reuse, a pool that lets go of its connections, refused connections by code, bodies as streams.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { nodePool } from '../../../operator/src/kube/transport.js';

let server: Server;
let url: string;
const connections = new Set<Socket>();
const closed: Socket[] = [];

beforeEach(async () => {
  connections.clear();
  closed.length = 0;
  server = createServer((request, response) => {
    if (request.url === '/stream') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"type":"ADDED"}\n');
      setImmediate(() => response.end('{"type":"DELETED"}\n'));
      return;
    }
    response.writeHead(request.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' });
    response.end(`${request.method} ${request.url} ${request.headers['x-probe'] ?? ''}`);
  });
  server.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => closed.push(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('requests on one pool share a kept-alive connection, and close() lets it go', async () => {
  const pool = nodePool(url, {});
  for (const path of ['/a', '/b', '/c']) {
    const response = await pool.transport(new URL(url + path), { method: 'GET', headers: { 'x-probe': 'yes' } });
    expect(response.ok).toBe(true);
    expect(await response.text()).toBe(`GET ${path} yes`);
  }
  expect(connections.size).toBe(1);
  expect(closed).toHaveLength(0);
  const socketClosed = new Promise<void>((resolve) => [...connections][0]!.once('close', () => resolve()));
  pool.close();
  await socketClosed;
  expect(closed).toHaveLength(1);
});

test('a status outside 2xx is a response, not an error, with its body', async () => {
  const pool = nodePool(url, {});
  const response = await pool.transport(new URL(`${url}/missing`), { method: 'DELETE', headers: {}, body: '{}' });
  expect(response.ok).toBe(false);
  expect(response.status).toBe(404);
  expect(response.statusText).toBe('Not Found');
  expect(await response.text()).toBe('DELETE /missing ');
  pool.close();
});

test('the body can be read as it arrives', async () => {
  const pool = nodePool(url, {});
  const response = await pool.transport(new URL(`${url}/stream`), { method: 'GET', headers: {} });
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body) text += decoder.decode(chunk, { stream: true });
  expect(text).toBe('{"type":"ADDED"}\n{"type":"DELETED"}\n');
  pool.close();
});

test('a refused connection rejects with its code', async () => {
  const port = (server.address() as AddressInfo).port;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  const pool = nodePool(url, {});
  await expect(pool.transport(new URL(`http://127.0.0.1:${port}/`), { method: 'GET', headers: {} })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
