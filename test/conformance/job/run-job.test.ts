/**
 * runJob against the real ansible-runner 2.3.1 (`ansible-runner run`) on
 * copies of the same private data dirs, with the fixtures' scrubbed
 * environment: same rc, status, event sequence (names, counters, stdout and
 * event_data after normalising run-specific values), command artifact and
 * artifact file set.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { RunnerKwargs } from '../../../operator/src/protocol/kwargs.js';
import { deterministicDemo, fixture } from '../../helpers/fixtures.js';
import { missingPrograms } from '../../helpers/programs.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { artifactListing, commandArtifact, copyInput, normaliseEvents, runAjo, runRealRunner } from './helpers.js';

const missing = missingPrograms('ansible-runner', 'ansible-playbook');

const PLAY_HEADER = '---\n- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n';
const LOCAL_INVENTORY = { 'inventory/hosts': 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' };

interface Case {
  name: string;
  input: () => string;
  playbook: string;
  kwargs?: Partial<RunnerKwargs>;
  runnerArgs?: string[];
  cancelAfterMs?: number;
  expect: { rc: number; status: string };
  /** What this case is about, checked on our events. */
  /**
   * A stray line that is finished in a read of its own is written raw (`\r\n`),
   * one finished in the same read as a marker is written stripped + `\n`:
   * OutputEventFilter's stdout file depends on read timing, in the runner too.
   */
  strayLineEndsVary?: boolean;
  check?: (events: Array<Record<string, unknown>>) => void;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function compareCase(c: Case): Promise<{ ajoMs: number; runnerMs: number }> {
  const runnerDir = c.input();
  const ajoDir = c.input();
  dirs.push(runnerDir, ajoDir);
  const ident = `conf-${c.name}`;
  const controller = new AbortController();
  const cancelTimer = c.cancelAfterMs ? setTimeout(() => controller.abort(), c.cancelAfterMs) : null;
  const [real, ours] = await Promise.all([
    runRealRunner(runnerDir, ident, ['-p', c.playbook, ...(c.runnerArgs ?? [])], c.cancelAfterMs),
    runAjo(ajoDir, { ident, playbook: c.playbook, ...c.kwargs } as RunnerKwargs, controller.signal),
  ]);
  if (cancelTimer) clearTimeout(cancelTimer);
  c.check?.(ours.events.map((e) => JSON.parse(e)));

  expect({ rc: real.rc, status: real.status }).toEqual(c.expect);
  expect({ rc: ours.rc, status: ours.status }).toEqual(c.expect);
  const theirs = normaliseEvents(real.events, runnerDir);
  const mine = normaliseEvents(ours.events, ajoDir);
  expect(mine.map((e) => JSON.parse(e).event)).toEqual(theirs.map((e) => JSON.parse(e).event));
  expect(mine).toEqual(theirs);
  expect(ours.events.map((e) => JSON.parse(e).counter)).toEqual(ours.events.map((_, i) => i + 1));

  const realArtifacts = path.join(runnerDir, 'artifacts', ident);
  expect(ours.artifactDir).toBe(path.join(ajoDir, 'artifacts', ident));
  expect(artifactListing(ours.artifactDir)).toEqual(artifactListing(realArtifacts));
  expect(commandArtifact(ours.artifactDir, ajoDir)).toBe(commandArtifact(realArtifacts, runnerDir));
  expect(readFileSync(path.join(ours.artifactDir, 'rc'), 'utf8')).toBe(String(c.expect.rc));
  expect(readFileSync(path.join(ours.artifactDir, 'status'), 'utf8')).toBe(c.expect.status);
  const read = (dir: string): string => readFileSync(path.join(dir, 'stdout'), 'utf8');
  const text = (dir: string): string => (c.strayLineEndsVary ? read(dir).replace(/^(Enter the secret: )\r?\n/m, '$1\n') : read(dir));
  const norm = (dir: string, base: string): string => normaliseEvents([JSON.stringify(text(dir))], base)[0]!;
  expect(norm(ours.artifactDir, ajoDir)).toBe(norm(realArtifacts, runnerDir));
  // Statuses: starting (command/env/cwd), running, final.
  expect(ours.statuses.map((s) => JSON.parse(s).status)).toEqual(['starting', 'running', c.expect.status]);
  expect(JSON.parse(ours.statuses[0]!).command).toEqual(JSON.parse(readFileSync(path.join(ours.artifactDir, 'command'), 'utf8')).command);
  return { ajoMs: ours.wallMs, runnerMs: real.wallMs };
}

const input = (name: string) => () => copyInput(fixture('cases', name, 'input'));

