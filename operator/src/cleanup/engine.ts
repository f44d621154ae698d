// Finding and connecting to a container engine through the Docker Engine API:
// Docker's own socket or Podman's Docker-compatible service. Which endpoint
// to try depends on the executable ansible-runner would have run; which
// engine actually answered is read from /version, because the removal
// semantics differ (see images.ts).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

// dockerode (and the ssh2 stack under it) is loaded only when an engine is used: image
// cleanup is opt-in, and the operator should not carry it in memory otherwise.
import type Docker from 'dockerode';
import * as z from 'zod';
import { importPeer } from '../protocol/optional-peer.js';

export type Executable = 'docker' | 'podman';
export type EngineKind = 'docker' | 'podman';

export type EndpointSource = 'flag' | 'AJO_ENGINE_HOST' | 'DOCKER_HOST' | 'CONTAINER_HOST' | 'default socket';

export interface EngineEndpoint {
  url: string;
  source: EndpointSource;
}

export interface Engine {
  kind: EngineKind;
  endpoint: EngineEndpoint;
  /** Engine version: Docker's Engine version or Podman's. */
  version: string;
  /** Docker Engine API version the engine speaks (Podman's compat layer too). */
  apiVersion: string;
  api: Docker;
}

export class EngineUnreachableError extends Error {
  override name = 'EngineUnreachableError';
}

export class EngineConfigError extends Error {
  override name = 'EngineConfigError';
}

/** The sockets the docker / podman CLIs use when nothing is configured. */
export function defaultSockets(executable: Executable, env: NodeJS.ProcessEnv, uid: number | undefined): string[] {
  if (executable === 'docker') return ['/var/run/docker.sock', '/run/docker.sock'];
  if (uid === 0) return ['/run/podman/podman.sock'];
  const runtimeDirs = [env.XDG_RUNTIME_DIR, uid === undefined ? undefined : `/run/user/${uid}`].filter((d): d is string => !!d);
  return [...new Set(runtimeDirs.map((d) => path.join(d, 'podman', 'podman.sock'))), '/run/podman/podman.sock'];
}

export interface ResolveEndpointOptions {
  /** --engine-host */
  explicit?: string | undefined;
  env?: NodeJS.ProcessEnv;
  uid?: number | undefined;
  socketExists?: (socketPath: string) => boolean;
}

/**
 * Precedence: --engine-host, AJO_ENGINE_HOST, then the executable's own
 * variable (DOCKER_HOST for docker, CONTAINER_HOST for podman), then the first
 * existing default socket. With nothing found the first default is returned,
 * so the connection error names the path that was expected.
 */
export function resolveEngineEndpoint(executable: Executable, options: ResolveEndpointOptions = {}): EngineEndpoint {
  const env = options.env ?? process.env;
  const uid = 'uid' in options ? options.uid : process.getuid?.();
  const socketExists = options.socketExists ?? existsSync;
  if (options.explicit) return { url: options.explicit, source: 'flag' };
  if (env.AJO_ENGINE_HOST) return { url: env.AJO_ENGINE_HOST, source: 'AJO_ENGINE_HOST' };
  const hostVariable = executable === 'docker' ? 'DOCKER_HOST' : 'CONTAINER_HOST';
  const fromEnv = env[hostVariable];
  if (fromEnv) return { url: fromEnv, source: hostVariable };
  const sockets = defaultSockets(executable, env, uid);
  const found = sockets.find((s) => socketExists(s)) ?? sockets[0]!;
  return { url: `unix://${found}`, source: 'default socket' };
}

function tlsMaterial(env: NodeJS.ProcessEnv): Pick<Docker.DockerOptions, 'ca' | 'cert' | 'key'> | undefined {
  const certPath = env.DOCKER_CERT_PATH;
  if (!certPath) return undefined;
  const read = (name: string) => readFileSync(path.join(certPath, name));
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

/** dockerode connection options for an endpoint URL; only local sockets and TCP are supported. */
export function dockerOptions(endpoint: EngineEndpoint, env: NodeJS.ProcessEnv = process.env): Docker.DockerOptions {
  let url: URL;
  try {
    url = new URL(endpoint.url);
  } catch {
    throw new EngineConfigError(`invalid engine address ${JSON.stringify(endpoint.url)} (from ${endpoint.source}): expected unix:///path/to.sock or tcp://host:port`);
  }
  switch (url.protocol) {
    case 'unix:': {
      const socketPath = decodeURIComponent(url.pathname);
      if (!path.isAbsolute(socketPath) || url.host !== '') {
        throw new EngineConfigError(`invalid engine address ${endpoint.url} (from ${endpoint.source}): a unix socket needs an absolute path, unix:///path/to.sock`);
      }
      return { socketPath };
    }
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const tls = url.protocol === 'https:' || (env.DOCKER_TLS_VERIFY ?? '') !== '' ? tlsMaterial(env) : undefined;
      const protocol = url.protocol === 'https:' || tls ? 'https' : 'http';
      const port = url.port || (protocol === 'https' ? '2376' : '2375');
      return { host: url.hostname, port, protocol, ...tls };
    }
    default:
      throw new EngineConfigError(
        `unsupported engine address ${endpoint.url} (from ${endpoint.source}): only unix:// and tcp:// endpoints are supported (forward ssh:// with ssh -L to a local socket)`,
      );
  }
}

/** The part of GET /version this module relies on; Podman lists itself in Components. */
const VersionResponse = z.object({
  Version: z.string(),
  ApiVersion: z.string(),
  Components: z.array(z.object({ Name: z.string(), Version: z.string() }).passthrough()).nullish(),
});
type VersionResponse = z.infer<typeof VersionResponse>;

function podmanComponent(version: VersionResponse) {
  return (version.Components ?? []).find((c) => /podman/i.test(c.Name));
}

export function engineKindOf(version: VersionResponse): EngineKind {
  return podmanComponent(version) ? 'podman' : 'docker';
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Connect and identify the engine; any failure is an EngineUnreachableError naming the endpoint. */
export async function connectEngine(executable: Executable, endpoint: EngineEndpoint, env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const options = dockerOptions(endpoint, env);
  const { default: DockerClient } = await importPeer('dockerode', 'Image cleanup (the Docker/Podman engine API)', () => import('dockerode'));
  const api = new DockerClient(options);
  let version: VersionResponse;
  try {
    version = VersionResponse.parse(await withTimeout(api.version(), 15_000, 'GET /version'));
  } catch (err) {
    const label = endpoint.source === 'flag' || endpoint.source === 'AJO_ENGINE_HOST' ? 'Docker/Podman' : executable === 'docker' ? 'Docker' : 'Podman';
    const reason = err instanceof z.ZodError ? 'the answer to GET /version is not a Docker Engine API version' : (err as Error).message;
    throw new EngineUnreachableError(`cannot reach the ${label} engine at ${endpoint.url} (${endpoint.source}): ${reason}`);
  }
  return { kind: engineKindOf(version), endpoint, version: podmanComponent(version)?.Version ?? version.Version, apiVersion: version.ApiVersion, api };
}
