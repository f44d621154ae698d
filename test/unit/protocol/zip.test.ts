/** packDirectory and unpackArchive on their own: a round trip, and a payload that is not a zip. (Hostile archives, made by Python: test/programs/protocol/unpack.test.ts.) */
import { writeFileSync, mkdirSync, symlinkSync, readlinkSync, statSync, readFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { packDirectory, unpackArchive, UnsafeArchiveError } from '../../../operator/src/protocol/zip.js';
import { listTree } from '../../helpers/hostile.js';
import { tempDirs } from '../../helpers/temp.js';

const tmp = tempDirs('ajo-zip-test-');

describe('packDirectory', () => {
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

describe('unpackArchive', () => {
  test('a payload that is not a zip says so', async () => {
    const file = path.join(tmp(), 'in.zip');
    writeFileSync(file, 'this is not a zip archive at all');
    const error = await unpackArchive(file, path.join(tmp(), 'target')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as Error).message).toMatch(/not a zip archive/);
  });
});
