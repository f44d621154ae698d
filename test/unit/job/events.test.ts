/**
 * Partial-file merge: the key order and values must be what Runner.event_callback
 * makes with dict.update, computed here by Python itself.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DisplayDecoder, type DecodedEvent } from '../../../operator/src/job/display-decoder.js';
import { EventAssembler, PartialEventError } from '../../../operator/src/job/events.js';
import { dumps } from '../../../operator/src/protocol/pyjson.js';
import { fixture } from '../../helpers/fixtures.js';

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

describe('EventAssembler', () => {
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

  test('runner-made verbose lines flushed together share one created; no partial needed', () => {
    const decoded: DecodedEvent[] = [];
    const decoder = new DisplayDecoder({ onEvent: (e) => decoded.push(e), onStdoutFile: () => undefined });
    decoder.write('\x1b[Kx');
    decoder.write('ERROR! one\r\nERROR! two\r\n');
    decoder.close();
    const assembler = new EventAssembler({ ident: 'i', jobEventsDir: dir, requirePartials: false });
    const events = decoded.map((d) => assembler.assemble(d));
    expect(events.map((e) => [...e.keys()])).toEqual(Array(2).fill(['event', 'uuid', 'counter', 'stdout', 'start_line', 'end_line', 'runner_ident', 'created']));
    expect(events[0]!.get('created')).toBe(events[1]!.get('created'));
    expect(events[0]!.get('created')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
  });

  test('check_job_event_data makes a missing partial an error', () => {
    const assembler = new EventAssembler({ ident: 'i', jobEventsDir: dir, requirePartials: true });
    const fields = new Map<string, unknown>([['uuid', 'no-such-uuid'], ['counter', 1]]) as DecodedEvent['fields'];
    expect(() => assembler.assemble({ fields, verboseBatch: null })).toThrow(PartialEventError);
  });
});
