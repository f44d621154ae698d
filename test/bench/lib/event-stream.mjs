// The result stream for the `process` case: >= 100,000 job events.
//
// A real 100k-item loop takes ansible-runner's worker ~3.3 ms per event here (over five
// minutes), so the stream is synthesised from a real one: `ansible-runner worker` runs a
// 10,000-item debug loop once, and the task (its start, 10,000 item events and its result)
// is replayed ten times as ten tasks with fresh uuids, continuing counters and line numbers.
// The status lines, play events, stats, artifacts zip and eof are the real run's. Lines are
// edited as text so Python's JSON formatting stays byte-for-byte as the worker wrote it.
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { cacheDir, runner } from './env.mjs';
import { measurePipeline } from './measure.mjs';

const LOOP_ITEMS = 10_000;
const TASK_COPIES = 10;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const COUNTER = /"counter": (\d+)/;
const LINES = /"start_line": (\d+), "end_line": (\d+)/;

/** @returns {Promise<{ file: string, events: number, bytes: number }>} the cached stream, made on first use */
export async function eventStream(log) {
  const dir = path.join(cacheDir, 'process');
  const file = path.join(dir, `events-${LOOP_ITEMS * TASK_COPIES}.stream`);
  const metaFile = `${file}.json`;
  if (existsSync(file) && existsSync(metaFile)) return { file, ...JSON.parse(readFileSync(metaFile, 'utf8')) };

  mkdirSync(dir, { recursive: true });
  const realStream = path.join(dir, `real-${LOOP_ITEMS}.stream`);
  if (!existsSync(realStream)) {
    log(`making a real ${LOOP_ITEMS}-event stream with ansible-runner worker (about ${Math.round(LOOP_ITEMS * 3.3 / 1000)} s, once)`);
    const pdd = writeLoopPlaybook(path.join(dir, 'loop-pdd'));
    await measurePipeline([{ argv: runner('transmit', pdd, '-p', 'loop.yml') }, { argv: runner('worker') }], { stdout: `${realStream}.partial` });
    renameSync(`${realStream}.partial`, realStream);
  }
  const meta = await replicateLoopTask(realStream, `${file}.partial`);
  renameSync(`${file}.partial`, file);
  writeFileSync(metaFile, JSON.stringify(meta));
  return { file, ...meta };
}

function writeLoopPlaybook(pdd) {
  rmSync(pdd, { recursive: true, force: true });
  mkdirSync(path.join(pdd, 'project'), { recursive: true });
  mkdirSync(path.join(pdd, 'inventory'));
  writeFileSync(path.join(pdd, 'inventory', 'hosts'), 'localhost ansible_connection=local\n');
  writeFileSync(
    path.join(pdd, 'project', 'loop.yml'),
    [
      '- hosts: localhost',
      '  gather_facts: false',
      '  tasks:',
      '    - name: loop',
      '      ansible.builtin.debug:',
      '        msg: "item {{ item }}"',
      `      loop: "{{ range(0, ${LOOP_ITEMS}) | list }}"`,
      '',
    ].join('\n'),
  );
  return pdd;
}

async function replicateLoopTask(realStream, target) {
  const lines = readFileSync(realStream, 'utf8').split('\n');
  const eventName = (line) => /"event": "(\w+)"/.exec(line)?.[1];
  const taskStart = lines.findIndex((line) => eventName(line) === 'playbook_on_task_start');
  const stats = lines.findIndex((line) => eventName(line) === 'playbook_on_stats');
  if (taskStart < 0 || stats < 0) throw new Error(`${realStream}: no task start or stats event; delete it to remake it`);
  const task = lines.slice(taskStart, stats);
  const taskUuids = new Set(task.map((line) => /^\{"uuid": "([^"]+)"/.exec(line)?.[1]).filter(Boolean));
  const taskLineSpan = Number(LINES.exec(lines[stats])[1]) - Number(LINES.exec(task[0])[1]);

  const out = createWriteStream(target);
  const write = (line) => (out.write(`${line}\n`) ? undefined : new Promise((resolve) => out.once('drain', resolve)));
  let counter = Number(COUNTER.exec(task[0])[1]) - 1;
  let events = counter;
  const renumber = (line, lineShift) =>
    line
      .replace(COUNTER, () => `"counter": ${(counter += 1)}`)
      .replace(LINES, (_, start, end) => `"start_line": ${Number(start) + lineShift}, "end_line": ${Number(end) + lineShift}`);

  for (const line of lines.slice(0, taskStart)) await write(line);
  for (let copy = 0; copy < TASK_COPIES; copy += 1) {
    const fresh = new Map([...taskUuids].map((uuid) => [uuid, copy === 0 ? uuid : randomUUID()]));
    for (const line of task) {
      await write(renumber(line.replace(UUID, (uuid) => fresh.get(uuid) ?? uuid), copy * taskLineSpan));
      events += 1;
    }
  }
  // Stats, the final status, the artifacts zip and eof; the last split element is the empty
  // string after the final newline.
  await write(renumber(lines[stats], (TASK_COPIES - 1) * taskLineSpan));
  events += 1;
  for (const line of lines.slice(stats + 1, -1)) await write(line);
  out.end();
  await finished(out);
  return { events, bytes: out.bytesWritten };
}
