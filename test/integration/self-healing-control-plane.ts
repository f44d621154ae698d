// A private, real control plane for the self-healing tests: its own etcd and kube-apiserver (the cluster tier's binaries), which a test may compact, kill and restart without touching the shared cluster other suites use.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { KubeClient, loadClusterAccess, type ClusterAccess } from '../../operator/src/kube/client.js';
import { localClusterInfo } from '../cluster/local-cluster.js';
import { waitFor } from '../helpers/wait.js';

function which(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, program);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function apiServerBinary(): string | undefined {
  try {
    const binary = path.join(localClusterInfo().binDir, 'kube-apiserver');
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

/** Why a private control plane cannot start here, or null when it can. */
export function controlPlaneSkipReason(): string | null {
  if (!which('etcd')) return 'etcd is not installed (apt-get install etcd-server)';
  if (!apiServerBinary()) return 'kube-apiserver is not built (test/cluster/build-binaries, run by test/cluster/up)';
  return null;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface ControlPlaneOptions {
  /** Resources the API server serves without its watch cache, straight from etcd (so that an etcd compaction expires their watches). */
  uncachedResources?: string[];
}

export class ControlPlane {
  private etcd: ChildProcess | undefined;
  private apiServer: ChildProcess | undefined;
  private apiServerArgs: string[] = [];
  readonly kubeconfig: string;
  private admin: KubeClient | undefined;

  private constructor(
    readonly dir: string,
    readonly etcdPort: number,
    readonly apiPort: number,
  ) {
    this.kubeconfig = path.join(dir, 'admin.kubeconfig');
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const dir = mkdtempSync(path.join(tmpdir(), 'ajo-selfheal-'));
    const plane = new ControlPlane(dir, await freePort(), await freePort());
    try {
      await plane.startEtcd();
      plane.prepareApiServer(options);
      await plane.startApiServer();
    } catch (error) {
      await plane.stop();
      throw error;
    }
    return plane;
  }

  get apiServerPid(): number | undefined {
    return this.apiServer?.pid;
  }

  /** Admin access straight to the API server (no proxy). */
  access(): ClusterAccess {
    return loadClusterAccess(this.kubeconfig);
  }

  client(): KubeClient {
    this.admin ??= new KubeClient(this.access());
    return this.admin;
  }

  private logTail(name: string): string {
    try {
      return readFileSync(path.join(this.dir, `${name}.log`), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private spawnLogged(name: string, binary: string, args: string[]): ChildProcess {
    const log = path.join(this.dir, `${name}.log`);
    writeFileSync(log, '', { flag: 'a' });
    const child = spawn('sh', ['-c', 'exec "$0" "$@" >>"$LOG" 2>&1', binary, ...args], { env: { ...process.env, LOG: log }, stdio: 'ignore' });
    child.on('error', () => undefined);
    return child;
  }

  private async startEtcd(): Promise<void> {
    const peerPort = await freePort();
    this.etcd = this.spawnLogged('etcd', which('etcd')!, [
      '--name', 'selfheal',
      '--data-dir', path.join(this.dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `selfheal=http://127.0.0.1:${peerPort}`,
      '--logger', 'zap',
    ]);
    await waitFor('the private etcd healthy', async () => {
      if (this.etcd?.exitCode !== null) throw new Error(`etcd exited: ${this.logTail('etcd')}`);
      const response = await fetch(`http://127.0.0.1:${this.etcdPort}/health`);
      return response.ok ? true : undefined;
    }, 60_000);
  }

  private prepareApiServer(options: ControlPlaneOptions): void {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(path.join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(path.join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const token = randomBytes(24).toString('hex');
    writeFileSync(path.join(this.dir, 'tokens.csv'), `${token},selfheal-admin,selfheal-admin,"system:masters"\n`, { mode: 0o600 });
    const certDir = path.join(this.dir, 'certs');
    this.apiServerArgs = [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // No `kubernetes` Service endpoints: nothing here runs pods, and a loopback endpoint is refused.
      '--endpoint-reconciler-type=none',
      `--secure-port=${this.apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${path.join(this.dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${path.join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(this.dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.250.0.0/24',
      '--profiling=false',
      ...(options.uncachedResources?.length ? [`--watch-cache-sizes=${options.uncachedResources.map((resource) => `${resource}#0`).join(',')}`] : []),
    ];
    // The API server writes its self-signed certificate (with its CA) on first start; the
    // kubeconfig names that file, which stays the same across restarts.
    writeFileSync(
      this.kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'selfheal',
        clusters: [{ name: 'selfheal', cluster: { server: `https://127.0.0.1:${this.apiPort}`, 'certificate-authority': path.join(certDir, 'apiserver.crt') } }],
        users: [{ name: 'admin', user: { token } }],
        contexts: [{ name: 'selfheal', context: { cluster: 'selfheal', user: 'admin', namespace: 'default' } }],
      }),
      { mode: 0o600 },
    );
  }

  /** Starts the API server (again) on the same port, etcd and certificate, and waits until it is ready. */
  async startApiServer(): Promise<void> {
    const child = this.spawnLogged('kube-apiserver', apiServerBinary()!, this.apiServerArgs);
    this.apiServer = child;
    this.admin = undefined;
    await waitFor('the private kube-apiserver ready', async () => {
      if (child.exitCode !== null) throw new Error(`kube-apiserver exited: ${this.logTail('kube-apiserver')}`);
      if (!existsSync(path.join(this.dir, 'certs', 'apiserver.crt'))) return undefined;
      // A fresh client per try: the certificate file may have been read half-written.
      const client = new KubeClient(this.access());
      await client.requestText('/readyz', { timeoutMs: 5000 });
      await client.get('/api/v1/namespaces/default', { timeoutMs: 5000 });
      this.admin = client;
      return true;
    }, 240_000, 500);
  }

  /** Kills the API server (SIGKILL by default: connections drop with no goodbye) and waits for it to be gone. */
  async stopApiServer(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.apiServer;
    if (!child) return;
    this.apiServer = undefined;
    child.kill(signal);
    await exited(child);
  }

  /** Compacts etcd's history up to its current revision: a watch from any older resourceVersion is now expired. Returns that revision. */
  async compactEtcd(): Promise<number> {
    const etcd = `http://127.0.0.1:${this.etcdPort}`;
    const post = async (api: string, body: unknown) => {
      const response = await fetch(`${etcd}/v3/${api}`, { method: 'POST', body: JSON.stringify(body) });
      if (!response.ok) throw new Error(`etcd ${api}: ${response.status} ${await response.text()}`);
      return (await response.json()) as { header?: { revision?: string } };
    };
    const status = await post('kv/range', { key: Buffer.from('/').toString('base64') });
    const revision = Number(status.header?.revision);
    if (!Number.isInteger(revision) || revision <= 0) throw new Error(`etcd returned no revision: ${JSON.stringify(status)}`);
    // physical: return only once the compaction is applied.
    await post('kv/compaction', { revision: String(revision), physical: true });
    return revision;
  }

  async stop(): Promise<void> {
    await this.stopApiServer();
    if (this.etcd) {
      this.etcd.kill('SIGKILL');
      await exited(this.etcd);
      this.etcd = undefined;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
