// The pod's pair of a spec.source job, run as programs: `ajo worker --wait-for` started first and
// waiting, `ajo process --compose` composing the stream it then follows, with a real play.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { AJO, composeSkipReason } from './harness.js';

const tmp = tempDirs('ajo-sidecar-');

interface Exit {
  code: number | null;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): { done: Promise<Exit> } {
  const child = spawn(process.execPath, [AJO, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { HOME: process.env.HOME ?? '/root', PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { done: new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr }))) };
}

/** The pod's layout under dir, and both containers started: the worker first, as the kubelet may. */
function runPair(dir: string, source: unknown) {
  const at = (name: string) => path.join(dir, name);
  for (const name of ['configmaps', 'secrets', 'payload', 'shared', 'artifacts', 'home']) mkdirSync(at(name), { recursive: true });
  writeFileSync(at('source.json'), JSON.stringify(source));
  const worker = start(['worker', '--input', at('payload/stream'), '--output', at('shared/worker.out'), '--wait-for', at('shared/compose.json'), '--wait-seconds', '120', '--private-data-dir', at('runner')]);
  writeFileSync(at('shared/worker.out'), '');
  const sidecar = start([
    'process', at('artifacts'), '--follow', at('shared/worker.out'), '--ident', 'job-1', '--status-file', at('shared/status.json'), '--termination-log', at('termination-log'), '--quiet',
    '--compose', at('source.json'), '--compose-configmaps', at('configmaps'), '--compose-secrets', at('secrets'), '--compose-work-dir', at('compose'),
    '--compose-output', at('payload/stream'), '--compose-outcome-file', at('shared/compose.json'), '--compose-worker-home', at('home'),
  ]);
  return { worker: worker.done, sidecar: sidecar.done, termination: () => JSON.parse(readFileSync(at('termination-log'), 'utf8')) as Record<string, unknown> };
}

describeOrSkip('a source job\'s worker and composing sidecar, as programs', composeSkipReason(), () => {
  test('the sidecar composes an inline project, the waiting worker runs it, and the final document carries what compose made', async () => {
    const dir = tmp();
    const marker = path.join(dir, 'marker');
    const pair = runPair(dir, {
      project: { inline: [{ path: 'site.yml', content: `- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy: { dest: "${marker}", content: "composed" }\n` }] },
      playbook: 'site.yml',
      inventory: { inline: 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' },
    });
    const [worker, sidecar] = await Promise.all([pair.worker, pair.sidecar]);
    expect([worker.code, worker.stderr]).toEqual([0, '']);
    expect(sidecar.code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('composed');
    const final = pair.termination();
    expect(final).toMatchObject({ status: 'successful', rc: 0, composed: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/), files: expect.any(Number) } });
    expect(Object.keys((final.composed as { timingsMs: object }).timingsMs)).toEqual(expect.arrayContaining(['startupMs', 'transmitMs']));
    expect(JSON.parse(readFileSync(path.join(dir, 'shared', 'compose.json'), 'utf8'))).toEqual(final.composed);
  });

  test('a compose that fails: the sidecar ends with its reason in the termination log, and the waiting worker ends too, quoting it', async () => {
    const dir = tmp();
    const pair = runPair(dir, { project: { inline: [{ path: 'site.yml', content: '- hosts: all\n' }] }, playbook: 'missing.yml', inventory: { inline: 'localhost\n' } });
    const [worker, sidecar] = await Promise.all([pair.worker, pair.sidecar]);
    expect(sidecar.code).toBe(3);
    expect(pair.termination()).toMatchObject({ reason: 'InvalidSource', message: expect.stringContaining('missing.yml') });
    expect(worker.code).toBe(1);
    expect(worker.stderr).toMatch(/^ajo worker: no job stream at .*payload\/stream: compose did not make one \(\{"reason":"InvalidSource"/);
    expect(existsSync(path.join(dir, 'payload', 'stream'))).toBe(false);
  });
});
