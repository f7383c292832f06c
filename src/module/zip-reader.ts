/**
 * Reading zips the way Go's archive/zip does (raw name bytes, sizes and
 * CRC-32 checked), fast and without ever holding a whole large entry:
 * - yauzl parses the central directory, through a reader that serves its
 *   many small reads from a block cache (yauzl's own reader costs two
 *   stream round trips per entry: 6.5 s for 70,000 entries);
 * - entry data is read here: small entries whole (a few at a time, inflated
 *   on the thread pool with the output capped at the declared size), large
 *   ones streamed through an inflater that stops as soon as they outgrow
 *   their declared size.
 */

import { createHash } from "node:crypto";
import { close as fsClose, open as fsOpen, read as fsRead, fstat } from "node:fs";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { crc32, createInflateRaw, inflateRaw, inflateRawSync } from "node:zlib";
import yauzl from "yauzl";
import { ZipError } from "../errors.ts";
import { readAt } from "../read-at.ts";
import { decodeGoBytes } from "./go-bytes.ts";

export interface ZipEntry {
  /** The entry name as stored, byte for byte. */
  nameRaw: Buffer;
  /** nameRaw as a string; invalid UTF-8 bytes kept as lone surrogates (go-bytes.ts). */
  name: string;
  entry: yauzl.Entry;
}

/** A zip already in memory (a bundle import has just received it): read from there, not from disk. */
export interface ZipBytes {
  /** What messages call it (the file it was or will be written to). */
  name: string;
  data: Buffer;
}

/**
 * Where an open zip's bytes come from: a file (BlockReader) or memory
 * (MemoryReader). yauzl's own read and stream calls go through bytes and
 * range, so both readers answer them alike.
 */
abstract class ZipReader extends yauzl.RandomAccessReader {
  /** Bytes [position, position+length), which must lie within the zip. */
  abstract bytes(position: number, length: number): Promise<Buffer>;
  /** Bytes [start, end) as a stream. */
  abstract range(start: number, end: number): Readable;

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    this.bytes(position, length).then(
      (b) => {
        b.copy(buffer, offset);
        callback(null);
      },
      (err: Error) => callback(err),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return this.range(start, end);
  }
}

/** An open zip: yauzl's view of its directory, and where its data is read from. */
export interface OpenZip {
  file: string;
  size: number;
  zf: yauzl.ZipFile;
  reader: ZipReader;
}

/** Entries whose compressed and uncompressed sizes are both at most this are read whole. */
const SMALL_ENTRY = 1 << 20;
const READ_AHEAD_ENTRIES = 8;
/** Entries up to this size inflate on the calling thread (~20 µs each): the thread pool round trip costs more. */
let inflateSyncMax = 64 << 10;

/**
 * Inflates every entry read whole (up to 1 MiB) on the calling thread. For
 * worker threads that do nothing else: the process's thread pool is then
 * left to the main thread's file I/O.
 */
export function inflateOnThisThread(): void {
  inflateSyncMax = SMALL_ENTRY;
}
const BLOCK = 1 << 20;
const STREAM_CHUNK = 1 << 20;

