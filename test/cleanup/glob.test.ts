// The --file-pattern matcher against CPython's glob.glob on the same tree:
// Python is the reference ansible-runner uses.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { fnmatchToRegExp, pythonGlob } from '../../operator/src/cleanup/glob.js';
import { describeOrSkip } from '../helpers/skip.js';

const python = spawnSync('python3', ['-c', 'import glob'], { encoding: 'utf8' });
const pythonMissing = python.status === 0 ? null : `python3 is not runnable (${python.error?.message ?? python.stderr})`;

function cpythonGlob(pattern: string, cwd: string): string[] {
  const run = spawnSync('python3', ['-c', 'import glob,json,sys; print(json.dumps(sorted(glob.glob(sys.argv[1]))))', pattern], { cwd, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as string[];
}

describeOrSkip('pythonGlob matches CPython glob.glob', pythonMissing, () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'ajo-glob-'));
    for (const d of ['foo_1', 'foo_2', 'foo_10', '.foo_hidden', 'bar', 'a[b]', 'x*y', 'deep/a/b', 'deep/c/b', 'linked-target/inner', 'Foo_3', 'dash-x', 'caret^']) {
      mkdirSync(path.join(root, d), { recursive: true });
    }
    writeFileSync(path.join(root, 'foo_file'), '');
    writeFileSync(path.join(root, 'deep/a/b/leaf.txt'), '');
    symlinkSync(path.join(root, 'linked-target'), path.join(root, 'foo_link'));
    symlinkSync('/nonexistent/ajo', path.join(root, 'foo_broken'));
    symlinkSync(path.join(root, 'linked-target'), path.join(root, 'deep/zlink'));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const patterns = [
    'foo_*',
    'foo_?',
    'foo_[0-9]*',
    'foo_[!1]*',
    'foo_[]*',
    '[F]oo_*',
    '.foo*',
    '*',
    '*/',
    '**',
    'deep/*/b',
    'deep/*/b/*',
    'deep/*/inner',
    '*/*/b',
    'a[[]b]',
    'x[*]y',
    'x*y',
    'foo_[',
    'dash[-]x',
    'caret[\\^]',
    'caret[^]',
    'foo_[z-a1]',
    'foo_1',
    'foo_1/',
    'foo_file/',
    'foo_broken',
    'missing_*',
    'nothing',
  ];

  test.each(patterns)('absolute pattern %s', (pattern) => {
    const absolute = path.join(root, pattern);
    expect(pythonGlob(absolute)).toEqual(cpythonGlob(absolute, '/'));
  });

  test.each(patterns)('relative pattern %s', (pattern) => {
    expect(pythonGlob(pattern, root)).toEqual(cpythonGlob(pattern, root));
  });

  test('the results really match (not both empty)', () => {
    expect(pythonGlob(path.join(root, 'foo_*'))).toEqual(
      ['foo_1', 'foo_10', 'foo_2', 'foo_broken', 'foo_file', 'foo_link'].map((n) => path.join(root, n)),
    );
  });
});

describe('fnmatchToRegExp', () => {
  test.each([
    ['*.txt', 'a.txt', true],
    ['*.txt', 'a.txtx', false],
    ['[!a]b', 'ab', false],
    ['[!a]b', 'cb', true],
    ['[]]', ']', true],
    ['[', '[', true],
    ['a.b', 'axb', false],
    ['(x)+', '(x)+', true],
    ['*', 'line\nbreak', true],
  ] satisfies [string, string, boolean][])('%s vs %j -> %s', (pattern, name, expected) => {
    expect(fnmatchToRegExp(pattern).test(name)).toBe(expected);
  });
});
