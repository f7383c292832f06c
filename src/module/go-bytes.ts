/**
 * Go strings are bytes; ours are UTF-16. Names read from zips and directories
 * may hold invalid UTF-8, which Go keeps byte for byte (and rejects as
 * "invalid UTF-8" in path checks). We keep such bytes as lone surrogates
 * U+DC80..U+DCFF (one per byte, as Python's surrogateescape does): path checks
 * see a string that is not well-formed and reject it, and encodeGoString gives
 * back the exact bytes for hashing.
 */

import { isValidUTF8 } from "./go-string.ts";

const strict = new TextDecoder("utf-8", { fatal: true });

/** Length of the valid UTF-8 sequence starting at b[i], or 0 if invalid (Go's utf8 rules). */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  // 0xED would start a surrogate (U+D800..U+DFFF) above 0x9F.
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Bytes as a string, each byte of an invalid UTF-8 sequence kept as U+DC00+byte. */
export function decodeGoBytes(b: Uint8Array): string {
  try {
    return strict.decode(b);
  } catch {
    // Fall through to the byte-by-byte decoding below.
  }
  let out = "";
  let i = 0;
  while (i < b.length) {
    const n = sequenceLength(b, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
      continue;
    }
    out += Buffer.from(b.subarray(i, i + n)).toString("utf8");
    i += n;
  }
  return out;
}

/** The bytes a string stands for: UTF-8, with U+DC80..U+DCFF lone surrogates turned back into raw bytes. */
export function encodeGoString(s: string): Buffer {
  if (isValidUTF8(s)) return Buffer.from(s, "utf8");
  const parts: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        for (const x of Buffer.from(s.slice(i, i + 2), "utf8")) parts.push(x);
        i++;
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      parts.push(c - 0xdc00);
      continue;
    }
    for (const x of Buffer.from(s[i]!, "utf8")) parts.push(x);
  }
  return Buffer.from(parts);
}
