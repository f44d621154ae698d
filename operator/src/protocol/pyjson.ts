/**
 * JSON exactly as Python's `json.dumps` writes it with default options, and a
 * reader that keeps what a JavaScript round trip would lose.
 *
 * Why this exists: ansible-runner builds every event line by `json.load`-ing a
 * file written by the display callback and `json.dumps`-ing the merged dict.
 * To emit byte-identical lines we must (a) keep key order exactly, including
 * integer-like keys that plain JS objects would move to the front, (b) keep
 * number tokens as written (Python prints `2.0`, `1e-05` and big integers that
 * JS `Number` would reformat or round), and (c) escape like `ensure_ascii=True`.
 */

/**
 * A number as read. Integers are kept verbatim (Python ints are exact at any
 * size); floats are re-spelled with Python's repr, as `json.loads` + `dumps` does.
 */
export class PyNumber {
  constructor(readonly text: string) {}
  valueOf(): number {
    return Number(this.text);
  }
  toJSON(): number {
    return Number(this.text);
  }
}

export type PyValue = null | boolean | string | number | PyNumber | PyValue[] | PyObject;
/** Objects keep insertion order for every key, integer-like ones included. */
export type PyObject = Map<string, PyValue>;

export class PyJsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'PyJsonSyntaxError';
  }
}

// ---------------------------------------------------------------- writing

// Everything outside printable ASCII, plus `"` and `\`, is escaped, as with ensure_ascii=True.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/;
const ESCAPE_ALL = /[\u0000-\u001f"\\\u007f-\uffff]/g;
const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function escapeChar(ch: string): string {
  return SHORT_ESCAPES[ch] ?? '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
}

export function dumpString(s: string): string {
  // JS strings are UTF-16, so astral characters are already surrogate pairs and
  // come out as two \uXXXX escapes, as Python writes them.
  return NEEDS_ESCAPE.test(s) ? '"' + s.replace(ESCAPE_ALL, escapeChar) + '"' : '"' + s + '"';
}

/** Python's float repr for a JS number (both are shortest round-trip; only the spelling differs). */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Object.is(n, -0)) return '-0.0';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return n.toFixed(1);
  const js = String(n);
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 16) {
    // Python: mantissa 'e' sign two-digit exponent, e.g. 1e-05, 1.5e+16.
    const [mantissa, e] = n.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    return `${mantissa}e${sign}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return js;
}

const INTEGER_TOKEN = /^-?\d+$/;

function dumpNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : pyFloatRepr(n);
}

/**
 * Serialise like `json.dumps(value)`. Accepts Maps (ordered) and plain objects;
 * `undefined` members are skipped, as JSON.stringify does.
 */
export function dumps(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return dumpString(value);
    case 'number':
      return dumpNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      throw new TypeError(`cannot serialise a ${typeof value} as JSON`);
  }
  if (value instanceof PyNumber) return INTEGER_TOKEN.test(value.text) ? value.text : pyFloatRepr(Number(value.text));
  if (Array.isArray(value)) return '[' + value.map(dumps).join(', ') + ']';
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  const parts: string[] = [];
  for (const [key, member] of entries) {
    if (member === undefined) continue;
    parts.push(dumpString(String(key)) + ': ' + dumps(member));
  }
  return '{' + parts.join(', ') + '}';
}

// ---------------------------------------------------------------- reading

/**
 * Parse JSON text (including Python's NaN/Infinity extensions) into ordered
 * Maps and verbatim number tokens.
 */
export function parsePyJson(text: string): PyValue {
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.value();
  parser.skipWhitespace();
  if (parser.pos !== text.length) throw new PyJsonSyntaxError('extra data', parser.pos);
  return value;
}

const NUMBER_TOKEN = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING_BODY = /[^"\\\u0000-\u001f]*/y;

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  skipWhitespace(): void {
    const t = this.text;
    let p = this.pos;
    while (p < t.length) {
      const c = t.charCodeAt(p);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  value(): PyValue {
    const t = this.text;
    const c = t[this.pos];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case 'N':
        return this.literal('NaN', new PyNumber('NaN'));
      case 'I':
        return this.literal('Infinity', new PyNumber('Infinity'));
      default:
        if (t.startsWith('-Infinity', this.pos)) return this.literal('-Infinity', new PyNumber('-Infinity'));
        return this.number();
    }
  }

  private literal<T extends PyValue>(word: string, result: T): T {
    if (!this.text.startsWith(word, this.pos)) throw new PyJsonSyntaxError('expecting value', this.pos);
    this.pos += word.length;
    return result;
  }

  private number(): PyNumber {
    NUMBER_TOKEN.lastIndex = this.pos;
    const m = NUMBER_TOKEN.exec(this.text);
    if (!m || m[0].length === 0) throw new PyJsonSyntaxError('expecting value', this.pos);
    this.pos += m[0].length;
    return new PyNumber(m[0]);
  }

  string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      STRING_BODY.lastIndex = this.pos;
      const run = STRING_BODY.exec(t)![0];
      out += run;
      this.pos += run.length;
      const c = t[this.pos];
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c !== '\\') throw new PyJsonSyntaxError(c === undefined ? 'unterminated string' : 'invalid control character', this.pos);
      out += this.escape();
    }
  }

  private escape(): string {
    const t = this.text;
    const e = t[this.pos + 1];
    this.pos += 2;
    switch (e) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case '/':
        return '/';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'u': {
        const hex = t.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PyJsonSyntaxError('invalid \\uXXXX escape', this.pos - 2);
        this.pos += 4;
        return String.fromCharCode(parseInt(hex, 16));
      }
      default:
        throw new PyJsonSyntaxError('invalid escape', this.pos - 2);
    }
  }

  private array(): PyValue[] {
    this.pos++;
    const items: PyValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value());
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === ']') return items;
      if (c !== ',') throw new PyJsonSyntaxError("expecting ',' delimiter", this.pos - 1);
    }
  }

  private object(): PyObject {
    this.pos++;
    const map: PyObject = new Map();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return map;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') throw new PyJsonSyntaxError('expecting property name enclosed in double quotes', this.pos);
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.pos++] !== ':') throw new PyJsonSyntaxError("expecting ':' delimiter", this.pos - 1);
      this.skipWhitespace();
      // Python dicts keep the first position of a repeated key and the last value.
      map.set(key, this.value());
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === '}') return map;
      if (c !== ',') throw new PyJsonSyntaxError("expecting ',' delimiter", this.pos - 1);
    }
  }
}

/** Convert to plain JS values for typed access (numbers lose their spelling). */
export function toPlain(value: PyValue): unknown {
  if (value instanceof PyNumber) return Number(value.text);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[k] = toPlain(v);
    return out;
  }
  return value;
}
