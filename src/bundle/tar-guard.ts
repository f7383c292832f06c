/**
 * A watcher of the tar structure going into the extractor. It fails on:
 * - long headers (pax, GNU long names) over a small bound: the tar reader
 *   buffers such headers whole, so a hostile bundle could otherwise make it
 *   hold gigabytes;
 * - what goark's exporter never writes and what could make the guard's view
 *   of entry boundaries differ from the reader's: global pax headers and pax
 *   records that override an entry's size;
 * - bytes no check would otherwise cover: padding after entry data and the
 *   end-of-archive blocks must be zero, and a header's checksum field must
 *   end the way goark writes it (its last two bytes are outside the sum).
 * With the header checksums (checked by the reader) and the manifest's
 * sha256 of every file, any changed byte of a bundle is noticed.
 */
import { BadRequestError, TooLargeError } from "../errors.ts";

/** Largest pax or GNU long-name header accepted. */
export const MAX_LONG_HEADER = 64 << 10;

/** Bytes accepted after the end-of-archive marker (tar writers pad to a record of 10 KiB). */
export const MAX_TRAILING = 1 << 20;

const BLOCK = 512;
// Typeflags of headers whose data the reader keeps in memory: pax, pax global, GNU long name/link.
const LONG_TYPES = new Set(["x", "g", "L", "K"]);

/** A tar size field: octal text, or GNU base-256 when the high bit of the first byte is set. */
export function tarSize(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

export function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

export class TarGuard {
  readonly #name: string;
  #header = Buffer.alloc(0);
  /** Entry data still to pass (not inspected), then padding (must be zero). */
  #dataLeft = 0;
  #padLeft = 0;
  /** Data of the pax header being read, when one is. */
  #pax: Buffer[] | undefined;
  #ended = false;
  #trailing = 0;

  /** name: the bundle's, for messages. */
  constructor(name: string) {
    this.#name = name;
  }

  #fail(rule: string): never {
    throw new BadRequestError(`bundle ${this.#name}: ${rule}; the bundle is corrupt or was tampered with`);
  }

  /**
   * Passes n bytes of the current entry's data without looking at them (a
   * reader that reads entry data on its own, by position, calls this instead
   * of inspect for that data).
   */
  skip(n: number): void {
    if (n > this.#dataLeft || this.#pax !== undefined) {
      throw new Error(`TarGuard.skip(${n}) past the entry's data (${this.#dataLeft} bytes left)`);
    }
    this.#dataLeft -= n;
  }

  /** Looks at the next chunk of the tar stream; throws on what the reader must not see. */
  inspect(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#ended) {
        const rest = chunk.subarray(at);
        this.#trailing += rest.length;
        if (this.#trailing > MAX_TRAILING) {
          throw new TooLargeError(
            `bundle ${this.#name}: more than ${MAX_TRAILING} bytes after the end of the tar archive`,
          );
        }
        if (!isZero(rest)) this.#fail("non-zero bytes after the end-of-archive marker");
        return;
      }
      if (this.#dataLeft > 0) {
        const n = Math.min(this.#dataLeft, chunk.length - at);
        if (this.#pax !== undefined) this.#pax.push(chunk.subarray(at, at + n));
        this.#dataLeft -= n;
        at += n;
        if (this.#dataLeft === 0 && this.#pax !== undefined) {
          checkPax(Buffer.concat(this.#pax), this.#name);
          this.#pax = undefined;
        }
        continue;
      }
      if (this.#padLeft > 0) {
        const n = Math.min(this.#padLeft, chunk.length - at);
        if (!isZero(chunk.subarray(at, at + n))) this.#fail("non-zero padding after an entry");
        this.#padLeft -= n;
        at += n;
        continue;
      }
      const part = chunk.subarray(at, at + (BLOCK - this.#header.length));
      at += part.length;
      this.#header = this.#header.length === 0 ? Buffer.from(part) : Buffer.concat([this.#header, part]);
      if (this.#header.length < BLOCK) return;
      const h = this.#header;
      this.#header = Buffer.alloc(0);
      if (isZero(h)) {
        // End-of-archive: whatever follows must be zero too (and is bounded, against gzip bombs).
        this.#ended = true;
        continue;
      }
      this.#onHeader(h);
    }
  }

  #onHeader(h: Buffer): void {
    const type = String.fromCharCode(h[156]!);
    const size = tarSize(h.subarray(124, 136));
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new BadRequestError(
        `bundle ${this.#name} is not a goark bundle (not a tar archive: unreadable header)`,
      );
    }
    // The checksum is written as six octal digits, a space and a NUL; the sum treats these bytes as spaces.
    if (h[154] !== 0x20 || h[155] !== 0) {
      if (h.subarray(257, 262).toString("latin1") !== "ustar") {
        throw new BadRequestError(`bundle ${this.#name} is not a goark bundle (not a tar archive)`);
      }
      this.#fail("a tar header's checksum field is not in goark's form");
    }
    if (type === "g") this.#fail("global pax headers are not accepted in goark bundles");
    if (LONG_TYPES.has(type) && size > MAX_LONG_HEADER) {
      throw new TooLargeError(
        `bundle ${this.#name}: tar long-name/pax header of ${size} bytes, over the ${MAX_LONG_HEADER}-byte limit`,
      );
    }
    this.#dataLeft = size;
    this.#padLeft = Math.ceil(size / BLOCK) * BLOCK - size;
    if (type === "x" && size > 0) this.#pax = [];
  }
}

/** Rejects pax records that would change an entry's size (records are "LEN key=value\n"). */
function checkPax(data: Buffer, name: string): void {
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const len = sp < 0 ? Number.NaN : Number.parseInt(data.toString("latin1", at, sp), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) {
      throw new BadRequestError(`bundle ${name}: malformed pax header`);
    }
    const record = data.toString("utf8", sp + 1, at + len);
    const key = record.slice(0, record.indexOf("="));
    if (key === "size" || key.startsWith("GNU.sparse")) {
      throw new BadRequestError(
        `bundle ${name}: pax header record ${JSON.stringify(key)} is not accepted in goark bundles`,
      );
    }
    at += len;
  }
}
