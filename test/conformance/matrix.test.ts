/**
 * Conformance: every combination of {ajo, ansible-runner} for each of
 * transmit, worker and process must agree with the all-ansible-runner
 * pipeline on rc, status, the event sequence, the artifact file set and the
 * text printed. Every case sees the same states on every run, so nothing is
 * compared without its poll and retry counts.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { asyncGate, deterministicDemo, fixture } from '../helpers/fixtures.js';
import { missingPrograms } from '../helpers/programs.js';
import { describeOrSkip } from '../helpers/skip.js';
import { tempDirs } from '../helpers/temp.js';
import { ALL_COMBOS, comboName, normaliseText, runPipeline, type PipelineOutcome } from './pipeline.js';

interface Case {
  name: string;
  dataDir: () => string;
  /** Sent as -p; without it, transmitArgs say what to run. */
  playbook?: string;
  /** More transmit flags, which both CLIs accept. */
  transmitArgs?: string[];
  expect: { rc: string; status: string };
  /** How many events of these kinds the reference has: the states its async checks see, fixed by construction. */
  eventCounts?: Record<string, number>;
}

const ONE_POLL_ONE_RETRY = { runner_on_async_poll: 1, runner_retry: 1 };

const tmp = tempDirs('ajo-conf-matrix-');

const INVENTORY = 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n';

/** A private data dir with `body` as project/`playbook`; `withAsyncGate` adds project/async-gate. */
function madeDataDir(playbook: string, body: string, options: { withAsyncGate?: boolean } = {}): () => string {
  return () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'project'));
    mkdirSync(path.join(dir, 'inventory'));
    writeFileSync(path.join(dir, 'inventory', 'hosts'), INVENTORY);
    writeFileSync(path.join(dir, 'project', playbook), body);
    if (options.withAsyncGate) copyFileSync(asyncGate, path.join(dir, 'project', 'async-gate'));
    return dir;
  };
}

const fixtureDir = (...parts: string[]) => () => fixture(...parts);

/** A private data dir with a role in roles/ and no project/: -r makes the playbook. */
function roleDataDir(role: string, tasks: string): () => string {
  return () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'roles', role, 'tasks'), { recursive: true });
    writeFileSync(path.join(dir, 'roles', role, 'tasks', 'main.yml'), tasks);
    mkdirSync(path.join(dir, 'inventory'));
    writeFileSync(path.join(dir, 'inventory', 'hosts'), INVENTORY);
    return dir;
  };
}

