/**
 * The decoder on its own: the recorded awx_display output gives the recorded
 * events, marker payloads that do not decode, and linear time on huge output.
 * (test/programs/job/display-decoder.test.ts checks it against ansible-runner's
 * own OutputEventFilter.)
 */
import { readFileSync } from 'node:fs';
import { DisplayDecoder, decodeMarkerPayload } from '../../../operator/src/job/display-decoder.js';
import { END, marker, runDecoder } from '../../helpers/display-stream.js';
import { fixture } from '../../helpers/fixtures.js';

describe('DisplayDecoder', () => {
  const raw = readFileSync(fixture('callback_raw', 'ansible-playbook.pty.raw'), 'utf8');

  test('recorded awx_display pty output in one piece gives the recorded events', () => {
    const [events, file] = runDecoder([raw]);
    expect(events.length).toBe(6);
    const names = events.map((e) => JSON.parse(e).uuid);
    expect(names[0]).toBe('ef364fc9-c8b0-41a5-866f-69f2c53851c6');
    expect(JSON.parse(events[4]!)).toEqual({
      uuid: 'c15daffc-ea7c-4edf-9387-9a1f180fc185',
      counter: 5,
      stdout: 'ok: [localhost] => {\r\n    "msg": "hello from tiny"\r\n}',
      start_line: 4,
      end_line: 7,
    });
    expect(JSON.parse(events[5]!)).toEqual({
      uuid: '0e55a797-7d60-4641-a24e-b7e6aecbe4fe',
      counter: 6,
      stdout: '\r\nPLAY RECAP *********************************************************************\r\nlocalhost                  : ok=1    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ',
      start_line: 7,
      end_line: 11,
    });
    expect(file.endsWith('ignored=0   \n')).toBe(true);
  });

  test('marker payloads that do not decode end the current event, like the runner', () => {
    expect(decodeMarkerPayload('e30=\x1b[4D').size).toBe(0);
    expect(decodeMarkerPayload('!!!!\x1b[4D').size).toBe(0);
    expect(decodeMarkerPayload('WyJ4Il0=\x1b[8D').size).toBe(0); // ["x"]: not an object
    expect(decodeMarkerPayload(marker({ uuid: 'u-1' }).slice(3, -3)).get('uuid')).toBe('u-1');
  });
});

describe('DisplayDecoder stays linear on huge output', () => {
  /**
   * Counts instead of keeping events, so the garbage collector does not dominate the timing.
   * `cpuMs` is this process's CPU time over the run: unlike the wall clock, it does not grow
   * while other jest workers or programs have the machine's cores.
   */
  function timeIt(chunks: string[]): { ms: number; cpuMs: number; events: number } {
    let events = 0;
    const decoder = new DisplayDecoder({ onEvent: () => events++, onStdoutFile: () => undefined });
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (const c of chunks) decoder.write(c);
    decoder.close();
    const cpu = process.cpuUsage(cpuStart);
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, events };
  }
  const chunk = (text: string, size: number): string[] => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

  test('one 5.6 MB event in 4 KiB reads', () => {
    const body = Array.from({ length: 50_000 }, (_, i) => `        "line ${String(i).padStart(6, '0')} ${'x'.repeat(88)}",`).join('\r\n');
    const text = marker({ uuid: '0bbf2c44-c1a1-4d5f-a1b2-3c4d5e6f7a8b' }) + body + END;
    const result = timeIt(chunk(text, 4096));
    console.log(`decoder: ${(text.length / 1e6).toFixed(1)} MB single event in 4 KiB reads: ${result.ms.toFixed(0)} ms`);
    expect(result.events).toBe(1);
    expect(result.ms).toBeLessThan(2000);
  });

  test('100k stray lines, and doubling the input roughly doubles the time', () => {
    const lines = (n: number): string => Array.from({ length: n }, (_, i) => `line ${i} ${'y'.repeat(40)}\r\n`).join('');
    const smallInput = chunk(lines(50_000), 4095);
    const bigInput = chunk(lines(100_000), 4095);
    // One wall-clock run of each compared two moments of a shared machine (JIT warm-up, another
    // jest worker taking the cores): 288 ms against 969 ms was seen for this linear code. So: CPU
    // time, after a warm-up run, the least of three interleaved runs of each size (other work
    // only adds to a run's cost, never takes from it).
    timeIt(smallInput);
    const smalls: number[] = [];
    const bigs: number[] = [];
    let events = 0;
    for (let round = 0; round < 3; round += 1) {
      smalls.push(timeIt(smallInput).cpuMs);
      const big = timeIt(bigInput);
      bigs.push(big.cpuMs);
      events = big.events;
    }
    const [small, big] = [Math.min(...smalls), Math.min(...bigs)];
    console.log(`decoder: 50k stray lines ${small.toFixed(0)} ms, 100k stray lines ${big.toFixed(0)} ms of CPU (least of ${smalls.length})`);
    expect(events).toBe(100_000);
    expect(big).toBeLessThan(Math.max(4 * small, 200));
  });

  test('100k lines inside events with markers in every read', () => {
    const text = Array.from({ length: 20_000 }, (_, i) => marker({ uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }) + `ok: [h${i}]\r\n`.repeat(5) + END).join('');
    const result = timeIt(chunk(text, 4095));
    console.log(`decoder: 20k events / 100k lines (${(text.length / 1e6).toFixed(1)} MB) ${result.ms.toFixed(0)} ms`);
    expect(result.events).toBe(20_000);
  });
});
