import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { EventFileWriter } from '../../../operator/src/streaming/event-files.js';
import { ProcessError, processStream } from '../../../operator/src/streaming/process.js';

// Real files in a temp dir: past its first 2,000 files the writer hands batches to a worker thread.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ajo-event-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('every file is on disk with its exact bytes once drain resolves, in the thread and before it', async () => {
  const writer = new EventFileWriter();
  for (let i = 1; i <= 5000; i += 1) await writer.write(path.join(dir, `${i}.json`), Buffer.from(`{"counter": ${i}, "é": "${'x'.repeat(i % 50)}"}\n`));
  await writer.drain();
  expect(readdirSync(dir)).toHaveLength(5000);
  for (const i of [1, 2000, 2001, 4999, 5000]) {
    expect(readFileSync(path.join(dir, `${i}.json`), 'utf8')).toBe(`{"counter": ${i}, "é": "${'x'.repeat(i % 50)}"}\n`);
  }
});

test('with { thread: false } every file is on disk as soon as its write resolves, past the first 2,000 too', async () => {
  const writer = new EventFileWriter({ thread: false });
  for (let i = 1; i <= 3000; i += 1) {
    await writer.write(path.join(dir, `${i}.json`), Buffer.from(`{"counter": ${i}}\n`));
    // The thread's batches are sent on a later turn of the event loop: synchronous writes are already there.
    if (i % 500 === 0) expect(readFileSync(path.join(dir, `${i}.json`), 'utf8')).toBe(`{"counter": ${i}}\n`);
  }
  expect(readdirSync(dir)).toHaveLength(3000);
  await writer.drain();
});

test('a failed write in the thread rejects drain (or a later write) with the reason and the file', async () => {
  const writer = new EventFileWriter();
  const missing = path.join(dir, 'no-such-dir');
  let failure: unknown;
  try {
    for (let i = 1; i <= 4000; i += 1) await writer.write(path.join(i === 3000 ? missing : dir, `${i}.json`), Buffer.from('{}\n'));
    await writer.drain();
  } catch (error) {
    failure = error;
  }
  expect(String(failure)).toMatch(/ENOENT.*no-such-dir\/3000\.json/);
  // Kept as a system error, so that process can say "no such file or directory: <path>" (or ENOSPC's words).
  expect(failure).toMatchObject({ code: 'ENOENT', syscall: 'open', path: path.join(missing, '3000.json') });
  await writer.drain().catch(() => undefined); // the thread is stopped either way
});

function eventLines(count: number): string {
  let text = '{"status": "starting", "runner_ident": "bench", "command": [], "env": {}, "cwd": "/"}\n';
  for (let counter = 1; counter <= count; counter += 1) {
    text += `{"uuid": "u-${counter}", "counter": ${counter}, "stdout": "line ${counter}", "start_line": ${counter - 1}, "end_line": ${counter}, "runner_ident": "bench", "event": "verbose", "event_data": {}}\n`;
  }
  return text;
}

test('process: a long stream cut short keeps every event it received on disk, then fails', async () => {
  const privateDataDir = path.join(dir, 'pdd');
  mkdirSync(privateDataDir);
  const run = processStream(Readable.from([Buffer.from(eventLines(6000))]), { privateDataDir });
  await expect(run).rejects.toBeInstanceOf(ProcessError);
  await expect(run).rejects.toThrow(/ended before its \{"eof": true\} line/);
  const events = readdirSync(path.join(privateDataDir, 'artifacts', 'job_events'));
  expect(events).toHaveLength(6000);
  expect(existsSync(path.join(privateDataDir, 'artifacts', 'job_events', '6000-u-6000.json'))).toBe(true);
  expect(readFileSync(path.join(privateDataDir, 'artifacts', 'job_events', '4321-u-4321.json'), 'utf8')).toContain('"stdout": "line 4321"');
});