const CASES: Case[] = [
  // The recorded demo with async jobs that wait for conditions, not times (test/conformance/demo/project/test.yml).
  { name: 'demo (async, poll 0, async_status, fact cache)', dataDir: () => deterministicDemo, playbook: 'test.yml', expect: { rc: '0', status: 'successful' }, eventCounts: ONE_POLL_ONE_RETRY },
  { name: 'task failure', dataDir: fixtureDir('cases', 'task_failure', 'input'), playbook: 'fail.yml', expect: { rc: '2', status: 'failed' } },
  { name: 'unreachable host', dataDir: fixtureDir('cases', 'unreachable', 'input'), playbook: 'unreachable.yml', expect: { rc: '4', status: 'failed' } },
  { name: 'missing playbook', dataDir: fixtureDir('cases', 'missing_playbook', 'input'), playbook: 'does_not_exist.yml', expect: { rc: '1', status: 'failed' } },
  { name: 'syntax error', dataDir: fixtureDir('cases', 'syntax_error', 'input'), playbook: 'bad.yml', expect: { rc: '4', status: 'failed' } },
  { name: 'job timeout (env/settings job_timeout)', dataDir: fixtureDir('cases', 'job_timeout', 'input'), playbook: 'slow.yml', expect: { rc: '254', status: 'timeout' } },
  { name: 'many events (2,006)', dataDir: fixtureDir('cases', 'many_events', 'input'), playbook: 'many.yml', expect: { rc: '0', status: 'successful' } },
  { name: 'one 5.6 MB event', dataDir: fixtureDir('cases', 'large_stdout', 'input'), playbook: 'big.yml', expect: { rc: '0', status: 'successful' } },
  {
    name: 'async and poll 0 made here',
    playbook: 'async.yml',
    expect: { rc: '0', status: 'successful' },
    eventCounts: ONE_POLL_ONE_RETRY,
    // Each job waits for its gate file; async-gate (test/conformance/demo/project) makes the first
    // check see the job running and release it, and later checks wait for the end: one poll event,
    // one until retry, every run.
    dataDir: madeDataDir(
      'async.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - shell: until [ -e "$AJO_GATE" ]; do sleep 0.1; done
      async: 60
      poll: 1
      environment:
        AJO_GATE: "{{ playbook_dir }}/polled.released"
      vars:
        ansible_python_interpreter: "{{ playbook_dir }}/async-gate"
    - shell: until [ -e "$AJO_GATE" ]; do sleep 0.1; done
      async: 60
      poll: 0
      environment:
        AJO_GATE: "{{ playbook_dir }}/bg.released"
      register: bg
    - async_status:
        jid: "{{ bg.ansible_job_id }}"
      register: r
      until: r.finished
      retries: 10
      delay: 1
      environment:
        AJO_GATE: "{{ playbook_dir }}/bg.released"
      vars:
        ansible_python_interpreter: "{{ playbook_dir }}/async-gate"
`,
      { withAsyncGate: true },
    ),
  },
  {
    name: 'non-ASCII output',
    playbook: 'unicode.yml',
    expect: { rc: '0', status: 'successful' },
    dataDir: madeDataDir(
      'unicode.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - name: "Grüße 🚀 日本語"
      debug:
        msg: "héllo wörld — ✓ 🚀 \\u00e9 日本語"
`,
    ),
  },
  {
    name: '100k-line stdout',
    playbook: 'lines.yml',
    expect: { rc: '0', status: 'successful' },
    dataDir: madeDataDir(
      'lines.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - command: seq 1 100000
      register: out
      changed_when: false
    - debug:
        var: out.stdout_lines
`,
    ),
  },
  {
    name: 'a role in DIR/roles without --roles-path: not found, as by ansible-runner 2.3.1',
    transmitArgs: ['-r', 'greet'],
    expect: { rc: '1', status: 'failed' },
    dataDir: roleDataDir('greet', '- debug: msg=unreachable\n'),
  },
  {
    name: 'a role run with -r (roles/greet, --role-vars, --role-skip-facts)',
    // ansible-runner's -r puts no DIR/roles on the worker's roles path: --roles-path does, from project/.
    transmitArgs: ['-r', 'greet', '--roles-path', '../roles', '--role-vars', 'greeting=hi count=3 items=[1,2]', '--role-skip-facts'],
    expect: { rc: '0', status: 'successful' },
    dataDir: roleDataDir(
      'greet',
      `- debug:
    msg: "{{ greeting }} x{{ count + 1 }} {{ items | sum }}"
- command: echo from the role
  changed_when: false
`,
    ),
  },
];

const comparable = (o: PipelineOutcome) => ({
  rc: o.rc,
  status: o.status,
  artifactFiles: o.artifactFiles,
  events: o.events,
  // Whichever process printed it, the playbook output a user sees is the same.
  printed: normaliseText(o.printed),
});

/** AJO_CONFORMANCE_COMBOS=ajo|runner|ajo,... narrows the matrix while developing. */
const combos = process.env.AJO_CONFORMANCE_COMBOS
  ? ALL_COMBOS.filter((c) => process.env.AJO_CONFORMANCE_COMBOS!.split(',').includes(comboName(c)))
  : ALL_COMBOS;

// Every stage but ajo's own runs ansible-runner, and every worker runs ansible-playbook.
describeOrSkip('conformance matrix', missingPrograms('ansible-runner', 'ansible-playbook'), () => {
  describe.each(CASES)('$name', (testCase) => {
    let reference: PipelineOutcome;
    const input = () => ({ dataDir: testCase.dataDir(), playbook: testCase.playbook, transmitArgs: testCase.transmitArgs });

    beforeAll(() => {
      reference = runPipeline({ transmit: 'runner', worker: 'runner', process: 'runner' }, input(), tmp);
    });

    test('the all-ansible-runner reference behaves as recorded', () => {
      expect({ rc: reference.rc, status: reference.status }).toEqual(testCase.expect);
      expect(reference.events.length).toBeGreaterThan(0);
      for (const [event, count] of Object.entries(testCase.eventCounts ?? {})) {
        expect([event, reference.events.filter((e) => e.event === event).length]).toEqual([event, count]);
      }
    });

    test.each(combos.filter((c) => comboName(c) !== 'runner|runner|runner'))('$transmit | $worker | $process agrees with it', (combo) => {
      expect(comparable(runPipeline(combo, input(), tmp))).toEqual(comparable(reference));
    });
  });
});
