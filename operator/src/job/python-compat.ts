/**
 * Small pieces of Python's standard library whose exact behaviour shows up in
 * ansible-runner's output: `str()` of config values (the job env), `shlex`
 * (env/cmdline, args, the ssh-agent wrapper), `str.splitlines` (stray output
 * lines become events) and `datetime.isoformat()` (event `created`).
 */
import { PyNumber, pyFloatRepr } from '../protocol/pyjson.js';

/** Python's `str(value)` for the JSON-ish values a settings/envvars file can hold. */
export function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  return pyRepr(value);
}

/** Python's `repr()` of a JSON-decoded value (dict/list members are repr'd, strings quoted). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyStringRepr(value);
  if (typeof value === 'number') return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : pyFloatRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof PyNumber) return /^-?\d+$/.test(value.text) ? value.text : pyFloatRepr(Number(value.text)).replace('NaN', 'nan').replace('Infinity', 'inf');
  if (Array.isArray(value)) return '[' + value.map(pyRepr).join(', ') + ']';
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  return '{' + entries.map(([k, v]) => `${pyStringRepr(String(k))}: ${pyRepr(v)}`).join(', ') + '}';
}

function pyStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

// ------------------------------------------------------------------ shlex

const SHLEX_UNSAFE = /[^\w@%+=:,./-]/;

/** `shlex.quote`: Python's `\w` here is ASCII-only (the pattern is compiled with re.ASCII). */
export function shlexQuote(s: string): string {
  if (s === '') return "''";
  if (!SHLEX_UNSAFE.test(s)) return s;
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

/** `args2cmdline` of ansible_runner.utils: words quoted and joined by spaces. */
export function args2cmdline(...args: string[]): string {
  return args.map(shlexQuote).join(' ');
}

export class ShlexError extends Error {
  override name = 'ShlexError';
}

/**
 * `shlex.split(s)` (posix mode, no comments): whitespace splits words, single
 * quotes are literal, double quotes allow `\"` and `\\` escapes, a backslash
 * outside quotes escapes any character.
 */
export function shlexSplit(s: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new ShlexError('No closing quotation');
      word += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= s.length) throw new ShlexError('No closing quotation');
        const d = s[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < s.length && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          word += s[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === '\\') {
      if (i + 1 >= s.length) throw new ShlexError('No escaped character');
      word += s[i + 1];
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

// ------------------------------------------------------------------ text

/** Line boundaries of Python's `str.splitlines` (more than just \n and \r). */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** `s.splitlines(keepends=True)`. */
export function splitlinesKeepEnds(s: string): string[] {
  const lines: string[] = [];
  let start = 0;
  LINE_BREAK.lastIndex = 0;
  for (let m = LINE_BREAK.exec(s); m; m = LINE_BREAK.exec(s)) {
    const end = m.index + m[0].length;
    lines.push(s.slice(start, end));
    start = end;
  }
  if (start < s.length) lines.push(s.slice(start));
  return lines;
}

/** `s.rstrip('\n\r')`. */
export function rstripNewlines(s: string): string {
  let end = s.length;
  while (end > 0) {
    const c = s.charCodeAt(end - 1);
    if (c !== 0x0a && c !== 0x0d) break;
    end--;
  }
  return end === s.length ? s : s.slice(0, end);
}

export function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

// ------------------------------------------------------------------ time

const clockOrigin = { wall: Date.now(), mono: process.hrtime.bigint() };

/**
 * `datetime.datetime.utcnow().isoformat()`: no zone, microseconds, and the
 * fraction left out when it is exactly zero. Microseconds come from the
 * monotonic clock anchored to the wall clock, since Date only has milliseconds.
 */
export function utcNowIsoformat(): string {
  const elapsedMicros = (process.hrtime.bigint() - clockOrigin.mono) / 1000n;
  const micros = BigInt(clockOrigin.wall) * 1000n + elapsedMicros;
  const date = new Date(Number(micros / 1000n));
  const fraction = Number(micros % 1000000n);
  const base = date.toISOString().slice(0, 19);
  return fraction === 0 ? base : `${base}.${String(fraction).padStart(6, '0')}`;
}
