/**
 * The library API in-process: the stages as functions over Node streams, the
 * way a TypeScript user (or the operator) calls them, against the real
 * ansible-playbook.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { processStream, run, transmit, TransmitError, worker, type JobEvent, type StatusDocument } from '../../operator/src/index.js';
import { missingPrograms } from '../helpers/programs.js';
import { describeOrSkip } from '../helpers/skip.js';
import { tempDirs } from '../helpers/temp.js';

const tmp = tempDirs('ajo-lib-');

function dataDir(tasks: string): string {
  const dir = tmp();
  mkdirSync(path.join(dir, 'project'));
  mkdirSync(path.join(dir, 'inventory'));
  writeFileSync(path.join(dir, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  writeFileSync(path.join(dir, 'project', 'play.yml'), `- hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`);
  return dir;
}

const collect = (stream: PassThrough): (() => string) => {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
};

// ajo's worker runs ansible-playbook with ansible-runner's display callback.
describeOrSkip('library API', missingPrograms('ansible-playbook', 'ansible_runner'), () => {
  test('run(): the three stages in-process, with live output, typed events and the status document', async () => {
    const dir = dataDir('    - debug: msg="from the library"\n    - command: "true"\n');
    const display = new PassThrough();
    const printed = collect(display);
    const updates: StatusDocument[] = [];
    const result = await run({ privateDataDir: dir, playbook: 'play.yml', display, onUpdate: (doc) => updates.push(structuredClone(doc)) });
    expect(result.worker.ok).toBe(true);
    expect(result.process).toMatchObject({ status: 'successful', rc: 0, eventCount: 9 });
    expect(result.process.document.hostCounts).toEqual({ ok: 2, changed: 1, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 });
    expect(printed()).toContain('"msg": "from the library"');
    // Progress is observable while the job runs, not only at the end.
    expect(new Set(updates.map((u) => u.eventCount)).size).toBeGreaterThan(5);
    expect(readFileSync(path.join(dir, 'artifacts', 'status'), 'utf8')).toBe('successful');
  });

  test('transmit() → worker() → processStream() over streams, with a per-event callback', async () => {
    const dir = dataDir('    - fail: msg="on purpose"\n');
    const jobStream = new PassThrough();
    const resultStream = new PassThrough();
    const events: JobEvent[] = [];
    const sending = transmit({ privateDataDir: dir, playbook: 'play.yml', ident: 'lib-test' }, jobStream).finally(() => jobStream.end());
    const working = worker(jobStream, resultStream).finally(() => resultStream.end());
    const out = tmp();
    const processing = processStream(resultStream, { privateDataDir: out, ident: 'lib-test', onEvent: (e) => events.push(e) });
    const [sent, worked, processed] = await Promise.all([sending, working, processing]);
    expect(sent.kwargs.ident).toBe('lib-test');
    expect(worked).toMatchObject({ ok: true, job: { status: 'failed', rc: 2 } });
    expect(processed).toMatchObject({ status: 'failed', rc: 2 });
    expect(events.map((e) => e.event)).toContain('runner_on_failed');
    expect(events.every((e) => e.runner_ident === 'lib-test')).toBe(true);
    expect(readFileSync(path.join(out, 'artifacts', 'lib-test', 'rc'), 'utf8')).toBe('2');
  });

  test('transmit() validates options at the edge with a precise message', async () => {
    const sink = new PassThrough();
    // The type refuses both too; JavaScript callers get the run-time check.
    // @ts-expect-error a playbook and a module
    await expect(transmit({ privateDataDir: dataDir(''), playbook: 'a.yml', module: 'ping' }, sink)).rejects.toThrow(TransmitError);
    // @ts-expect-error a playbook and a module
    await expect(transmit({ privateDataDir: dataDir(''), playbook: 'a.yml', module: 'ping' }, sink)).rejects.toThrow(/exactly one of a playbook/);
    await expect(transmit({ privateDataDir: dataDir(''), playbook: 'a.yml', inventory: '../elsewhere' }, sink)).rejects.toThrow(/outside the private data dir/);
  });
});
