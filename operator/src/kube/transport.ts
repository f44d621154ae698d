/**
 * How a request reaches the API server: node's own http/https with one keep-alive Agent (the
 * common credentials), or undici's fetch with client-node's dispatcher (its exec and
 * auth-provider plugins, `proxy-url`), loaded only for those.
 *
 * Why not undici everywhere: loading it and its WebAssembly HTTP parser made the idle operator
 * ~20 MB larger than node's C parser does (RSS of a process making one request: 75 MB against
 * 55 MB; docs/bench.md, "The operator without undici"). Compression is not asked for: the
 * API server is near, and inflating lists costs the operator CPU and memory.
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import type { AgentOptions as HttpsAgentOptions } from 'node:https';

/** The parts of a response the client reads. */
export interface KubeResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  text(): Promise<string>;
  /** The body as it arrives, for watches. */
  readonly body: AsyncIterable<Uint8Array>;
}

export interface TransportRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** Sends one request; rejects when no response arrives (with the socket error's `code` where there is one). */
export type Transport = (url: URL, request: TransportRequest) => Promise<KubeResponse>;

/** A transport and the connection pool under it. */
export interface Pool {
  transport: Transport;
  /** Closes the pool's idle connections now and each busy one when its request ends. */
  close(): void;
}

export type TlsOptions = Pick<HttpsAgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;

/** Idle keep-alive connections are closed after this long (busy ones are not timed). */
const IDLE_SOCKET_MS = 30_000;

const http = () => process.getBuiltinModule('node:http');
const https = () => process.getBuiltinModule('node:https');

async function readAll(message: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of message) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function responseOf(message: IncomingMessage): KubeResponse {
  const status = message.statusCode ?? 0;
  return { status, statusText: message.statusMessage ?? '', ok: status >= 200 && status < 300, text: () => readAll(message), body: message };
}

/** One request through `agent`: resolves with the response head, the body left to read. */
export function sendWith(agent: HttpAgent | undefined, url: URL, request: TransportRequest): Promise<KubeResponse> {
  const module = url.protocol === 'https:' ? https() : http();
  return new Promise((resolve, reject) => {
    const outgoing = module.request(url, {
      method: request.method,
      headers: request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      ...(agent ? { agent } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    outgoing.once('response', (message) => resolve(responseOf(message)));
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
}

/** node's http/https with one keep-alive Agent: the transport for `server`. */
export function nodePool(server: string, tls: TlsOptions): Pool {
  const options = { keepAlive: true, timeout: IDLE_SOCKET_MS };
  const agent = server.startsWith('https:') ? new (https().Agent)({ ...options, ...tls }) : new (http().Agent)(options);
  return {
    transport: (url, request) => sendWith(agent, url, request),
    close: () => {
      // A busy socket finishes its request (a watch runs until its server ends it), goes back to
      // the free list and is destroyed there after IDLE_SOCKET_MS, as the Agent does with any.
      for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
    },
  };
}

/** undici's fetch through `dispatcher` (client-node's, for its credential plugins). */
export async function undiciPool(dispatcher: import('undici').Dispatcher): Promise<Pool> {
  const { fetch } = await import('undici');
  return {
    transport: async (url, request) => {
      const response = await fetch(url, { method: request.method, headers: request.headers, dispatcher, ...(request.signal ? { signal: request.signal } : {}), ...(request.body !== undefined ? { body: request.body } : {}) });
      return {
        status: response.status,
        statusText: response.statusText,
        ok: response.ok,
        text: () => response.text(),
        body: (response.body ?? []) as AsyncIterable<Uint8Array>,
      };
    },
    close: () => void dispatcher.close().catch(() => undefined),
  };
}
