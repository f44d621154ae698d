/**
 * Directory ⇄ zip archive, in the shape ansible-runner's stream_dir/unstream_dir
 * produce and accept, with unpacking hardened against hostile archives.
 *
 * Packing mirrors Python's walk: for each directory, its files first, then its
 * sub-directory entries, then descend. The records themselves are written by
 * zip-writer.ts.
 *
 * Unpacking never writes outside the target: names with `..`, absolute names,
 * names that pass through a symlink, and symlinks whose target leaves the
 * target directory are all refused. Sizes are capped (total bytes, per-entry
 * ratio, entry count), counting the bytes actually inflated rather than
 * trusting the archive's headers.
 */
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  unlinkSync,
  writeSync,
  type Dirent,
} from 'node:fs';
import { chmod, mkdir, open, symlink, utimes, realpath } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Entry, ZipFile as ZipReader } from 'yauzl';
import { ZipWriter } from './zip-writer.js';

// Each CLI stage needs only one direction; transmit never pays for loading the reader.
const loadYauzl = async () => (await import('yauzl')).default;

/**
 * Load the zip reader now, while the caller waits for its stream anyway, so
 * that it is ready when the archive arrives (~25 ms of start-up off the path).
 */
export function preloadZipReader(): void {
  loadYauzl().catch(() => undefined);
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const UNIX_CREATOR = 3;
/** Members up to this size are inflated to memory and written in one go. */
const SMALL_MEMBER_BYTES = 1024 * 1024;

// ---------------------------------------------------------------- packing

export interface PackResult {
  entries: number;
  skipped: string[];
}

/** Work done so far: members (files and symlinks) and the bytes of their contents. */
export interface ZipProgress {
  files: number;
  bytes: number;
  /** Set on the last call, once the whole archive is written or unpacked. */
  done: boolean;
}

export interface PackOptions {
  /** Names directly under `dir` to leave out. */
  excludeTopLevel?: readonly string[];
  /** Write zip64 records even where sizes fit; for tests of the zip64 paths. */
  forceZip64?: boolean;
  /** Called after each file or symlink is added, and once more when the archive is complete. */
  onProgress?: (progress: ZipProgress) => void;
}

/**
 * Write a zip of everything below `dir` (not `dir` itself) to `zipFile`.
 * The walk uses synchronous calls on purpose: asynchronous ones would wait in
 * the same thread pool that is busy deflating (see zip-writer.ts).
 */
export async function packDirectory(dir: string, zipFile: string, options: PackOptions = {}): Promise<PackResult> {
  const zip = ZipWriter.create(zipFile, { forceZip64: options.forceZip64 });
  const result: PackResult = { entries: 0, skipped: [] };
  const progress: ZipProgress = { files: 0, bytes: 0, done: false };
  const added = (bytes: number): void => {
    progress.files++;
    progress.bytes += bytes;
    options.onProgress?.({ ...progress });
  };
  try {
    await addTree(zip, dir, '', result, new Set(options.excludeTopLevel ?? []), added);
    result.entries = (await zip.finish()).entries;
    options.onProgress?.({ ...progress, done: true });
  } catch (err) {
    zip.abort();
    throw err;
  }
  return result;
}

function listDir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function addTree(
  zip: ZipWriter,
  root: string,
  relDir: string,
  result: PackResult,
  exclude: ReadonlySet<string>,
  added: (bytes: number) => void,
): Promise<void> {
  const entries = listDir(path.join(root, relDir)).filter((entry) => relDir !== '' || !exclude.has(entry.name));
  const subdirs: string[] = [];
  for (const entry of entries) {
    const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
    const abs = path.join(root, rel);
    const info = lstatSync(abs);
    if (info.isDirectory()) {
      subdirs.push(rel);
    } else if (info.isSymbolicLink()) {
      await zip.addSymlink(rel, readlinkSync(abs));
      added(0);
    } else if (info.isFile()) {
      await zip.addFile(rel, abs, { mode: info.mode, mtime: info.mtime }, info.size);
      added(info.size);
    } else {
      // FIFOs (runner's ssh_key_data), sockets and devices carry no data worth sending.
      result.skipped.push(rel);
    }
  }
  for (const rel of subdirs) {
    const info = lstatSync(path.join(root, rel));
    await zip.addDirectory(rel, { mode: info.mode, mtime: info.mtime });
  }
  for (const rel of subdirs) await addTree(zip, root, rel, result, exclude, added);
}

// ---------------------------------------------------------------- unpacking

export interface UnpackLimits {
  /** Total bytes all members may inflate to. */
  maxTotalBytes: number;
  /** Largest inflated/compressed ratio for a member bigger than `ratioFloorBytes`. */
  maxRatio: number;
  /** Members smaller than this are exempt from the ratio check (tiny files compress oddly). */
  ratioFloorBytes: number;
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = {
  maxTotalBytes: 8 * 1024 ** 3,
  maxRatio: 500,
  ratioFloorBytes: 1024 ** 2,
  maxEntries: 1_000_000,
};

export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

export interface UnpackResult {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

type EntryKind = 'file' | 'directory' | 'symlink';

function entryKind(entry: Entry): EntryKind {
  const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (type === S_IFLNK) return 'symlink';
  if (entry.fileName.endsWith('/') || type === S_IFDIR) return 'directory';
  return 'file';
}

/** Permission bits to apply; producers that leave them out get sane defaults instead of 0000. */
function entryMode(entry: Entry, kind: EntryKind): number {
  const mode = (entry.externalFileAttributes >>> 16) & 0o777;
  const fromUnix = entry.versionMadeBy >> 8 === UNIX_CREATOR && mode !== 0;
  if (fromUnix) return mode;
  return kind === 'directory' ? 0o755 : 0o644;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Reject anything that could land outside `root`, before touching the disk. */
function memberPath(root: string, name: string): string {
  const trimmed = name.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') throw new UnsafeArchiveError(`zip member '${name}' has an empty name`);
  if (name.includes('\0')) throw new UnsafeArchiveError(`zip member '${name}' has a NUL byte in its name`);
  if (path.posix.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) throw new UnsafeArchiveError(`zip member '${name}' has an absolute path`);
  if (name.split(/[\\/]/).includes('..')) throw new UnsafeArchiveError(`zip member '${name}' escapes the target directory with '..'`);
  const target = path.resolve(root, trimmed);
  if (!isInside(root, target) || target === root) throw new UnsafeArchiveError(`zip member '${name}' escapes the target directory`);
  return target;
}

/** Counts inflated bytes and stops the stream the moment a cap is crossed. */
class ByteBudget extends Transform {
  seen = 0;
  constructor(
    private readonly remaining: () => number,
    private readonly onExceeded: () => Error,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.seen += chunk.length;
    if (this.seen > this.remaining()) done(this.onExceeded());
    else done(null, chunk);
  }
}

class Unpacker {
  readonly result: UnpackResult = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  private readonly directoryModes: Array<{ dir: string; mode: number; mtime: Date }> = [];
  /** Directories seen to be real directories; members can never replace one, so once is enough. */
  private readonly knownDirectories = new Set<string>();
  private entries = 0;

  constructor(
    private readonly zip: ZipReader,
    private readonly root: string,
    private readonly limits: UnpackLimits,
  ) {}

  /** Checked on the declared size first, then on the bytes actually inflated. */
  private overTotalLimit(entry: Entry): UnsafeArchiveError {
    return new UnsafeArchiveError(`the archive inflates to more than ${this.limits.maxTotalBytes} bytes (limit), at member '${entry.fileName}'`);
  }

  checkEntry(entry: Entry): void {
    if (++this.entries > this.limits.maxEntries) {
      throw new UnsafeArchiveError(`the archive has more than ${this.limits.maxEntries} members (limit)`);
    }
    const declared = entry.uncompressedSize;
    if (this.result.bytes + declared > this.limits.maxTotalBytes) throw this.overTotalLimit(entry);
    if (declared > this.limits.ratioFloorBytes && declared / Math.max(entry.compressedSize, 1) > this.limits.maxRatio) {
      const ratio = Math.round(declared / Math.max(entry.compressedSize, 1));
      throw new UnsafeArchiveError(
        `zip member '${entry.fileName}' inflates ${ratio}:1 (${declared} bytes from ${entry.compressedSize}), over the ratio limit of ${this.limits.maxRatio}:1`,
      );
    }
  }

  async extract(entry: Entry): Promise<void> {
    this.checkEntry(entry);
    const kind = entryKind(entry);
    const target = memberPath(this.root, entry.fileName);
    this.ensureParents(target, entry.fileName);
    const mtime = entry.getLastModDate();
    if (kind === 'directory') return this.extractDirectory(entry, target, mtime);
    const existing = lstatSync(target, { throwIfNoEntry: false });
    if (existing?.isDirectory()) {
      throw new UnsafeArchiveError(`zip member '${entry.fileName}' would replace the directory '${path.relative(this.root, target)}'`);
    }
    // Never write through, or leave behind, a link planted by an earlier member or run.
    if (existing) unlinkSync(target);
    if (kind === 'symlink') return this.extractSymlink(entry, target);
    return this.extractFile(entry, target, mtime);
  }

  /**
   * Make every directory between the root and `target` exist as a real directory.
   * A symlink anywhere on the way would let a later member write through it.
   * Synchronous: these are short metadata calls, and on the thread pool they
   * would queue behind inflate jobs, one round trip each, for every member.
   */
  private ensureParents(target: string, name: string): void {
    const parts = path.relative(this.root, path.dirname(target)).split(path.sep).filter(Boolean);
    let current = this.root;
    for (const part of parts) {
      current = path.join(current, part);
      if (this.knownDirectories.has(current)) continue;
      const info = lstatSync(current, { throwIfNoEntry: false });
      if (info === undefined) {
        mkdirSync(current, { mode: 0o700 });
      } else if (info.isSymbolicLink()) {
        throw new UnsafeArchiveError(`zip member '${name}' would be written through the symlink '${path.relative(this.root, current)}'`);
      } else if (!info.isDirectory()) {
        throw new UnsafeArchiveError(`zip member '${name}' needs '${path.relative(this.root, current)}' to be a directory, but it is a file`);
      }
      this.knownDirectories.add(current);
    }
  }

  private async extractDirectory(entry: Entry, target: string, mtime: Date): Promise<void> {
    const existing = lstatSync(target, { throwIfNoEntry: false });
    if (existing?.isSymbolicLink() || (existing && !existing.isDirectory())) {
      throw new UnsafeArchiveError(`zip member '${entry.fileName}' is a directory, but '${path.relative(this.root, target)}' is already a file or link`);
    }
    if (!existing) mkdirSync(target, { mode: 0o700 });
    this.knownDirectories.add(target);
    // Modes are applied at the end, so a read-only directory cannot block its own members.
    this.directoryModes.push({ dir: target, mode: entryMode(entry, 'directory'), mtime });
    this.result.directories++;
  }

  private async extractSymlink(entry: Entry, target: string): Promise<void> {
    if (entry.uncompressedSize > 4096) throw new UnsafeArchiveError(`symlink member '${entry.fileName}' has an implausibly long target`);
    const linkTarget = (await this.readSmall(entry)).toString('utf8');
    const resolved = path.resolve(path.dirname(target), linkTarget);
    if (path.isAbsolute(linkTarget) || !isInside(this.root, resolved)) {
      throw new UnsafeArchiveError(`zip member '${entry.fileName}' is a symlink to '${linkTarget}', outside the target directory`);
    }
    await symlink(linkTarget, target);
    this.result.symlinks++;
  }

  private async extractFile(entry: Entry, target: string, mtime: Date): Promise<void> {
    if (entry.uncompressedSize <= SMALL_MEMBER_BYTES) return this.extractSmallFile(entry, target, mtime);
    const handle = await open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    const budget = new ByteBudget(
      () => this.limits.maxTotalBytes - this.result.bytes,
      () => this.overTotalLimit(entry),
    );
    // The write stream owns the handle and closes it, also when the pipeline fails.
    await pipeline(await this.openEntry(entry), budget, handle.createWriteStream());
    this.result.bytes += budget.seen;
    await chmod(target, entryMode(entry, 'file'));
    await utimes(target, mtime, mtime);
    this.result.files++;
  }

  /** Most members are small: inflate to memory, then a handful of synchronous calls instead of a stream pipeline. */
  private async extractSmallFile(entry: Entry, target: string, mtime: Date): Promise<void> {
    // yauzl checks the inflated length against the declared one, so this cannot grow past it.
    const data = await this.readSmall(entry);
    if (this.result.bytes + data.length > this.limits.maxTotalBytes) throw this.overTotalLimit(entry);
    const fd = openSync(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      for (let written = 0; written < data.length; ) written += writeSync(fd, data, written);
      fchmodSync(fd, entryMode(entry, 'file'));
      futimesSync(fd, mtime, mtime);
    } finally {
      closeSync(fd);
    }
    this.result.bytes += data.length;
    this.result.files++;
  }

  private openEntry(entry: Entry): Promise<Readable> {
    return new Promise((resolve, reject) => {
      this.zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream)));
    });
  }

  private async readSmall(entry: Entry): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openEntry(entry)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  reportProgress(options: UnpackOptions, done: boolean): void {
    options.onProgress?.({ files: this.result.files + this.result.symlinks, bytes: this.result.bytes, done });
  }

  async applyDirectoryModes(): Promise<void> {
    // Deepest first, so setting a parent's mtime is not undone by touching a child.
    const ordered = [...this.directoryModes].sort((a, b) => b.dir.length - a.dir.length);
    for (const { dir, mode, mtime } of ordered) {
      await chmod(dir, mode);
      await utimes(dir, mtime, mtime);
    }
  }
}

function explainZipError(err: Error): Error {
  if (err instanceof UnsafeArchiveError) return err;
  const message = err.message;
  if (/absolute path|invalid relative path|invalid characters in fileName/.test(message)) {
    return new UnsafeArchiveError(`unsafe zip member name (${message})`);
  }
  if (/end of central directory record signature not found/i.test(message)) {
    return new UnsafeArchiveError('the payload is not a zip archive (no end-of-central-directory record; truncated or corrupt)');
  }
  if (/too many bytes in the stream|not enough bytes in the stream/.test(message)) {
    return new UnsafeArchiveError(`a zip member's data does not match its declared size (${message})`);
  }
  return new UnsafeArchiveError(`the zip archive is invalid: ${message}`);
}

export interface UnpackOptions {
  /** Called after each member is written, and once more when all are. */
  onProgress?: (progress: ZipProgress) => void;
}

/** Unpack `zipFile` into `root` (created if missing). */
export async function unpackArchive(
  zipFile: string,
  root: string,
  limits: UnpackLimits = DEFAULT_UNPACK_LIMITS,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const realRoot = await realpath(root);
  const yauzl = await loadYauzl();
  let zip: ZipReader;
  try {
    zip = await yauzl.openPromise(zipFile, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true, autoClose: false });
  } catch (err) {
    throw explainZipError(err as Error);
  }
  const unpacker = new Unpacker(zip, realRoot, limits);
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        zip.removeAllListeners('entry');
        reject(explainZipError(err));
      };
      zip.on('error', fail);
      zip.on('end', resolve);
      zip.on('entry', (entry: Entry) => {
        unpacker.extract(entry).then(() => {
          unpacker.reportProgress(options, false);
          zip.readEntry();
        }, fail);
      });
      zip.readEntry();
    });
    await unpacker.applyDirectoryModes();
    unpacker.reportProgress(options, true);
  } finally {
    zip.close();
  }
  return unpacker.result;
}
