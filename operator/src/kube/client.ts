/**
 * A thin Kubernetes REST client: access.ts supplies the server, credentials and the connection
 * pool (transport.ts), and every request goes through one function so that errors come
 * back as precise messages and each call is counted (ajo_kube_requests_total; the scale
 * benchmark divides it by the number of jobs).
 *
 * client-node's generated API classes are not used: they turn timestamps into Date objects,
 * buffer watch streams line by line behind a 30 s inactivity timer, and make patch content
 * types awkward.
 */
import { GROUP, PLURAL, VERSION } from '../api/ansible-job.js';
import { loadClusterAccess, type ClusterAccess } from './access.js';
import type { OperatorMetrics } from './metrics.js';
import type { KubeResponse } from './transport.js';

export { loadClusterAccess, type ClusterAccess } from './access.js';

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string | undefined,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export class KubeUnreachableError extends Error {
  constructor(server: string, cause: string) {
    super(`cannot reach the Kubernetes API server at ${server}: ${cause}`);
    this.name = 'KubeUnreachableError';
  }
}

export const isNotFound = (error: unknown) => error instanceof KubeApiError && error.status === 404;
export const isConflict = (error: unknown) => error instanceof KubeApiError && error.status === 409;
export const isGone = (error: unknown) => error instanceof KubeApiError && error.status === 410;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Accept header, e.g. to ask for PartialObjectMetadataList (metadata only). */
  accept?: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

export const JSON_MERGE_PATCH = 'application/merge-patch+json';

const RESOURCE_PATTERN = /\/(namespaces\/[^/]+\/)?([a-z]+)(?:\/[^/]+)?(\/[a-z]+)?$/;

/** A low-cardinality label for a request path: the resource plus subresource, e.g. `ansiblejobs/status`. */
export function resourceOf(path: string): string {
  const match = RESOURCE_PATTERN.exec(path.split('?')[0] ?? path);
  if (!match) return 'other';
  return `${match[2]}${match[3] ?? ''}`;
}

/** A socket error's code (ECONNREFUSED, ...), on the error itself (node) or on its cause (fetch). */
function describeCause(error: unknown): string {
  const { code, cause, message } = error as { code?: string; cause?: { code?: string; message?: string }; message: string };
  return code ?? cause?.code ?? cause?.message ?? message;
}

export class KubeClient {
  readonly server: string;

  constructor(
    readonly access: ClusterAccess = loadClusterAccess(),
    private readonly metrics?: OperatorMetrics,
    private readonly defaultTimeoutMs = 30_000,
  ) {
    this.server = access.server;
  }

  /** The same connection, counting its requests in `metrics`. */
  withMetrics(metrics: OperatorMetrics): KubeClient {
    return new KubeClient(this.access, metrics, this.defaultTimeoutMs);
  }

