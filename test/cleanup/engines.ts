// Real container engines for tests: Debian's dockerd and `podman system
// service`, each with its own data root, run dirs and API socket under a temp
// dir, so they never touch (or collide with) a system engine or each other.
//
// Networking is off on purpose: dockerd runs with --bridge=none
// --iptables=false and podman has a private network config dir, and
// containers are created with NetworkMode "none" (use createIdleContainer).
// So no bridge or iptables rule is ever made, and none has to be removed.
// stop() removes the containers, stops the daemon, kills what it left behind
// (shims, conmon), unmounts everything below the temp dir and deletes it.
//
// Machine quirks handled here (MACHINE-NOTES.md §3-4): podman needs
// default_ulimits via CONTAINERS_CONF (no CAP_SYS_RESOURCE); dockerd 20.10
// writes /etc/docker/key.json unless deprecated-key-path is set.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Docker from 'dockerode';
import * as tar from 'tar-stream';

export type EngineKind = 'docker' | 'podman';

export interface EngineHandle {
  kind: EngineKind;
  dir: string;
  socketPath: string;
  /** unix:///... for --engine-host / DOCKER_HOST */
  url: string;
  api: Docker;
  /** The daemon's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function which(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Why an engine cannot be started here, or undefined when it can be tried. */
export function engineUnavailableReason(kind: EngineKind): string | undefined {
  const selected = (process.env.AJO_TEST_ENGINES ?? 'docker,podman').split(',').map((s) => s.trim());
  if (!selected.includes(kind)) return `${kind}: not selected by AJO_TEST_ENGINES=${process.env.AJO_TEST_ENGINES}`;
  if (process.platform !== 'linux') return `${kind}: engines are only started on Linux`;
  if (process.getuid?.() !== 0) return `${kind}: starting a rootful engine needs root`;
  const binary = kind === 'docker' ? 'dockerd' : 'podman';
  if (!which(binary)) return `${kind}: ${binary} is not installed (apt-get install ${kind === 'docker' ? 'docker.io' : 'podman'})`;
  return undefined;
}

async function waitForEngine(api: Docker, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before serving its API:\n${tail(logFile)}`);
    }
    try {
      await api.version();
      return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`API not ready after ${timeoutMs / 1000}s (${lastError}):\n${tail(logFile)}`);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function spawnDaemon(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref();
  return child;
}

/** Mount points at or below dir, deepest first. */
function mountsBelow(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function unmountBelow(dir: string): void {
  for (let pass = 0; pass < 5; pass++) {
    const points = mountsBelow(dir);
    if (points.length === 0) return;
    for (const p of points) {
      if (spawnSync('umount', [p]).status !== 0) spawnSync('umount', ['-l', p]);
    }
  }
}

/** Pids (other than ours) whose command line mentions dir: shims, conmon, exec sessions. */
function processesMentioning(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!signal(pid, 0 as unknown as NodeJS.Signals) || isZombie(pid)) return true;
    await sleep(100);
  }
  return false;
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function removeAllContainers(api: Docker): Promise<void> {
  try {
    const containers = await api.listContainers({ all: true });
    await Promise.all(containers.map((c) => api.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  } catch {
    // engine already gone; the process sweep below handles leftovers
  }
}

function makeStop(kind: EngineKind, dir: string, child: ChildProcess, api: Docker): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    await removeAllContainers(api);
    const pid = child.pid;
    if (pid !== undefined) {
      signal(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 20_000))) signal(pid, 'SIGKILL');
      await waitForExit(pid, 5_000);
    }
    for (const leftover of processesMentioning(dir)) signal(leftover, 'SIGKILL');
    await sleep(200);
    unmountBelow(dir);
    const stillMounted = mountsBelow(dir);
    if (stillMounted.length > 0) throw new Error(`${kind}: could not unmount ${stillMounted.join(', ')}; leaving ${dir} in place`);
    rmSync(dir, { recursive: true, force: true });
  };
}

function makeHandle(kind: EngineKind, dir: string, socketPath: string, logFile: string, child: ChildProcess): EngineHandle {
  const api = new Docker({ socketPath });
  return { kind, dir, socketPath, url: `unix://${socketPath}`, api, log: () => tail(logFile, 200), stop: makeStop(kind, dir, child, api) };
}

async function startAndWait(kind: EngineKind, dir: string, socketPath: string, logFile: string, child: ChildProcess): Promise<EngineHandle> {
  const handle = makeHandle(kind, dir, socketPath, logFile, child);
  try {
    await waitForEngine(handle.api, child, logFile, 30_000);
  } catch (err) {
    await handle.stop().catch(() => undefined);
    throw new Error(`${kind}: ${(err as Error).message}`);
  }
  return handle;
}

/** dockerd with its own data root, exec root, containerd and socket below a fresh temp dir. */
export async function startDockerd(): Promise<EngineHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ajo-dockerd-'));
  const socketPath = path.join(dir, 'docker.sock');
  const logFile = path.join(dir, 'dockerd.log');
  const configFile = path.join(dir, 'daemon.json');
  writeFileSync(configFile, JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }));
  const child = spawnDaemon(
    'dockerd',
    [
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'dockerd.pid'),
      '--config-file', configFile,
      '-H', `unix://${socketPath}`,
      '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false',
    ],
    logFile,
    process.env,
  );
  return startAndWait('docker', dir, socketPath, logFile, child);
}

