/** pyjson on its own: recorded worker streams round-trip, errors, plain values. (Against Python: test/programs/protocol/pyjson.test.ts.) */
import { readFileSync, existsSync } from 'node:fs';
import { dumps, parsePyJson, PyNumber, toPlain } from '../../../operator/src/protocol/pyjson.js';
import { fixture } from '../../helpers/fixtures.js';

describe('pyjson', () => {
  test('every line of the recorded worker streams survives a round trip unchanged', () => {
    const streams = ['demo_run/worker.stream', 'capture2/worker.stream'].map((p) => fixture(p)).filter(existsSync);
    expect(streams.length).toBeGreaterThan(0);
    let checked = 0;
    for (const file of streams) {
      for (const line of readFileSync(file, 'latin1').split('\n')) {
        if (!line.startsWith('{"uuid"') && !line.startsWith('{"status"') && !line.startsWith('{"event"')) continue;
        expect(dumps(parsePyJson(line))).toBe(line);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  test('rejects malformed JSON with the offset of the problem', () => {
    expect(() => parsePyJson('{"a": 1,}')).toThrow(/offset 8/);
    expect(() => parsePyJson('{"a": 1} trailing')).toThrow(/extra data/);
    expect(() => parsePyJson('"unterminated')).toThrow(/unterminated string/);
    expect(() => parsePyJson('')).toThrow(/expecting value/);
  });

  test('toPlain gives ordinary values for typed access', () => {
    expect(toPlain(parsePyJson('{"n": 2.0, "l": [1, "x"]}'))).toEqual({ n: 2, l: [1, 'x'] });
    expect(new PyNumber('3.5').valueOf()).toBe(3.5);
  });
});
