/**
 * Tar entries for the tests of goark's tar writer and positional reader:
 * names that take plain ustar, ustar with a prefix, and PAX records around
 * their length-digit boundaries, with sizes around the 512-byte padding,
 * and reproducible bytes for them.
 */
import { createHash } from "node:crypto";

/** size reproducible bytes from seed (a SHA-256 chain). */
export function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash("sha256").update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

const dirs = (n: number) => Array.from({ length: n }, (_, i) => `d${i}`).join("/");

export const TAR_CASES: readonly { name: string; size: number }[] = [
  { name: "goark-manifest.json", size: 300 },
  { name: "a".repeat(100), size: 512 },
  { name: `${dirs(20)}/${"f".repeat(60)}.zip`, size: 1024 },
  { name: `${dirs(60)}/x.mod`, size: 0 },
  { name: `${"g".repeat(120)}/y`, size: 5000 },
  { name: `ü${"h".repeat(89)}`, size: 20_000 },
  { name: `ü${"h".repeat(90)}`, size: 1 },
  { name: `ü${"h".repeat(91)}`, size: 511 },
  { name: `ü/${"i".repeat(988)}`, size: 513 },
  { name: `ü/${"i".repeat(989)}`, size: 4096 * 3 + 7 },
  { name: "example.com/!upper/@v/v1.0.0.info", size: 37 },
];
