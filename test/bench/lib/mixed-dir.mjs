// The private data dirs for the `transmit` case: a realistic mix at a given total size.
//
// Per 100 MB: ~2,000 small text files (0.5-8 KB) in a nested roles/ tree, ~30 medium
// text files (0.2-1.3 MB, compress ~3:1), one large random (incompressible) file, one
// large repetitive log (compresses ~20:1), and symlinks to files and to a directory.
// Made once per size under the cache dir; a sibling .json records what is inside.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, openSync, writeSync, closeSync, renameSync } from 'node:fs';
import path from 'node:path';
import { seededRandom } from '../../helpers/seeded-random.mjs';
import { cacheDir } from './env.mjs';

const MB = 1024 * 1024;
const WORDS = 'ansible runner task host play handler role vars facts inventory changed ok failed skipped unreachable module args result item loop when register become debug shell command copy template file service package'.split(' ');


function textOf(bytes, random) {
  const parts = [];
  let length = 0;
  while (length < bytes) {
    const line = `${Array.from({ length: 4 + Math.floor(random() * 10) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ')} ${Math.floor(random() * 1e9)}\n`;
    parts.push(line);
    length += line.length;
  }
  return parts.join('').slice(0, bytes);
}

/** Writes `bytes` in 1 MB chunks from `chunk(index)`, so no file is ever held in memory whole. */
function writeChunked(file, bytes, chunk) {
  const fd = openSync(file, 'w', 0o644);
  try {
    for (let offset = 0, index = 0; offset < bytes; offset += MB, index += 1) writeSync(fd, chunk(index).subarray(0, Math.min(MB, bytes - offset)));
  } finally {
    closeSync(fd);
  }
}

/**
 * @param {number} sizeMb the total size
 * @param {(line: string) => void} log
 * @param {{ smallFiles?: number }} [shape] how many small files (default 2,000 per 100 MB)
 * @returns {{ dir: string, files: number, symlinks: number, bytes: number }} the cached dir of about `sizeMb` MB
 */
export function mixedDir(sizeMb, log, shape = {}) {
  const units = sizeMb / 100;
  const smallFiles = shape.smallFiles ?? 2000 * units;
  const dir = path.join(cacheDir, 'transmit', shape.smallFiles === undefined ? `mixed-${sizeMb}mb` : `mixed-${sizeMb}mb-${smallFiles}files`);
  const metaFile = `${dir}.json`;
  if (existsSync(dir) && existsSync(metaFile)) return { dir, ...JSON.parse(readFileSync(metaFile, 'utf8')) };

  log(`making a ${sizeMb} MB mixed private data dir (once)`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  const random = seededRandom(sizeMb);
  const stats = { files: 0, symlinks: 0, bytes: 0 };
  const write = (relative, content) => {
    const file = path.join(partial, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    stats.files += 1;
    stats.bytes += content.length;
  };

  write('project/x.yml', '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: {msg: hello}\n');
  write('inventory/hosts', 'localhost ansible_connection=local\n');
  for (let index = 0; index < smallFiles; index += 1) {
    const role = `role${index % 40}`;
    const kind = ['tasks', 'defaults', 'templates', 'files/conf.d', 'vars'][index % 5];
    write(`project/roles/${role}/${kind}/f${index}.yml`, textOf(512 + Math.floor(random() * 7680), random));
  }
  for (let index = 0; index < 30 * units; index += 1) {
    write(`project/files/medium/m${index}.log`, textOf(200 * 1024 + Math.floor(random() * 1100 * 1024), random));
  }
  const smallAndMedium = stats.bytes;
  // The rest: 55% incompressible, 45% very compressible.
  const rest = sizeMb * MB - smallAndMedium;
  const randomBytesTotal = Math.floor(rest * 0.55);
  const logBytes = rest - randomBytesTotal;
  mkdirSync(path.join(partial, 'project/files/large'), { recursive: true });
  writeChunked(path.join(partial, 'project/files/large/blob.bin'), randomBytesTotal, () => randomBytes(MB));
  const logChunk = Buffer.from(textOf(16 * 1024, random).repeat(64));
  writeChunked(path.join(partial, 'project/files/large/app.log'), logBytes, () => logChunk);
  stats.files += 2;
  stats.bytes += randomBytesTotal + logBytes;

  symlinkSync('x.yml', path.join(partial, 'project/site.yml'));
  symlinkSync('../roles/role0/tasks/f0.yml', path.join(partial, 'project/files/main-tasks.yml'));
  symlinkSync('large/app.log', path.join(partial, 'project/files/current.log'));
  symlinkSync('roles/role1', path.join(partial, 'project/role-alias'));
  stats.symlinks = 4;

  renameSync(partial, dir);
  writeFileSync(metaFile, JSON.stringify(stats));
  return { dir, ...stats };
}
