// The playbook behind -r and its --role-vars: Python's literal_eval and json.dumps,
// with expectations taken from ansible-runner 2.3.1's role_manager on Python 3.11.
import { dumpString } from '../../../operator/src/protocol/pyjson.js';
import { literalEval, literalToJson, UnsupportedLiteralError } from '../../../operator/src/protocol/python-literal.js';
import { RoleVarsError, rolePlaybook, roleVarsJson } from '../../../operator/src/protocol/role-play.js';

/** What json.dumps writes for the value role_manager makes of `v=VALUE`. */
const sent = (value: string): string => roleVarsJson(`v=${value}`).slice('{"v": '.length, -1);

describe('literal_eval of one --role-vars value', () => {
  test.each([
    ['1', '1'],
    ['0x10', '16'],
    ['0o17', '15'],
    ['0B11', '3'],
    ['1_000', '1000'],
    ['00', '0'],
    ['12345678901234567890123', '12345678901234567890123'],
    ['-0x10', '-16'],
    ['1.0', '1.0'],
    ['1.', '1.0'],
    ['.5', '0.5'],
    ['1e5', '100000.0'],
    ['1E-5', '1e-05'],
    ['09.5', '9.5'],
    ['1e999', 'Infinity'],
    ['-0.0', '-0.0'],
    ['-(1)', '-1'],
    ['+1.5', '1.5'],
    ['True', 'true'],
    ['None', 'null'],
    ["'x'", '"x"'],
    ["'a'\"b\"", '"ab"'],
    ["r'\\n'", '"\\\\n"'],
    ["'\\x41\\101\\u00e9'", '"AA\\u00e9"'],
    ["'\\U0001F600'", '"\\ud83d\\ude00"'],
    ["'\\q'", '"\\\\q"'],
    ["'\\777'", '"\\u01ff"'],
    ["'''a'''", '"a"'],
    ["'a\\'b'", '"a\'b"'],
    ['1,2', '[1, 2]'],
    ['()', '[]'],
    ['((1,),)', '[[1]]'],
    ['[1,[2,{\'a\':(3,)}]]', '[1, [2, {"a": [3]}]]'],
    ["{'2':1,'1':2}", '{"2": 1, "1": 2}'],
    ['{1:2,True:3}', '{"1": 3}'],
    ['{0:1,False:2,0.0:3}', '{"0": 3}'],
    ['{2:0,1.0:1}', '{"2": 0, "1.0": 1}'],
    ["{1:'a',1+0j:'b'}", '{"1": "b"}'],
    ['{None:1}', '{"null": 1}'],
    ['1#comment', '1'],
  ])('%s is sent as %s', (value, json) => {
    expect(sent(value)).toBe(json);
  });

  test.each(['01', '--1', '-True', 'Truex', 'x', '1abc', '1_', '0x', '1.5e', '', '#', ',', '[,]', "'abc", "'''", "'\\x4'", "f'x'", "b'\u00e9'", '{[1]:2}', '{[1]}', 'set(1)', '1+2', '1+-2j', '[1]*2', '~1', 'a.b', "'a'[0]", '{**a}', '[*a]', "'a'b'c'", "r'\\'", '0'.repeat(4301)])(
    '%j is not a literal, so the text itself is sent',
    (value) => {
      expect(literalEval(value)).toBeUndefined();
      expect(sent(value)).toBe(dumpString(value));
    },
  );

  test.each(['{1,2}', 'set()', '(set)()', "b'x'", "rb'x'", '1j', '1+2j', '(1)+(2j)', '...', '{(1,2):3}', `0x${'f'.repeat(3600)}`])(
    '%s is a value json.dumps cannot write: refused, where ansible-runner crashes',
    (value) => {
      expect(() => roleVarsJson(`v=${value}`)).toThrow(RoleVarsError);
      expect(() => roleVarsJson(`v=${value}`)).toThrow(/^role var 'v' cannot be sent: /);
    },
  );

  test('\\N{NAME} needs a Unicode name table: refused with a way out, unless the value falls back anyway', () => {
    expect(() => literalEval("'\\N{BULLET}'")).toThrow(UnsupportedLiteralError);
    expect(() => roleVarsJson("v='\\N{BULLET}'")).toThrow("role var 'v': \\N{...} escapes are not supported: write the character itself or a \\u escape");
    expect(literalEval('\\N{BULLET}')).toBeUndefined();
    expect(literalEval("{['\\N{BULLET}']:1}")).toBeUndefined();
  });

  test('literalToJson writes floats and big ints as Python does', () => {
    expect(literalToJson({ t: 'list', items: [{ t: 'float', v: 1e16 }, { t: 'float', v: 0.1 }, { t: 'int', v: 2n ** 70n }] })).toBe('[1e+16, 0.1, 1180591620717411303424]');
  });
});

describe('--role-vars as a whole', () => {
  test('items split on Python whitespace, a repeated key keeps its place and takes the last value', () => {
    expect(roleVarsJson('b=1\ta=x\u001fb=2\u00a0c=[1,2]')).toBe('{"b": 2, "a": "x", "c": [1, 2]}');
    expect(roleVarsJson('=1')).toBe('{"": 1}');
    expect(roleVarsJson('a=')).toBe('{"a": ""}');
    // \ufeff is not whitespace to Python, unlike to JavaScript's \s.
    expect(roleVarsJson('a=1\ufeffb')).toBe('{"a": "1\\ufeffb"}');
  });

  test('an item without exactly one = is refused (ansible-runner crashes on it)', () => {
    for (const bad of ['a', 'a=b=c', 'x=1 greeting="hello world"']) {
      expect(() => roleVarsJson(bad)).toThrow(RoleVarsError);
    }
    expect(() => roleVarsJson('a=b=c')).toThrow("role var 'a=b=c' must be key=value with one '=' (ansible-runner splits on each '=')");
  });
});

describe('rolePlaybook', () => {
  test('the play role_manager writes, with its defaults', () => {
    expect(rolePlaybook({ role: 'web' })).toBe('[{"hosts": "all", "gather_facts": true, "roles": [{"name": "web"}]}]');
  });

  test('hosts, skipped facts and vars', () => {
    expect(rolePlaybook({ role: 'wéb', roleVars: 'port=8080 name=x', skipFacts: true, hosts: 'db' })).toBe(
      '[{"hosts": "db", "gather_facts": false, "roles": [{"name": "w\\u00e9b", "vars": {"port": 8080, "name": "x"}}]}]',
    );
  });

  test('role_manager tests --role-vars for truth: an empty one adds no vars, a blank one adds {}', () => {
    expect(rolePlaybook({ role: 'r', roleVars: '' })).not.toContain('"vars"');
    expect(rolePlaybook({ role: 'r', roleVars: '  ' })).toContain('"vars": {}');
  });

  test('the library may give the vars as a mapping', () => {
    expect(rolePlaybook({ role: 'r', roleVars: { a: [1, 2.5], b: { c: null } } })).toContain('"vars": {"a": [1, 2.5], "b": {"c": null}}');
  });
});
