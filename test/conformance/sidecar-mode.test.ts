/**
 * The pod's way of running the stages: the worker reads its payload from a
 * file and appends the result stream to another; the process sidecar follows
 * that file while it grows, publishes a status document, and leaves a
 * termination message. Plus the worker's keepalives, sha256 check and cancel.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixture } from '../helpers/fixtures.js';
import { missingPrograms } from '../helpers/programs.js';
import { describeOrSkip } from '../helpers/skip.js';
import { tempDirs } from '../helpers/temp.js';
import { AJO, RUNNER, SCRUBBED_ENV, copyDataDir } from './pipeline.js';

const tmp = tempDirs('ajo-sidecar-');
/** A copy of a recorded private data dir, removed with the rest. */
const dataDirCopy = (source: string): string => tmp.adopt(copyDataDir(source));

function transmitTo(file: string, dataDir: string, playbook: string, extra: string[] = []): void {
  const result = spawnSync(process.execPath, [AJO, 'transmit', dataDir, '-p', playbook, ...extra], { env: SCRUBBED_ENV });
  expect(result.status).toBe(0);
  writeFileSync(file, result.stdout);
}

describeOrSkip('sidecar mode', missingPrograms('ansible-runner', 'ansible-playbook'), () => {
  test('process --follow reads a growing file to eof, writes the status file and termination message', async () => {
    const recorded = readFileSync(fixture('demo_run', 'worker.stream'));
    const dir = tmp();
    const streamFile = path.join(dir, 'worker.out');
    const statusFile = path.join(dir, 'status.json');
    const termination = path.join(dir, 'termination-log');
    const out = path.join(dir, 'out');
    const child = spawn(process.execPath, [AJO, 'process', out, '--follow', streamFile, '--status-file', statusFile, '--termination-log', termination, '-q'], {
      env: SCRUBBED_ENV,
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // The file appears late and grows in pieces, as the worker container writes it.
    await sleep(300);
    const pieces = 7;
    const size = Math.ceil(recorded.length / pieces);
    for (let i = 0; i < pieces; i++) {
      appendFileSync(streamFile, recorded.subarray(i * size, (i + 1) * size));
      await sleep(150);
      if (i === 2) expect(existsSync(path.join(out, 'artifacts', 'status'))).toBe(false);
    }
    expect(await exited).toBe(0);
    expect(readdirSync(path.join(out, 'artifacts', 'job_events'))).toHaveLength(50);
    const doc = JSON.parse(readFileSync(statusFile, 'utf8'));
    expect(doc).toMatchObject({ streamStatus: 'finished', status: 'successful', rc: 0, eventCount: 50 });
    expect(doc.hostCounts).toMatchObject({ ok: expect.any(Number), failures: 0 });
    const message = readFileSync(termination, 'utf8');
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(4096);
    expect(JSON.parse(message)).toMatchObject({ status: 'successful', rc: 0, eventCount: 50 });
  });

  test('worker --input/--output with a matching --input-sha256 runs; a mismatch is refused before running', () => {
    const dir = tmp();
    const input = path.join(dir, 'payload');
    transmitTo(input, dataDirCopy(fixture('cases', 'task_failure', 'input')), 'fail.yml');
    const sha = createHash('sha256').update(readFileSync(input)).digest('hex');

    const good = spawnSync(process.execPath, [AJO, 'worker', '--input', input, '--output', path.join(dir, 'good.out'), '--input-sha256', sha], { env: SCRUBBED_ENV });
    expect(good.status).toBe(2);
    expect(readFileSync(path.join(dir, 'good.out'), 'utf8')).toMatch(/"status": "failed"/);

    const bad = spawnSync(process.execPath, [AJO, 'worker', '--input', input, '--output', path.join(dir, 'bad.out'), '--input-sha256', '0'.repeat(64)], { env: SCRUBBED_ENV });
    expect(bad.status).toBe(1);
    expect(bad.stderr.toString()).toMatch(/sha256 is [0-9a-f]{64}, expected 0{64}/);
    const lines = readFileSync(path.join(dir, 'bad.out'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/"status": "error"/);
    expect(lines.join('\n')).not.toMatch(/runner_on_|playbook_on_start/);
  });

  test('keepalives flow while the job is quiet; ajo process skips them', () => {
    const dataDir = dataDirCopy(fixture('cases', 'job_timeout', 'input'));
    const dir = tmp();
    const input = path.join(dir, 'payload');
    transmitTo(input, dataDir, 'slow.yml');
    const worker = spawnSync(process.execPath, [AJO, 'worker', '--input', input, '--keepalive-seconds', '1'], { env: SCRUBBED_ENV, maxBuffer: 64 << 20 });
    const stream = worker.stdout.toString();
    const keepalives = stream.split('\n').filter((line) => line === '{"event": "keepalive"}');
    expect(keepalives.length).toBeGreaterThanOrEqual(2);
    const processed = spawnSync(process.execPath, [AJO, 'process', path.join(dir, 'out'), '-q'], { input: stream, env: SCRUBBED_ENV });
    expect(processed.status).toBe(254);
    expect(readFileSync(path.join(dir, 'out', 'artifacts', 'status'), 'utf8')).toBe('timeout');
    const files = readdirSync(path.join(dir, 'out', 'artifacts', 'job_events'));
    expect(files.some((f) => f.includes('keepalive'))).toBe(false);
  });

  test('SIGTERM cancels the job: status canceled, rc 254, and the stream still ends with artifacts and eof', async () => {
    const dir = tmp();
    const input = path.join(dir, 'payload');
    transmitTo(input, dataDirCopy(fixture('cases', 'canceled', 'input')), 'slow.yml');
    const child = spawn(process.execPath, [AJO, 'worker', '--input', input], { env: SCRUBBED_ENV });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    while (!output.includes('runner_on_start')) await sleep(100);
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(254);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(output).toMatch(/"status": "canceled"/);
    expect(output.endsWith('{"eof": true}\n')).toBe(true);
    const processed = spawnSync(RUNNER, ['process', path.join(dir, 'runner-out')], { input: output, env: SCRUBBED_ENV });
    expect(processed.status).toBe(0);
    expect(readFileSync(path.join(dir, 'runner-out', 'artifacts', 'status'), 'utf8')).toBe('canceled');
  });
});
