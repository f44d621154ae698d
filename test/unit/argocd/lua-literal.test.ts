/** toLuaLiteral on its own: the Lua table constructors the health-check harness feeds lua5.4 (test/helpers/lua.ts). */
import { toLuaLiteral } from '../../helpers/lua.js';

describe('toLuaLiteral', () => {
  test('scalars: integers without a fraction, other numbers as JSON spells them, null as nil', () => {
    expect([2, -7, 0, 0.5, 1e-7, 1.5e300, true, false, null].map(toLuaLiteral)).toEqual([
      '2', '-7', '0', '0.5', '1e-7', '1.5e+300', 'true', 'false', 'nil',
    ]);
  });

  test('strings: quote and backslash escaped, control characters and UTF-8 bytes as decimal escapes', () => {
    expect(toLuaLiteral('plain text: ok')).toBe('"plain text: ok"');
    expect(toLuaLiteral('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(toLuaLiteral('line\nnext\ttab\u0000\u007f')).toBe('"line\\010next\\009tab\\000\\127"');
    expect(toLuaLiteral('é')).toBe('"\\195\\169"');
  });

  test('objects get bracketed string keys (Kubernetes keys are rarely Lua names), arrays are positional', () => {
    expect(toLuaLiteral({ metadata: { generation: 3, labels: { 'ajo.dev/job-name': 'demo' } } })).toBe(
      '{["metadata"] = {["generation"] = 3, ["labels"] = {["ajo.dev/job-name"] = "demo"}}}',
    );
    expect(toLuaLiteral({ conditions: [{ type: 'Launched' }, { type: 'Running' }], empty: [], none: {} })).toBe(
      '{["conditions"] = {{["type"] = "Launched"}, {["type"] = "Running"}}, ["empty"] = {}, ["none"] = {}}',
    );
  });

  test('undefined fields are left out, null fields become nil (both absent to the script)', () => {
    expect(toLuaLiteral({ a: undefined, b: null })).toBe('{["b"] = nil}');
  });

  test('values JSON cannot carry are refused', () => {
    expect(() => toLuaLiteral(Number.NaN)).toThrow(/no JSON/);
    expect(() => toLuaLiteral(Infinity)).toThrow(/no JSON/);
    expect(() => toLuaLiteral(() => 1)).toThrow(/function has no JSON form/);
  });
});
