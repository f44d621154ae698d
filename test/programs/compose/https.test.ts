// `ajo compose` over HTTPS with a token: a TLS server made here runs git's own http-backend, and lets in
// only requests with the Basic credentials of the Secret; the token is never on a command line or in the URL.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { composeSkipReason, kubeVolume, makeRepo, runComposeAsync } from './harness.js';

const tmp = tempDirs('ajo-compose-https-');

function httpsSkipReason(): string | null {
  const compose = composeSkipReason();
  if (compose) return compose;
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) return 'needs openssl (to make the server certificate)';
  return null;
}

const USER = 'bot';
const TOKEN = 'tok-3b9f1c';

/** git http-backend as CGI behind Basic auth; records the Authorization headers it saw. */
function gitServer(projectRoot: string, cert: string, key: string, seen: string[]): https.Server {
  return https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const authorization = req.headers.authorization ?? '';
    seen.push(authorization);
    if (authorization !== `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'https://localhost');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: USER,
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['git-protocol'] && { GIT_PROTOCOL: String(req.headers['git-protocol']) }),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const [name, ...rest] = line.split(':');
        const value = rest.join(':').trim();
        if (name!.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[name!] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
  });
}

describeOrSkip('ajo compose: git over HTTPS with a token (git http-backend)', httpsSkipReason(), () => {
  let server: https.Server;
  let base = '';
  let caFile = '';
  const seen: string[] = [];
  let repo: ReturnType<typeof makeRepo>;
  beforeAll(async () => {
    const dir = tmp();
    repo = makeRepo(dir, [{ files: { 'site.yml': '- hosts: localhost\n  tasks: []\n' } }]);
    caFile = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', caFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server = gitServer(dir, caFile, key, seen);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function composeOverHttps(secret: Record<string, string> | undefined) {
    const dir = tmp();
    if (secret) kubeVolume(path.join(dir, 'secrets'), 'git-token', secret);
    const source = { project: { git: { url: `${base}/repo.git`, ...(secret && { authSecret: 'git-token' }) } }, playbook: 'site.yml' };
    // The test's CA reaches git the way a pod's would: GIT_SSL_CAINFO is passed through.
    return runComposeAsync(dir, source, [], { GIT_SSL_CAINFO: caFile });
  }

  test('username and token from a basic-auth Secret fetch the repository', async () => {
    const run = await composeOverHttps({ username: USER, password: `${TOKEN}\n` });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.termination).toMatchObject({ commit: repo.shas[0] });
    expect(seen).toContain(`Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`);
  });

  test('a wrong token is AuthFailed, and so is none at all', async () => {
    const wrong = await composeOverHttps({ username: USER, password: 'nope' });
    expect(wrong.status).toBe(3);
    expect(wrong.termination).toEqual({ reason: 'AuthFailed', message: expect.stringMatching(/Authentication failed|terminal prompts disabled|401/) });
    expect(wrong.terminationText).not.toContain('nope');
    const none = await composeOverHttps(undefined);
    expect(none.termination).toMatchObject({ reason: 'AuthFailed' });
  });
});
