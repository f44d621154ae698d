/**
 * Python's `ast.literal_eval` and `json.dumps` for one whitespace-free word,
 * which is what ansible-runner's `--role-vars` hands them: each `key=value`
 * item's value is `literal_eval`-ed, falling back to the text itself when
 * that raises, and the play holding it is written with `json.dumps`.
 *
 * Hand-written because the alternatives are whole Python parsers (filbert,
 * python-ast on antlr4) for a grammar of a dozen productions. The parser
 * builds the few nodes literal_eval looks at (constants, containers, names,
 * calls, unary and binary +/-) and refuses everything else; since Python turns
 * a syntax error and a non-literal alike into the fallback, refusing any other
 * syntax is exact. The conformance tier checks this module against
 * ansible-runner's own role_manager on a corpus.
 */
import { dumpString, pyFloatRepr } from './pyjson.js';

export type PyLiteral =
  | { t: 'str'; v: string }
  | { t: 'bytes'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'complex'; re: number; im: number }
  | { t: 'bool'; v: boolean }
  | { t: 'none' }
  | { t: 'ellipsis' }
  | { t: 'tuple' | 'list' | 'set'; items: PyLiteral[] }
  | { t: 'dict'; entries: Array<[PyLiteral, PyLiteral]> };

/** Python would give a value this module cannot compute (a `\N{NAME}` escape needs Unicode's name table). */
export class UnsupportedLiteralError extends Error {
  override name = 'UnsupportedLiteralError';
}

/** `json.dumps` raises for this value (a set, bytes, a complex number, a tuple as a key, ...). */
export class NotJsonError extends Error {
  override name = 'NotJsonError';
}

// ---------------------------------------------------------------- parsing

/** Any failure: a syntax error, a node literal_eval refuses, or a TypeError while building a set or dict. */
class Fallback extends Error {}
const fail = (): never => {
  throw new Fallback();
};

type Node =
  | { k: 'const'; value: PyLiteral; usesNameEscape: boolean }
  | { k: 'name'; id: string }
  | { k: 'tuple' | 'list' | 'set'; elts: Node[] }
  | { k: 'dict'; keys: Node[]; values: Node[] }
  | { k: 'call'; func: Node }
  | { k: 'unary'; op: '+' | '-'; operand: Node }
  | { k: 'binop'; op: '+' | '-'; left: Node; right: Node };

