/**
 * EventAssembler without partial files: runner-made verbose events, and a
 * missing partial when check_job_event_data asks for one. (The merge with
 * partials is checked against Python in test/programs/job/events.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DisplayDecoder, type DecodedEvent } from '../../../operator/src/job/display-decoder.js';
import { EventAssembler, PartialEventError } from '../../../operator/src/job/events.js';

describe('EventAssembler', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ajo-events-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

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
