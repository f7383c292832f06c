/**
 * The checksum database's transparency log (golang.org/x/mod/sumdb/tlog):
 * RFC 6962 record and node hashes, the dense "stored hash" order in which a
 * log keeps them, tree hashes, inclusion and consistency proofs, the signed
 * tree text and the lookup record format. Tiles are in tile.ts.
 *
 * Indexes and sizes are JS numbers: exact up to 2^53−1, far beyond any log
 * (sum.golang.org holds well under 2^32 records). Go's int64 reaches 2^63−1;
 * input beyond 2^53−1 is refused here with reason "too-large" rather than
 * silently rounded.
 *
 * Where x/mod v0.7.0 (Debian's, our oracle) differs from what sum.golang.org
 * and current x/mod do, this follows the current behaviour:
 * - the empty tree's hash is SHA-256 of nothing (47DEQpj8…, RFC 6962;
 *   x/mod ≥ v0.19.0), not 32 zero bytes.
 */
import { createHash } from "node:crypto";
import { TlogError } from "../errors.ts";
import { decodeGoBase64, encodeGoBase64 } from "./go-base64.ts";

/** A 32-byte SHA-256 hash of a record, a subtree or a tree. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

/**
 * Why log data was rejected (TlogError.reason):
 * - malformed-hash / malformed-tree / malformed-record / malformed-tile-path:
 *   text that breaks its format.
 * - invalid-input: sizes or indexes out of range for the operation.
 * - invalid-proof: a proof that does not prove what it claims.
 * - invalid-tile: tile coordinates or data unfit for the requested hash.
 * - inconsistent-tile: tiles that do not hash to the signed tree.
 * - bad-reader: a hash or tile reader answered with the wrong count or sizes.
 * - too-large: a number beyond 2^53−1 (see the header).
 * - fork: a checksum database's newer tree does not extend one it signed
 *   before (src/sumdb/client.ts).
 */
export type TlogErrorReason =
  | "malformed-hash"
  | "malformed-tree"
  | "malformed-record"
  | "malformed-tile-path"
  | "invalid-input"
  | "invalid-proof"
  | "invalid-tile"
  | "inconsistent-tile"
  | "bad-reader"
  | "too-large"
  | "fork";

export function tlogError(reason: TlogErrorReason, message: string): TlogError {
  return new TlogError(reason, message);
}

/** Reads stored hashes by their stored-hash indexes (see storedHashIndex). */
export interface HashReader {
  /** Exactly one hash per index, in order. */
  readHashes(indexes: readonly number[]): Promise<Hash[]> | Hash[];
}

/** A signed tree head's content: the number of records and the root hash. */
export interface Tree {
  n: number;
  hash: Hash;
}

const ZERO_PREFIX = Buffer.of(0x00);
const ONE_PREFIX = Buffer.of(0x01);

/** SHA-256 of the empty string: the hash of the tree with no records (current x/mod, RFC 6962). */
export const EMPTY_TREE_HASH: Hash = createHash("sha256").digest();

/** The base64 text of a hash (what tree notes and tools print). */
export function formatHash(h: Hash): string {
  return encodeGoBase64(h);
}

/** Parses the base64 text of a hash (x/mod tlog.ParseHash). */
export function parseHash(s: string): Hash {
  const b = decodeGoBase64(s);
  if (b === undefined || b.length !== HASH_SIZE) {
    throw tlogError("malformed-hash", `malformed hash ${JSON.stringify(s)}: want base64 of 32 bytes`);
  }
  return new Uint8Array(b);
}

