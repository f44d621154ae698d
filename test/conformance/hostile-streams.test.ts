/**
 * Malformed and hostile input on both sides of the pipeline. The worker must
 * still end its output with an error status and eof (so the far side can
 * report it), print a clear message and exit non-zero; process must exit
 * non-zero with a clear message, keeping the events it already wrote. Nothing
 * may appear outside the target directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { EOF, JOB_KWARGS, listTree, makeZip, zipFrame } from '../helpers/hostile.js';
import { missingPrograms } from '../helpers/programs.js';
import { describeOrSkip, testOrSkip } from '../helpers/skip.js';
import { tempDirs } from '../helpers/temp.js';
import { AJO, RUNNER, SCRUBBED_ENV } from './pipeline.js';

interface Sandbox {
  root: string;
  target: string;
  outside: string;
}

const tmp = tempDirs('ajo-hostile-');

function sandbox(): Sandbox {
  const root = tmp();
  const target = path.join(root, 'target');
  const outside = path.join(root, 'outside');
  mkdirSync(outside);
  return { root, target, outside };
}

function ajo(args: string[], input: string | Buffer) {
  const result = spawnSync(process.execPath, [AJO, ...args], { input, env: SCRUBBED_ENV, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return { code: result.status, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}

/** Nothing but the target may have appeared in the sandbox, and nothing in `outside`. */
function expectContained(box: Sandbox): void {
  expect(listTree(box.outside)).toEqual([]);
  expect(readdirSync(box.root).sort()).toEqual(existsSync(box.target) ? ['outside', 'target'] : ['outside']);
}

const tinyZip = () => makeZip([{ name: 'project/', mode: 0o40755 }, { name: 'project/site.yml', data: '- hosts: all\n  tasks: []\n' }]);

// Hostile archives are made by Python's zipfile (helpers/hostile.ts).
describeOrSkip('worker: malformed and hostile job streams', missingPrograms('python3'), () => {
  const cases: Array<[string, () => string | Buffer, RegExp]> = [
    ['empty input', () => '', /ended before its \{"eof": true\} line/],
    ['a garbage line', () => 'hello, I am not JSON\n', /expected a JSON line but found 'hello, I am not JSON'/],
    ['a truncated stream', () => JOB_KWARGS + zipFrame(tinyZip()).slice(0, 60), /ended inside a zip payload/],
    ['no eof', () => JOB_KWARGS + zipFrame(tinyZip()), /ended before its \{"eof": true\} line/],
    ['no kwargs', () => zipFrame(tinyZip()) + EOF, /no \{"kwargs": \.\.\.\} line/],
    ['a zipfile length too large', () => JOB_KWARGS + zipFrame(tinyZip(), tinyZip().length + 300) + EOF, /unexpected character '\{' inside the zip payload/],
    ['a zipfile length too small', () => JOB_KWARGS + zipFrame(tinyZip(), tinyZip().length - 30) + EOF, /smaller than the payload|not a zip|decodes to/],
    ['kwargs with neither playbook nor module', () => '{"kwargs": {"ident": "x"}}\n' + EOF, /neither a playbook nor a module/],
    ['kwargs with both playbook and module', () => '{"kwargs": {"playbook": "a.yml", "module": "ping"}}\n' + EOF, /both a playbook and a module/],
    ['an unknown kwarg', () => '{"kwargs": {"playbook": "a.yml", "bogus_option": 1}}\n' + EOF, /unknown run option\(s\) 'bogus_option'/],
    ['a zip member with ..', () => JOB_KWARGS + zipFrame(makeZip([{ name: '../outside/evil', data: 'x' }])) + EOF, /refused to extract.*(\.\.|relative path)/],
    ['an absolute zip member', () => JOB_KWARGS + zipFrame(makeZip([{ name: '/tmp/ajo-worker-abs-evil', data: 'x' }])) + EOF, /refused to extract.*absolute/],
    [
      'a symlink pointing outside',
      () => JOB_KWARGS + zipFrame(makeZip([{ name: 'project', data: '../outside', mode: 0o120777 }])) + EOF,
      /symlink to '..\/outside', outside the target/,
    ],
    [
      'a file written through a symlink',
      () =>
        JOB_KWARGS +
        zipFrame(makeZip([{ name: 'env/', mode: 0o40755 }, { name: 'project', data: 'env', mode: 0o120777 }, { name: 'project/evil.yml', data: 'x' }])) +
        EOF,
      /written through the symlink 'project'/,
    ],
    [
      'a zip bomb (a member inflating past its declared size)',
      () => JOB_KWARGS + zipFrame(makeZip([{ name: 'zeros', zeros: 32 * 1024 * 1024, declaredSize: 1000 }])) + EOF,
      /zip member 'zeros' inflates past its declared size of 1000 bytes/,
    ],
    [
      'a member ending short of its declared size',
      () => JOB_KWARGS + zipFrame(makeZip([{ name: 'short', data: 'x'.repeat(10), declaredSize: 20 }])) + EOF,
      /zip member 'short' ends after 10 bytes, short of its declared size of 20 bytes/,
    ],
  ];

  test.each(cases)('%s: error status + eof, clear stderr, non-zero exit, nothing outside', (_label, input, message) => {
    const box = sandbox();
    const result = ajo(['worker', '--private-data-dir', box.target], input());
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBe(2);
    const status = JSON.parse(lines[0]!) as { status: string; job_explanation: string };
    expect(status.status).toBe('error');
    expect(status.job_explanation).toMatch(message);
    expect(lines[1]).toBe('{"eof": true}');
    expect(result.stderr).toMatch(message);
    expect(result.code).not.toBe(0);
    expectContained(box);
    expect(existsSync('/tmp/ajo-worker-abs-evil')).toBe(false);
  });

  test('a 32 MiB zeroed file (1000:1) is a file, not a bomb: by default the job gets it', () => {
    const box = sandbox();
    const input = '{"kwargs": {"ident": "zeros", "playbook": "missing.yml"}}\n' + zipFrame(makeZip([{ name: 'zeros', zeros: 32 * 1024 * 1024 }])) + EOF;
    const result = ajo(['worker', '--private-data-dir', box.target], input);
    expect(result.stdout).not.toMatch(/"status": "error"/);
    expect(result.stdout).toMatch(/"status": "failed"/);
    expect(readFileSync(path.join(box.target, 'zeros')).length).toBe(32 * 1024 * 1024);
  });

  test.each([
    [['--max-compression-ratio', '500'], /refused to extract the private data directory: zip member 'zeros' inflates \d+:1 \(33554432 bytes from \d+\), over the ratio limit of 500:1/],
    [['--max-unpacked-bytes', '33554431'], /refused to extract the private data directory: the archive declares 33554432 bytes in 1 member, more than the maximum of 33554431 bytes/],
  ])('%j refuses it before writing anything', (flags, message) => {
    const box = sandbox();
    const input = JOB_KWARGS + zipFrame(makeZip([{ name: 'zeros', zeros: 32 * 1024 * 1024 }])) + EOF;
    const result = ajo(['worker', '--private-data-dir', box.target, ...flags], input);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toMatch(message);
    expect(listTree(box.target)).toEqual([]);
    expectContained(box);
  });

  testOrSkip("ansible-runner's process accepts our error stream", missingPrograms('ansible-runner'), () => {
    const worker = ajo(['worker'], 'garbage\n');
    const out = tmp();
    const processed = spawnSync(RUNNER, ['process', out], { input: worker.stdout, env: SCRUBBED_ENV });
    expect(processed.status).toBe(0);
    expect(readFileSync(path.join(out, 'daemon.log'), 'utf8')).toBe('');
  });
});

