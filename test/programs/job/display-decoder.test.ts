/**
 * The decoder against the real thing: ansible-runner's own OutputEventFilter
 * (imported from the installed package) is fed exactly the same chunks, and
 * both must produce the same events and the same stdout-file text.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { END, marker, runDecoder } from '../../helpers/display-stream.js';
import { fixture } from '../../helpers/fixtures.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { missingPrograms } from '../../helpers/programs.js';

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

/** Runner-made verbose events get a fresh uuid4 each; everything else must match byte for byte. */
const normalise = (lines: string[]): string[] => lines.map((l) => l.replace(/"uuid": "[0-9a-f-]{36}", "counter"/, '"uuid": "U", "counter"').replace(/^\{"event": "verbose", "uuid": "[0-9a-f-]{36}"/, '{"event": "verbose", "uuid": "U"'));

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

describeOrSkip('DisplayDecoder vs ansible-runner OutputEventFilter', missingPrograms('ansible_runner'), () => {
  const raw = readFileSync(fixture('callback_raw', 'ansible-playbook.pty.raw'), 'utf8');

  test('recorded output in one piece', () => {
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
});
