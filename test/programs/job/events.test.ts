/**
 * Partial-file merge: the key order and values must be what Runner.event_callback
 * makes with dict.update, computed here by Python itself.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DisplayDecoder, type DecodedEvent } from '../../../operator/src/job/display-decoder.js';
import { EventAssembler } from '../../../operator/src/job/events.js';
import { dumps } from '../../../operator/src/protocol/pyjson.js';
import { fixture } from '../../helpers/fixtures.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { missingPrograms } from '../../helpers/programs.js';

const MERGE = String.raw`
import json, sys, os
ident, events_dir = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    e = json.loads(line)
    e.update(dict(runner_ident=ident))
    p = os.path.join(events_dir, e['uuid'] + '-partial.json')
    if os.path.exists(p):
        e.update(json.load(open(p)))
    print(json.dumps(e))
`;

describeOrSkip('EventAssembler merges partials like Runner.event_callback', missingPrograms('python3'), () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ajo-events-'));
    for (const name of readdirSync(fixture('callback_raw')).filter((n) => n.startsWith('partial.'))) {
      copyFileSync(fixture('callback_raw', name), path.join(dir, name.slice('partial.'.length)));
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('merges each partial in runner key order, keeps its created, deletes it', () => {
    const decoded: DecodedEvent[] = [];
    const decoder = new DisplayDecoder({ onEvent: (e) => decoded.push(e), onStdoutFile: () => undefined });
    decoder.write(readFileSync(fixture('callback_raw', 'ansible-playbook.pty.raw'), 'utf8'));
    decoder.close();
    const expected = execFileSync('/usr/bin/python3', ['-c', MERGE, 'ident-1', dir], { input: decoded.map((d) => dumps(d.fields)).join('\n') + '\n' })
      .toString('utf8')
      .trimEnd()
      .split('\n');

    const assembler = new EventAssembler({ ident: 'ident-1', jobEventsDir: dir, requirePartials: true });
    const lines = decoded.map((d) => dumps(assembler.assemble(d)));
    expect(lines).toEqual(expected);
    expect(Object.keys(JSON.parse(lines[4]!))).toEqual([
      'uuid', 'counter', 'stdout', 'start_line', 'end_line', 'runner_ident', 'event', 'pid', 'created', 'parent_uuid', 'event_data',
    ]);
    expect(JSON.parse(lines[5]!).created).toBe('2026-11-22T17:16:30.908242');
    expect(readdirSync(dir)).toEqual([]);
  });
});