describeOrSkip('process: malformed and hostile result streams', missingPrograms('python3'), () => {
  const recorded = readFileSync(fixture('demo_run', 'worker.stream'));
  const text = recorded.toString('latin1');
  const eventLines = text.split('\n').filter((l) => l.startsWith('{"uuid"'));
  const zipStart = text.indexOf('{"zipfile"');

  const cases: Array<[string, () => string | Buffer, RegExp, number]> = [
    ['empty input', () => '', /ended before its \{"eof": true\} line/, 0],
    ['a garbage line', () => 'garbage!\n', /expected a JSON line but found 'garbage!'/, 0],
    ['a stream cut after ten events', () => text.slice(0, text.indexOf(eventLines[9]!) + eventLines[9]!.length + 1), /ended before its \{"eof"/, 10],
    ['a stream cut inside the artifacts zip', () => text.slice(0, zipStart + 200), /ended inside a zip payload/, eventLines.length],
    ['no eof', () => text.slice(0, text.lastIndexOf('{"eof"')), /ended before its \{"eof"/, eventLines.length],
    ['an event without a counter', () => '{"uuid": "abc", "event": "verbose", "stdout": "x"}\n' + EOF, /lacks a whole-number "counter"/, 0],
    [
      'an event whose uuid is a path',
      () => '{"uuid": "../../outside/pwned", "counter": 1, "event": "verbose", "stdout": "x"}\n' + EOF,
      /not a safe file name/,
      0,
    ],
    ['an artifacts zip with ..', () => zipFrame(makeZip([{ name: '../../outside/evil', data: 'x' }])) + EOF, /unsafe/, 0],
    ['a zipfile length too large', () => zipFrame(tinyZip(), tinyZip().length + 300) + EOF, /unexpected character '\{' inside the zip payload/, 0],
    [
      'an artifacts zip member inflating past its declared size',
      () => zipFrame(makeZip([{ name: 'stdout', zeros: 8 * 1024 * 1024, declaredSize: 2 * 1024 * 1024 }])) + EOF,
      /unsafe artifacts archive: zip member 'stdout' inflates past its declared size of 2097152 bytes/,
      0,
    ],
  ];

  test.each(cases)('%s: clear message, non-zero exit, earlier events kept, nothing outside', (_label, input, message, eventsKept) => {
    const box = sandbox();
    const result = ajo(['process', box.target], input());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^ajo process: /);
    const jobEvents = path.join(box.target, 'artifacts', 'job_events');
    expect(existsSync(jobEvents) ? readdirSync(jobEvents).length : 0).toBe(eventsKept);
    expectContained(box);
  });

  test('--max-unpacked-bytes caps the artifacts too, before anything is unpacked', () => {
    const box = sandbox();
    const input = zipFrame(makeZip([{ name: 'stdout', data: 'x'.repeat(200) }])) + EOF;
    const result = ajo(['process', box.target, '--max-unpacked-bytes', '100'], input);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ajo process: unsafe artifacts archive: the archive declares 200 bytes in 1 member, more than the maximum of 100 bytes$/m);
    expect(listTree(path.join(box.target, 'artifacts'))).toEqual(['job_events/']);
  });

  test('a newline after the base64 (which ansible-runner chokes on) is tolerated', () => {
    const box = sandbox();
    const withNewline = text.replace('{"eof": true}', '\n{"eof": true}');
    const result = ajo(['process', box.target], withNewline);
    expect(result.stderr).not.toMatch(/ajo process:/);
    expect(readFileSync(path.join(box.target, 'artifacts', 'status'), 'utf8')).toBe('successful');
  });
});
