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
 * target directory are all refused. Zip bombs are stopped by what bounds the
 * harm, not by guessing from compression ratios (legitimate files reach
 * 1000:1): every member must inflate to exactly the size the central directory
 * declares for it, and the declared total must fit a cap (by default the free
 * space of the target's file system, less a margin), checked before anything
 * is written. A ratio cap remains as an opt-in.
 */
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fstatSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  unlinkSync,
  writeSync,
  type Dirent,
} from 'node:fs';
import { chmod, mkdir, open, symlink, utimes, realpath, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Entry, ZipFile as ZipReader } from 'yauzl';
import { withPath } from './fs-errors.js';
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
  /**
   * Bytes all members together may declare. Unset: the free space of the target's file
   * system when unpacking starts, less FREE_SPACE_MARGIN of it.
   */
  maxTotalBytes?: number;
  /**
   * Opt-in: the largest inflated/compressed ratio for a member bigger than `ratioFloorBytes`.
   * Off by default: zeroed images and repetitive logs legitimately reach 1000:1, and the
   * declared sizes already bound what an archive can write.
   */
  maxRatio?: number;
  /** Members smaller than this are exempt from the ratio check (tiny files compress oddly). */
  ratioFloorBytes: number;
  maxEntries: number;
}

/**
 * The share of the free space an archive may not take by default: room for what the job
 * writes next (its artifacts, the events beside them) and for whoever else uses the disk.
 * A share rather than a fixed amount, so that a small volume is not refused everything.
 */
export const FREE_SPACE_MARGIN = 0.05;

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = {
  ratioFloorBytes: 1024 ** 2,
  maxEntries: 1_000_000,
};

export interface UnpackOptions {
  /** Stops the unpack between members and inside a large one; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each member is written, and once more when all are. */
  onProgress?: (progress: ZipProgress) => void;
}

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

/**
 * Holds a member's inflated bytes to the size the central directory declares: refused at the
 * first byte past it, or when the member ends short. With every member held to its declared
 * size, the declared total vetted up front is what the archive writes. This is the one place
 * sizes are checked (yauzl's own check is off): its errors do not name the member.
 */
class DeclaredSize {
  private seen = 0;
  constructor(private readonly entry: Entry) {}

  /** Counts a chunk before it goes anywhere; throws if it crosses the declared size. */
  admit(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.seen > this.entry.uncompressedSize) {
      throw new UnsafeArchiveError(`zip member '${this.entry.fileName}' inflates past its declared size of ${this.entry.uncompressedSize} bytes`);
    }
  }

  /** Throws if the member ended short of its declared size. */
  end(): void {
    if (this.seen === this.entry.uncompressedSize) return;
    throw new UnsafeArchiveError(
      `zip member '${this.entry.fileName}' ends after ${this.seen} bytes, short of its declared size of ${this.entry.uncompressedSize} bytes`,
    );
  }

  /** The same check as a stream stage, for members streamed to disk. */
  static stage(entry: Entry): Transform {
    const check = new DeclaredSize(entry);
    return new Transform({
      transform(chunk: Buffer, _encoding, done) {
        try {
          check.admit(chunk);
          done(null, chunk);
        } catch (err) {
          done(err as Error);
        }
      },
      flush(done) {
        try {
          check.end();
          done();
        } catch (err) {
          done(err as Error);
        }
      },
    });
  }
}

class Unpacker {
  readonly result: UnpackResult = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  private readonly directoryModes: Array<{ dir: string; mode: number; mtime: Date }> = [];
  /** Directories seen to be real directories; members can never replace one, so once is enough. */
  private readonly knownDirectories = new Set<string>();

