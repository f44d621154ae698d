import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync, existsSync, readlinkSync, statSync, readFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { packDirectory, unpackArchive, UnsafeArchiveError, DEFAULT_UNPACK_LIMITS } from '../../../operator/src/protocol/zip.js';
import { makeZip, listTree } from '../../helpers/hostile.js';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'ajo-zip-test-'));

function zipFile(buffer: Buffer): string {
  const file = path.join(tmp(), 'in.zip');
  writeFileSync(file, buffer);
  return file;
}

/** A sandbox with the target inside and a sibling that must stay untouched. */
function sandbox(): { root: string; target: string; outside: string } {
  const root = tmp();
  const target = path.join(root, 'target');
  const outside = path.join(root, 'outside');
  mkdirSync(outside);
  return { root, target, outside };
}

describe('packDirectory', () => {
  test('walks like Python (files, then sub-dirs, then descend) with modes, links, dates', async () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'project/roles'), { recursive: true });
    writeFileSync(path.join(dir, 'project/site.yml'), '- hosts: all\n');
    writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n');
    chmodSync(path.join(dir, 'run.sh'), 0o755);
    symlinkSync('site.yml', path.join(dir, 'project/alias.yml'));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    const out = path.join(tmp(), 'out.zip');
    const result = await packDirectory(dir, out);
    expect(result.skipped).toEqual(['fifo']);
    const listing = execFileSync('/usr/bin/python3', [
      '-c',
      'import zipfile,sys\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, oct(i.external_attr>>16), i.create_system, i.compress_type)',
      out,
    ]).toString().trim().split('\n');
    const byName = Object.fromEntries(listing.map((l) => [l.split(' ')[0], l.split(' ').slice(1).join(' ')]));
    expect(byName['run.sh']).toBe('0o100755 3 8');
    expect(byName['project/']).toBe('0o40755 3 0');
    expect(byName['project/alias.yml']).toBe('0o120777 3 0');
    const names = listing.map((l) => l.split(' ')[0]);
    // Python's os.walk order: files of a level before its directories, parents before children.
    expect(names.indexOf('run.sh')).toBeLessThan(names.indexOf('project/'));
    expect(names.indexOf('project/')).toBeLessThan(names.indexOf('project/site.yml'));
    expect(names.indexOf('project/roles/')).toBeGreaterThan(names.indexOf('project/site.yml'));
  });

  test('round trip keeps content, modes, symlinks and 2-second mtimes', async () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    writeFileSync(path.join(dir, 'a/b/c.txt'), 'héllo\n');
    chmodSync(path.join(dir, 'a/b/c.txt'), 0o640);
    symlinkSync('b/c.txt', path.join(dir, 'a/link'));
    const out = path.join(tmp(), 'rt.zip');
    await packDirectory(dir, out);
    const dest = tmp();
    await unpackArchive(out, dest);
    expect(listTree(dest)).toEqual(['a/', 'a/b/', 'a/b/c.txt', 'a/link']);
    expect(readFileSync(path.join(dest, 'a/b/c.txt'), 'utf8')).toBe('héllo\n');
    expect(statSync(path.join(dest, 'a/b/c.txt')).mode & 0o777).toBe(0o640);
    expect(readlinkSync(path.join(dest, 'a/link'))).toBe('b/c.txt');
    const delta = Math.abs(statSync(path.join(dest, 'a/b/c.txt')).mtimeMs - statSync(path.join(dir, 'a/b/c.txt')).mtimeMs);
    expect(delta).toBeLessThan(2000);
  });
});

describe('unpackArchive refuses hostile archives and writes nothing outside', () => {
  const cases: Array<[string, Parameters<typeof makeZip>[0], RegExp]> = [
    ['a .. member', [{ name: '../outside/evil.txt', data: 'x' }], /unsafe zip member name|escapes the target/],
    ['a nested .. member', [{ name: 'project/../../outside/evil.txt', data: 'x' }], /unsafe zip member name|escapes the target/],
    ['an absolute member', [{ name: '/tmp/ajo-absolute-evil.txt', data: 'x' }], /unsafe zip member name|absolute path/],
    ['a symlink pointing outside', [{ name: 'link', data: '../outside', mode: 0o120777 }], /symlink to '..\/outside', outside the target/],
    ['an absolute symlink', [{ name: 'link', data: '/etc', mode: 0o120777 }], /symlink to '\/etc', outside the target/],
    [
      'a file written through an in-archive symlink',
      [
        { name: 'inner/', mode: 0o40755 },
        { name: 'link', data: 'inner', mode: 0o120777 },
        { name: 'link/evil.txt', data: 'x' },
      ],
      /written through the symlink 'link'/,
    ],
  ];

  test.each(cases)('%s', async (_label, members, message) => {
    const { target, outside, root } = sandbox();
    await expect(unpackArchive(zipFile(makeZip(members)), target)).rejects.toThrow(message);
    expect(listTree(outside)).toEqual([]);
    expect(existsSync('/tmp/ajo-absolute-evil.txt')).toBe(false);
    expect(listTree(root).filter((p) => !p.startsWith('target') && !p.startsWith('outside'))).toEqual([]);
  });

  test('a pre-existing symlink in the target is replaced, never written through', async () => {
    const { target, outside } = sandbox();
    mkdirSync(target);
    symlinkSync(path.join(outside, 'victim.txt'), path.join(target, 'hosts'));
    await unpackArchive(zipFile(makeZip([{ name: 'hosts', data: 'localhost\n' }])), target);
    expect(existsSync(path.join(outside, 'victim.txt'))).toBe(false);
    expect(readFileSync(path.join(target, 'hosts'), 'utf8')).toBe('localhost\n');
  });

  test('a zip bomb is stopped by the ratio cap, and by the total cap when the ratio is allowed', async () => {
    const bomb = zipFile(makeZip([{ name: 'zeros.bin', zeros: 64 * 1024 * 1024 }]));
    const { target } = sandbox();
    await expect(unpackArchive(bomb, target)).rejects.toThrow(/inflates \d+:1 .* over the ratio limit of 500:1/);
    expect(existsSync(path.join(target, 'zeros.bin'))).toBe(false);
    const relaxed = { ...DEFAULT_UNPACK_LIMITS, maxRatio: 5000, maxTotalBytes: 16 * 1024 * 1024 };
    await expect(unpackArchive(bomb, sandbox().target, relaxed)).rejects.toThrow(/inflates to more than 16777216 bytes/);
    const generous = { ...DEFAULT_UNPACK_LIMITS, maxRatio: 5000 };
    const ok = sandbox().target;
    await expect(unpackArchive(bomb, ok, generous)).resolves.toMatchObject({ files: 1, bytes: 64 * 1024 * 1024 });
  });

  test('producers that leave Unix modes out get sane defaults, not 0000', async () => {
    const target = sandbox().target;
    await unpackArchive(zipFile(makeZip([{ name: 'a/b.txt', data: 'x', mode: 0 }])), target);
    expect(statSync(path.join(target, 'a/b.txt')).mode & 0o777).toBe(0o644);
  });

  test('a payload that is not a zip says so', async () => {
    const file = zipFile(Buffer.from('this is not a zip archive at all'));
    const error = await unpackArchive(file, sandbox().target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as Error).message).toMatch(/not a zip archive/);
  });
});
