/**
 * The tar writer behind `goark export`: byte for byte what tar-stream's pack
 * writes for the same entries (ustar headers; a PAX record for a name ustar
 * cannot hold; zero padding to 512 bytes; two zero blocks at the end), so a
 * store exports to the same bundle whichever writer made it. Built for
 * throughput: a file's bytes are read straight into a large reusable
 * buffer and written from it, into a file by a blocking copy loop like tar's
 * own (writeTarFile), into a stream through a few buffers that fill while
 * others are written (TarWriter).
 */
import { close as fsClose, open as fsOpen, write as fsWrite, writeSync } from "node:fs";
import type { Writable } from "node:stream";

/** Where full buffers go. `write` resolves once buf may be reused. */
export interface TarSink {
  write(buf: Buffer, length: number): Promise<void>;
}

export interface TarEntry {
  name: string;
  size: number;
  mtime: Date;
}

const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);
const FILE_MODE = 0o644;
const ZERO_CHAR = "0".charCodeAt(0);
const USTAR_MAGIC = Buffer.from("ustar\x0000", "latin1");

/** tar-stream's octal fields: zero-padded, a space after; all 7s when the value does not fit. */
function octal(value: number, digits: number): string {
  const s = value.toString(8);
  return s.length > digits ? `${"7".repeat(digits)} ` : `${"0".repeat(digits - s.length)}${s} `;
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

function encodeSize(size: number, block: Buffer): void {
  if (size.toString(8).length > 11) {
    // Base-256, as tar-stream (and GNU tar) write sizes of 8 GiB and more.
    block[124] = 0x80;
    let n = size;
    for (let i = 11; i > 0; i--) {
      block[124 + i] = n & 0xff;
      n = Math.floor(n / 0x100);
    }
  } else {
    block.write(octal(size, 11), 124, "latin1");
  }
}

/** One ustar header block for a regular file (typeflag) with our fixed owner and mode; undefined when name does not fit. */
function ustar(name: string, size: number, mtime: Date, typeflag: number): Buffer | undefined {
  if (Buffer.byteLength(name) !== name.length) return undefined;
  let rest = name;
  let prefix = "";
  while (rest.length > 100) {
    const i = rest.indexOf("/");
    if (i === -1) return undefined;
    prefix += prefix ? `/${rest.slice(0, i)}` : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  if (rest.length > 100 || prefix.length > 155) return undefined;
  const b = Buffer.alloc(BLOCK);
  b.write(rest, 0, "latin1");
  b.write(octal(FILE_MODE, 6), 100, "latin1");
  b.write(octal(0, 6), 108, "latin1");
  b.write(octal(0, 6), 116, "latin1");
  encodeSize(size, b);
  b.write(octal(Math.trunc(mtime.getTime() / 1000) | 0, 11), 136, "latin1");
  b[156] = ZERO_CHAR + typeflag;
  USTAR_MAGIC.copy(b, 257);
  b.write(octal(0, 6), 329, "latin1");
  b.write(octal(0, 6), 337, "latin1");
  if (prefix) b.write(prefix, 345, "latin1");
  b.write(octal(checksum(b), 6), 148, "latin1");
  return b;
}

/** A PAX length-prefixed record: the length counts its own digits. */
function paxRecord(text: string): string {
  const len = Buffer.byteLength(text);
  // tar-stream's formula, floating point included, so lengths come out the same.
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= 10 ** digits) digits++;
  return `${len + digits}${text}`;
}

function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** The bytes before an entry's data: its header, or a PAX header, record and header when the name needs it. */
export function entryHead(e: TarEntry): Buffer {
  const plain = ustar(e.name, e.size, e.mtime, 0);
  if (plain !== undefined) return plain;
  // tar-stream's layout: both headers are named PaxHeader, the real name is in the record.
  const record = Buffer.from(paxRecord(` path=${e.name}\n`), "utf8");
  return Buffer.concat([
    ustar("PaxHeader", record.length, e.mtime, "x".charCodeAt(0) - ZERO_CHAR)!,
    record,
    ZEROS.subarray(0, padding(record.length)),
    ustar("PaxHeader", e.size, e.mtime, 0)!,
  ]);
}

export class TarWriter {
  readonly #sink: TarSink;
  readonly #size: number;
  readonly #free: Buffer[] = [];
  readonly #writes = new Set<Promise<void>>();
  #current: Buffer | undefined;
  #fill = 0;
  #failure: unknown;
  #wake: (() => void) | undefined;

  /** `buffers` buffers of `bufferSize` bytes: one filling, the others being written. */
  constructor(sink: TarSink, opts: { bufferSize?: number; buffers?: number } = {}) {
    this.#sink = sink;
    this.#size = Math.max(BLOCK * 2, opts.bufferSize ?? 1 << 20);
    for (let i = 0; i < Math.max(2, opts.buffers ?? 4); i++) this.#free.push(Buffer.allocUnsafe(this.#size));
  }

  /** Appends one entry, its bytes read straight into the buffers. */
  async add(src: TarSource): Promise<void> {
    const e = src.entry;
    const body = await src.open();
    try {
      await this.#append(entryHead(e));
      let left = e.size;
      while (left > 0) {
        const buf = await this.#buffer();
        const room = Math.min(left, this.#size - this.#fill);
        const n = body.readSync?.(buf, this.#fill, room) ?? (await body.read(buf, this.#fill, room));
        if (!(n > 0)) throw new Error(`tar entry ${e.name}: body ended ${left} bytes early`);
        this.#fill += n;
        left -= n;
        if (this.#fill === this.#size) this.#flush();
      }
      if ((await body.read(Buffer.allocUnsafe(1), 0, 1)) !== 0) {
        throw new Error(`tar entry ${e.name}: body is longer than ${e.size} bytes`);
      }
      await this.#append(ZEROS.subarray(0, padding(e.size)));
    } finally {
      await body.close();
    }
  }

  /** Writes the end-of-archive blocks and waits for every write. */
  async finish(): Promise<void> {
    await this.#append(ZEROS);
    this.#flush();
    await Promise.all(this.#writes);
    this.#check();
  }

  /** Waits for writes under way (after a failure, before the sink is closed). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#writes);
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** The buffer being filled, with room in it. */
  async #buffer(): Promise<Buffer> {
    this.#check();
    if (this.#current !== undefined) return this.#current;
    while (this.#free.length === 0) {
      await new Promise<void>((r) => {
        this.#wake = r;
      });
      this.#check();
    }
    this.#current = this.#free.pop()!;
    this.#fill = 0;
    return this.#current;
  }

  async #append(data: Buffer): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const buf = await this.#buffer();
      const n = Math.min(data.length - at, this.#size - this.#fill);
      data.copy(buf, this.#fill, at, at + n);
      this.#fill += n;
      at += n;
      if (this.#fill === this.#size) this.#flush();
    }
  }

  #flush(): void {
    const buf = this.#current;
    if (buf === undefined || this.#fill === 0) return;
    const length = this.#fill;
    this.#current = undefined;
    this.#fill = 0;
    const w = this.#sink.write(buf, length).then(
      () => {
        this.#free.push(buf);
      },
      (err: unknown) => {
        this.#failure ??= err;
      },
    );
    const tracked = w.finally(() => {
      this.#writes.delete(tracked);
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
    this.#writes.add(tracked);
  }
}

/** An entry's bytes, read piece by piece into the writer's buffers. */
export interface EntryBody {
  /** Reads up to length bytes into dst at offset; resolves 0 only past the end. */
  read(dst: Buffer, offset: number, length: number): Promise<number>;
  /**
   * The same, blocking, where the bytes are at hand (a local file, memory):
   * the writer then copies in a tight loop, with no event-loop round trip per
   * piece, and yields to the event loop every few MiB.
   */
  readSync?(dst: Buffer, offset: number, length: number): number;
  close(): Promise<void>;
}

export interface TarSource {
  entry: TarEntry;
  open(): Promise<EntryBody>;
}

/** An EntryBody over bytes in memory. */
export function bufferBody(data: Buffer): EntryBody {
  let at = 0;
  const readSync = (dst: Buffer, offset: number, length: number): number => {
    const n = data.copy(dst, offset, at, Math.min(data.length, at + length));
    at += n;
    return n;
  };
  return {
    readSync,
    read: async (dst, offset, length) => readSync(dst, offset, length),
    close: async () => {},
  };
}

/** An EntryBody over an iterable of chunks (copied into the writer's buffers). */
export function iterableBody(body: AsyncIterable<Buffer>): EntryBody {
  const it = body[Symbol.asyncIterator]();
  let rest: Buffer | undefined;
  return {
    read: async (dst, offset, length) => {
      while (rest === undefined || rest.length === 0) {
        const r = await it.next();
        if (r.done) return 0;
        rest = r.value;
      }
      const n = rest.copy(dst, offset, 0, Math.min(rest.length, length));
      rest = rest.subarray(n);
      return n;
    },
    close: async () => {
      await it.return?.();
    },
  };
}

/**
 * Writes a whole tar into a new file, the same bytes TarWriter would, in
 * order through one reusable buffer: each piece of a body is read into it
 * after the entry's header and written with the padding, by blocking calls
 * where the body has them (a copy loop like tar's own, without a round trip
 * through the event loop per piece), yielding to the event loop every
 * `yieldBytes`. A body shorter or longer than its entry fails the archive.
 */
export async function writeTarFile(
  sink: FileSink,
  sources: Iterable<TarSource>,
  opts: { bufferSize?: number; yieldBytes?: number } = {},
): Promise<void> {
  const size = Math.max(4 * BLOCK, opts.bufferSize ?? 1 << 20);
  const yieldBytes = opts.yieldBytes ?? 8 << 20;
  const buf = Buffer.allocUnsafe(size);
  let position = 0;
  let sinceYield = 0;
  const flush = async (used: number): Promise<void> => {
    sink.writeAtSync(buf, used, position);
    position += used;
    sinceYield += used;
    if (sinceYield >= yieldBytes) {
      sinceYield = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  for (const src of sources) {
    const { entry } = src;
    const body = await src.open();
    try {
      // The header goes out with the first piece of data, the padding with the last.
      let pending = entryHead(entry);
      let used = 0;
      let left = entry.size;
      const pad = padding(entry.size);
      for (;;) {
        if (pending.length > 0) {
          const n = pending.copy(buf, used);
          used += n;
          pending = pending.subarray(n);
        }
        while (left > 0 && used < size && pending.length === 0) {
          const want = Math.min(left, size - used);
          const n = body.readSync?.(buf, used, want) ?? (await body.read(buf, used, want));
          if (!(n > 0)) throw new Error(`tar entry ${entry.name}: body ended ${left} bytes early`);
          used += n;
          left -= n;
        }
        if (left === 0 && pending.length === 0) {
          const room = Math.min(pad, size - used);
          buf.fill(0, used, used + room);
          used += room;
          if (room < pad) pending = ZEROS.subarray(0, pad - room);
        }
        if (used === size || (left === 0 && pending.length === 0)) {
          await flush(used);
          used = 0;
        }
        if (left === 0 && pending.length === 0) break;
      }
      const more = body.readSync?.(buf, 0, 1) ?? (await body.read(buf, 0, 1));
      if (more !== 0) throw new Error(`tar entry ${entry.name}: body is longer than ${entry.size} bytes`);
    } finally {
      await body.close();
    }
  }
  ZEROS.copy(buf, 0);
  await flush(ZEROS.length);
}

/** A sink writing at increasing positions of a new file, several writes at once. */
export class FileSink implements TarSink {
  #position = 0;
  private constructor(readonly fd: number) {}

  /** Creates path, which must not exist. */
  static open(path: string): Promise<FileSink> {
    return new Promise((resolve, reject) =>
      fsOpen(path, "wx", 0o644, (err, fd) => (err ? reject(err) : resolve(new FileSink(fd)))),
    );
  }

  write(buf: Buffer, length: number): Promise<void> {
    const at = this.#position;
    this.#position += length;
    return this.writeAt(buf, 0, length, at);
  }

  /** Writes buf[0, length) at position of the file, blocking. */
  writeAtSync(buf: Buffer, length: number, position: number): void {
    let done = 0;
    while (done < length) {
      const n = writeSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) throw new Error("the file system accepted no bytes");
      done += n;
    }
  }

  /** Writes buf[offset, offset+length) at position of the file. */
  writeAt(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fsWrite(this.fd, buf, offset + done, length - done, position + done, (err, n) => {
          if (err) return reject(err);
          if (n === 0) return reject(new Error("the file system accepted no bytes"));
          if (done + n === length) resolve();
          else step(done + n);
        });
      };
      if (length === 0) resolve();
      else step(0);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => fsClose(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

/**
 * A sink feeding a stream (gzip, a caller's stream). The stream gets a copy
 * (a stream may hold on to what it is given past its callback), and a buffer
 * is released only once the stream has taken the bytes and is not over its
 * high-water mark, so a slow reader slows the export instead of filling memory.
 */
export class StreamSink implements TarSink {
  constructor(readonly stream: Writable) {}

  write(buf: Buffer, length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let taken = false;
      let drained = false;
      const ok = this.stream.write(Buffer.from(buf.subarray(0, length)), (err) => {
        if (err) return reject(err);
        taken = true;
        if (drained) resolve();
      });
      if (ok) drained = true;
      else
        this.stream.once("drain", () => {
          drained = true;
          if (taken) resolve();
        });
      if (ok && taken) resolve();
    });
  }
}
