// A port of CPython's glob.glob(pattern) (non-recursive, include_hidden=False),
// because `ansible-runner worker cleanup --file-pattern` is defined by exactly
// those semantics: one path segment per wildcard, `**` behaves like `*`,
// leading-dot names only match patterns that start with a dot, literal paths
// match when they lexist (broken symlinks included), and a trailing slash
// matches directories only. Node's own fs.glob (Node 22+) and general-purpose
// glob libraries differ from Python on exactly these points (brace expansion,
// globstar, dot handling), so a small audited port is safer than either.
// Unlike Python the result is sorted, so runs are reproducible.
import { lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const MAGIC = /[*?[]/;

export function hasMagic(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** Translate one fnmatch pattern (no `/` inside) into an anchored RegExp, like fnmatch.translate. */
export function fnmatchToRegExp(pattern: string): RegExp {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i++]!;
    if (c === '*') {
      while (pattern[i] === '*') i++;
      out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      const cls = readBracket(pattern, i);
      if (cls === undefined) {
        out += '\\[';
      } else {
        out += cls.regex;
        i = cls.end;
      }
    } else {
      out += escapeRegExp(c);
    }
  }
  return new RegExp(`^(?:${out})$`, 's');
}

/** Parse `[...]` starting after the `[`; undefined when there is no closing bracket. */
function readBracket(pattern: string, start: number): { regex: string; end: number } | undefined {
  let j = start;
  if (pattern[j] === '!') j++;
  if (pattern[j] === ']') j++; // a leading ']' is literal
  while (j < pattern.length && pattern[j] !== ']') j++;
  if (j >= pattern.length) return undefined;
  let body = pattern.slice(start, j);
  let negate = false;
  if (body.startsWith('!')) {
    negate = true;
    body = body.slice(1);
  }
  const ranges = splitRanges(body);
  if (ranges.length === 0) {
    // Python: an empty set never matches, an empty negated set matches any one char.
    return { regex: negate ? '.' : '(?!)', end: j + 1 };
  }
  return { regex: `[${negate ? '^' : ''}${ranges.join('')}]`, end: j + 1 };
}

/** Character-class items, dropping reversed ranges like Python 3.11 does. */
function splitRanges(body: string): string[] {
  const items: string[] = [];
  let k = 0;
  while (k < body.length) {
    const lo = body[k]!;
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const hi = body[k + 2]!;
      if (lo <= hi) items.push(`${escapeClassChar(lo)}-${escapeClassChar(hi)}`);
      k += 3;
    } else {
      items.push(escapeClassChar(lo));
      k += 1;
    }
  }
  return items;
}

function escapeClassChar(c: string): string {
  return /[\\\]\[^-]/.test(c) ? `\\${c}` : c;
}

function escapeRegExp(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** Python's os.path.split: the head keeps a root made only of slashes. */
function splitPath(p: string): [string, string] {
  const slash = p.lastIndexOf('/') + 1;
  const head = p.slice(0, slash);
  const tail = p.slice(slash);
  const trimmed = head.replace(/\/+$/, '');
  return [trimmed === '' ? head : trimmed, tail];
}

function joinPath(dir: string, name: string): string {
  if (dir === '') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function listDir(dir: string, dirsOnly: boolean): string[] {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    if (!dirsOnly) return entries.map((e) => e.name);
    // Python's scandir is_dir() follows symlinks, so a link to a dir counts.
    return entries.filter((e) => e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name)))).map((e) => e.name);
  } catch {
    return [];
  }
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

function globInDir(dir: string, pattern: string, dirsOnly: boolean): string[] {
  const regex = fnmatchToRegExp(pattern);
  const names = listDir(dir, dirsOnly).filter((n) => isHidden(pattern) || !isHidden(n));
  return names.filter((n) => regex.test(n));
}

function literalInDir(dir: string, name: string): string[] {
  if (name === '') return isDir(dir) ? [''] : [];
  return lexists(joinPath(dir, name)) ? [name] : [];
}

function iglob(pattern: string, cwd: string, dirsOnly: boolean): string[] {
  const [dirname, basename] = splitPath(pattern);
  const onDisk = (p: string) => path.resolve(cwd, p === '' ? '.' : p);
  if (!hasMagic(pattern)) {
    if (basename !== '') return lexists(onDisk(pattern)) ? [pattern] : [];
    return isDir(onDisk(dirname)) ? [pattern] : [];
  }
  if (dirname === '') return globInDir(onDisk(''), basename, dirsOnly);
  const dirs = dirname !== pattern && hasMagic(dirname) ? iglob(dirname, cwd, true) : [dirname];
  const matchInDir = hasMagic(basename) ? globInDir : literalInDir;
  const results: string[] = [];
  for (const dir of dirs) {
    for (const name of matchInDir(onDisk(dir), basename, dirsOnly)) {
      results.push(name === '' ? joinPath(dir, '') : joinPath(dir, name));
    }
  }
  return results;
}

/**
 * Paths matching `pattern`, as CPython's glob.glob(pattern) would return them
 * (relative patterns stay relative to `cwd`), sorted.
 */
export function pythonGlob(pattern: string, cwd: string = process.cwd()): string[] {
  if (pattern === '') return [];
  return [...new Set(iglob(pattern, cwd, false))].sort();
}
