/**
 * Reads the entries of a plain (uncompressed) tar file by position: headers
 * and small entries through a 64 KiB read-ahead window (one read covers many
 * small files), larger entries straight into the caller's buffer (or as a
 * positional stream), with no tar parser stream in between. This is `goark import`'s path for plain tar
 * bundles: measured at under half the CPU of streaming the same file through
 * tar-stream. Gzip bundles and bundles given as streams go through
 * tar-stream (import.ts); both paths apply the same rules:
 * - TarGuard's (bounded long headers, no global pax headers and no pax
 *   records that change sizes, zero padding and end blocks, checksum fields
 *   in goark's form, bounded bytes after the end);
 * - each header's checksum, and the ustar magic goark's exporter writes;
 * - an entry whose data would run past the end of the file means the bundle
 *   is truncated, found before any of that entry is read.
 */
import { close, createReadStream, fstat, open } from "node:fs";
import { Readable } from "node:stream";
import { BadRequestError, TooLargeError } from "../errors.ts";
import { readAt, readvAt } from "../read-at.ts";
import { isZero, MAX_TRAILING, TarGuard, tarSize } from "./tar-guard.ts";

const BLOCK = 512;
/** Headers and small entries are read through a window this large: one read covers many small files. */
const WINDOW = 64 << 10;
/** Entries up to this size are taken from the window; larger ones are read straight into their buffer. */
const SMALL_ENTRY = 16 << 10;

/** An entry's header fields that import looks at. */
export interface TarEntryHeader {
  name: string;
  /** tar-stream's names for typeflags ("file", "directory", "symlink", …). */
  type: string;
  size: number;
}

/** One entry of a bundle; its data must be taken (readInto or stream, once) before the next entry is asked for. */
export interface TarEntry {
  header: TarEntryHeader;
  /** Reads the whole entry into dst, whose length is the entry's size. */
  readInto(dst: Buffer): Promise<void>;
  /** The entry's bytes as a stream, for entries too large to hold. */
  stream(): Readable;
}

/** tar-stream's names for the typeflags, so both readers word their messages alike. */
const TYPE_NAMES: Record<string, string> = {
  "0": "file",
  "\0": "file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
  "7": "contiguous-file",
  x: "pax-header",
  g: "pax-global-header",
  L: "gnu-long-path",
  K: "gnu-long-link-path",
};

/** A NUL-terminated header field as text. */
function field(h: Buffer, start: number, length: number): string {
  const end = h.indexOf(0, start);
  return h.toString("utf8", start, end === -1 || end > start + length ? start + length : end);
}

/** The `path` record of a pax header, if it has one (records are "LEN key=value\n"; TarGuard checked their form). */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const len = Number.parseInt(data.toString("latin1", at, sp), 10);
    const record = data.toString("utf8", sp + 1, at + len - 1);
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") path = record.slice(eq + 1);
    at += len;
  }
  return path;
}

function checksumOk(h: Buffer): boolean {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += h[i]!;
  for (let i = 156; i < BLOCK; i++) sum += h[i]!;
  return sum === Number.parseInt(field(h, 148, 8).trim(), 8);
}

export class TarFileReader {
  readonly #fd: number;
  readonly #size: number;
  readonly #name: string;
  readonly #guard: TarGuard;
  /** Where the next header (or the padding before it) starts. */
  #pos = 0;
  /** Padding bytes after the last entry's data, checked with the next header. */
  #pad = 0;
  /** Bytes read along with an entry's data (its padding and the next header), and where they start. */
  #ahead: { at: number; buf: Buffer } | undefined;
  /** The read-ahead window's buffer, the bytes it holds and their position in the file. */
  readonly #winBuf = Buffer.allocUnsafe(WINDOW);
  #win = Buffer.alloc(0);
  #winAt = 0;
  #closed = false;

  private constructor(fd: number, size: number, name: string) {
    this.#fd = fd;
    this.#size = size;
    this.#name = name;
    this.#guard = new TarGuard(name);
  }

  /** Opens path (a regular file); name is the bundle's, for messages. */
  static open(path: string, name: string): Promise<TarFileReader> {
    return new Promise((resolve, reject) => {
      open(path, "r", (err, fd) => {
        if (err) return reject(err);
        fstat(fd, (se, st) => {
          if (se) return close(fd, () => reject(se));
          resolve(new TarFileReader(fd, st.size, name));
        });
      });
    });
  }

