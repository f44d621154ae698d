/**
 * The zip writer, read back by the readers that matter: Python's zipfile (what
 * ansible-runner unpacks with), Info-ZIP's unzip, and our own unpacker.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import yauzl from 'yauzl';
import { packDirectory, unpackArchive } from '../../../operator/src/protocol/zip.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { missingPrograms } from '../../helpers/programs.js';

const MiB = 1024 * 1024;
const tmp = tempDirs('ajo-zipw-test-');

interface PyMember {
  name: string;
  method: number;
  size: number;
  compressed: number;
  sha256: string | null;
  date: number[];
  flags: number;
  zip64: boolean;
  offset: number;
}

/** Python's view of the archive, after zipfile's own CRC check of every member. */
function readWithPython(zipFile: string): { members: PyMember[]; bad: string | null } {
  const script = `
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
out = []
for i in z.infolist():
    data = None if i.is_dir() else z.read(i)
    out.append(dict(name=i.filename, method=i.compress_type, size=i.file_size, compressed=i.compress_size,
                    sha256=None if data is None else hashlib.sha256(data).hexdigest(),
                    date=list(i.date_time), flags=i.flag_bits, zip64=i.extract_version >= 45, offset=i.header_offset))
print(json.dumps(dict(members=out, bad=bad)))
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, zipFile], { maxBuffer: 256 * MiB }).toString());
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Text that deflates well but not trivially, like logs and YAML. */
function text(bytes: number): Buffer {
  const words = ['ansible', 'runner', 'task', 'host', 'changed', 'ok', 'failed', 'loop', 'item', 'facts'];
  const lines: string[] = [];
  let length = 0;
  for (let index = 0; length < bytes; index++) {
    const line = `${words[index % 10]} ${words[(index * 7) % 10]} ${index * 2654435761 % 1000003}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

describeOrSkip('the zip writer', missingPrograms('python3', 'unzip', 'mkfifo'), () => {
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

  test('members of every size round-trip through Python, unzip and our unpacker', async () => {
    const dir = tmp();
    const files: Record<string, Buffer> = {
      'empty.txt': Buffer.alloc(0),
      'one-byte': Buffer.from('x'),
      'small.yml': text(3000),
      'just-under-a-piece.log': text(MiB - 1),
      'exactly-a-piece.log': text(MiB),
      'a-piece-and-a-byte.log': text(MiB + 1),
      'several-pieces.log': text(3 * MiB + 12345),
      'random.bin': randomBytes(2 * MiB + 77),
      'small-random.bin': randomBytes(70 * 1024),
      'héllo wörld.txt': Buffer.from('non-ASCII name\n'),
    };
    for (const [name, data] of Object.entries(files)) writeFileSync(path.join(dir, name), data);
    const zipFile = path.join(tmp(), 'out.zip');
    await packDirectory(dir, zipFile);

    const python = readWithPython(zipFile);
    expect(python.bad).toBeNull();
    const byName = Object.fromEntries(python.members.map((m) => [m.name, m]));
    for (const [name, data] of Object.entries(files)) {
      expect({ name, size: byName[name]?.size, sha256: byName[name]?.sha256 }).toEqual({ name, size: data.length, sha256: sha256(data) });
    }
    // Text is deflated and shrinks; data that does not compress is stored rather than grown.
    expect(byName['several-pieces.log']).toMatchObject({ method: 8 });
    expect(byName['several-pieces.log']!.compressed).toBeLessThan(files['several-pieces.log']!.length / 2);
    expect(byName['random.bin']).toMatchObject({ method: 0, compressed: files['random.bin']!.length });
    expect(byName['small-random.bin']).toMatchObject({ method: 0 });
    expect(byName['one-byte']).toMatchObject({ method: 8 });
    // Like Python: the UTF-8 flag only on names that need it, no data descriptors.
    expect(byName['héllo wörld.txt']!.flags).toBe(0x800);
    expect(byName['small.yml']!.flags).toBe(0);

    expect(execFileSync('unzip', ['-tq', zipFile]).toString()).toMatch(/No errors detected/);

    const dest = tmp();
    const unpacked = await unpackArchive(zipFile, dest);
    expect(unpacked.files).toBe(Object.keys(files).length);
    for (const [name, data] of Object.entries(files)) expect(sha256(readFileSync(path.join(dest, name)))).toBe(sha256(data));
  });

  test('many small members deflated through the shared contexts each decode on their own', async () => {
    // Small whole members take turns over a few long-lived zlib contexts (SmallMemberDeflater):
    // each must still be a complete deflate stream with no history from its neighbours. Sizes
    // around the inline limit (8 KiB) and repeats of a neighbour's text (which a shared
    // dictionary would have referenced) are the cases that would break.
    const dir = tmp();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 600; i++) {
      const size = [0, 1, 8191, 8192, 8193][i % 5] ?? 0;
      const data = i % 3 === 0 ? Buffer.from(`repeated line of the neighbour ${i % 7}\n`.repeat(1 + (size >> 5))).subarray(0, size) : text(size + (i % 97));
      files[`d${i % 9}/member-${i}.txt`] = data;
    }
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(path.join(dir, path.dirname(name)), { recursive: true });
      writeFileSync(path.join(dir, name), data);
    }
    const zipFile = path.join(tmp(), 'out.zip');
    await packDirectory(dir, zipFile);

    const python = readWithPython(zipFile);
    expect(python.bad).toBeNull();
    const byName = Object.fromEntries(python.members.map((m) => [m.name, m]));
    const mismatched = Object.entries(files).filter(([name, data]) => byName[name]?.sha256 !== sha256(data) || byName[name]?.size !== data.length);
    expect(mismatched.map(([name]) => name)).toEqual([]);
    expect(byName['d0/member-0.txt']).toMatchObject({ size: 0, compressed: 2 });
    expect(execFileSync('unzip', ['-tq', zipFile]).toString()).toMatch(/No errors detected/);
    const dest = tmp();
    expect((await unpackArchive(zipFile, dest)).files).toBe(Object.keys(files).length);
  });

  test('a central directory larger than its memory block goes on in a file beside the zip, read back in order and removed', async () => {
    // 9,000 members with 150-byte names: ~1.8 MB of central directory records, past the 1 MiB
    // the writer keeps in memory, so most of them go through the unlinked file beside the zip.
    const dir = tmp();
    const names: string[] = [];
    for (let shard = 0; shard < 9; shard++) {
      const sub = `shard-${shard}-${'n'.repeat(60)}`;
      mkdirSync(path.join(dir, sub));
      for (let index = 0; index < 1000; index++) {
        const name = `${sub}/member-${String(index).padStart(4, '0')}-${'x'.repeat(70)}.txt`;
        writeFileSync(path.join(dir, name), `${name}\n`);
        names.push(name);
      }
    }
    const out = tmp();
    const zipFile = path.join(out, 'big-directory.zip');
    await packDirectory(dir, zipFile);

    const python = readWithPython(zipFile);
    expect(python.bad).toBeNull();
    // Python lists the central directory in its own order: it must be the order the members
    // were written in, so their local headers' offsets only go up.
    const offsets = python.members.map((m) => m.offset);
    expect(offsets.every((offset, index) => index === 0 || offset > offsets[index - 1]!)).toBe(true);
    const members = python.members.filter((m) => !m.name.endsWith('/'));
    expect(members.map((m) => m.name).sort()).toEqual([...names].sort());
    expect(python.members.filter((m) => m.name.endsWith('/')).map((m) => m.name).sort()).toEqual(Array.from({ length: 9 }, (_, shard) => `shard-${shard}-${'n'.repeat(60)}/`));
    expect(members.every((m) => m.sha256 === sha256(`${m.name}\n`))).toBe(true);
    expect(execFileSync('unzip', ['-tq', zipFile]).toString()).toMatch(/No errors detected/);
    expect(readdirSync(out)).toEqual(['big-directory.zip']);
  }, 120_000);

  test('zip64 records, forced at small sizes, are read by Python, unzip and our unpacker', async () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub/big.log'), text(2 * MiB + 5));
    writeFileSync(path.join(dir, 'small.txt'), 'small\n');
    const zipFile = path.join(tmp(), 'z64.zip');
    await packDirectory(dir, zipFile, { forceZip64: true });

    const python = readWithPython(zipFile);
    expect(python.bad).toBeNull();
    expect(python.members.map((m) => [m.name, m.zip64])).toEqual([
      ['small.txt', true],
      ['sub/', true],
      ['sub/big.log', true],
    ]);
    expect(python.members.find((m) => m.name === 'sub/big.log')!.sha256).toBe(sha256(text(2 * MiB + 5)));
    expect(execFileSync('unzip', ['-tq', zipFile]).toString()).toMatch(/No errors detected/);
    const dest = tmp();
    await unpackArchive(zipFile, dest);
    expect(readFileSync(path.join(dest, 'sub/big.log')).equals(text(2 * MiB + 5))).toBe(true);
  });

  test('more than 65,535 members switch the end record to zip64', async () => {
    const dir = tmp();
    const count = 66_000;
    for (let shard = 0; shard < 66; shard++) {
      const sub = path.join(dir, `d${shard}`);
      mkdirSync(sub);
      for (let index = 0; index < count / 66; index++) writeFileSync(path.join(sub, `f${index}`), '');
    }
    const zipFile = path.join(tmp(), 'many.zip');
    const packed = await packDirectory(dir, zipFile);
    expect(packed.entries).toBe(count + 66);
    const listed = execFileSync('/usr/bin/python3', ['-c', 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))', zipFile]);
    expect(Number(listed.toString())).toBe(count + 66);
    // Our unpacker's reader takes the count from the zip64 record (extracting 66k files would only time the disk).
    const reader = await yauzl.openPromise(zipFile, { lazyEntries: true });
    expect(reader.entryCount).toBe(count + 66);
    reader.close();
  }, 600_000); // a guard against a hang, not a speed target: 66k files take minutes on a loaded 2-core machine

  test('dates outside the DOS range are clamped as Python does with strict_timestamps=False', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'old'), 'from 1970\n');
    utimesSync(path.join(dir, 'old'), new Date(1970, 0, 2), new Date(1970, 0, 2));
    writeFileSync(path.join(dir, 'new'), 'from 2026\n');
    utimesSync(path.join(dir, 'new'), new Date(2026, 10, 23, 13, 45, 31), new Date(2026, 10, 23, 13, 45, 31));
    const zipFile = path.join(tmp(), 'dates.zip');
    await packDirectory(dir, zipFile);
    const dates = Object.fromEntries(readWithPython(zipFile).members.map((m) => [m.name, m.date]));
    expect(dates.old).toEqual([1980, 1, 1, 0, 0, 0]);
    expect(dates.new).toEqual([2026, 11, 23, 13, 45, 30]);
  });
});