/** `podman system service` with its own storage, run dirs, network config and socket below a fresh temp dir. */
export async function startPodmanService(): Promise<EngineHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ajo-podman-'));
  const socketPath = path.join(dir, 'podman.sock');
  const logFile = path.join(dir, 'podman.log');
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(
    conf,
    [
      '[containers]',
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '[engine]',
      `tmp_dir = "${path.join(dir, 'tmp')}"`,
      'events_logger = "file"',
      `events_logfile_path = "${path.join(dir, 'events.log')}"`,
      'cgroup_manager = "cgroupfs"',
      '[network]',
      `network_config_dir = "${path.join(dir, 'networks')}"`,
      '',
    ].join('\n'),
  );
  const child = spawnDaemon(
    'podman',
    ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', 'system', 'service', '--time=0', `unix://${socketPath}`],
    logFile,
    { ...process.env, CONTAINERS_CONF: conf },
  );
  return startAndWait('podman', dir, socketPath, logFile, child);
}

export function startEngine(kind: EngineKind): Promise<EngineHandle> {
  return kind === 'docker' ? startDockerd() : startPodmanService();
}

/** Start an engine, or say why not: the test file skips with that reason. */
export async function tryStartEngine(kind: EngineKind): Promise<{ engine: EngineHandle } | { reason: string }> {
  const unavailable = engineUnavailableReason(kind);
  if (unavailable) return { reason: unavailable };
  try {
    return { engine: await startEngine(kind) };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

// --- images ------------------------------------------------------------------

const BUSYBOX = '/bin/busybox';
const BUSYBOX_APPLETS = ['sh', 'sleep', 'true', 'echo', 'cat'];

function staticBusybox(): Buffer | undefined {
  const binary = [BUSYBOX, '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!binary) return undefined;
  const elf = readFileSync(binary);
  // A dynamic busybox would need libc inside the image; the static build has no interpreter.
  return hasInterpreter(elf) ? undefined : elf;
}

/** Whether a 64-bit little-endian ELF has a PT_INTERP program header (is dynamically linked). */
function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return true;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  }
  return false;
}

/** Why test images cannot be built here, or undefined. */
export function imageUnavailableReason(): string | undefined {
  return staticBusybox() ? undefined : 'no static busybox at /bin/busybox (apt-get install busybox-static)';
}

/** A rootfs tar with Debian's static busybox and a few applets. */
export async function busyboxRootfsTar(): Promise<Buffer> {
  const elf = staticBusybox();
  if (!elf) throw new Error(imageUnavailableReason());
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  pack.entry({ name: 'bin/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'tmp/', type: 'directory', mode: 0o1777 });
  pack.entry({ name: 'bin/busybox', mode: 0o755 }, elf);
  for (const applet of BUSYBOX_APPLETS) pack.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** `docker import`: one image from a rootfs tar, tagged `reference`, with Dockerfile-style changes. */
export async function importImage(api: Docker, rootfs: Buffer, reference: string, labels: Record<string, string> = {}): Promise<string> {
  const changes = ['ENV PATH=/bin', ...Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`)];
  const stream = await new Promise<AsyncIterable<Buffer>>((resolve, reject) => {
    api.modem.dial(
      {
        path: '/images/create?',
        method: 'POST',
        options: { fromSrc: '-', repo: reference, changes },
        file: rootfs,
        isStream: true,
        statusCodes: { 200: true, 404: 'not found', 500: 'server error' },
      },
      (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as AsyncIterable<Buffer>)),
    );
  });
  let body = '';
  for await (const chunk of stream) body += chunk.toString();
  const image = await api.getImage(reference).inspect();
  if (!image.Id) throw new Error(`import of ${reference} failed: ${body}`);
  return image.Id;
}

/** A started container running `sleep` with no network, for "in use" tests. */
export async function createIdleContainer(api: Docker, image: string): Promise<Docker.Container> {
  const container = await api.createContainer({ Image: image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
  await container.start();
  return container;
}

/** Run a short command in a fresh container from `image` and return its exit code. */
export async function runToCompletion(api: Docker, image: string, cmd: string[]): Promise<number> {
  const container = await api.createContainer({ Image: image, Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
  try {
    await container.start();
    const result = (await container.wait()) as { StatusCode: number };
    return result.StatusCode;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