  #truncated(what: string): BadRequestError {
    return new BadRequestError(`bundle ${this.#name} is truncated (it ends ${what})`);
  }

  #notTar(why: string): BadRequestError {
    return new BadRequestError(`bundle ${this.#name} is not a goark bundle (not a tar archive: ${why})`);
  }

  /**
   * len bytes at pos (fewer only where the file ends), from the window,
   * which is refilled from pos when they are not all in it. The view is
   * valid until the next call.
   */
  async #view(pos: number, len: number): Promise<Buffer> {
    const from = pos - this.#winAt;
    if (from >= 0 && from + len <= this.#win.length) return this.#win.subarray(from, from + len);
    this.#win = this.#winBuf.subarray(0, await readAt(this.#fd, this.#winBuf, pos));
    this.#winAt = pos;
    return this.#win.subarray(0, Math.min(len, this.#win.length));
  }

  /** The next header block, with the padding that comes before it checked on the way. */
  async #header(): Promise<Buffer> {
    const want = this.#pad + BLOCK;
    // Read ahead for the entry just passed (not some other one): used when it holds the whole header.
    let buf = this.#ahead?.at === this.#pos ? this.#ahead.buf : undefined;
    this.#ahead = undefined;
    if (buf === undefined || buf.length < want) buf = await this.#view(this.#pos, want);
    if (buf.length < want)
      throw this.#truncated(buf.length <= this.#pad ? "after an entry's data" : "inside a header");
    this.#guard.inspect(buf);
    this.#pos += want;
    this.#pad = 0;
    return buf.subarray(want - BLOCK);
  }

  /** The data of a long-name or pax header entry (TarGuard bounded its size), padding included. */
  async #longData(size: number): Promise<Buffer> {
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const buf = Buffer.allocUnsafe(padded);
    if ((await readAt(this.#fd, buf, this.#pos)) < padded) throw this.#truncated("inside a header");
    this.#guard.inspect(buf);
    this.#pos += padded;
    return buf.subarray(0, size);
  }

  /** The next entry, or undefined at the end of the archive (whose trailing bytes are checked then). */
  async next(): Promise<TarEntry | undefined> {
    let longName: string | undefined;
    for (;;) {
      const h = await this.#header();
      if (isZero(h)) {
        await this.#end();
        return undefined;
      }
      if (h.toString("latin1", 257, 263) !== "ustar\0") throw this.#notTar("no ustar header");
      if (!checksumOk(h)) throw this.#notTar("a header checksum does not match");
      const flag = String.fromCharCode(h[156]!);
      const size = tarSize(h.subarray(124, 136));
      if (!Number.isSafeInteger(size) || size < 0) throw this.#notTar("unreadable header");
      if (flag === "x") {
        longName = paxPath(await this.#longData(size)) ?? longName;
        continue;
      }
      if (flag === "L") {
        const data = await this.#longData(size);
        const nul = data.indexOf(0);
        longName = data.toString("utf8", 0, nul === -1 ? data.length : nul);
        continue;
      }
      if (flag === "K") {
        await this.#longData(size);
        continue;
      }
      const prefix = field(h, 345, 155);
      const short = field(h, 0, 100);
      const name = longName ?? (prefix === "" ? short : `${prefix}/${short}`);
      const start = this.#pos;
      if (start + size > this.#size) {
        throw this.#truncated(`inside ${JSON.stringify(name)}, ${start + size - this.#size} bytes short`);
      }
      this.#guard.skip(size);
      this.#pos = start + size;
      this.#pad = Math.ceil(size / BLOCK) * BLOCK - size;
      return this.#entry({ name, type: TYPE_NAMES[flag] ?? `type ${JSON.stringify(flag)}`, size }, start);
    }
  }

  #entry(header: TarEntryHeader, start: number): TarEntry {
    const fd = this.#fd;
    let taken = false;
    const take = (): void => {
      if (taken) throw new Error(`tar entry ${header.name} was already read`);
      taken = true;
    };
    return {
      header,
      readInto: async (dst) => {
        take();
        if (dst.length !== header.size) throw new Error(`tar entry ${header.name}: buffer of the wrong size`);
        if (dst.length <= SMALL_ENTRY) {
          const view = await this.#view(start, dst.length);
          if (view.length < dst.length) throw this.#truncated(`inside ${header.name}`);
          view.copy(dst);
          return;
        }
        // The padding and the next header come in the same read: one trip to the thread pool per entry.
        const tail = Buffer.allocUnsafe(Math.min(this.#pad + BLOCK, this.#size - (start + dst.length)));
        const got = await readvAt(fd, [dst, tail], start);
        if (got < dst.length) throw this.#truncated(`inside ${header.name}`);
        this.#ahead = { at: start + dst.length, buf: tail.subarray(0, got - dst.length) };
      },
      stream: () => {
        take();
        // createReadStream's end is inclusive, so it cannot express an empty range.
        if (header.size === 0) return Readable.from([], { objectMode: false });
        const end = start + header.size - 1;
        return createReadStream("", { fd, start, end, autoClose: false, highWaterMark: 1 << 20 });
      },
    };
  }

  /** After the end-of-archive block: what follows is zero, and bounded. */
  async #end(): Promise<void> {
    const rest = this.#size - this.#pos;
    if (rest > MAX_TRAILING) {
      throw new TooLargeError(
        `bundle ${this.#name}: more than ${MAX_TRAILING} bytes after the end of the tar archive`,
      );
    }
    const buf = Buffer.allocUnsafe(rest);
    if ((await readAt(this.#fd, buf, this.#pos)) < rest)
      throw this.#truncated("after the end-of-archive block");
    this.#guard.inspect(buf);
    this.#pos = this.#size;
  }

  /** Errors are thrown where they happen; nothing is left to report afterwards. */
  get failure(): unknown {
    return undefined;
  }

  /** Releases the file. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => close(this.#fd, () => resolve()));
  }
}
