/**
 * Loads go-vectors.json: answers of golang.org/x/mod v0.7.0 and Go 1.19's
 * path.Match for a corpus of inputs, printed by gen-vectors.go (see there to
 * regenerate). Shared by the unit tests of path.ts, semver.ts and pseudo.ts.
 */

import { readFileSync } from "node:fs";

export interface GoResult {
  err?: string;
  val?: string;
}

export interface StringVector {
  in: string;
  /** Hex of the input bytes when they are not valid UTF-8 (then `in` is lossy). */
  raw?: string;
  module?: string;
  import?: string;
  file?: string;
  split: [string, string, boolean];
  escapePath: GoResult;
  unescapePath: GoResult;
  escapeVersion: GoResult;
  unescapeVersion: GoResult;
  valid: boolean;
  canonical?: string;
  canonicalVersion?: string;
  major?: string;
  majorMinor?: string;
  prerelease?: string;
  build?: string;
  isPseudo: boolean;
  isZeroPseudo: boolean;
  pseudoBase: GoResult;
  pseudoTime: GoResult;
  pseudoRev: GoResult;
}

export interface GoVectors {
  strings: StringVector[];
  versions: string[];
  compare: number[][];
  sorted: string[];
  max: [string, string, string][];
  check: [string, string, string][];
  checkPathMajor: [string, string, string][];
  globs: { globs: string; target: string; match: boolean }[];
  pathMatch: { pattern: string; name: string; match: boolean; err: boolean }[];
  pseudo: { major?: string; older: string; timeMs: number; rev: string; out: string }[];
  sortIn: { Path: string; Version: string }[];
  sortOut: { Path: string; Version: string }[];
}

export const vectors: GoVectors = JSON.parse(
  readFileSync(new URL("./go-vectors.json", import.meta.url), "utf8"),
);

/**
 * The JavaScript stand-in for a Go string: valid UTF-8 decodes normally and
 * each invalid byte becomes a lone surrogate (U+DC00 + byte), which our code
 * must treat as invalid UTF-8 just as Go treats the byte.
 */
export function inputOf(v: StringVector): string {
  if (v.raw === undefined) return v.in;
  const bytes = Buffer.from(v.raw, "hex");
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const n = validSequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i++;
    } else {
      out += bytes.subarray(i, i + n).toString("utf8");
      i += n;
    }
  }
  return out;
}

function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c === 0xe0) lo = 0xa0;
    if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c === 0xf0) lo = 0x90;
    if (c === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > b.length) return 0;
  for (let k = 1; k < n; k++) {
    const x = b[i + k]!;
    if (x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return 0;
  }
  return n;
}