const DIGITPART = '[0-9](?:_?[0-9])*';
const EXPONENT = `[eE][+-]?${DIGITPART}`;
const POINTFLOAT = `(?:(?:${DIGITPART})?\\.${DIGITPART}|${DIGITPART}\\.)`;
const FLOAT = `(?:${POINTFLOAT}(?:${EXPONENT})?|${DIGITPART}${EXPONENT})`;
const NUMBER_PATTERNS: Array<[RegExp, 'imag' | 'float' | 'radix' | 'int']> = [
  [new RegExp(`(?:${FLOAT}|${DIGITPART})[jJ]`, 'y'), 'imag'],
  [new RegExp(FLOAT, 'y'), 'float'],
  [/0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)/y, 'radix'],
  [/(?:[1-9](?:_?[0-9])*|0+(?:_?0)*)/y, 'int'],
];
/** CPython 3.11 refuses longer int literals, and int → str conversions, past this many digits. */
const MAX_INT_DIGITS = 4300;
const STRING_PREFIXES = new Set(['', 'r', 'u', 'b', 'br', 'rb', 'f', 'fr', 'rf']);
const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  peek(): string {
    return this.src[this.pos] ?? '';
  }

  eat(text: string): boolean {
    if (!this.src.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  atEnd(): boolean {
    // A comment runs to the end of the line, which is the end of the word.
    return this.pos >= this.src.length || this.peek() === '#';
  }

  /** eval mode's body: an expression, or a tuple when commas appear. */
  top(): Node {
    const { elts, comma } = this.exprList(() => this.atEnd());
    if (!this.atEnd() || elts.length === 0) fail();
    return comma ? { k: 'tuple', elts } : elts[0]!;
  }

  exprList(closed: () => boolean): { elts: Node[]; comma: boolean } {
    const elts: Node[] = [];
    let comma = false;
    while (!closed()) {
      elts.push(this.expr());
      if (!this.eat(',')) break;
      comma = true;
    }
    return { elts, comma };
  }

  /** Only + and - are parsed as operators: every other one makes a non-literal, i.e. the fallback. */
  expr(): Node {
    let node = this.unary();
    for (;;) {
      const op = this.peek();
      if (op !== '+' && op !== '-') return node;
      this.pos += 1;
      node = { k: 'binop', op, left: node, right: this.unary() };
    }
  }

  unary(): Node {
    const op = this.peek();
    if (op === '+' || op === '-') {
      this.pos += 1;
      return { k: 'unary', op, operand: this.unary() };
    }
    return this.primary();
  }

  primary(): Node {
    let node = this.atom();
    while (this.peek() === '(') {
      this.pos += 1;
      if (!this.eat(')')) fail(); // arguments never make a literal
      node = { k: 'call', func: node };
    }
    if (this.peek() === '[' || this.peek() === '.') fail(); // subscripts, attributes
    return node;
  }

  atom(): Node {
    const c = this.peek();
    if (this.eat('...')) return { k: 'const', value: { t: 'ellipsis' }, usesNameEscape: false };
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(this.src[this.pos + 1] ?? ''))) return this.number();
    if (c === "'" || c === '"') return this.strings('');
    if (/[A-Za-z_]/.test(c)) {
      const word = /[A-Za-z_][A-Za-z0-9_]*/y;
      word.lastIndex = this.pos;
      const id = word.exec(this.src)![0];
      this.pos += id.length;
      const next = this.peek();
      if ((next === "'" || next === '"') && STRING_PREFIXES.has(id.toLowerCase())) return this.strings(id.toLowerCase());
      if (/[^\x00-\x7f]/.test(next)) fail(); // a non-ASCII identifier is a name, never a literal
      if (id === 'True' || id === 'False') return { k: 'const', value: { t: 'bool', v: id === 'True' }, usesNameEscape: false };
      if (id === 'None') return { k: 'const', value: { t: 'none' }, usesNameEscape: false };
      return { k: 'name', id };
    }
    if (this.eat('(')) {
      const { elts, comma } = this.exprList(() => this.peek() === ')');
      if (!this.eat(')')) fail();
      return elts.length === 1 && !comma ? elts[0]! : { k: 'tuple', elts };
    }
    if (this.eat('[')) {
      const { elts } = this.exprList(() => this.peek() === ']');
      if (!this.eat(']')) fail();
      return { k: 'list', elts };
    }
    if (this.eat('{')) return this.braces();
    return fail();
  }

  braces(): Node {
    if (this.eat('}')) return { k: 'dict', keys: [], values: [] };
    const first = this.expr();
    if (this.eat(':')) {
      const keys = [first];
      const values = [this.expr()];
      while (this.eat(',') && this.peek() !== '}') {
        keys.push(this.expr());
        if (!this.eat(':')) fail();
        values.push(this.expr());
      }
      if (!this.eat('}')) fail();
      return { k: 'dict', keys, values };
    }
    const elts = [first];
    while (this.eat(',') && this.peek() !== '}') elts.push(this.expr());
    if (!this.eat('}')) fail();
    return { k: 'set', elts };
  }

  number(): Node {
    for (const [pattern, kind] of NUMBER_PATTERNS) {
      pattern.lastIndex = this.pos;
      const match = pattern.exec(this.src);
      if (!match) continue;
      const text = match[0];
      this.pos += text.length;
      // "1abc", "09", "1_": the tokenizer's "invalid decimal literal" and friends.
      if (/[A-Za-z0-9_]|[^\x00-\x7f]/.test(this.peek())) fail();
      const plain = text.replace(/_/g, '');
      let value: PyLiteral;
      if (kind === 'imag') value = { t: 'complex', re: 0, im: Number(plain.slice(0, -1)) };
      else if (kind === 'float') value = { t: 'float', v: Number(plain) };
      else if (kind === 'radix') value = { t: 'int', v: BigInt(plain.toLowerCase()) };
      else {
        if (plain.length > MAX_INT_DIGITS) fail();
        value = { t: 'int', v: BigInt(plain) };
      }
      return { k: 'const', value, usesNameEscape: false };
    }
    return fail();
  }

  /** One or more adjacent string literals, concatenated as the parser does. */
  strings(firstPrefix: string): Node {
    let prefix: string | null = firstPrefix;
    const parts: Array<{ bytes: boolean; formatted: boolean; text: string; usesNameEscape: boolean }> = [];
    while (prefix !== null) {
      parts.push(this.stringBody(prefix));
      prefix = this.nextStringPrefix();
    }
    if (parts.some((p) => p.formatted)) fail(); // an f-string is a JoinedStr, not a Constant
    const bytes = parts[0]!.bytes;
    if (parts.some((p) => p.bytes !== bytes)) fail(); // "cannot mix bytes and nonbytes literals"
    const text = parts.map((p) => p.text).join('');
    return { k: 'const', value: { t: bytes ? 'bytes' : 'str', v: text }, usesNameEscape: parts.some((p) => p.usesNameEscape) };
  }

  nextStringPrefix(): string | null {
    const match = /([A-Za-z]{0,2})(['"])/y;
    match.lastIndex = this.pos;
    const found = match.exec(this.src);
    if (!found || !STRING_PREFIXES.has(found[1]!.toLowerCase())) return null;
    this.pos += found[1]!.length;
    return found[1]!.toLowerCase();
  }

  stringBody(prefix: string): { bytes: boolean; formatted: boolean; text: string; usesNameEscape: boolean } {
    const raw = prefix.includes('r');
    const bytes = prefix.includes('b');
    const quote = this.peek();
    const delimiter = this.src.startsWith(quote.repeat(3), this.pos) ? quote.repeat(3) : quote;
    this.pos += delimiter.length;
    let text = '';
    let usesNameEscape = false;
    for (;;) {
      if (this.pos >= this.src.length) fail(); // unterminated
      if (this.eat(delimiter)) break;
      const c = this.src[this.pos]!;
      if (bytes && c.charCodeAt(0) > 0x7f) fail(); // "bytes can only contain ASCII literal characters"
      if (c !== '\\') {
        text += c;
        this.pos += 1;
        continue;
      }
      const next = this.src[this.pos + 1];
      if (next === undefined) fail();
      if (raw) {
        // A backslash keeps the quote after it in the string, and both characters stay.
        text += c + next;
        this.pos += 2;
        continue;
      }
      const escape = this.escape(bytes);
      text += escape.text;
      usesNameEscape ||= escape.usesNameEscape;
    }
    return { bytes, formatted: prefix.includes('f'), text, usesNameEscape };
  }

  escape(bytes: boolean): { text: string; usesNameEscape: boolean } {
    const rest = this.src.slice(this.pos + 1);
    const one = (text: string, length: number) => {
      this.pos += 1 + length;
      return { text, usesNameEscape: false };
    };
    const e = rest[0]!;
    if (Object.hasOwn(SIMPLE_ESCAPES, e)) return one(SIMPLE_ESCAPES[e]!, 1);
    const octal = /^[0-7]{1,3}/.exec(rest);
    if (octal) {
      const code = parseInt(octal[0], 8);
      return one(String.fromCharCode(bytes ? code & 0xff : code), octal[0].length);
    }
    const hexEscape = (length: number): { text: string; usesNameEscape: boolean } => {
      const digits = rest.slice(1, 1 + length);
      if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(digits)) fail(); // "truncated \xXX escape"
      const code = parseInt(digits, 16);
      if (code > 0x10ffff) fail(); // "illegal Unicode character"
      return one(String.fromCodePoint(code), 1 + length);
    };
    if (e === 'x') return hexEscape(2);
    if (!bytes && e === 'u') return hexEscape(4);
    if (!bytes && e === 'U') return hexEscape(8);
    if (!bytes && e === 'N') {
      const named = /^N\{[^}]+\}/.exec(rest);
      if (!named) fail(); // "malformed \N character escape"
      this.pos += 1 + named![0].length;
      return { text: '\uFFFD', usesNameEscape: true };
    }
    // Python keeps an unknown escape as written (with a DeprecationWarning).
    return one('\\' + e, 1);
  }
}