  constructor(
    private readonly zip: ZipReader,
    private readonly root: string,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async extract(entry: Entry): Promise<void> {
    const target = memberPath(this.root, entry.fileName);
    try {
      await this.extractTo(entry, target);
    } catch (err) {
      throw withPath(err, target);
    }
  }

  private async extractTo(entry: Entry, target: string): Promise<void> {
    const kind = entryKind(entry);
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
    // The write stream owns the handle and closes it, also when the pipeline fails.
    await pipeline(await this.openEntry(entry), DeclaredSize.stage(entry), handle.createWriteStream(), { signal: this.signal });
    this.result.bytes += entry.uncompressedSize;
    await chmod(target, entryMode(entry, 'file'));
    await utimes(target, mtime, mtime);
    this.result.files++;
  }

  /** Most members are small: inflate to memory, then a handful of synchronous calls instead of a stream pipeline. */
  private async extractSmallFile(entry: Entry, target: string, mtime: Date): Promise<void> {
    const data = await this.readSmall(entry);
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

  /**
   * A member's bytes in memory; only for members declared small, which DeclaredSize holds them
   * to. A plain loop, not a pipeline: per member, a pipeline's abort signals and stream stages
   * made unpacking 20k small members take twice as long (mostly garbage collection).
   */
  private async readSmall(entry: Entry): Promise<Buffer> {
    const check = new DeclaredSize(entry);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openEntry(entry)) {
      check.admit(chunk as Buffer);
      chunks.push(chunk as Buffer);
    }
    check.end();
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
  // Ours, the file system's (ENOSPC and the like: the caller says so, with the path) and a cancel pass as they are.
  if (err instanceof UnsafeArchiveError || typeof (err as NodeJS.ErrnoException).syscall === 'string' || err.name === 'AbortError') return err;
  const message = err.message;
  if (/absolute path|invalid relative path|invalid characters in fileName/.test(message)) {
    return new UnsafeArchiveError(`unsafe zip member name (${message})`);
  }
  if (/end of central directory record signature not found/i.test(message)) {
    return new UnsafeArchiveError('the payload is not a zip archive (no end-of-central-directory record; truncated or corrupt)');
  }
  return new UnsafeArchiveError(`the zip archive is invalid: ${message}`);
}

type Yauzl = Awaited<ReturnType<typeof loadYauzl>>;

// Sizes are held to the declared ones by DeclaredSize, whose errors name the member.
const READER_OPTIONS = { lazyEntries: true, validateEntrySizes: false, strictFileNames: true, autoClose: false } as const;

async function openZip(yauzl: Yauzl, zipFile: string): Promise<ZipReader> {
  try {
    return await yauzl.openPromise(zipFile, READER_OPTIONS);
  } catch (err) {
    throw explainZipError(err as Error);
  }
}

const DIRECTORY_BLOCK_BYTES = 1024 * 1024;

/**
 * The zip's central directory alone, for the vetting pass. yauzl reads each record with two
 * small reads, and its own reader makes each one a thread-pool round trip; served from 1 MiB
 * blocks read synchronously, the pass over 100k members took 0.5-0.8 s instead of 4.3-5.3 s
 * (2 busy CPUs), so vetting first adds ~1% to such an unpack instead of ~6%.
 */
async function openDirectory(yauzl: Yauzl, zipFile: string): Promise<ZipReader> {
  const fd = openSync(zipFile, 'r');
  const reader = new (class extends yauzl.RandomAccessReader {
    private readonly block = Buffer.allocUnsafe(DIRECTORY_BLOCK_BYTES);
    private start = 0;
    private length = 0;
    override _readStreamForRange(): Readable {
      throw new Error('the central directory is read without streams');
    }
    override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void {
      let bytesRead: number;
      try {
        bytesRead = this.copy(buffer, offset, length, position);
      } catch (err) {
        return process.nextTick(callback, err as Error);
      }
      process.nextTick(callback, null, bytesRead);
    }
    private copy(buffer: Buffer, offset: number, length: number, position: number): number {
      if (length > this.block.length) return readSync(fd, buffer, offset, length, position);
      if (position < this.start || position + length > this.start + this.length) {
        this.start = position;
        this.length = readSync(fd, this.block, 0, this.block.length, position);
      }
      const available = Math.max(0, Math.min(length, this.start + this.length - position));
      return this.block.copy(buffer, offset, position - this.start, position - this.start + available);
    }
    override close(callback: (err: Error | null) => void): void {
      closeSync(fd);
      process.nextTick(callback, null);
    }
  })();
  try {
    return await yauzl.fromRandomAccessReaderPromise(reader, fstatSync(fd).size, READER_OPTIONS);
  } catch (err) {
    // yauzl hands the reader back to be closed only through a ZipFile it could open.
    closeSync(fd);
    throw explainZipError(err as Error);
  }
}

/** Calls `handle` for each entry in order, one at a time; rejects with the first failure. */
function eachEntry(zip: ZipReader, handle: (entry: Entry) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      zip.removeAllListeners('entry');
      reject(explainZipError(err));
    };
    zip.on('error', fail);
    zip.on('end', resolve);
    zip.on('entry', (entry: Entry) => {
      handle(entry).then(() => zip.readEntry(), fail);
    });
    zip.readEntry();
  });
}

