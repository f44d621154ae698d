// `ajo compose` against a real sshd (Debian's openssh-server) serving a bare repository to one key:
// the success path and each way SSH can fail, each with its reason.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { AJO, composeArgs, composeRun, composeSkipReason, kubeVolume, makeRepo, runCompose, runStream } from './harness.js';

const tmp = tempDirs('ajo-compose-ssh-');
const SSHD = '/usr/sbin/sshd';

function sshSkipReason(): string | null {
  const compose = composeSkipReason();
  if (compose) return compose;
  if (!existsSync(SSHD)) return `needs ${SSHD} (apt-get install openssh-server; scripts/setup --test installs it)`;
  if (process.getuid?.() !== 0) return 'needs root: sshd serves the repository as the user running the test and must own its privilege separation';
  for (const program of ['ssh', 'ssh-keygen']) if (spawnSync(program, ['-V'], { stdio: 'ignore' }).error) return `needs ${program}`;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(file), '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

interface Sshd {
  port: number;
  /** known_hosts line for the server's real host key. */
  knownHosts: string;
  clientKey: string;
  process: ChildProcess;
}

/** sshd on a free port of 127.0.0.1 with a host key made here, letting in `authorizedKey` only. */
async function startSshd(dir: string): Promise<Sshd> {
  const hostKey = path.join(dir, 'host_ed25519');
  const hostPublic = keygen(hostKey);
  const clientKeyFile = path.join(dir, 'client');
  const clientPublic = keygen(clientKeyFile);
  writeFileSync(path.join(dir, 'authorized_keys'), clientPublic + '\n');
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  // sshd refuses to start without its privilege separation directory, which the package's service would make.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`sshd exited (${code}): ${log}`)));
  });
  child.stderr!.resume();
  return { port, knownHosts: `[127.0.0.1]:${port} ${hostPublic.split(' ').slice(0, 2).join(' ')}\n`, clientKey: readFileSync(clientKeyFile, 'utf8'), process: child };
}

describeOrSkip('ajo compose: git over SSH (a real sshd)', sshSkipReason(), () => {
  let sshd: Sshd | undefined;
  let startError: Error | undefined;
  let repo: ReturnType<typeof makeRepo>;
  beforeAll(async () => {
    const dir = tmp();
    repo = makeRepo(dir, [{ files: { 'site.yml': '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: over ssh\n      ansible.builtin.debug: { msg: fetched-over-ssh }\n' } }]);
    try {
      sshd = await startSshd(dir);
    } catch (err) {
      startError = err as Error;
    }
  });
  afterAll(() => {
    sshd?.process.kill('SIGTERM');
  });

  /** The test's preconditions: sshd must be up, or the test says loudly why it is not. */
  const server = (): Sshd => {
    if (!sshd) throw new Error(`SKIPPED programs: sshd did not start: ${startError?.message}`);
    return sshd;
  };

  function composeOverSsh(options: { key?: string; knownHosts?: string; port?: number; revision?: string; withSecret?: boolean }) {
    const s = server();
    const dir = tmp();
    if (options.withSecret !== false) {
      kubeVolume(path.join(dir, 'secrets'), 'git-auth', { 'ssh-privatekey': options.key ?? s.clientKey, known_hosts: options.knownHosts ?? s.knownHosts });
    }
    const url = `ssh://root@127.0.0.1:${options.port ?? s.port}${repo.bare}`;
    const source = {
      project: { git: { url, ...(options.withSecret !== false && { authSecret: 'git-auth' }), ...(options.revision && { revision: options.revision }) } },
      playbook: 'site.yml',
    };
    return { dir, run: runCompose(dir, source) };
  }

  test('the key and known_hosts from the Secret fetch the repository; the play runs', () => {
    const { dir, run } = composeOverSsh({});
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.termination).toMatchObject({ commit: repo.shas[0] });
    const job = runStream(run.output, path.join(dir, 'out'));
    expect({ status: job.status, rc: job.rc }).toEqual({ status: 'successful', rc: '0' });
    expect(job.stdout).toContain('fetched-over-ssh');
  });

  test('a key the server does not know is AuthFailed', () => {
    const other = path.join(tmp(), 'other');
    keygen(other);
    const { run } = composeOverSsh({ key: readFileSync(other, 'utf8') });
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'AuthFailed', message: expect.stringContaining('Permission denied (publickey)') });
  });

  test('a known_hosts line with another key is HostKeyMismatch', () => {
    const other = path.join(tmp(), 'impostor');
    const impostor = keygen(other);
    const { run } = composeOverSsh({ knownHosts: `[127.0.0.1]:${server().port} ${impostor.split(' ').slice(0, 2).join(' ')}\n` });
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'HostKeyMismatch', message: expect.stringContaining('REMOTE HOST IDENTIFICATION HAS CHANGED') });
  });

  test('a host missing from known_hosts is HostKeyMismatch too: no trust on first use', () => {
    const { run } = composeOverSsh({ knownHosts: '' });
    expect(run.termination).toEqual({ reason: 'HostKeyMismatch', message: expect.stringContaining('Host key verification failed') });
  });

  test('a closed port is SourceUnavailable', async () => {
    const closed = await freePort();
    const { run } = composeOverSsh({ port: closed });
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'SourceUnavailable', message: expect.stringContaining('Connection refused') });
  });

  test('an unknown revision is RevisionNotFound', () => {
    const { run } = composeOverSsh({ revision: 'no-such-tag' });
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'RevisionNotFound', message: expect.stringContaining("couldn't find remote ref no-such-tag") });
  });

  test('an ssh URL without an authSecret is refused before any connection', () => {
    const { run } = composeOverSsh({ withSecret: false });
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'InvalidSource', message: expect.stringContaining('there is no trust on first use') });
  });
});

describeOrSkip('ajo compose: never a hang (a server that accepts and says nothing)', composeSkipReason(), () => {
  let silent: net.Server;
  let port = 0;
  const connected: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      connected.splice(0).forEach((notify) => notify());
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  function silentSource(dir: string) {
    kubeVolume(path.join(dir, 'secrets'), 'git-auth', { 'ssh-privatekey': 'not used\n', known_hosts: `[127.0.0.1]:${port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n` });
    return { project: { git: { url: `ssh://git@127.0.0.1:${port}/repo.git`, authSecret: 'git-auth' } }, playbook: 'site.yml' };
  }

  test('SIGTERM stops git and ssh at once: exit 143, the reason in the termination log, no stream left', async () => {
    const dir = tmp();
    const { args, paths } = composeArgs(dir, silentSource(dir));
    const arrived = new Promise<void>((resolve) => connected.push(resolve));
    const child = spawn(process.execPath, [AJO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await arrived; // ssh is connected and waiting for a banner that never comes
    child.kill('SIGTERM');
    const run = composeRun(paths, await exited, stdout, stderr);
    expect(run.status).toBe(143);
    expect(run.termination).toEqual({ reason: 'ComposeFailed', message: 'terminated (SIGTERM) before the stream was complete' });
    expect(existsSync(run.output)).toBe(false);
  });

  test('--timeout bounds the whole compose: SourceUnavailable, git killed', () => {
    const dir = tmp();
    const run = runCompose(dir, silentSource(dir), ['--timeout', '2']);
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'SourceUnavailable', message: expect.stringContaining('did not finish in time') });
  });
});