// ---------------------------------------------------------------- literal_eval's _convert

function convertNum(node: Node): PyLiteral {
  if (node.k !== 'const' || !['int', 'float', 'complex'].includes(node.value.t)) return fail();
  return node.value;
}

function negate(value: PyLiteral): PyLiteral {
  if (value.t === 'int') return { t: 'int', v: -value.v };
  if (value.t === 'float') return { t: 'float', v: -value.v };
  if (value.t === 'complex') return { t: 'complex', re: -value.re, im: -value.im };
  return fail();
}

function convertSignedNum(node: Node): PyLiteral {
  if (node.k === 'unary') {
    const operand = convertNum(node.operand);
    return node.op === '+' ? operand : negate(operand);
  }
  return convertNum(node);
}

function realValue(value: PyLiteral): number {
  return value.t === 'int' ? Number(value.v) : value.t === 'float' ? value.v : value.t === 'bool' ? Number(value.v) : NaN;
}

function convert(node: Node): PyLiteral {
  switch (node.k) {
    case 'const':
      return node.value;
    case 'tuple':
    case 'list':
      return { t: node.k, items: node.elts.map(convert) };
    case 'set': {
      const items = node.elts.map(convert);
      items.forEach(assertHashable);
      return { t: 'set', items };
    }
    case 'call':
      if (node.func.k === 'name' && node.func.id === 'set') return { t: 'set', items: [] };
      return fail();
    case 'dict': {
      const keys = node.keys.map(convert);
      const values = node.values.map(convert);
      const entries: Array<[PyLiteral, PyLiteral]> = [];
      keys.forEach((key, i) => {
        assertHashable(key);
        // Equal keys (1, 1.0, True) share the first key's slot and take the last value.
        const slot = entries.find(([existing]) => pyEqual(existing, key));
        if (slot) slot[1] = values[i]!;
        else entries.push([key, values[i]!]);
      });
      return { t: 'dict', entries };
    }
    case 'binop': {
      const left = convertSignedNum(node.left);
      const right = convertNum(node.right);
      if ((left.t === 'int' || left.t === 'float') && right.t === 'complex') {
        const sign = node.op === '+' ? 1 : -1;
        return { t: 'complex', re: realValue(left) + sign * right.re, im: sign * right.im };
      }
      return fail();
    }
    default:
      return convertSignedNum(node);
  }
}

