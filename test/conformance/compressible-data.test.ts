/**
 * Legitimate data that compresses extremely well is not a zip bomb. ansible-runner runs
 * jobs with a 10 MB zeroed file (1012:1) or a 5 MB repetitive log (510:1) in the payload,
 * or a 200 MB stdout line in the artifacts, so ajo must too: through worker, process and
 * run, whether the zips come from ajo's packer or from Python's zipfile (ansible-runner).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packDirectory } from '../../operator/src/protocol/zip.js';
import { fixture } from '../helpers/fixtures.js';
import { tempDirs } from '../helpers/temp.js';
import { AJO, RUNNER, SCRUBBED_ENV, comboName, runPipeline, type Combo } from './pipeline.js';

const ZEROS_BYTES = 10_000_000;
const LOG = '2024-05-01T12:00:00.000Z INFO web-1 GET /healthz 200 0.4ms\n'.repeat(85_000);
/** A line of the play's own output that deflates ~1000:1 into the artifacts' stdout file. */
const LONG_LINE_BYTES = 2_000_000;

const sha1 = (data: string | Buffer): string => createHash('sha1').update(data).digest('hex');

const scratch = tempDirs('ajo-conformance-');

/** A private data dir whose play checks that the payload arrived whole, then prints a long line. */
function compressibleDataDir(): string {
  const dir = scratch('ajo-compressible-');
  mkdirSync(path.join(dir, 'project'));
  mkdirSync(path.join(dir, 'inventory'));
  writeFileSync(path.join(dir, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  writeFileSync(path.join(dir, 'project', 'zeros.bin'), Buffer.alloc(ZEROS_BYTES));
  writeFileSync(path.join(dir, 'project', 'app.log'), LOG);
  writeFileSync(
    path.join(dir, 'project', 'site.yml'),
    `- hosts: all
  gather_facts: false
  tasks:
    - stat: { path: "{{ playbook_dir }}/zeros.bin", checksum_algorithm: sha1 }
      register: zeros
    - stat: { path: "{{ playbook_dir }}/app.log", checksum_algorithm: sha1 }
      register: log
    - assert:
        that:
          - zeros.stat.checksum == "${sha1(Buffer.alloc(ZEROS_BYTES))}"
          - log.stat.checksum == "${sha1(LOG)}"
    - debug: { msg: "{{ 'x' * ${LONG_LINE_BYTES} }}" }
`,
  );
  return dir;
}

const longLineIn = (stdout: string | null): boolean => (stdout ?? '').includes('x'.repeat(LONG_LINE_BYTES));

describe('compressible payloads and artifacts go through', () => {
  const combos: Combo[] = [
    { transmit: 'ajo', worker: 'ajo', process: 'ajo' },
    { transmit: 'runner', worker: 'ajo', process: 'ajo' },
    { transmit: 'ajo', worker: 'runner', process: 'ajo' },
    { transmit: 'runner', worker: 'runner', process: 'ajo' },
  ];

  test.each(combos.map((combo) => [comboName(combo), combo] as const))('%s', (_name, combo) => {
    const outcome = runPipeline(combo, { dataDir: compressibleDataDir(), playbook: 'site.yml' }, scratch);
    expect(outcome.stderr).not.toMatch(/ratio|refused|unsafe/);
    expect(outcome.exitCodes).toEqual([0, 0, 0]);
    expect(outcome.status).toBe('successful');
    expect(longLineIn(outcome.stdoutArtifact)).toBe(true);
  });

  test('ajo run', () => {
    const dir = compressibleDataDir();
    const result = spawnSync(process.execPath, [AJO, 'run', dir, '-p', 'site.yml', '-q'], { env: SCRUBBED_ENV, encoding: 'utf8' });
    expect(result.stderr).toMatch(/^ajo: successful rc=0/m);
    expect(result.status).toBe(0);
    expect(longLineIn(readFileSync(path.join(dir, 'artifacts', 'stdout'), 'utf8'))).toBe(true);
  });
});

describe('ajo run takes the limit flags to both unpacks', () => {
  const run = (dir: string, ...flags: string[]) =>
    spawnSync(process.execPath, [AJO, 'run', dir, '-p', 'site.yml', '-q', ...flags], { env: SCRUBBED_ENV, encoding: 'utf8' });

  test('the payload: the worker refuses it and no play runs', () => {
    const dir = compressibleDataDir();
    const result = run(dir, '--max-compression-ratio', '500');
    expect(result.stderr).toMatch(
      /^ajo run: refused to extract the private data directory: zip member 'project\/zeros\.bin' inflates \d+:1 \(10000000 bytes from \d+\), over the ratio limit of 500:1$/m,
    );
    expect(result.status).toBe(1);
    expect(readdirSync(path.join(dir, 'artifacts', 'job_events'))).toEqual([]);
  });

  test('the artifacts: process refuses them, and says which member', () => {
    // Only the play's output compresses that well here: the payload passes, the artifacts do not.
    const dir = compressibleDataDir();
    rmSync(path.join(dir, 'project', 'zeros.bin'));
    rmSync(path.join(dir, 'project', 'app.log'));
    writeFileSync(path.join(dir, 'project', 'site.yml'), `- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: { msg: "{{ 'x' * ${LONG_LINE_BYTES} }}" }\n`);
    const result = run(dir, '--max-compression-ratio', '500');
    expect(result.stderr).toMatch(/^ajo run: unsafe artifacts archive: zip member 'stdout' inflates \d+:1 \(\d+ bytes from \d+\), over the ratio limit of 500:1$/m);
    expect(result.status).toBe(1);
  });
});

describe('a 200 MB stdout line in the artifacts', () => {
  const STDOUT_BYTES = 200 * 1024 * 1024;
  const recorded = readFileSync(fixture('demo_run', 'worker.stream')).toString('latin1');
  const beforeZip = recorded.slice(0, recorded.indexOf('{"zipfile"'));

  let made: string | undefined;
  /** The artifacts of a successful job, with a stdout of one 200 MB line (made once). */
  function artifactsDir(): string {
    if (made) return made;
    const dir = (made = scratch('ajo-big-stdout-'));
    mkdirSync(path.join(dir, 'job_events'));
    writeFileSync(path.join(dir, 'stdout'), Buffer.alloc(STDOUT_BYTES, 'x'));
    writeFileSync(path.join(dir, 'rc'), '0');
    writeFileSync(path.join(dir, 'status'), 'successful');
    return dir;
  }

  /** The zip frame as ansible-runner's worker sends it: its own stream_dir, over Python's zipfile. */
  function runnerZipFrame(dir: string): Buffer {
    const script = 'import sys\nfrom ansible_runner.utils.streaming import stream_dir\nstream_dir(sys.argv[1], sys.stdout)';
    return spawnSync('/usr/bin/python3', ['-c', script, dir], { maxBuffer: 64 * 1024 * 1024 }).stdout;
  }

  async function ajoZipFrame(dir: string): Promise<Buffer> {
    const zip = path.join(scratch('ajo-big-stdout-zip-'), 'artifacts.zip');
    await packDirectory(dir, zip);
    const data = readFileSync(zip);
    return Buffer.from(`{"zipfile": ${data.length}}\n${data.toString('base64')}`);
  }

  test.each([
    ['Python (ansible-runner stream_dir)', async (dir: string) => runnerZipFrame(dir)],
    ['ajo (packDirectory)', ajoZipFrame],
  ])('zipped by %s: process writes it all and exits 0', async (_label, zipFrame) => {
    const frame = await zipFrame(artifactsDir());
    const stream = Buffer.concat([Buffer.from(beforeZip, 'latin1'), frame, Buffer.from('{"eof": true}\n')]);
    const out = scratch('ajo-big-stdout-out-');
    const result = spawnSync(process.execPath, [AJO, 'process', out, '-q'], { input: stream, env: SCRUBBED_ENV, encoding: 'utf8' });
    expect(result.stderr).not.toMatch(/ajo process:/);
    expect(result.status).toBe(0);
    expect(readFileSync(path.join(out, 'artifacts', 'status'), 'utf8')).toBe('successful');
    expect(statSync(path.join(out, 'artifacts', 'stdout')).size).toBe(STDOUT_BYTES);
  });

  test('ansible-runner itself takes the same stream', () => {
    // The reference: what ajo must not refuse, ansible-runner's process accepts.
    const dir = artifactsDir();
    const stream = Buffer.concat([Buffer.from(beforeZip, 'latin1'), runnerZipFrame(dir), Buffer.from('{"eof": true}\n')]);
    const out = scratch('ajo-big-stdout-runner-');
    const result = spawnSync(RUNNER, ['process', out], { input: stream, env: SCRUBBED_ENV, stdio: ['pipe', 'ignore', 'pipe'] });
    expect(result.status).toBe(0);
    expect(statSync(path.join(out, 'artifacts', 'stdout')).size).toBe(STDOUT_BYTES);
  });
});