/** A ZipError for something yauzl or the file system refused. */
export function zipReadError(zipFile: string, err: unknown): ZipError {
  if (err instanceof ZipError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ZipError(`${zipFile}: not a valid zip file: ${msg}`, { path: zipFile, cause: err });
}

export function entryReadError(zipFile: string, e: ZipEntry, err: unknown): ZipError {
  if (err instanceof ZipError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ZipError(`${zipFile}: reading ${e.name}: ${msg}`, { path: e.name, cause: err });
}

/**
 * Bytes [start, end) of an open file as a stream, by positional reads. (An
 * fs.ReadStream on a shared descriptor closes it when destroyed, whatever
 * autoClose says.)
 */
function rangeStream(fd: number, start: number, end: number): Readable {
  let pos = start;
  return new Readable({
    highWaterMark: STREAM_CHUNK,
    read(size) {
      const n = Math.min(size, STREAM_CHUNK, end - pos);
      if (n <= 0) {
        this.push(null);
        return;
      }
      const buf = Buffer.allocUnsafe(n);
      fsRead(fd, buf, 0, n, pos, (err, got) => {
        if (err) {
          this.destroy(err);
          return;
        }
        if (got === 0) {
          this.destroy(new Error("unexpected end of file"));
          return;
        }
        pos += got;
        this.push(got === n ? buf : buf.subarray(0, got));
      });
    },
  });
}

/**
 * Block buffers of closed zips, for the next zip to read into: a bundle
 * import checks zips one after another, and fresh 1 MiB buffers for each
 * would keep the garbage collector busy. Only buffers of zips that were
 * closed return here: by then every read of their entries has settled.
 */
const freeBlocks: Buffer[] = [];
const MAX_FREE_BLOCKS = 8;

/**
 * yauzl's RandomAccessReader over a file descriptor, answering reads from a
 * small cache of 1 MiB blocks (directory records and small entries are read
 * in order, so each block is read from disk once).
 */
class BlockReader extends ZipReader {
  private readonly blocks = new Map<number, Promise<Buffer>>();
  /** Every full-size block buffer this reader took, evicted ones included, with its read. */
  private readonly owned: { buf: Buffer; read: Promise<unknown> }[] = [];

  constructor(
    readonly fd: number,
    readonly size: number,
  ) {
    super();
  }

  private block(index: number): Promise<Buffer> {
    let b = this.blocks.get(index);
    if (!b) {
      const start = index * BLOCK;
      const want = Math.min(BLOCK, this.size - start);
      const buf = want === BLOCK ? (freeBlocks.pop() ?? Buffer.allocUnsafe(BLOCK)) : Buffer.allocUnsafe(want);
      b = readAt(this.fd, buf, start).then((n) => buf.subarray(0, n));
      if (want === BLOCK) this.owned.push({ buf, read: b });
      // Keep a few blocks: enough for in-order reading.
      if (this.blocks.size >= 4) this.blocks.delete(this.blocks.keys().next().value!);
      this.blocks.set(index, b);
    }
    return b;
  }

  /** Bytes [position, position+length), which must lie within the file. */
  async bytes(position: number, length: number): Promise<Buffer> {
    if (position < 0 || length < 0 || position + length > this.size) {
      throw outsideError(position, length, this.size);
    }
    if (length > 2 * BLOCK) {
      const buf = Buffer.allocUnsafe(length);
      const n = await readAt(this.fd, buf, position);
      if (n !== length) throw new Error("unexpected end of file");
      return buf;
    }
    const first = Math.floor(position / BLOCK);
    const last = Math.floor((position + Math.max(length, 1) - 1) / BLOCK);
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) {
      const b = await this.block(i);
      const from = i === first ? position - i * BLOCK : 0;
      const to = i === last ? position + length - i * BLOCK : b.length;
      parts.push(b.subarray(from, to));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
  }

  range(start: number, end: number): Readable {
    return rangeStream(this.fd, start, end);
  }

  override close(callback: (err: Error | null) => void): void {
    this.blocks.clear();
    const owned = this.owned.splice(0);
    // Recycled only once no read can still be filling them.
    void Promise.allSettled(owned.map((o) => o.read)).then(() => {
      for (const o of owned) if (freeBlocks.length < MAX_FREE_BLOCKS) freeBlocks.push(o.buf);
    });
    fsClose(this.fd, (err) => callback(err));
  }
}

function outsideError(position: number, length: number, size: number): Error {
  return new Error(`read of ${length} bytes at ${position} is outside the ${size}-byte file`);
}

/** yauzl's RandomAccessReader over bytes in memory: reads are views, never copies or disk reads. */
class MemoryReader extends ZipReader {
  constructor(private readonly data: Buffer) {
    super();
  }

  bytes(position: number, length: number): Promise<Buffer> {
    if (position < 0 || length < 0 || position + length > this.data.length) {
      return Promise.reject(outsideError(position, length, this.data.length));
    }
    return Promise.resolve(this.data.subarray(position, position + length));
  }

  range(start: number, end: number): Readable {
    const data = this.data;
    let pos = start;
    return new Readable({
      highWaterMark: STREAM_CHUNK,
      read() {
        const n = Math.min(STREAM_CHUNK, end - pos);
        if (n <= 0) {
          this.push(null);
          return;
        }
        this.push(data.subarray(pos, pos + n));
        pos += n;
      },
    });
  }
}

function fromReader(file: string, reader: yauzl.RandomAccessReader, size: number): Promise<yauzl.ZipFile> {
  return new Promise<yauzl.ZipFile>((resolve, reject) => {
    // decodeStrings off: Go reads names as raw bytes (no CP437, no Info-ZIP
    // Unicode path field), and yauzl's own name rules would hide Go's errors.
    yauzl.fromRandomAccessReader(
      reader,
      size,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: false },
      (err, zf) => (err || !zf ? reject(zipReadError(file, err)) : resolve(zf)),
    );
  });
}

/** Opens a zip, from a file or from memory: yauzl checks and parses its structure (names kept as raw bytes). */
export async function openZip(input: string | ZipBytes): Promise<OpenZip> {
  if (typeof input !== "string") {
    const reader = new MemoryReader(input.data);
    const zf = await fromReader(input.name, reader, input.data.length);
    return { file: input.name, size: input.data.length, zf, reader };
  }
  const file = input;
  const fd = await new Promise<number>((resolve, reject) =>
    fsOpen(file, "r", (err, fd) => (err ? reject(zipReadError(file, err)) : resolve(fd))),
  );
  try {
    const size = await new Promise<number>((resolve, reject) =>
      fstat(fd, (err, st) => (err ? reject(zipReadError(file, err)) : resolve(st.size))),
    );
    const reader = new BlockReader(fd, size);
    const zf = await fromReader(file, reader, size);
    return { file, size, zf, reader };
  } catch (err) {
    fsClose(fd, () => {});
    throw err;
  }
}

export function closeZip(z: OpenZip): void {
  if (z.zf.isOpen) z.zf.close();
}

/** Reads the whole central directory (metadata only), failing past maxEntries. */
export function readCentralDirectory(z: OpenZip, maxEntries: number): Promise<ZipEntry[]> {
  const { zf, file } = z;
  if (zf.entryCount > maxEntries) {
    return Promise.reject(
      new ZipError(`${file}: zip has ${zf.entryCount} entries (limit is ${maxEntries})`, { path: file }),
    );
  }
  return new Promise((resolve, reject) => {
    const entries: ZipEntry[] = [];
    const onEntry = (entry: yauzl.Entry): void => {
      const nameRaw = entry.fileNameRaw;
      entries.push({ nameRaw, name: decodeGoBytes(nameRaw), entry });
      zf.readEntry();
    };
    const done = (err?: unknown): void => {
      zf.off("entry", onEntry);
      zf.off("end", done);
      zf.off("error", done);
      if (err) reject(zipReadError(file, err));
      else resolve(entries);
    };
    zf.on("entry", onEntry);
    zf.once("end", () => done());
    zf.once("error", done);
    zf.readEntry();
  });
}

/**
 * An entry's content, checked: whole (small entries) or as a stream that fails
 * on any mismatch. Whole data may share the zip's read buffers: use it before
 * the zip is closed (copy what must outlive it).
 */
export type EntryContent = { data: Buffer; sha256: Buffer } | { stream: Readable; sha256(): Buffer };

/** Go's CRC-32 rule: checked when there is a data descriptor, or when the directory's value is not 0. */
function crcProblem(e: ZipEntry, crc: number): string | undefined {
  const hasDescriptor = (e.entry.generalPurposeBitFlag & 0x8) !== 0;
  if ((hasDescriptor || e.entry.crc32 !== 0) && crc >>> 0 !== e.entry.crc32 >>> 0) {
    return "checksum error (CRC-32 does not match the zip directory)";
  }
  return undefined;
}

/** Where the entry's data starts, from its local header. */
async function dataStart(z: OpenZip, e: ZipEntry): Promise<number> {
  const at = e.entry.relativeOffsetOfLocalHeader;
  const h = await z.reader.bytes(at, 30);
  if (h.readUInt32LE(0) !== 0x04034b50) throw new Error("bad local file header signature");
  const start = at + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  if (start + e.entry.compressedSize > z.size) throw new Error("entry data runs past the end of the file");
  return start;
}

function checkMethod(e: ZipEntry): void {
  const m = e.entry.compressionMethod;
  if (m !== 0 && m !== 8) throw new Error(`unsupported compression method ${m}`);
  if ((e.entry.generalPurposeBitFlag & 0x1) !== 0) throw new Error("encrypted entries are not supported");
}

async function readSmall(z: OpenZip, e: ZipEntry): Promise<EntryContent> {
  checkMethod(e);
  const declared = e.entry.uncompressedSize;
  const raw = await z.reader.bytes(await dataStart(z, e), e.entry.compressedSize);
  let data: Buffer;
  if (e.entry.compressionMethod === 0) {
    data = raw;
  } else {
    // Capped at the declared size (+1 to notice more): a lying header cannot make us inflate a bomb.
    // One output chunk just big enough (at most SMALL_ENTRY + 1): no per-chunk callbacks, no concat.
    const opts = { maxOutputLength: declared + 1, chunkSize: Math.max(64, declared + 1) };
    try {
      // Tiny entries inflate faster here than the trip to the thread pool takes.
      data =
        declared <= inflateSyncMax
          ? inflateRawSync(raw, opts)
          : await new Promise<Buffer>((resolve, reject) =>
              inflateRaw(raw, opts, (err, out) => (err ? reject(err) : resolve(out))),
            );
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
        throw new Error(`uncompressed size is larger than declared size (${declared} bytes)`);
      }
      throw err;
    }
  }
  if (data.length !== declared) {
    throw new Error(`uncompressed size ${data.length} does not match declared size ${declared}`);
  }
  const problem = crcProblem(e, crc32(data));
  if (problem) throw new Error(problem);
  return { data, sha256: createHash("sha256").update(data).digest() };
}