/** dict keys and set members must hash: lists, dicts and sets raise TypeError. */
function assertHashable(value: PyLiteral): void {
  if (value.t === 'list' || value.t === 'dict' || value.t === 'set') fail();
  if (value.t === 'tuple') value.items.forEach(assertHashable);
}

function pyEqual(a: PyLiteral, b: PyLiteral): boolean {
  const numeric = (v: PyLiteral) => v.t === 'int' || v.t === 'float' || v.t === 'bool' || v.t === 'complex';
  if (numeric(a) && numeric(b)) {
    const im = (v: PyLiteral) => (v.t === 'complex' ? v.im : 0);
    const re = (v: PyLiteral) => (v.t === 'complex' ? v.re : realValue(v));
    if (im(a) !== im(b)) return false;
    // Exact for big ints: compare as integers when both sides are integral.
    const asBig = (v: PyLiteral): bigint | null =>
      v.t === 'int' ? v.v : v.t === 'bool' ? BigInt(v.v) : Number.isInteger(re(v)) ? BigInt(re(v)) : null;
    const [x, y] = [asBig(a), asBig(b)];
    return x !== null && y !== null ? x === y : re(a) === re(b);
  }
  if (a.t !== b.t) return false;
  switch (a.t) {
    case 'str':
    case 'bytes':
      return a.v === (b as typeof a).v;
    case 'tuple': {
      const other = b as typeof a;
      return a.items.length === other.items.length && a.items.every((item, i) => pyEqual(item, other.items[i]!));
    }
    default:
      return true; // None and Ellipsis are singletons
  }
}

