/** unpackArchive against hostile archives made by Python's zipfile, as an attacker's tool would make them: nothing is written outside the target. */
import { writeFileSync, mkdirSync, symlinkSync, existsSync, statSync, statfsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packDirectory, unpackArchive, DEFAULT_UNPACK_LIMITS, UnsafeArchiveError } from '../../../operator/src/protocol/zip.js';
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

  test('a member that inflates past its declared size is refused at that size, whether small or large', async () => {
    // Small members go through memory, large ones (over 1 MiB) stream to disk: both paths.
    for (const [real, declared] of [[1000, 100], [3 * 1024 * 1024, 2 * 1024 * 1024]] as const) {
      const { target } = sandbox();
      const archive = zipFile(makeZip([{ name: 'liar.bin', zeros: real, declaredSize: declared }]));
      await expect(unpackArchive(archive, target)).rejects.toThrow(`zip member 'liar.bin' inflates past its declared size of ${declared} bytes`);
      const written = existsSync(path.join(target, 'liar.bin')) ? statSync(path.join(target, 'liar.bin')).size : 0;
      expect(written).toBeLessThanOrEqual(declared);
    }
  });

  test('a member that ends short of its declared size is refused, whether small or large', async () => {
    for (const [real, declared] of [[1000, 2000], [3 * 1024 * 1024, 4 * 1024 * 1024]] as const) {
      const archive = zipFile(makeZip([{ name: 'short.bin', zeros: real, declaredSize: declared }]));
      await expect(unpackArchive(archive, sandbox().target)).rejects.toThrow(
        `zip member 'short.bin' ends after ${real} bytes, short of its declared size of ${declared} bytes`,
      );
    }
  });

  test('a declared total over maxTotalBytes is refused before anything is written', async () => {
    const archive = zipFile(makeZip([{ name: 'a.bin', zeros: 600_000 }, { name: 'b.bin', zeros: 600_000 }]));
    const { target } = sandbox();
    const limits = { ...DEFAULT_UNPACK_LIMITS, maxTotalBytes: 1_000_000 };
    await expect(unpackArchive(archive, target, limits)).rejects.toThrow(
      'the archive declares 1200000 bytes in 2 members, more than the maximum of 1000000 bytes',
    );
    expect(listTree(target)).toEqual([]);
    await expect(unpackArchive(archive, target, { ...limits, maxTotalBytes: 1_200_000 })).resolves.toMatchObject({ files: 2, bytes: 1_200_000 });
  });

  test('by default the declared total must fit the free space of the target file system, less 5%', async () => {
    const { target } = sandbox();
    mkdirSync(target);
    const fsInfo = statfsSync(target);
    const free = fsInfo.bavail * fsInfo.bsize;
    // Members whose central directory claims almost 4 GiB each, one more than the free space holds.
    const claim = 0xfffffffe;
    const members = Array.from({ length: Math.ceil(free / claim) + 1 }, (_, i) => ({ name: `m${i}`, data: 'x', declaredSize: claim }));
    const error = (await unpackArchive(zipFile(makeZip(members)), target).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect(error.message).toMatch(
      new RegExp(`^the archive declares ${members.length * claim} bytes in ${members.length} members, more than the \\d+ bytes it may take of the \\d+ free on the file system of ${target} \\(5% stays free\\)$`),
    );
    expect(listTree(target)).toEqual([]);
  });

  test('data that compresses 1000:1 is not a bomb: it unpacks with the default limits, from Python and from packDirectory', async () => {
    const log = '2024-01-01 12:00:00 INFO request handled status=200\n'.repeat(100_000);
    const fromPython = zipFile(makeZip([{ name: 'zeros.bin', zeros: 10_000_000 }, { name: 'app.log', data: log }]));
    const dir = tmp();
    writeFileSync(path.join(dir, 'zeros.bin'), Buffer.alloc(10_000_000));
    writeFileSync(path.join(dir, 'app.log'), log);
    const fromUs = path.join(tmp(), 'ours.zip');
    await packDirectory(dir, fromUs);
    for (const archive of [fromPython, fromUs]) {
      const { target } = sandbox();
      await expect(unpackArchive(archive, target)).resolves.toMatchObject({ files: 2, bytes: 10_000_000 + log.length });
      expect(statSync(path.join(target, 'zeros.bin')).size).toBe(10_000_000);
      expect(readFileSync(path.join(target, 'app.log'), 'utf8')).toBe(log);
    }
  });

  test('the ratio cap is opt-in, and refuses before writing anything', async () => {
    const archive = zipFile(makeZip([{ name: 'zeros.bin', zeros: 10_000_000 }]));
    const { target } = sandbox();
    await expect(unpackArchive(archive, target, { ...DEFAULT_UNPACK_LIMITS, maxRatio: 500 })).rejects.toThrow(
      /^zip member 'zeros.bin' inflates \d+:1 \(10000000 bytes from \d+\), over the ratio limit of 500:1$/,
    );
    expect(listTree(target)).toEqual([]);
  });

  test('an aborted unpack stops between members with the signal\'s reason', async () => {
    const archive = zipFile(makeZip([{ name: 'a', data: 'x' }, { name: 'b', data: 'y' }]));
    const controller = new AbortController();
    controller.abort(new Error('canceled by the test'));
    const { target } = sandbox();
    await expect(unpackArchive(archive, target, DEFAULT_UNPACK_LIMITS, { signal: controller.signal })).rejects.toThrow('canceled by the test');
    expect(listTree(target)).toEqual([]);
  });

  test('producers that leave Unix modes out get sane defaults, not 0000', async () => {
    const target = sandbox().target;
    await unpackArchive(zipFile(makeZip([{ name: 'a/b.txt', data: 'x', mode: 0 }])), target);
    expect(statSync(path.join(target, 'a/b.txt')).mode & 0o777).toBe(0o644);
  });
});
