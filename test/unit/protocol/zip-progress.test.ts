// packDirectory and unpackArchive report their progress: per file, monotonic, and a final `done` with the totals.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packDirectory, unpackArchive, type ZipProgress } from '../../../operator/src/protocol/zip.js';
import { tempDirs } from '../../helpers/temp.js';

const tmp = tempDirs('ajo-zip-progress-');

/** 3 files of 1000, 2000 and 3000 bytes, a symlink, two directories. */
function tree(): string {
  const dir = tmp();
  mkdirSync(path.join(dir, 'project/roles'), { recursive: true });
  writeFileSync(path.join(dir, 'a.txt'), 'a'.repeat(1000));
  writeFileSync(path.join(dir, 'project/b.txt'), 'b'.repeat(2000));
  writeFileSync(path.join(dir, 'project/roles/c.txt'), 'c'.repeat(3000));
  symlinkSync('b.txt', path.join(dir, 'project/link'));
  return dir;
}

function expectSteadyProgress(reports: ZipProgress[]): void {
  expect(reports.at(-1)).toEqual({ files: 4, bytes: 6000, done: true });
  expect(reports.filter((r) => r.done)).toHaveLength(1);
  for (let i = 1; i < reports.length; i++) {
    expect(reports[i]!.files).toBeGreaterThanOrEqual(reports[i - 1]!.files);
    expect(reports[i]!.bytes).toBeGreaterThanOrEqual(reports[i - 1]!.bytes);
  }
}

test('packDirectory reports each file and symlink, then done with the totals', async () => {
  const reports: ZipProgress[] = [];
  await packDirectory(tree(), path.join(tmp(), 'out.zip'), { onProgress: (p) => reports.push(p) });
  expect(reports.slice(0, -1).map((r) => r.files)).toEqual([1, 2, 3, 4]);
  expectSteadyProgress(reports);
});

test('unpackArchive reports as members land, then done with the totals', async () => {
  const zip = path.join(tmp(), 'out.zip');
  await packDirectory(tree(), zip);
  const reports: ZipProgress[] = [];
  await unpackArchive(zip, path.join(tmp(), 'target'), undefined, { onProgress: (p) => reports.push(p) });
  expect(new Set(reports.map((r) => r.files))).toEqual(new Set([1, 2, 3, 4]));
  expectSteadyProgress(reports);
});