/** What the archive may declare in total, and why, for the message that refuses it. */
async function totalCap(root: string, limits: UnpackLimits): Promise<{ bytes: number; reason: string }> {
  if (limits.maxTotalBytes !== undefined) return { bytes: limits.maxTotalBytes, reason: `the maximum of ${limits.maxTotalBytes} bytes` };
  const fsInfo = await statfs(root);
  const free = fsInfo.bavail * fsInfo.bsize;
  const bytes = Math.floor(free * (1 - FREE_SPACE_MARGIN));
  return { bytes, reason: `the ${bytes} bytes it may take of the ${free} free on the file system of ${root} (${FREE_SPACE_MARGIN * 100}% stays free)` };
}

function checkRatio(entry: Entry, limits: UnpackLimits): void {
  if (limits.maxRatio === undefined || entry.uncompressedSize <= limits.ratioFloorBytes) return;
  const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
  if (ratio <= limits.maxRatio) return;
  throw new UnsafeArchiveError(
    `zip member '${entry.fileName}' inflates ${Math.round(ratio)}:1 (${entry.uncompressedSize} bytes from ${entry.compressedSize}), over the ratio limit of ${limits.maxRatio}:1`,
  );
}

/**
 * Read the central directory once before writing anything, so that an archive over the
 * member count, the total cap or the opt-in ratio is refused with the disk untouched.
 */
async function vet(zip: ZipReader, root: string, limits: UnpackLimits, signal: AbortSignal | undefined): Promise<void> {
  if (zip.entryCount > limits.maxEntries) {
    throw new UnsafeArchiveError(`the archive has ${zip.entryCount} members, more than the limit of ${limits.maxEntries}`);
  }
  let declared = 0;
  await eachEntry(zip, async (entry) => {
    signal?.throwIfAborted();
    declared += entry.uncompressedSize;
    checkRatio(entry, limits);
  });
  const cap = await totalCap(root, limits);
  if (declared > cap.bytes) {
    const members = `${zip.entryCount} member${zip.entryCount === 1 ? '' : 's'}`;
    throw new UnsafeArchiveError(`the archive declares ${declared} bytes in ${members}, more than ${cap.reason}`);
  }
}

/** Unpack `zipFile` into `root` (created if missing). */
export async function unpackArchive(
  zipFile: string,
  root: string,
  limits: UnpackLimits = DEFAULT_UNPACK_LIMITS,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const { signal } = options;
  await mkdir(root, { recursive: true, mode: 0o700 });
  const realRoot = await realpath(root);
  const yauzl = await loadYauzl();
  // yauzl reads the directory only forwards: one reader to vet it, a second to extract.
  const directory = await openDirectory(yauzl, zipFile);
  try {
    await vet(directory, realRoot, limits, signal);
  } finally {
    directory.close();
  }
  const zip = await openZip(yauzl, zipFile);
  const unpacker = new Unpacker(zip, realRoot, signal);
  try {
    await eachEntry(zip, async (entry) => {
      signal?.throwIfAborted();
      await unpacker.extract(entry);
      unpacker.reportProgress(options, false);
    });
    await unpacker.applyDirectoryModes();
    unpacker.reportProgress(options, true);
  } finally {
    zip.close();
  }
  return unpacker.result;
}
