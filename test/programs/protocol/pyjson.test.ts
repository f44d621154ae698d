/** Python itself is the oracle: what json.dumps prints for a JSON text, and how repr spells a float. */
import { execFileSync } from 'node:child_process';
import { dumps, parsePyJson, pyFloatRepr } from '../../../operator/src/protocol/pyjson.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { missingPrograms } from '../../helpers/programs.js';

/** What does json.dumps print for this JSON text? */
function pythonDumps(jsonTexts: string[]): string[] {
  const script = 'import json,sys\nfor l in sys.stdin.read().split("\\x00"):\n  print(json.dumps(json.loads(l)))';
  const out = execFileSync('/usr/bin/python3', ['-c', script], { input: jsonTexts.join('\0') });
  return out.toString('utf8').split('\n').slice(0, jsonTexts.length);
}

describeOrSkip('pyjson vs Python', missingPrograms('python3'), () => {
  const samples = [
    '{"b": 1, "a": 2, "10": "x", "2": "y"}',
    '{"f": 2.0, "g": 1e-05, "h": 1.5e16, "i": 0.016742, "big": 12345678901234567890, "neg": -0.0}',
    '["caf\u00e9", "\ud83d\ude80 rocket", "tab\\there", "nl\\nline", "del\u007f", "esc\\u001b[0;32m", "slash/", "quote\\"", "back\\\\"]',
    '{"nested": {"list": [], "obj": {}, "t": true, "f": false, "n": null}}',
    '{"dup": 1, "other": 2, "dup": 3}',
    '[NaN, Infinity, -Infinity]',
  ];

  test('parse + dumps reproduces Python json.dumps byte for byte', () => {
    const expected = pythonDumps(samples);
    samples.forEach((text, i) => expect(dumps(parsePyJson(text))).toBe(expected[i]));
  });

  test('float spelling matches Python repr', () => {
    const values = [2, 0.1, 1e-5, 1.5e16, 123456.789, 1e22, -3.25e-7];
    const script = 'import sys\nprint("\\n".join(repr(float(x)) for x in sys.argv[1:]))';
    const expected = execFileSync('/usr/bin/python3', ['-c', script, ...values.map(String)]).toString().trim().split('\n');
    expect(values.map(pyFloatRepr)).toEqual(expected);
  });
});