function usesNameEscape(node: Node): boolean {
  switch (node.k) {
    case 'const':
      return node.usesNameEscape;
    case 'tuple':
    case 'list':
    case 'set':
      return node.elts.some(usesNameEscape);
    case 'dict':
      return [...node.keys, ...node.values].some(usesNameEscape);
    default:
      return false;
  }
}

/**
 * `ast.literal_eval(word)`, or undefined where it raises (the caller's
 * fallback). `word` contains no whitespace: it is one item of `str.split()`.
 */
export function literalEval(word: string): PyLiteral | undefined {
  // "source code string cannot contain null bytes"
  if (word.includes('\0')) return undefined;
  let node: Node;
  try {
    node = new Parser(word).top();
  } catch (err) {
    if (err instanceof Fallback) return undefined;
    throw err;
  }
  let value: PyLiteral;
  try {
    value = convert(node);
  } catch (err) {
    if (err instanceof Fallback) return undefined;
    throw err;
  }
  // Python gives the character for a known name and the fallback for an unknown one.
  if (usesNameEscape(node)) {
    throw new UnsupportedLiteralError('\\N{...} escapes are not supported: write the character itself or a \\u escape');
  }
  return value;
}

// ---------------------------------------------------------------- json.dumps

function intText(v: bigint): string {
  const text = v.toString();
  if (text.replace('-', '').length > MAX_INT_DIGITS) throw new NotJsonError(`an integer of more than ${MAX_INT_DIGITS} digits cannot be written`);
  return text;
}

function keyText(key: PyLiteral): string {
  switch (key.t) {
    case 'str':
      return key.v;
    case 'int':
      return intText(key.v);
    case 'float':
      return pyFloatRepr(key.v);
    case 'bool':
      return key.v ? 'true' : 'false';
    case 'none':
      return 'null';
    default:
      throw new NotJsonError(`keys must be str, int, float, bool or None, not ${TYPE_NAMES[key.t]}`);
  }
}

const TYPE_NAMES: Record<PyLiteral['t'], string> = {
  str: 'str',
  bytes: 'bytes',
  int: 'int',
  float: 'float',
  complex: 'complex',
  bool: 'bool',
  none: 'NoneType',
  ellipsis: 'ellipsis',
  tuple: 'tuple',
  list: 'list',
  set: 'set',
  dict: 'dict',
};

/** `json.dumps(value)` with its default separators and ensure_ascii. */
export function literalToJson(value: PyLiteral): string {
  switch (value.t) {
    case 'str':
      return dumpString(value.v);
    case 'int':
      return intText(value.v);
    case 'float':
      return pyFloatRepr(value.v);
    case 'bool':
      return value.v ? 'true' : 'false';
    case 'none':
      return 'null';
    case 'tuple':
    case 'list':
      return '[' + value.items.map(literalToJson).join(', ') + ']';
    case 'dict':
      return '{' + value.entries.map(([k, v]) => `${dumpString(keyText(k))}: ${literalToJson(v)}`).join(', ') + '}';
    default:
      throw new NotJsonError(`Object of type ${TYPE_NAMES[value.t]} is not JSON serializable`);
  }
}
