/**
 * Where the API server is and how to authenticate to it, from a kubeconfig or from the
 * pod's service account.
 *
 * The common credentials (client certificates, bearer tokens and token files, basic auth,
 * the in-cluster service account) are read here directly. @kubernetes/client-node is
 * imported only for what needs its plugins (`exec` and `auth-provider` users): importing
 * it loads its whole generated API, about 95 MB of resident memory and a third of a
 * second, which the operator and the CLI would otherwise pay on every start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { importPeer } from '../protocol/optional-peer.js';
import { nodePool, undiciPool, type Pool, type TlsOptions, type Transport } from './transport.js';

export interface PreparedRequest {
  headers: Record<string, string>;
  /** Sends the request through the current connection pool. */
  transport: Transport;
}

export interface ClusterAccess {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  /** The context's namespace, or `default`. */
  readonly namespace: string;
  /** Headers and the connection pool for one request to `url`. */
  prepare(url: string, method: string): Promise<PreparedRequest>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/**
 * Connection pools are replaced after this long so that rotated certificate files are
 * picked up; the old pool closes once its requests (watches included) are done.
 */
const POOL_MAX_AGE_MS = 10 * 60_000;
/** Bound service-account tokens rotate (hourly by default); re-read the file this often. */
const TOKEN_FILE_MAX_AGE_MS = 60_000;

const NamedCluster = z.object({
  name: z.string(),
  cluster: z
    .object({
      server: z.string().min(1),
      'certificate-authority': z.string().optional(),
      'certificate-authority-data': z.string().optional(),
      'insecure-skip-tls-verify': z.boolean().optional(),
      'tls-server-name': z.string().optional(),
      'proxy-url': z.string().optional(),
    })
    .passthrough(),
});
const NamedUser = z.object({
  name: z.string(),
  user: z
    .object({
      'client-certificate': z.string().optional(),
      'client-certificate-data': z.string().optional(),
      'client-key': z.string().optional(),
      'client-key-data': z.string().optional(),
      token: z.string().optional(),
      tokenFile: z.string().optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      exec: z.unknown().optional(),
      'auth-provider': z.unknown().optional(),
    })
    .passthrough()
    .nullish(),
});
const NamedContext = z.object({
  name: z.string(),
  context: z.object({ cluster: z.string(), user: z.string().optional(), namespace: z.string().optional() }).passthrough(),
});
const KubeconfigFile = z
  .object({
    'current-context': z.string().optional(),
    clusters: z.array(NamedCluster).nullish(),
    users: z.array(NamedUser).nullish(),
    contexts: z.array(NamedContext).nullish(),
  })
  .passthrough();

type ClusterEntry = z.infer<typeof NamedCluster>['cluster'];
type UserEntry = NonNullable<z.infer<typeof NamedUser>['user']>;

/** A kubeconfig merged from its files the way kubectl does: the first definition of a name wins. */
interface MergedKubeconfig {
  currentContext?: string;
  clusters: Map<string, { entry: ClusterEntry; dir: string }>;
  users: Map<string, { entry: UserEntry; dir: string }>;
  contexts: Map<string, z.infer<typeof NamedContext>['context']>;
}

function readKubeconfigFiles(files: string[]): MergedKubeconfig {
  const merged: MergedKubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && files.length > 1) continue;
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
    const parsed = KubeconfigFile.safeParse(parseYaml(text) ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${file} is not a valid kubeconfig: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const dir = path.dirname(path.resolve(file));
    const config = parsed.data;
    merged.currentContext ??= config['current-context'] || undefined;
    for (const { name, cluster } of config.clusters ?? []) if (!merged.clusters.has(name)) merged.clusters.set(name, { entry: cluster, dir });
    for (const { name, user } of config.users ?? []) if (!merged.users.has(name)) merged.users.set(name, { entry: user ?? {}, dir });
    for (const { name, context } of config.contexts ?? []) if (!merged.contexts.has(name)) merged.contexts.set(name, context);
  }
  return merged;
}

/** Reads a credential given inline (base64) or as a file relative to its kubeconfig. */
function material(data: string | undefined, file: string | undefined, dir: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(path.resolve(dir, file));
  return undefined;
}

/**
 * One connection pool shared by every request, replaced by `create()` once it is
 * POOL_MAX_AGE_MS old; `close` is given the previous one (it closes when its requests are done).
 */