/** Counts, hashes and CRCs inflated bytes; fails past the declared size and, at the end, on any mismatch. */
class EntryCheck extends Transform {
  private readonly sha = createHash("sha256");
  private crc = 0;
  private bytes = 0;
  digest: Buffer | undefined;

  constructor(private readonly e: ZipEntry) {
    super({ highWaterMark: STREAM_CHUNK });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.e.entry.uncompressedSize) {
      cb(
        new Error(`uncompressed size is larger than declared size (${this.e.entry.uncompressedSize} bytes)`),
      );
      return;
    }
    this.sha.update(chunk);
    this.crc = crc32(chunk, this.crc);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.bytes !== this.e.entry.uncompressedSize) {
      cb(
        new Error(
          `uncompressed size ${this.bytes} does not match declared size ${this.e.entry.uncompressedSize}`,
        ),
      );
      return;
    }
    const problem = crcProblem(this.e, this.crc);
    if (problem) {
      cb(new Error(problem));
      return;
    }
    this.digest = this.sha.digest();
    cb();
  }
}

async function openLarge(z: OpenZip, e: ZipEntry): Promise<EntryContent> {
  checkMethod(e);
  const start = await dataStart(z, e);
  const end = start + e.entry.compressedSize;
  const source = z.reader.range(start, end);
  const check = new EntryCheck(e);
  const forward = (err: Error): void => {
    check.destroy(err);
  };
  source.on("error", forward);
  if (e.entry.compressionMethod === 8) {
    const inflate = createInflateRaw({ chunkSize: 64 << 10 });
    inflate.on("error", forward);
    source.pipe(inflate).pipe(check);
  } else {
    source.pipe(check);
  }
  check.on("close", () => source.destroy());
  return {
    stream: check,
    sha256: () => {
      if (!check.digest) throw new Error("entry not read to the end");
      return check.digest;
    },
  };
}