const cases: Case[] = [
  { name: 'task_failure', input: input('task_failure'), playbook: 'fail.yml', expect: { rc: 2, status: 'failed' } },
  { name: 'unreachable', input: input('unreachable'), playbook: 'unreachable.yml', expect: { rc: 4, status: 'failed' } },
  { name: 'missing_playbook', input: input('missing_playbook'), playbook: 'does_not_exist.yml', expect: { rc: 1, status: 'failed' } },
  { name: 'syntax_error', input: input('syntax_error'), playbook: 'bad.yml', expect: { rc: 4, status: 'failed' } },
  {
    name: 'missing_binary',
    input: input('missing_binary'),
    playbook: 'test.yml',
    kwargs: { binary: '/nonexistent/ansible-playbook' },
    runnerArgs: ['-b', '/nonexistent/ansible-playbook'],
    expect: { rc: 127, status: 'failed' },
  },
  { name: 'job_timeout', input: input('job_timeout'), playbook: 'slow.yml', expect: { rc: 254, status: 'timeout' } },
  { name: 'canceled', input: input('canceled'), playbook: 'slow.yml', cancelAfterMs: 4000, expect: { rc: 254, status: 'canceled' } },
  {
    name: 'non_ascii',
    input: () =>
      copyInput(null, {
        ...LOCAL_INVENTORY,
        'project/unicode.yml':
          PLAY_HEADER +
          '    - name: "Grüße ✓ 日本語"\n      ansible.builtin.debug:\n        msg: "ünïcödé 🚀 — «quotes» ñ"\n' +
          "    - name: command output\n      ansible.builtin.command: printf 'caf\\303\\251 \\360\\237\\232\\200\\n'\n",
      }),
    playbook: 'unicode.yml',
    check: (events) => expect(events.map((e) => e.stdout).join('\n')).toMatch(/TASK \[Grüße ✓ 日本語\][\s\S]*"msg": "ünïcödé 🚀 — «quotes» ñ"/),
    expect: { rc: 0, status: 'successful' },
  },
  {
    name: 'passwords',
    input: () =>
      copyInput(null, {
        ...LOCAL_INVENTORY,
        'project/prompt.yml':
          '---\n- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars_prompt:\n    - name: secret\n      prompt: Enter the secret\n      private: true\n' +
          '  tasks:\n    - ansible.builtin.debug:\n        msg: "got {{ secret }}"\n',
        'env/passwords': '---\n"Enter the secret:\\\\s*?$": "hunter2"\n',
      }),
    playbook: 'prompt.yml',
    strayLineEndsVary: true,
    check: (events) => expect(events.some((e) => String(e.stdout).includes('"msg": "got hunter2"'))).toBe(true),
    expect: { rc: 0, status: 'successful' },
  },
  {
    name: 'demo',
    // Every async check sees the same state on every run (test/conformance/demo/project/test.yml), so
    // the events are compared whole: poll, retry and attempt counts included.
    input: () => copyInput(deterministicDemo),
    playbook: 'test.yml',
    expect: { rc: 0, status: 'successful' },
    check: (events) => {
      const names = events.map((e) => e.event);
      expect(names.filter((name) => name === 'runner_on_async_poll')).toHaveLength(1);
      expect(names.filter((name) => name === 'runner_retry')).toHaveLength(1);
      expect(names).toContain('runner_on_async_ok');
      // poll: 0 + async_status until finished: the fire-and-forget job was found and finished.
      const waited = events.find((e) => e.event === 'runner_on_ok' && JSON.stringify(e.event_data).includes('Wait for fire-and-forget'));
      expect((waited?.event_data as { res: { finished: number; stdout: string } }).res).toMatchObject({ finished: 1, stdout: 'fire-and-forget-done' });
    },
  },
];

describeOrSkip('runJob vs ansible-runner run', missing, () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { ajoMs, runnerMs } = await compareCase(c);
    console.log(`${c.name}: ajo ${ajoMs} ms, ansible-runner ${runnerMs} ms (run side by side)`);
  });

  test('demo: fact cache and async job results', async () => {
    const demo = dirs.find((d) => existsSync(path.join(d, 'artifacts', 'conf-demo', 'fact_cache', 'localhost')));
    expect(demo).toBeDefined();
    expect(readFileSync(path.join(demo!, 'artifacts', 'conf-demo', 'fact_cache', 'localhost'), 'utf8')).toBe('{\n    "demo_fact": 42\n}');
  });
});

describeOrSkip('100k-line stdout', missing, () => {
  const BIG_PLAY =
    PLAY_HEADER +
    '    - name: Generate 100000 lines\n      ansible.builtin.command: >-\n' +
    `        /usr/bin/python3 -c "import sys; sys.stdout.write(''.join('line %06d %s\\\\n' % (i, 'x' * 40) for i in range(100000)))"\n` +
    '      register: big\n    - name: Print them (one event of 100k lines)\n      ansible.builtin.debug:\n        var: big.stdout_lines\n';

  test('same events and stdout; wall time of each measured alone', async () => {
    const make = () => copyInput(null, { ...LOCAL_INVENTORY, 'project/big.yml': BIG_PLAY });
    const runnerDir = make();
    const ajoDir = make();
    dirs.push(runnerDir, ajoDir);
    // One after the other, so the timings do not share the two CPUs.
    const real = await runRealRunner(runnerDir, 'conf-big', ['-p', 'big.yml']);
    const ours = await runAjo(ajoDir, { ident: 'conf-big', playbook: 'big.yml' } as RunnerKwargs);
    console.log(`100k-line stdout: ajo runJob ${ours.wallMs} ms, ansible-runner run ${real.wallMs} ms`);
    expect([ours.rc, ours.status]).toEqual([real.rc, real.status]);
    expect(normaliseEvents(ours.events, ajoDir)).toEqual(normaliseEvents(real.events, runnerDir));
    const big = ours.events.map((e) => JSON.parse(e)).find((e) => e.event === 'runner_on_ok' && String(e.stdout).includes('line 099999'));
    expect(String(big.stdout).split('\r\n').length).toBeGreaterThan(100_000);
    const stdoutOf = (dir: string) => readFileSync(path.join(dir, 'artifacts', 'conf-big', 'stdout'), 'utf8').replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+/g, 'T').replace(/\d+:\d\d:\d\d\.\d+/g, 'D');
    expect(stdoutOf(ajoDir)).toBe(stdoutOf(runnerDir));
  });
});