export function hashEqual(a: Hash, b: Hash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

/** SHA-256(0x00 ‖ data): the leaf hash of a record. */
export function recordHash(data: Uint8Array | string): Hash {
  return new Uint8Array(createHash("sha256").update(ZERO_PREFIX).update(bytesOf(data)).digest());
}

/** SHA-256(0x01 ‖ left ‖ right): an interior node's hash. */
export function nodeHash(left: Hash, right: Hash): Hash {
  return new Uint8Array(createHash("sha256").update(ONE_PREFIX).update(left).update(right).digest());
}

/** Throws unless x is a non-negative integer JS numbers hold exactly. */
export function checkCount(x: number, what: string): void {
  if (!Number.isInteger(x) || x < 0) {
    throw tlogError("invalid-input", `${what} ${x} is not a non-negative integer`);
  }
  if (x > Number.MAX_SAFE_INTEGER) {
    throw tlogError("too-large", `${what} ${x} is beyond 2^53-1, which goark cannot represent exactly`);
  }
}

/** x / 2^k, rounded down (x >> k for numbers beyond 32 bits). */
function shr(x: number, k: number): number {
  return Math.floor(x / 2 ** k);
}

function trailingZeros(x: number): number {
  let z = 0;
  while (x > 0 && x % 2 === 0) {
    x /= 2;
    z++;
  }
  return z;
}

/** The largest power of two k below n (k < n ≤ 2k), and log₂ k. */
function maxpow2(n: number): [k: number, l: number] {
  let l = 0;
  while (2 ** (l + 1) < n) l++;
  return [2 ** l, l];
}

/**
 * Where the hash at tree coordinates (level, n) sits in the dense order a log
 * stores its hashes in: each leaf's hash, then the hashes of the subtrees it
 * completes (Crosby & Wallach, section 3.3).
 */
export function storedHashIndex(level: number, n: number): number {
  checkCount(level, "level");
  checkCount(n, "index");
  // Level L's n'th hash comes right after level L-1's (2n+1)'th.
  for (let l = level; l > 0; l--) n = 2 * n + 1;
  // The sum below is under 2n: keep it exact.
  if (n >= 2 ** 52) throw tlogError("too-large", `stored hash index of (${level}, ${n}) is beyond 2^53-1`);
  // Level 0's n'th hash is at n + n/2 + n/4 + ...
  let i = 0;
  for (; n > 0; n = shr(n, 1)) i += n;
  return i + level;
}

/** The inverse of storedHashIndex. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  checkCount(index, "stored hash index");
  // storedHashIndex(0, n) < 2n, so the leaf is in [index/2, index/2 + log₂ index].
  let n = shr(index, 1);
  let indexN = storedHashIndex(0, n);
  for (;;) {
    // Leaf n+1 starts after leaf n's hash and the subtrees leaf n completes.
    const x = indexN + 1 + trailingZeros(n + 1);
    if (x > index) break;
    n++;
    indexN = x;
  }
  const level = index - indexN;
  return { level, n: shr(n, level) };
}

/** How many hashes a log of n records stores. */
export function storedHashCount(n: number): number {
  checkCount(n, "tree size");
  if (n === 0) return 0;
  let count = storedHashIndex(0, n - 1) + 1;
  for (let i = n - 1; i % 2 === 1; i = shr(i, 1)) count++;
  return count;
}

async function readExactly(r: HashReader, indexes: readonly number[]): Promise<Hash[]> {
  const hashes = await r.readHashes(indexes);
  if (hashes.length !== indexes.length) {
    throw tlogError(
      "bad-reader",
      `hash reader returned ${hashes.length} hashes for ${indexes.length} indexes`,
    );
  }
  for (const h of hashes) {
    if (h.length !== HASH_SIZE) throw tlogError("bad-reader", `hash reader returned a ${h.length}-byte hash`);
  }
  return hashes;
}

/**
 * The hashes to store when appending record n with the given data, to be
 * written from storedHashIndex(0, n) on: its leaf hash and one more per
 * subtree it completes (reading those subtrees' left halves from r).
 */
export function storedHashes(n: number, data: Uint8Array | string, r: HashReader): Promise<Hash[]> {
  return storedHashesForRecordHash(n, recordHash(data), r);
}

/** storedHashes, given the record's hash instead of its data. */
export async function storedHashesForRecordHash(n: number, h: Hash, r: HashReader): Promise<Hash[]> {
  checkCount(n, "record index");
  const m = trailingZeros(n + 1);
  const indexes = new Array<number>(m);
  for (let i = 0; i < m; i++) indexes[m - 1 - i] = storedHashIndex(i, shr(n, i) - 1);
  const old = m === 0 ? [] : await readExactly(r, indexes);
  const hashes = [h];
  for (let i = 0; i < m; i++) {
    h = nodeHash(old[m - 1 - i]!, h);
    hashes.push(h);
  }
  return hashes;
}

/** Stored-hash indexes of the complete subtrees that make up records [lo, hi), largest first. */
export function subTreeIndex(lo: number, hi: number, need: number[]): number[] {
  while (lo < hi) {
    const [k, level] = maxpow2(hi - lo + 1);
    need.push(storedHashIndex(level, shr(lo, level)));
    lo += k;
  }
  return need;
}

/** The hash of records [lo, hi) from the hashes subTreeIndex listed; returns the rest. */
function subTreeHash(lo: number, hi: number, hashes: Hash[]): [Hash, Hash[]] {
  let numTree = 0;
  while (lo < hi) {
    const [k] = maxpow2(hi - lo + 1);
    numTree++;
    lo += k;
  }
  let h = hashes[numTree - 1]!;
  for (let i = numTree - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return [h, hashes.slice(numTree)];
}

/**
 * The root hash of the tree of the first n records, from stored hashes.
 * n = 0 gives EMPTY_TREE_HASH (current x/mod; v0.7.0 gave 32 zero bytes).
 */
export async function treeHash(n: number, r: HashReader): Promise<Hash> {
  checkCount(n, "tree size");
  if (n === 0) return EMPTY_TREE_HASH;
  const indexes = subTreeIndex(0, n, []);
  const [h] = subTreeHash(0, n, await readExactly(r, indexes));
  return h;
}

/** Indexes needed to prove leaf n is in the subtree of leaves [lo, hi). */
function leafProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (lo + 1 === hi) return need;
  const [k] = maxpow2(hi - lo);
  if (n < lo + k) {
    leafProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    leafProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function leafProof(lo: number, hi: number, n: number, hashes: Hash[]): [Hash[], Hash[]] {
  // At the leaf: the checker knows its hash.
  if (lo + 1 === hi) return [[], hashes];
  let p: Hash[];
  let th: Hash;
  const [k] = maxpow2(hi - lo);
  if (n < lo + k) {
    [p, hashes] = leafProof(lo, lo + k, n, hashes);
    [th, hashes] = subTreeHash(lo + k, hi, hashes);
  } else {
    [th, hashes] = subTreeHash(lo, lo + k, hashes);
    [p, hashes] = leafProof(lo + k, hi, n, hashes);
  }
  p.push(th);
  return [p, hashes];
}

/** The proof that the tree of size t holds record n (RFC 6962 audit path). */
export async function proveRecord(t: number, n: number, r: HashReader): Promise<Hash[]> {
  checkCount(t, "tree size");
  checkCount(n, "record index");
  if (n >= t) throw tlogError("invalid-input", `cannot prove record ${n} in a tree of ${t} records`);
  const indexes = leafProofIndex(0, t, n, []);
  if (indexes.length === 0) return [];
  const [p] = leafProof(0, t, n, await readExactly(r, indexes));
  return p;
}

function proofFailed(what: string): TlogError {
  return tlogError("invalid-proof", `invalid transparency proof: ${what}`);
}

function runRecordProof(p: Hash[], lo: number, hi: number, n: number, leaf: Hash): Hash {
  if (lo + 1 === hi) {
    // No hash may be left over.
    if (p.length !== 0) throw proofFailed("record proof has extra hashes");
    return leaf;
  }
  if (p.length === 0) throw proofFailed("record proof is too short");
  const [k] = maxpow2(hi - lo);
  const last = p[p.length - 1]!;
  const rest = p.slice(0, -1);
  if (n < lo + k) return nodeHash(runRecordProof(rest, lo, lo + k, n, leaf), last);
  return nodeHash(last, runRecordProof(rest, lo + k, hi, n, leaf));
}

/** Checks that p proves the tree of size t with hash th has record n with hash h; throws if not. */
export function checkRecord(p: readonly Hash[], t: number, th: Hash, n: number, h: Hash): void {
  checkCount(t, "tree size");
  checkCount(n, "record index");
  if (n >= t) throw tlogError("invalid-input", `cannot check record ${n} in a tree of ${t} records`);
  if (!hashEqual(runRecordProof([...p], 0, t, n, h), th)) {
    throw proofFailed(`record ${n} is not in the tree of ${t} records with hash ${formatHash(th)}`);
  }
}

/** Indexes needed for the consistency sub-proof of leaves [lo, hi) against an old size n. */
function treeProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (n === hi) return lo === 0 ? need : subTreeIndex(lo, hi, need);
  const [k] = maxpow2(hi - lo);
  if (n <= lo + k) {
    treeProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    treeProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function treeProof(lo: number, hi: number, n: number, hashes: Hash[]): [Hash[], Hash[]] {
  if (n === hi) {
    // The old tree itself: the checker knows its hash.
    if (lo === 0) return [[], hashes];
    const [th, rest] = subTreeHash(lo, hi, hashes);
    return [[th], rest];
  }
  let p: Hash[];
  let th: Hash;
  const [k] = maxpow2(hi - lo);
  if (n <= lo + k) {
    [p, hashes] = treeProof(lo, lo + k, n, hashes);
    [th, hashes] = subTreeHash(lo + k, hi, hashes);
  } else {
    [th, hashes] = subTreeHash(lo, lo + k, hashes);
    [p, hashes] = treeProof(lo + k, hi, n, hashes);
  }
  p.push(th);
  return [p, hashes];
}

/** The proof that the tree of size t extends the tree of size n (RFC 6962 consistency proof). */
export async function proveTree(t: number, n: number, r: HashReader): Promise<Hash[]> {
  checkCount(t, "tree size");
  checkCount(n, "old tree size");
  if (t < 1 || n < 1 || n > t)
    throw tlogError("invalid-input", `cannot prove a tree of ${t} extends one of ${n}`);
  const indexes = treeProofIndex(0, t, n, []);
  if (indexes.length === 0) return [];
  const [p] = treeProof(0, t, n, await readExactly(r, indexes));
  return p;
}

/** Runs a consistency sub-proof: the implied [old, new] hashes of leaves [lo, hi). */
function runTreeProof(p: Hash[], lo: number, hi: number, n: number, old: Hash): [Hash, Hash] {
  if (n === hi) {
    if (lo === 0) {
      if (p.length !== 0) throw proofFailed("tree proof has extra hashes");
      return [old, old];
    }
    if (p.length !== 1) throw proofFailed("tree proof has the wrong number of hashes");
    return [p[0]!, p[0]!];
  }
  if (p.length === 0) throw proofFailed("tree proof is too short");
  const [k] = maxpow2(hi - lo);
  const last = p[p.length - 1]!;
  const rest = p.slice(0, -1);
  if (n <= lo + k) {
    const [oh, th] = runTreeProof(rest, lo, lo + k, n, old);
    return [oh, nodeHash(th, last)];
  }
  const [oh, th] = runTreeProof(rest, lo + k, hi, n, old);
  return [nodeHash(last, oh), nodeHash(last, th)];
}

/** Checks that p proves the tree of size t with hash th extends the tree of size n with hash h; throws if not. */
export function checkTree(p: readonly Hash[], t: number, th: Hash, n: number, h: Hash): void {
  checkCount(t, "tree size");
  checkCount(n, "old tree size");
  if (t < 1 || n < 1 || n > t)
    throw tlogError("invalid-input", `cannot check a tree of ${t} extends one of ${n}`);
  const [h2, th2] = runTreeProof([...p], 0, t, n, h);
  if (!hashEqual(th2, th) || !hashEqual(h2, h)) {
    throw proofFailed(
      `the tree of ${t} records (${formatHash(th)}) does not extend the tree of ${n} (${formatHash(h)})`,
    );
  }
}

/** A HashReader over an array of stored hashes (index = position). */
export function arrayHashReader(hashes: readonly Hash[]): HashReader {
  return {
    readHashes(indexes) {
      return indexes.map((i) => {
        const h = hashes[i];
        if (h === undefined)
          throw tlogError("bad-reader", `stored hash ${i} does not exist (have ${hashes.length})`);
        return h;
      });
    },
  };
}

// ---- Tree notes ----

const TREE_PREFIX = "go.sum database tree\n";
const MAX_TREE_TEXT = 1e6;
const INT64_MAX = 9223372036854775807n;

/** The tree's note text: `go.sum database tree\n<N>\n<base64 hash>\n`. */
export function formatTree(tree: Tree): string {
  checkCount(tree.n, "tree size");
  return `${TREE_PREFIX}${tree.n}\n${formatHash(tree.hash)}\n`;
}

/**
 * Parses a tree note text (x/mod tlog.ParseTree): the header line, N in
 * canonical decimal, the base64 hash; lines after the third are ignored.
 */
export function parseTree(text: string | Uint8Array): Tree {
  const b = bytesOf(text);
  // latin1 maps bytes one to one: the checks below look at ASCII only.
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
  let newlines = 0;
  for (let i = s.indexOf("\n"); i >= 0 && newlines < 3; i = s.indexOf("\n", i + 1)) newlines++;
  if (!s.startsWith(TREE_PREFIX) || newlines < 3 || b.length > MAX_TREE_TEXT) {
    throw tlogError("malformed-tree", "malformed tree note: want go.sum database tree\\n<N>\\n<hash>\\n");
  }
  const [, nText = "", hText = ""] = s.split("\n", 3);
  if (!/^(?:0|[1-9][0-9]*)$/.test(nText) || BigInt(nText) > INT64_MAX) {
    throw tlogError(
      "malformed-tree",
      `malformed tree note: size ${JSON.stringify(nText)} is not a canonical decimal`,
    );
  }
  const n = Number(nText);
  if (n > Number.MAX_SAFE_INTEGER) {
    throw tlogError("too-large", `tree size ${nText} is beyond 2^53-1, which goark cannot represent exactly`);
  }
  const h = decodeGoBase64(hText);
  if (h === undefined || h.length !== HASH_SIZE) {
    throw tlogError(
      "malformed-tree",
      `malformed tree note: hash ${JSON.stringify(hText)} is not base64 of 32 bytes`,
    );
  }
  return { n, hash: new Uint8Array(h) };
}

// ---- Records ----

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const CONTROL = /[\x00-\x09\x0b-\x1f]/;

/**
 * Why record text is invalid, or undefined if valid: UTF-8, no control
 * characters but "\n", ending in "\n", no blank lines.
 */
export function recordTextProblem(text: Uint8Array | string): string | undefined {
  let s: string;
  if (typeof text === "string") {
    if (/\p{Surrogate}/u.test(text)) return "not valid UTF-8";
    s = text;
  } else {
    try {
      s = strictUtf8.decode(text);
    } catch {
      return "not valid UTF-8";
    }
  }
  if (CONTROL.test(s)) return "holds a control character other than newline";
  if (s.includes("\n\n")) return "holds a blank line";
  if (!s.endsWith("\n")) return "does not end in a newline";
  return undefined;
}

function checkRecordText(text: Uint8Array | string, what: string): void {
  const problem = recordTextProblem(text);
  if (problem !== undefined) throw tlogError("malformed-record", `malformed record data: ${what} ${problem}`);
}

function concat(parts: (Uint8Array | string)[]): Uint8Array {
  return new Uint8Array(
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p))),
  );
}

/** A lookup answer's record: `<id>\n<text>\n` (the signed note follows it). */
export function formatRecord(id: number, text: Uint8Array | string): Uint8Array {
  if (!Number.isSafeInteger(id))
    throw tlogError("too-large", `record id ${id} is not an integer goark holds exactly`);
  checkRecordText(text, "record text");
  return concat([`${id}\n`, text, "\n"]);
}

/**
 * Parses a record at the start of msg (x/mod tlog.ParseRecord): a decimal
 * id line (Go's ParseInt: optional sign), the record text, a blank line;
 * returns what follows as rest.
 */
export function parseRecord(msg: Uint8Array | string): { id: number; text: Uint8Array; rest: Uint8Array } {
  const b = bytesOf(msg);
  const nl = b.indexOf(0x0a);
  if (nl < 0) throw tlogError("malformed-record", "malformed record data: no id line");
  const idText = Buffer.from(b.subarray(0, nl)).toString("latin1");
  if (!/^[+-]?[0-9]+$/.test(idText)) {
    throw tlogError(
      "malformed-record",
      `malformed record data: id ${JSON.stringify(idText)} is not a decimal number`,
    );
  }
  const big = BigInt(idText);
  if (big > INT64_MAX || big < -INT64_MAX - 1n) {
    throw tlogError("malformed-record", `malformed record data: id ${idText} is out of the int64 range`);
  }
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw tlogError(
      "too-large",
      `record id ${idText} is beyond 2^53-1, which goark cannot represent exactly`,
    );
  }
  const body = b.subarray(nl + 1);
  const end = Buffer.from(body.buffer, body.byteOffset, body.byteLength).indexOf("\n\n");
  if (end < 0)
    throw tlogError("malformed-record", "malformed record data: no blank line after the record text");
  const text = body.subarray(0, end + 1);
  checkRecordText(text, "record text");
  return { id: Number(big), text, rest: body.subarray(end + 2) };
}