function isSmall(e: ZipEntry): boolean {
  return e.entry.compressedSize <= SMALL_ENTRY && e.entry.uncompressedSize <= SMALL_ENTRY;
}

/**
 * Reads every entry's content in order, checked as Go's reader checks it
 * (declared size, CRC-32), handing each to onEntry; small entries are read
 * and inflated a few ahead. A stream handed over must be consumed by onEntry.
 */
export async function readEntryContents(
  z: OpenZip,
  entries: ZipEntry[],
  onEntry: (e: ZipEntry, content: EntryContent) => Promise<void>,
): Promise<void> {
  const ahead: (Promise<EntryContent> | undefined)[] = new Array(entries.length);
  let next = 0;
  let inFlight = 0;
  const readAhead = (): void => {
    while (next < entries.length && inFlight < READ_AHEAD_ENTRIES) {
      const e = entries[next]!;
      if (isSmall(e)) {
        const p = readSmall(z, e);
        p.catch(() => {}); // reported in order below
        ahead[next] = p;
        inFlight++;
      }
      next++;
    }
  };
  try {
    for (let i = 0; i < entries.length; i++) {
      readAhead();
      const e = entries[i]!;
      const pending = ahead[i];
      let content: EntryContent;
      try {
        if (pending) {
          content = await pending;
          ahead[i] = undefined;
          inFlight--;
        } else {
          content = await openLarge(z, e);
        }
      } catch (err) {
        throw entryReadError(z.file, e, err);
      }
      try {
        await onEntry(e, content);
      } catch (err) {
        if ("stream" in content) {
          // Left unread: stop it quietly before the zip is closed under it.
          content.stream.on("error", () => {});
          content.stream.destroy();
        }
        throw entryReadError(z.file, e, err);
      }
    }
  } finally {
    await Promise.allSettled(ahead.filter((p) => p !== undefined));
  }
}

/** Reads every entry to the end and returns their SHA-256 digests, in order. */
export async function digestEntries(z: OpenZip, entries: ZipEntry[]): Promise<Buffer[]> {
  const sums: Buffer[] = [];
  await readEntryContents(z, entries, async (_e, c) => {
    if ("data" in c) {
      sums.push(c.sha256);
      return;
    }
    for await (const _chunk of c.stream) {
      // Only the check's digest is wanted.
    }
    sums.push(c.sha256());
  });
  return sums;
}
