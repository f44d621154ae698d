/**
 * Progress on stderr, seen by a person at a terminal: the compiled CLI under a
 * real pseudo-terminal (node-pty), its stdout sent to a file as in a pipeline.
 * With stderr in a file instead, nothing but the usual lines may appear there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node-pty';
import { AJO, pythonAvailable } from './pipeline.js';
import { tempDirs } from '../helpers/temp.js';

const tmp = tempDirs('ajo-tty-');

const FILES = 40;
const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const ajo = (args: string): string => `${sh(process.execPath)} ${sh(AJO)} ${args}`;

/** A private data dir of FILES files: a one-task play, its inventory, and payload. */
function dataDir(): string {
  const dir = tmp();
  mkdirSync(path.join(dir, 'project', 'files'), { recursive: true });
  mkdirSync(path.join(dir, 'inventory'));
  writeFileSync(path.join(dir, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  writeFileSync(path.join(dir, 'project', 'play.yml'), '- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=progress\n');
  for (let i = 0; i < FILES - 2; i++) writeFileSync(path.join(dir, 'project', 'files', `f${i}`), 'x'.repeat(10_000));
  return dir;
}

/** Run `command` with sh on a pty as its controlling terminal; resolves with everything the terminal showed. */
function onTerminal(command: string): Promise<{ shown: string; exitCode: number }> {
  return new Promise((resolve) => {
    const pty = spawn('/bin/sh', ['-c', command], { cols: 120, rows: 30, cwd: os.tmpdir(), env: { ...process.env, TERM: 'xterm' } });
    let shown = '';
    pty.onData((data) => (shown += data));
    pty.onExit(({ exitCode }) => resolve({ shown, exitCode }));
  });
}

/** The same command with stderr in a file; no terminal anywhere. */
function offTerminal(command: string, stderrFile: string): number {
  return spawnSync('/bin/sh', ['-c', `${command} 2> ${sh(stderrFile)}`], { stdio: 'ignore' }).status ?? -1;
}

/** The line painted last before `label`'s line was ended (the pty shows `\n` as `\r\n`). */
function finalLine(shown: string, label: string): string | undefined {
  const ended = [...shown.matchAll(new RegExp(`\\r(${label} [^\\r\\n]*)\\x1b\\[K\\r\\n`, 'g'))];
  return ended.length === 1 ? ended[0]![1] : undefined;
}

const describeIf = pythonAvailable() ? describe : describe.skip;

describeIf('progress on a terminal', () => {
  const work = tmp('ajo-tty-out-');
  const out = (name: string): string => path.join(work, name);

  test('transmit: repainted progress, ended with the totals; the job stream is unchanged', async () => {
    const dir = dataDir();
    const command = ajo(`transmit ${sh(dir)} -p play.yml --ident tty > `);
    const onTty = await onTerminal(command + sh(out('tty.job')));
    expect(onTty.exitCode).toBe(0);
    expect(onTty.shown).toMatch(/^\rajo transmit: 1 file, /);
    expect(finalLine(onTty.shown, 'ajo transmit:')).toMatch(new RegExp(`^ajo transmit: ${FILES} files, 380 kB(, [0-9.]+ [kMG]?B/s)?$`));

    expect(offTerminal(command + sh(out('file.job')), out('transmit.err'))).toBe(0);
    expect(readFileSync(out('transmit.err'), 'utf8')).toBe('');
    expect(readFileSync(out('tty.job')).equals(readFileSync(out('file.job')))).toBe(true);
  });

  test('worker: the unpack shows progress; with stderr in a file it stays empty', async () => {
    const job = out('worker.job');
    execFileSync('/bin/sh', ['-c', ajo(`transmit ${sh(dataDir())} -p play.yml > ${sh(job)}`)]);
    const onTty = await onTerminal(ajo(`worker < ${sh(job)} > ${sh(out('tty.result'))}`));
    expect(onTty.exitCode).toBe(0);
    expect(finalLine(onTty.shown, 'ajo worker: unpacked')).toMatch(new RegExp(`^ajo worker: unpacked ${FILES} files, 380 kB`));

    expect(offTerminal(ajo(`worker < ${sh(job)} > ${sh(out('file.result'))}`), out('worker.err'))).toBe(0);
    expect(readFileSync(out('worker.err'), 'utf8')).toBe('');
    expect(readFileSync(out('file.result'), 'utf8')).toContain('"status": "successful"');
  });

  test('run: packing and unpacking lines end before the play prints; stderr in a file has the summary only', async () => {
    const onTty = await onTerminal(ajo(`run ${sh(dataDir())} -p play.yml`));
    expect(onTty.exitCode).toBe(0);
    const packed = finalLine(onTty.shown, 'ajo run: packed');
    const unpacked = finalLine(onTty.shown, 'ajo run: unpacked');
    expect(packed).toMatch(new RegExp(`^ajo run: packed ${FILES} files, 380 kB`));
    expect(unpacked).toMatch(new RegExp(`^ajo run: unpacked ${FILES} files, 380 kB`));
    expect(onTty.shown.indexOf(unpacked!)).toBeLessThan(onTty.shown.indexOf('PLAY ['));

    expect(offTerminal(ajo(`run ${sh(dataDir())} -p play.yml > /dev/null`), out('run.err'))).toBe(0);
    expect(readFileSync(out('run.err'), 'utf8')).toMatch(/^ajo: successful rc=0 events=\d+ ok=1 [^\n]*\n$/);
  });
});