  /** The current context's namespace, or `default`. */
  defaultNamespace(): string {
    return this.access.namespace;
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<KubeResponse> {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const { headers, transport } = await this.access.prepare(url.toString(), method);
    headers.accept = options.accept ?? 'application/json';
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const timeout = timeoutMs === 0 ? undefined : AbortSignal.timeout(timeoutMs);
    const signal = timeout && options.signal ? AbortSignal.any([timeout, options.signal]) : (timeout ?? options.signal);
    const resource = resourceOf(path);
    try {
      const response = await transport(url, {
        method,
        headers,
        ...(signal ? { signal } : {}),
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      this.metrics?.kubeRequests.inc({ verb: method, resource, code: String(response.status) });
      return response;
    } catch (error) {
      this.metrics?.kubeRequests.inc({ verb: method, resource, code: 'error' });
      if (options.signal?.aborted) throw error;
      // Told by our own timer, not by the error's name: an aborted request rejects with the signal's reason.
      if (timeout?.aborted) throw new KubeUnreachableError(this.server, `${method} ${path} timed out`);
      throw new KubeUnreachableError(this.server, describeCause(error));
    }
  }

  private static async errorFrom(method: string, path: string, response: KubeResponse): Promise<KubeApiError> {
    const text = await response.text();
    let status: { message?: string; reason?: string; details?: unknown } = {};
    try {
      status = JSON.parse(text) as typeof status;
    } catch {
      status = { message: text.slice(0, 500) };
    }
    const message = status.message || `${response.status} ${response.statusText}`;
    return new KubeApiError(response.status, status.reason, `${method} ${path}: ${message}`, status.details);
  }

  async request<T = Record<string, unknown>>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await KubeClient.errorFrom(method, path, response);
    const text = await response.text();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  /** A GET whose body is not JSON (e.g. a pod proxy). */
  async requestText(path: string, options: RequestOptions = {}): Promise<string> {
    const response = await this.send('GET', path, options);
    if (!response.ok) throw await KubeClient.errorFrom('GET', path, response);
    return response.text();
  }

  get<T = Record<string, unknown>>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, options);
  }
  async getOrUndefined<T = Record<string, unknown>>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
  create<T = Record<string, unknown>>(path: string, body: unknown) {
    return this.request<T>('POST', path, { body });
  }
  replace<T = Record<string, unknown>>(path: string, body: unknown) {
    return this.request<T>('PUT', path, { body });
  }
  mergePatch<T = Record<string, unknown>>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, { body, contentType: JSON_MERGE_PATCH });
  }
  /** DELETE that treats "already gone" as done. */
  async delete(path: string, body?: unknown): Promise<void> {
    try {
      await this.request('DELETE', path, body === undefined ? {} : { body });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * One watch request: calls onEvent per event until the server closes the stream (normal
   * end: resolves), the signal aborts (resolves), or the request fails (rejects; an ERROR
   * event with code 410 rejects with a KubeApiError status 410).
   */
  async watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const response = await this.send('GET', path, { query: { ...query, watch: 1 }, signal, timeoutMs: 0 });
    if (!response.ok) throw await KubeClient.errorFrom('WATCH', path, response);
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
          if (line === '') continue;
          const event = JSON.parse(line) as WatchEvent;
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; reason?: string; message?: string };
            throw new KubeApiError(status.code ?? 500, status.reason, `watch ${path}: ${status.message ?? 'error event'}`);
          }
          onEvent(event);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
  }
}

const ANSIBLE_JOBS_API = `/apis/${GROUP}/${VERSION}`;

/** Paths of the resources the operator touches. */
export const paths = {
  ansibleJobs: (namespace?: string) =>
    namespace ? `${ANSIBLE_JOBS_API}/namespaces/${namespace}/${PLURAL}` : `${ANSIBLE_JOBS_API}/${PLURAL}`,
  ansibleJob: (namespace: string, name: string) => `${paths.ansibleJobs(namespace)}/${name}`,
  ansibleJobStatus: (namespace: string, name: string) => `${paths.ansibleJob(namespace, name)}/status`,
  pods: (namespace?: string) => (namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods'),
  pod: (namespace: string, name: string) => `/api/v1/namespaces/${namespace}/pods/${name}`,
  podProxy: (namespace: string, name: string, port: number, rest: string) => `/api/v1/namespaces/${namespace}/pods/${name}:${port}/proxy/${rest}`,
  secrets: (namespace: string) => `/api/v1/namespaces/${namespace}/secrets`,
  secret: (namespace: string, name: string) => `/api/v1/namespaces/${namespace}/secrets/${name}`,
  events: (namespace: string) => `/api/v1/namespaces/${namespace}/events`,
  leases: (namespace: string) => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
  lease: (namespace: string, name: string) => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
  /** Any ajo.dev resource by plural (ansiblequeues, ansiblejobtemplates, ...). */
  ajoResources: (plural: string, namespace?: string) =>
    namespace ? `${ANSIBLE_JOBS_API}/namespaces/${namespace}/${plural}` : `${ANSIBLE_JOBS_API}/${plural}`,
  ajoResource: (plural: string, namespace: string, name: string) => `${paths.ajoResources(plural, namespace)}/${name}`,
  ajoResourceStatus: (plural: string, namespace: string, name: string) => `${paths.ajoResource(plural, namespace, name)}/status`,
};