function renewingPool<P>(close: (previous: P) => void): (create: () => P) => P {
  let current: { pool: P; createdAt: number } | undefined;
  return (create) => {
    if (current && Date.now() - current.createdAt < POOL_MAX_AGE_MS) return current.pool;
    const previous = current;
    current = { pool: create(), createdAt: Date.now() };
    if (previous) close(previous.pool);
    return current.pool;
  };
}

/** A token file re-read at most every TOKEN_FILE_MAX_AGE_MS. */
function tokenFromFile(file: string): () => string {
  let cached: { token: string; readAt: number } | undefined;
  return () => {
    if (!cached || Date.now() - cached.readAt > TOKEN_FILE_MAX_AGE_MS) {
      cached = { token: readFileSync(file, 'utf8').trim(), readAt: Date.now() };
    }
    return cached.token;
  };
}

function directAccess(server: string, namespace: string, tls: () => TlsOptions, authorization: () => string | undefined): ClusterAccess {
  const pool = renewingPool<Pool>((previous) => previous.close());
  return {
    server,
    namespace,
    async prepare() {
      const headers: Record<string, string> = {};
      const value = authorization();
      if (value) headers.authorization = value;
      return { headers, transport: pool(() => nodePool(server, tls())).transport };
    },
  };
}

/** The kubeconfig user that stands for an identity override inside client-node. */
const OVERRIDE_USER = 'ajo-identity-override';

/**
 * Credentials from a client-node plugin (exec, auth-provider), or a cluster behind a
 * `proxy-url`, loaded on first use. Its per-request Agent is replaced by one shared pool,
 * as for the direct path. An identity override replaces the context's user, as it does on
 * the direct path: the cluster (server, CA, TLS server name, proxy) stays, the token is the
 * only credential.
 */
function pluginAccess(
  server: string,
  namespace: string,
  kubeconfigPath: string | undefined,
  contextName: string,
  identity: IdentityOverride | undefined,
): ClusterAccess {
  type Loaded = { kubeConfig: import('@kubernetes/client-node').KubeConfig; module: typeof import('@kubernetes/client-node') };
  let loading: Promise<Loaded> | undefined;
  const pool = renewingPool<Promise<Pool>>((previous) => void previous.then((old) => old.close()));
  const load = async (): Promise<Loaded> => {
    const module = await importPeer('@kubernetes/client-node', `The kubeconfig's credential plugin (exec or auth-provider)`, () => import('@kubernetes/client-node'));
    const kubeConfig = new module.KubeConfig();
    if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
    else kubeConfig.loadFromDefault();
    kubeConfig.setCurrentContext(contextName);
    const context = kubeConfig.getContextObject(contextName);
    if (identity && context) {
      kubeConfig.loadFromOptions({
        clusters: kubeConfig.clusters,
        users: [{ name: OVERRIDE_USER, token: identity.token }],
        contexts: [{ ...context, user: OVERRIDE_USER }],
        currentContext: contextName,
      });
    }
    return { kubeConfig, module };
  };
  return {
    server,
    namespace,
    async prepare(url, method) {
      const { kubeConfig, module } = await (loading ??= load());
      const context = new module.RequestContext(url, method as import('@kubernetes/client-node').HttpMethod);
      await kubeConfig.applySecurityAuthentication(context);
      // client-node makes a new dispatcher per request; keep one (with the plugin's TLS settings, if any).
      const fresh = context.getDispatcher() as import('undici').Dispatcher | undefined;
      let taken = false;
      const current = pool(() => {
        taken = true;
        return import('undici').then(({ Agent }) => undiciPool(fresh ?? new Agent()));
      });
      if (fresh && !taken) void fresh.close().catch(() => undefined);
      const headers = Object.fromEntries(Object.entries(context.getHeaders() as Record<string, string>).map(([name, value]) => [name.toLowerCase(), value]));
      return { headers, transport: (await current).transport };
    },
  };
}

/**
 * Another identity on the same cluster: the server, CA, TLS server name and proxy of the
 * kubeconfig (or of the pod's service account), with only `token` as credentials.
 */
export interface IdentityOverride {
  token: string;
  namespace?: string;
}

