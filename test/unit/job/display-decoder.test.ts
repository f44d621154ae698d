/**
 * The decoder against the real thing: ansible-runner's own OutputEventFilter
 * (imported from the installed package) is fed exactly the same chunks, and
 * both must produce the same events and the same stdout-file text.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DisplayDecoder, decodeMarkerPayload, type DecodedEvent } from '../../../operator/src/job/display-decoder.js';
import { dumps } from '../../../operator/src/protocol/pyjson.js';
import { fixture } from '../../helpers/fixtures.js';

const RUNNER_PYTHON = '/usr/bin/python3';

/** Runs OutputEventFilter on each chunking; returns [events as json lines, stdout file text] per chunking. */
const ORACLE = String.raw`
import io, json, sys
from ansible_runner.utils import OutputEventFilter
class Keep(io.StringIO):
    def close(self): pass
out = []
for chunks in json.load(sys.stdin):
    events, handle = [], Keep()
    f = OutputEventFilter(handle, lambda e: events.append(json.dumps(e)) if 'uuid' in e else None, suppress_ansible_output=True)
    for c in chunks: f.write(c)
    f.close()
    out.append([events, handle.getvalue()])
json.dump(out, sys.stdout)
`;

function runOracle(chunkings: string[][]): Array<[string[], string]> {
  const stdout = execFileSync(RUNNER_PYTHON, ['-c', ORACLE], { input: JSON.stringify(chunkings), maxBuffer: 1 << 30 });
  return JSON.parse(stdout.toString('utf8'));
}

function runDecoder(chunks: string[]): [string[], string] {
  const events: string[] = [];
  let file = '';
  const decoder = new DisplayDecoder({
    onEvent: (e: DecodedEvent) => events.push(dumps(e.fields)),
    onStdoutFile: (text) => (file += text),
  });
  for (const c of chunks) decoder.write(c);
  decoder.close();
  return [events, file];
}

/** Runner-made verbose events get a fresh uuid4 each; everything else must match byte for byte. */
const normalise = (lines: string[]): string[] => lines.map((l) => l.replace(/"uuid": "[0-9a-f-]{36}", "counter"/, '"uuid": "U", "counter"').replace(/^\{"event": "verbose", "uuid": "[0-9a-f-]{36}"/, '{"event": "verbose", "uuid": "U"'));

function marker(payload: object): string {
  const b64 = Buffer.from(JSON.stringify(payload).replace(/":/g, '": ')).toString('base64');
  let out = '\x1b[K';
  for (let i = 0; i < b64.length; i += 78) {
    const piece = b64.slice(i, i + 78);
    out += `${piece}\x1b[${piece.length}D`;
  }
  return out + '\x1b[K';
}
const END = marker({});

/** Awkward but realistic: stray lines, a stray ESC[K, a broken marker, non-ASCII, lone \r, an unterminated tail. */
const SYNTHETIC =
  'ERROR! stray first line\r\nsecond stray\r\n' +
  marker({ uuid: '11111111-2222-4333-8444-555555555555' }) +
  '\r\nPLAY [démo ✓] ' + '*'.repeat(60) + '\r\n' +
  END +
  'progress 10%\rprogress 100%\r\n' +
  '\x1b[Knot a marker\x1b[K\r\n' +
  marker({ uuid: '66666666-7777-4888-9999-000000000000' }) +
  'ok: [h] => {\r\n    "msg": "ünïcödé 🚀"\r\n}' +
  END +
  '\x1b[K!!!!\x1b[4D\x1b[K' +
  marker({ uuid: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }) +
  '' +
  END +
  'tail without newline';

function splitsAt(text: string, positions: number[]): string[] {
  const chunks: string[] = [];
  let last = 0;
  for (const p of positions) {
    chunks.push(text.slice(last, p));
    last = p;
  }
  chunks.push(text.slice(last));
  return chunks.filter((c) => c.length > 0);
}

function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function randomChunkings(text: string, count: number, seed: number): string[][] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const positions: number[] = [];
    for (let p = 1 + Math.floor(random() * 40); p < text.length; p += 1 + Math.floor(random() * 60)) positions.push(p);
    return splitsAt(text, positions);
  });
}

function compareWithRunner(chunkings: string[][]): void {
  const expected = runOracle(chunkings);
  chunkings.forEach((chunks, i) => {
    const [events, file] = runDecoder(chunks);
    const [wantEvents, wantFile] = expected[i]!;
    expect({ chunking: i, events: normalise(events), file }).toEqual({ chunking: i, events: normalise(wantEvents), file: wantFile });
  });
}

describe('DisplayDecoder vs ansible-runner OutputEventFilter', () => {
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
    compareWithRunner([[raw]]);
  });

  test('recorded output split in two at every position', () => {
    compareWithRunner(Array.from({ length: raw.length - 1 }, (_, i) => splitsAt(raw, [i + 1])));
  });

  test('recorded output one character per chunk, and random chunkings', () => {
    compareWithRunner([[...raw], ...randomChunkings(raw, 200, 7)]);
  });

  test('synthetic stream (stray lines, fake markers, non-ASCII) split in two at every position', () => {
    compareWithRunner([[SYNTHETIC], ...Array.from({ length: SYNTHETIC.length - 1 }, (_, i) => splitsAt(SYNTHETIC, [i + 1]))]);
  });

  test('synthetic stream in random three-to-many-piece chunkings', () => {
    compareWithRunner([[...SYNTHETIC], ...randomChunkings(SYNTHETIC, 300, 42)]);
  });

  test('marker payloads that do not decode end the current event, like the runner', () => {
    expect(decodeMarkerPayload('e30=\x1b[4D').size).toBe(0);
    expect(decodeMarkerPayload('!!!!\x1b[4D').size).toBe(0);
    expect(decodeMarkerPayload('WyJ4Il0=\x1b[8D').size).toBe(0); // ["x"]: not an object
    expect(decodeMarkerPayload(marker({ uuid: 'u-1' }).slice(3, -3)).get('uuid')).toBe('u-1');
  });
});

describe('DisplayDecoder stays linear on huge output', () => {
  /** Counts instead of keeping events, so the garbage collector does not dominate the timing. */
  function timeIt(chunks: string[]): { ms: number; events: number } {
    let events = 0;
    const decoder = new DisplayDecoder({ onEvent: () => events++, onStdoutFile: () => undefined });
    const start = process.hrtime.bigint();
    for (const c of chunks) decoder.write(c);
    decoder.close();
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, events };
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
    const small = timeIt(chunk(lines(50_000), 4095));
    const big = timeIt(chunk(lines(100_000), 4095));
    console.log(`decoder: 50k stray lines ${small.ms.toFixed(0)} ms, 100k stray lines ${big.ms.toFixed(0)} ms`);
    expect(big.events).toBe(100_000);
    expect(big.ms).toBeLessThan(Math.max(4 * small.ms, 200));
  });

  test('100k lines inside events with markers in every read', () => {
    const text = Array.from({ length: 20_000 }, (_, i) => marker({ uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }) + `ok: [h${i}]\r\n`.repeat(5) + END).join('');
    const result = timeIt(chunk(text, 4095));
    console.log(`decoder: 20k events / 100k lines (${(text.length / 1e6).toFixed(1)} MB) ${result.ms.toFixed(0)} ms`);
    expect(result.events).toBe(20_000);
  });
});
