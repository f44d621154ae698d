/** unpackArchive against hostile archives made by Python's zipfile, as an attacker's tool would make them: nothing is written outside the target. */
import { writeFileSync, mkdirSync, symlinkSync, existsSync, statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { unpackArchive, DEFAULT_UNPACK_LIMITS } from '../../../operator/src/protocol/zip.js';
import { makeZip, listTree } from '../../helpers/hostile.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { missingPrograms } from '../../helpers/programs.js';

const tmp = tempDirs('ajo-zip-test-');

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

describeOrSkip('unpackArchive refuses hostile archives and writes nothing outside', missingPrograms('python3'), () => {
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
});