function fromKubeconfig(files: string[], kubeconfigPath: string | undefined, identity?: IdentityOverride): ClusterAccess {
  const config = readKubeconfigFiles(files);
  const contextName = config.currentContext;
  if (!contextName) throw new Error('it has no current-context');
  const context = config.contexts.get(contextName);
  if (!context) throw new Error(`its current-context "${contextName}" is not among its contexts`);
  const cluster = config.clusters.get(context.cluster);
  if (!cluster) throw new Error(`context "${contextName}" names cluster "${context.cluster}", which it does not define`);
  const user = context.user ? config.users.get(context.user) : undefined;
  if (context.user && !user) throw new Error(`context "${contextName}" names user "${context.user}", which it does not define`);
  const server = cluster.entry.server.replace(/\/+$/, '');
  const namespace = identity?.namespace ?? context.namespace ?? 'default';
  const credentials: UserEntry = identity ? { token: identity.token } : (user?.entry ?? {});
  if (credentials.exec !== undefined || credentials['auth-provider'] !== undefined || cluster.entry['proxy-url']) {
    return pluginAccess(server, namespace, kubeconfigPath, contextName, identity);
  }
  const tls = (): TlsOptions => ({
    ca: material(cluster.entry['certificate-authority-data'], cluster.entry['certificate-authority'], cluster.dir),
    cert: material(credentials['client-certificate-data'], credentials['client-certificate'], user?.dir ?? ''),
    key: material(credentials['client-key-data'], credentials['client-key'], user?.dir ?? ''),
    rejectUnauthorized: cluster.entry['insecure-skip-tls-verify'] !== true,
    ...(cluster.entry['tls-server-name'] ? { servername: cluster.entry['tls-server-name'] } : {}),
  });
  tls(); // unreadable certificate files fail now, with the kubeconfig's name, not at the first request
  const tokenFile = credentials.tokenFile ? tokenFromFile(path.resolve(user!.dir, credentials.tokenFile)) : undefined;
  const basic = credentials.username !== undefined ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}` : undefined;
  const authorization = () => (credentials.token ? `Bearer ${credentials.token}` : tokenFile ? `Bearer ${tokenFile()}` : basic);
  return directAccess(server, namespace, tls, authorization);
}

function serviceAccountNamespace(dir: string): string {
  try {
    return readFileSync(path.join(dir, 'namespace'), 'utf8').trim() || 'default';
  } catch {
    return 'default'; // a pod without the namespace file still has a server to talk to
  }
}

/**
 * The pod's service account: the API server from KUBERNETES_SERVICE_HOST/PORT, the CA,
 * token and namespace from `dir` (the token re-read as it rotates). An identity override
 * replaces the token and the namespace, as it does for a kubeconfig.
 */
export function inClusterAccess(dir = SERVICE_ACCOUNT_DIR, env: NodeJS.ProcessEnv = process.env, identity?: IdentityOverride): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set');
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const namespace = identity?.namespace ?? serviceAccountNamespace(dir);
  const token = identity ? () => identity.token : tokenFromFile(path.join(dir, 'token'));
  const tls = (): TlsOptions => ({ ca: readFileSync(path.join(dir, 'ca.crt')), rejectUnauthorized: true });
  tls();
  return directAccess(server, namespace, tls, () => `Bearer ${token()}`);
}

/**
 * The cluster to talk to: the kubeconfig given, else $KUBECONFIG (a list of files, merged),
 * else ~/.kube/config, else the pod's service account.
 */
export function loadClusterAccess(kubeconfigPath?: string, identity?: IdentityOverride): ClusterAccess {
  const fromEnv = process.env.KUBECONFIG?.split(path.delimiter).filter(Boolean) ?? [];
  const defaultFile = path.join(homedir(), '.kube', 'config');
  const files = kubeconfigPath ? [kubeconfigPath] : fromEnv.length > 0 ? fromEnv : [defaultFile];
  const source = kubeconfigPath ?? (fromEnv.length > 0 ? `KUBECONFIG=${process.env.KUBECONFIG}` : defaultFile);
  const haveFile = kubeconfigPath !== undefined || fromEnv.length > 0 || existsSync(defaultFile);
  if (!haveFile) {
    if (process.env.KUBERNETES_SERVICE_HOST) {
      try {
        return inClusterAccess(SERVICE_ACCOUNT_DIR, process.env, identity);
      } catch (error) {
        throw new Error(`cannot use the pod's service account: ${(error as Error).message}`);
      }
    }
    throw new Error('no Kubernetes cluster configured: set KUBECONFIG, pass --kubeconfig, or run in a pod');
  }
  try {
    return fromKubeconfig(files, kubeconfigPath, identity);
  } catch (error) {
    throw new Error(`cannot load kubeconfig from ${source}: ${(error as Error).message}`);
  }
}
