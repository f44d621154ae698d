/**
 * The zip writer behind transmit and the worker's artifacts payload.
 *
 * The records are the ones Python's zipfile writes to a seekable file, which is
 * what ansible-runner's stream_dir does: no data descriptors (a streamed
 * member's local header is patched once its sizes are known), Unix modes in the
 * high half of external_attr, UTF-8 flag only for non-ASCII names, zip64
 * records only where a size, an offset or the member count needs them.
 *
 * Speed comes from doing the two kinds of work in different places. Deflate is
 * CPU-bound and runs on libuv's thread pool, several pieces at once; file
 * reads, CRC-32 and writes are short system calls made synchronously on the
 * main thread, so they never queue behind a deflate job in that same pool.
 * Members are cut into 1 MiB pieces, each deflated on its own and ended with a
 * full flush (PieceDeflater), so one large file is compressed in parallel too
 * while the bytes stay one ordinary deflate stream. Output is written strictly
 * in order; how much may be in flight is capped, and the buffers are reused, so
 * memory does not grow with the size of a file or a tree.
 */
import { closeSync, constants as fsConstants, openSync, readSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import zlib from 'node:zlib';

const PIECE_BYTES = 1024 * 1024;
/** Bytes handed out for compression but not yet written; bounds memory at about twice this. */
const MAX_PENDING_BYTES = 2 * PIECE_BYTES;
/** Enough small members in flight to keep every pool thread busy. */
const MAX_PENDING_PIECES = 16 * Math.max(2, availableParallelism());
const OUTPUT_BUFFER_BYTES = PIECE_BYTES;
/** zlib's output chunk for pieces; a whole piece's output is several of these. */
const PIECE_OUTPUT_CHUNK_BYTES = 64 * 1024;
/** A member whose first piece deflates by less than this is stored instead, as `zip -n` does for media. */
const INCOMPRESSIBLE_RATIO = 0.98;
/** Below this, members are deflated whatever the ratio, as Python's zipfile would. */
const STORE_IF_INCOMPRESSIBLE_FROM = 64 * 1024;

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
const ZIP64_LIMIT = 0xffffffff;
const ZIP64_COUNT_LIMIT = 0xffff;
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
const UNIX = 3;
const FLAG_UTF8 = 0x800;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const MSDOS_DIRECTORY = 0x10;

export interface MemberMeta {
  /** Unix mode including the file type bits (S_IFREG, S_IFDIR, S_IFLNK). */
  mode: number;
  mtime: Date;
}

export interface ZipWriterOptions {
  /** Write zip64 records for every member and the end record; for tests of the zip64 paths. */
  forceZip64?: boolean;
}

interface Member {
  name: Buffer;
  utf8: boolean;
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
  offset: number;
  dosTime: number;
  dosDate: number;
  externalAttributes: number;
  /** The local header carries a zip64 extra, decided before the data is known. */
  zip64Local: boolean;
}

/** DOS date and time in local time, clamped to the range the format can hold (Python's strict_timestamps=False). */
function dosDateTime(date: Date): { dosTime: number; dosDate: number } {
  const year = date.getFullYear();
  if (year < 1980) return { dosTime: 0, dosDate: (1 << 5) | 1 };
  if (year > 2107) return { dosTime: (23 << 11) | (59 << 5) | 29, dosDate: (127 << 9) | (12 << 5) | 31 };
  return {
    dosTime: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    dosDate: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/** Records up to this size are copied into the output block rather than queued by reference. */
const COPY_BELOW_BYTES = 64 * 1024;

/**
 * An append-only file with coalesced writes and positional patches.
 *
 * Small records are copied into one block: a queued slice keeps its whole backing buffer alive,
 * and a small member's deflate output is a few bytes of a chunk of 16 KiB or more, so queuing
 * 1 MiB of such slices held 160 MB for a tree of 10,000 small files (measured; now flat).
 */
class OutputFile {
  position = 0;
  private readonly queued: Buffer[] = [];
  private queuedBytes = 0;
  private readonly block = Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES);
  /** block[blockStart, blockUsed) is copied in but not yet queued. */
  private blockStart = 0;
  private blockUsed = 0;

  constructor(private readonly fd: number) {}

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.position += data.length;
    if (data.length < COPY_BELOW_BYTES) {
      if (this.blockUsed + data.length > this.block.length) this.flush();
      this.blockUsed += data.copy(this.block, this.blockUsed);
      this.queuedBytes += data.length;
    } else {
      this.queueBlock();
      this.queued.push(data);
      this.queuedBytes += data.length;
    }
    if (this.queuedBytes >= OUTPUT_BUFFER_BYTES) this.flush();
  }

  patch(data: Buffer, at: number): void {
    this.flush();
    writeSync(this.fd, data, 0, data.length, at);
  }

  flush(): void {
    this.queueBlock();
    let buffers = this.queued.splice(0);
    this.queuedBytes = 0;
    while (buffers.length > 0) {
      const written = writevSync(this.fd, buffers);
      buffers = dropWritten(buffers, written);
    }
    // Written synchronously, so the block is free again.
    this.blockStart = 0;
    this.blockUsed = 0;
  }

  private queueBlock(): void {
    if (this.blockUsed > this.blockStart) this.queued.push(this.block.subarray(this.blockStart, this.blockUsed));
    this.blockStart = this.blockUsed;
  }
}

function dropWritten(buffers: Buffer[], written: number): Buffer[] {
  let rest = written;
  let index = 0;
  while (index < buffers.length && rest >= buffers[index]!.length) rest -= buffers[index++]!.length;
  const remaining = buffers.slice(index);
  if (rest > 0 && remaining.length > 0) remaining[0] = remaining[0]!.subarray(rest);
  return remaining;
}

/** What the central directory may hold in memory before it goes on in a file beside the zip. */
const CENTRAL_DIRECTORY_MEMORY_BYTES = PIECE_BYTES;

/**
 * The central directory's records, in the order written: kept in one block, and past that in
 * an unlinked file beside the zip. A tree of 100,000 files has ~9 MB of them, held until the
 * very end; in memory that was a tenth of `ajo transmit`'s peak (docs/bench.md, "Transmit under 100 MB").
 */
class CentralDirectory {
  private readonly block = Buffer.allocUnsafe(CENTRAL_DIRECTORY_MEMORY_BYTES);
  private used = 0;
  private spill: { fd: number; bytes: number } | undefined;

  constructor(private readonly besideFile: string) {}

  append(record: Buffer): void {
    if (this.used + record.length > this.block.length) this.spillBlock();
    // A record is at most 46 + 65,535 + 28 bytes, far below the block's size.
    this.used += record.copy(this.block, this.used);
  }

  /** Append every record to `output`, in order; the records are gone from here after. */
  writeTo(output: OutputFile): void {
    if (!this.spill) {
      output.append(this.block.subarray(0, this.used));
      // Written before anything could touch the block again.
      output.flush();
      this.used = 0;
      return;
    }
    this.spillBlock();
    for (let at = 0; at < this.spill.bytes; ) {
      const read = readSync(this.spill.fd, this.block, 0, Math.min(this.block.length, this.spill.bytes - at), at);
      if (read === 0) throw new Error(`the zip's central directory file beside ${this.besideFile} ended early`);
      output.append(this.block.subarray(0, read));
      // Written before the block is read into again.
      output.flush();
      at += read;
    }
    this.close();
  }

  close(): void {
    if (this.spill) closeSync(this.spill.fd);
    this.spill = undefined;
  }

  private spillBlock(): void {
    if (!this.spill) {
      const file = `${this.besideFile}.central-directory`;
      const fd = openSync(file, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      // Unlinked at once: it leaves nothing behind, whatever happens to this process.
      unlinkSync(file);
      this.spill = { fd, bytes: 0 };
    }
    for (let written = 0; written < this.used; ) written += writeSync(this.spill.fd, this.block, written, this.used - written, this.spill.bytes + written);
    this.spill.bytes += this.used;
    this.used = 0;
  }
}

/** A step of the output that may wait for a deflate job; steps are emitted strictly in order. */
interface PendingStep {
  ready: Promise<() => void>;
  bytes: number;
}

export class ZipWriter {
  private readonly output: OutputFile;
  /** Central directory records, kept as bytes: a tree of 100k files should not mean 100k live objects. */
  private readonly centralDirectory: CentralDirectory;
  private memberTotal = 0;
  private readonly pending: PendingStep[] = [];
  private readonly pieces = new PieceBuffers();
  private readonly deflater = new PieceDeflater(this.pieces);
  private pendingBytes = 0;
  private closed = false;

  private constructor(
    private readonly fd: number,
    file: string,
    private readonly options: ZipWriterOptions,
  ) {
    this.output = new OutputFile(fd);
    this.centralDirectory = new CentralDirectory(file);
  }

  /** Create (or truncate) `file`, readable only by its owner: payloads hold secrets. */
  static create(file: string, options: ZipWriterOptions = {}): ZipWriter {
    return new ZipWriter(openSync(file, 'w', 0o600), file, options);
  }

  async addDirectory(name: string, meta: MemberMeta): Promise<void> {
    const member = this.newMember(`${name.replace(/\/+$/, '')}/`, meta, METHOD_STORED, 0);
    member.externalAttributes |= MSDOS_DIRECTORY;
    await this.enqueue(Promise.resolve(this.writeWhole(member, Buffer.alloc(0))), 0);
  }

  /** Python stores a symlink as its target text, with the earliest DOS date. */
  async addSymlink(name: string, target: string): Promise<void> {
    const data = Buffer.from(target);
    const member = this.newMember(name, { mode: 0o120777, mtime: new Date(1980, 0, 1) }, METHOD_STORED, data.length);
    member.crc = zlib.crc32(data);
    await this.enqueue(Promise.resolve(this.writeWhole(member, data)), data.length);
  }

  /** Add the regular file at `file`; `expectedSize` only decides whether zip64 records are reserved. */
  async addFile(name: string, file: string, meta: MemberMeta, expectedSize: number): Promise<void> {
    const member = this.newMember(name, meta, METHOD_DEFLATED, expectedSize);
    const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      await this.streamMember(member, fd, expectedSize);
    } finally {
      closeSync(fd);
    }
  }

  /** Write everything still in flight, then the central directory and the end records. */
  async finish(): Promise<{ entries: number; bytes: number }> {
    await this.drain(0, 0);
    const centralStart = this.output.position;
    this.centralDirectory.writeTo(this.output);
    this.writeEnd(centralStart, this.output.position - centralStart);
    this.output.flush();
    this.close();
    return { entries: this.memberTotal, bytes: this.output.position };
  }

  /** Stop after a failure; pieces still deflating are left to finish and are dropped (enqueue already caught them). */
  abort(): void {
    this.pending.length = 0;
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deflater.close();
    this.centralDirectory.close();
    closeSync(this.fd);
  }

  private newMember(name: string, meta: MemberMeta, method: number, expectedSize: number): Member {
    const encoded = Buffer.from(name, 'utf8');
    const member: Member = {
      name: encoded,
      utf8: encoded.length !== name.length,
      method,
      crc: 0,
      size: 0,
      compressedSize: 0,
      offset: 0,
      ...dosDateTime(meta.mtime),
      externalAttributes: ((meta.mode & 0xffff) << 16) >>> 0,
      // Python reserves zip64 room when the file could come near 4 GiB once deflated.
      zip64Local: this.options.forceZip64 === true || expectedSize * 1.05 > ZIP64_LIMIT,
    };
    this.memberTotal++;
    return member;
  }

  private async streamMember(member: Member, fd: number, expectedSize: number): Promise<void> {
    let piece = this.pieces.read(fd, expectedSize);
    let first = true;
    for (;;) {
      // Reading one piece ahead tells which piece is the last, without trusting a stat() taken earlier.
      const next = piece.length === 0 ? piece : this.pieces.read(fd, expectedSize - member.size - piece.length);
      const last = next.length === 0;
      member.crc = zlib.crc32(piece, member.crc);
      member.size += piece.length;
      // Once the first piece showed the data does not compress, later pieces skip deflate entirely.
      const deflated = member.method === METHOD_STORED ? Promise.resolve(piece) : this.deflater.deflate(piece, last);
      const raw = piece;
      const isFirst = first;
      const emit = (data: Buffer) => (): void => {
        if (isFirst) this.chooseMethod(member, raw, data, last);
        const stored = member.method === METHOD_STORED;
        const bytes = stored ? raw : data;
        if (isFirst) this.writeLocalHeader(member, last ? bytes.length : 0);
        this.output.append(bytes);
        member.compressedSize += bytes.length;
        // Both buffers go back to the pool, so what the output holds by reference is written first.
        if (bytes.length >= COPY_BELOW_BYTES) this.output.flush();
        this.pieces.release(raw);
        if (data !== raw) this.pieces.release(data);
        if (last) this.endMember(member, isFirst);
      };
      await this.enqueue(deflated.then(emit), raw.length);
      if (last) return;
      piece = next;
      first = false;
    }
  }

  /** Decided on the first piece; pieces read after that see the choice and skip deflate if stored. */
  private chooseMethod(member: Member, raw: Buffer, deflated: Buffer, last: boolean): void {
    // A piece that is not the last ends in a 4-byte sync-flush marker that a whole member would not carry.
    const deflatedBytes = last ? deflated.length : deflated.length - 4;
    if (raw.length >= STORE_IF_INCOMPRESSIBLE_FROM && deflatedBytes >= raw.length * INCOMPRESSIBLE_RATIO) member.method = METHOD_STORED;
  }

  /** A single-piece member's header is final at once; a longer one's is patched by endMember. */
  private writeLocalHeader(member: Member, knownCompressedSize: number): void {
    member.offset = this.output.position;
    this.output.append(this.localHeader({ ...member, compressedSize: knownCompressedSize }));
  }

  private endMember(member: Member, singlePiece: boolean): void {
    if (!member.zip64Local && (member.size >= ZIP64_LIMIT || member.compressedSize >= ZIP64_LIMIT)) {
      throw new Error(`zip member '${member.name.toString()}' grew past 4 GiB while it was being read`);
    }
    if (!singlePiece) this.output.patch(this.localHeader(member), member.offset);
    this.centralDirectory.append(this.centralHeader(member));
  }

  /** For stored members whose bytes are all in hand. */
  private writeWhole(member: Member, data: Buffer): () => void {
    return () => {
      member.size = data.length;
      member.compressedSize = data.length;
      this.writeLocalHeader(member, data.length);
      this.output.append(data);
      this.centralDirectory.append(this.centralHeader(member));
    };
  }

  private async enqueue(ready: Promise<() => void>, bytes: number): Promise<void> {
    // Rejections surface when the step is drained; until then they must not count as unhandled.
    ready.catch(() => undefined);
    this.pending.push({ ready, bytes });
    this.pendingBytes += bytes;
    await this.drain(MAX_PENDING_BYTES, MAX_PENDING_PIECES);
  }

  private async drain(maxBytes: number, maxSteps: number): Promise<void> {
    while (this.pending.length > maxSteps || (this.pendingBytes > maxBytes && this.pending.length > 0)) {
      const head = this.pending.shift()!;
      this.pendingBytes -= head.bytes;
      (await head.ready)();
    }
  }

  // ------------------------------------------------------------ records

  private localHeader(member: Member): Buffer {
    const extra = member.zip64Local ? 20 : 0;
    const header = Buffer.alloc(30 + member.name.length + extra);
    header.writeUInt32LE(LOCAL_HEADER, 0);
    header.writeUInt16LE(member.zip64Local ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    // With a zip64 extra, the sizes live there (and are patched there).
    const compressedSize = member.zip64Local ? ZIP64_LIMIT : member.compressedSize;
    writeSharedFields(header, 6, member, compressedSize, member.zip64Local ? ZIP64_LIMIT : member.size, extra);
    member.name.copy(header, 30);
    if (member.zip64Local) {
      const at = 30 + member.name.length;
      header.writeUInt16LE(ZIP64_EXTRA, at);
      header.writeUInt16LE(16, at + 2);
      header.writeBigUInt64LE(BigInt(member.size), at + 4);
      header.writeBigUInt64LE(BigInt(member.compressedSize), at + 12);
    }
    return header;
  }

  private centralHeader(member: Member): Buffer {
    const force = this.options.forceZip64 === true;
    // Python's order for the zip64 extra: only the fields that overflow, sizes before the offset.
    const wide = {
      size: force || member.size >= ZIP64_LIMIT,
      compressedSize: force || member.compressedSize >= ZIP64_LIMIT,
      offset: force || member.offset >= ZIP64_LIMIT,
    };
    const wideValues = [
      ...(wide.size ? [member.size] : []),
      ...(wide.compressedSize ? [member.compressedSize] : []),
      ...(wide.offset ? [member.offset] : []),
    ];
    const zip64 = wideValues.length > 0;
    const extra = zip64 ? 4 + 8 * wideValues.length : 0;
    const version = zip64 || member.zip64Local ? VERSION_ZIP64 : VERSION_DEFAULT;
    const header = Buffer.alloc(46 + member.name.length + extra);
    header.writeUInt32LE(CENTRAL_HEADER, 0);
    header.writeUInt16LE((UNIX << 8) | version, 4);
    header.writeUInt16LE(version, 6);
    const compressedSize = wide.compressedSize ? ZIP64_LIMIT : member.compressedSize;
    writeSharedFields(header, 8, member, compressedSize, wide.size ? ZIP64_LIMIT : member.size, extra);
    // comment length, disk number start, internal attributes: all zero
    header.writeUInt32LE(member.externalAttributes, 38);
    header.writeUInt32LE(wide.offset ? ZIP64_LIMIT : member.offset, 42);
    member.name.copy(header, 46);
    if (zip64) {
      let at = 46 + member.name.length;
      header.writeUInt16LE(ZIP64_EXTRA, at);
      header.writeUInt16LE(8 * wideValues.length, at + 2);
      for (const value of wideValues) header.writeBigUInt64LE(BigInt(value), (at += 8) - 4);
    }
    return header;
  }

  private writeEnd(centralStart: number, centralSize: number): void {
    const count = this.memberTotal;
    const zip64 = this.options.forceZip64 === true || count >= ZIP64_COUNT_LIMIT || centralStart >= ZIP64_LIMIT || centralSize >= ZIP64_LIMIT;
    if (zip64) {
      const recordAt = this.output.position;
      const record = Buffer.alloc(56);
      record.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE((UNIX << 8) | VERSION_ZIP64, 12);
      record.writeUInt16LE(VERSION_ZIP64, 14);
      // this disk and the central directory's disk: both 0
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(centralSize), 40);
      record.writeBigUInt64LE(BigInt(centralStart), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(ZIP64_LOCATOR, 0);
      locator.writeBigUInt64LE(BigInt(recordAt), 8);
      locator.writeUInt32LE(1, 16);
      this.output.append(record);
      this.output.append(locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
    // Like Python: the classic record keeps whatever still fits; readers take the rest from zip64.
    end.writeUInt16LE(Math.min(count, ZIP64_COUNT_LIMIT), 8);
    end.writeUInt16LE(Math.min(count, ZIP64_COUNT_LIMIT), 10);
    end.writeUInt32LE(Math.min(centralSize, ZIP64_LIMIT), 12);
    end.writeUInt32LE(Math.min(centralStart, ZIP64_LIMIT), 16);
    this.output.append(end);
  }
}

/** The smallest read buffer; smaller files share it too (one size class, no per-file allocation). */
const MIN_READ_BUFFER_BYTES = 16 * 1024;
/** What the free lists may hold in all: the read-ahead and the pieces in flight, read and deflated, with room. */
const MAX_FREE_POOL_BYTES = 8 * PIECE_BYTES;

/**
 * Buffers for pieces, read and deflated, in power-of-two sizes from 16 KiB to a piece, recycled
 * once a piece is written. Left to the garbage collector, they pile up outside the heap: a read buffer lives across
 * several young-generation collections while its piece is deflated, so it is promoted and
 * waits for a full collection, which V8 starts only after ~64 MB more external memory
 * (measured: 60-75 MB of array buffers in `ajo transmit` of the 500 MB bench dir).
 */
class PieceBuffers {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly ours = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;

  /** Up to one piece from `fd`, read to what the file should still hold. */
  read(fd: number, expectedRemaining: number): Buffer {
    // One byte more than expected, so a file that grew since stat() is still read to its end.
    const wanted = Math.min(PIECE_BYTES, Math.max(0, expectedRemaining) + 1);
    const buffer = Buffer.from(this.acquire(sizeClassOf(wanted)), 0, wanted);
    let filled = 0;
    while (filled < buffer.length) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (read === 0) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  }

  /** A buffer of exactly `bytes`, from the pool when it fits a size class. */
  take(bytes: number): Buffer {
    return bytes > PIECE_BYTES ? Buffer.allocUnsafe(bytes) : Buffer.from(this.acquire(sizeClassOf(bytes)), 0, bytes);
  }

  /** Call only once nothing reads `piece` any more: it is the next read's or output's buffer. */
  release(piece: Buffer): void {
    const backing = piece.buffer as ArrayBuffer;
    if (!this.ours.has(backing) || this.freeBytes + backing.byteLength > MAX_FREE_POOL_BYTES) return;
    this.ours.delete(backing);
    const list = this.free.get(backing.byteLength) ?? [];
    list.push(backing);
    this.free.set(backing.byteLength, list);
    this.freeBytes += backing.byteLength;
  }

  private acquire(size: number): ArrayBuffer {
    const recycled = this.free.get(size)?.pop();
    if (recycled) this.freeBytes -= size;
    const backing = recycled ?? new ArrayBuffer(size);
    this.ours.add(backing);
    return backing;
  }
}

function sizeClassOf(bytes: number): number {
  let size = MIN_READ_BUFFER_BYTES;
  while (size < bytes) size *= 2;
  return Math.min(size, PIECE_BYTES);
}

/** The run of fields a local and a central header share: flags through extra-field length (24 bytes). */
function writeSharedFields(header: Buffer, at: number, member: Member, compressedSize: number, size: number, extraLength: number): void {
  header.writeUInt16LE(member.utf8 ? FLAG_UTF8 : 0, at);
  header.writeUInt16LE(member.method, at + 2);
  header.writeUInt16LE(member.dosTime, at + 4);
  header.writeUInt16LE(member.dosDate, at + 6);
  header.writeUInt32LE(member.crc >>> 0, at + 8);
  header.writeUInt32LE(compressedSize, at + 12);
  header.writeUInt32LE(size, at + 16);
  header.writeUInt16LE(member.name.length, at + 20);
  header.writeUInt16LE(extraLength, at + 22);
}

/** An empty final block (fixed Huffman, end-of-block code only): ends a member's deflate stream after a flush. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * Deflates pieces through a few long-lived zlib contexts. Each piece is written with a full
 * flush, which empties zlib's buffers and forgets the history, so every piece is deflated on
 * its own and ends on a byte boundary (`00 00 ff ff`); a member's pieces, one after another,
 * then the empty final block, are one ordinary deflate stream (pigz's scheme, without its
 * dictionary: the first 32 KiB of each 1 MiB piece see no history, ~0.4% larger; measured in
 * docs/bench.md). Pieces take turns over one context per CPU, so the pool's threads deflate
 * several at once, pieces of one large file included.
 *
 * Why not one `deflateRaw` call per piece, as before: every call makes a zlib stream object,
 * and that object, with its input, its output buffer and its dictionary, is only freed by a
 * full collection (the native handle keeps its JS object out of the young generation's
 * reach). A tree of 100,000 small files held ~40 MB that way, the 500 MB bench dir ~60 MB and
 * the 2 GB one more (`ajo transmit` at 103, 126 and 150 MB; docs/bench.md, "Transmit flat").
 */
class PieceDeflater {
  private readonly lanes: Lane[] = Array.from({ length: Math.max(2, availableParallelism()) }, () => ({ engine: undefined, queue: Promise.resolve(), output: [] }));
  private next = 0;
  private failure: Error | undefined;

  constructor(private readonly buffers: PieceBuffers) {}

  /** The piece's deflate bytes, in a buffer of the pool; those of the `last` piece end the member's stream. */
  deflate(data: Buffer, last: boolean): Promise<Buffer> {
    // Python's zipfile writes an empty member as the final empty block alone.
    if (data.length === 0) return Promise.resolve(Buffer.from(last ? FINAL_EMPTY_BLOCK : []));
    const lane = this.lanes[this.next++ % this.lanes.length]!;
    const result = lane.queue.then(() => this.deflateNow(lane, data, last));
    lane.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    for (const lane of this.lanes) {
      lane.engine?.close();
      lane.engine = undefined;
    }
  }

  private deflateNow(lane: Lane, data: Buffer, last: boolean): Promise<Buffer> {
    const engine = (lane.engine ??= this.newEngine(lane));
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      // One write, compressed with the full flush the engine was made with: one trip to the pool.
      engine.write(data, () => {
        if (this.failure) return reject(this.failure);
        // zlib pushes a write's output before it calls back, and a flowing stream hands each
        // chunk to 'data' as it is pushed; read() would emit anything still buffered.
        if (engine.readableLength > 0) engine.read();
        const parts = lane.output.splice(0);
        let length = last ? FINAL_EMPTY_BLOCK.length : 0;
        for (const part of parts) length += part.length;
        // Copied out of zlib's chunks into a pooled buffer: a fresh buffer per piece (as a
        // concatenation was) is garbage outside the heap that outlives its piece by far.
        const output = this.buffers.take(length);
        let at = 0;
        for (const part of parts) at += part.copy(output, at);
        if (last) FINAL_EMPTY_BLOCK.copy(output, at);
        resolve(output);
      });
    });
  }

  private newEngine(lane: Lane): zlib.DeflateRaw {
    // Room for a whole piece's output (a piece plus deflate's worst-case growth) should any of
    // it ever wait in the readable side: past the high-water mark, a write's callback waits.
    const engine = zlib.createDeflateRaw({
      flush: zlib.constants.Z_FULL_FLUSH,
      chunkSize: PIECE_OUTPUT_CHUNK_BYTES,
      readableHighWaterMark: 2 * PIECE_BYTES,
    } as zlib.ZlibOptions);
    engine.on('error', (error: Error) => (this.failure = error));
    engine.on('data', (chunk: Buffer) => lane.output.push(chunk));
    return engine;
  }
}

/** One zlib context and the pieces waiting for it, one at a time. */
interface Lane {
  engine: zlib.DeflateRaw | undefined;
  queue: Promise<unknown>;
  /** The output of the piece being deflated, as zlib hands it over. */
  output: Buffer[];
}
