import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TlogError } from "../errors.ts";
import { vectors } from "./testdata/go-vectors.ts";
import {
  arrayHashReader,
  checkRecord,
  checkTree,
  EMPTY_TREE_HASH,
  formatHash,
  formatRecord,
  formatTree,
  type Hash,
  parseHash,
  parseRecord,
  parseTree,
  proveRecord,
  proveTree,
  recordHash,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashIndex,
  treeHash,
} from "./tlog.ts";

function rejects(f: () => unknown, reason: string): void {
  assert.throws(f, (e: unknown) => e instanceof TlogError && e.reason === reason);
}

const log = vectors.log;
const goHashes = log.hashes.map(parseHash);

async function build(records: readonly string[]): Promise<Hash[]> {
  const hashes: Hash[] = [];
  for (let i = 0; i < records.length; i++)
    hashes.push(...(await storedHashes(i, records[i]!, arrayHashReader(hashes))));
  return hashes;
}

describe("tlog hashes and indexes (vectors from x/mod)", () => {
  it("record hashes", () => {
    for (const [data, want] of Object.entries(vectors.recordHash))
      assert.equal(formatHash(recordHash(data)), want);
  });

  it("stored hash index, its inverse, and counts", () => {
    for (const [level, n, want] of vectors.storedHashIndex) {
      assert.equal(storedHashIndex(level, n), want, `(${level}, ${n})`);
      assert.deepEqual(splitStoredHashIndex(want), { level, n });
    }
    for (const [n, want] of vectors.storedHashCount.entries())
      assert.equal(storedHashCount(n), want, `count(${n})`);
  });

  it("indexes beyond 32 bits stay exact", () => {
    const n = 2 ** 40 + 12345;
    const i = storedHashIndex(3, n);
    assert.deepEqual(splitStoredHashIndex(i), { level: 3, n });
  });

  it("appending builds Go's stored hashes, and tree hashes match", async () => {
    const ours = await build(log.records);
    assert.deepEqual(ours.map(formatHash), log.hashes);
    for (let n = 1; n <= log.records.length; n++) {
      assert.equal(formatHash(await treeHash(n, arrayHashReader(goHashes))), log.roots[n], `TreeHash(${n})`);
    }
  });

  it("[new] the empty tree hashes to SHA-256 of nothing, not v0.7.0's zeros", async () => {
    // Debian's x/mod v0.7.0 says all zeros; x/mod >= v0.19.0 and sum.golang.org say SHA-256("").
    assert.equal(log.roots[0], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert.equal(formatHash(EMPTY_TREE_HASH), vectors.sha256Empty);
    assert.equal(formatHash(await treeHash(0, arrayHashReader([]))), vectors.sha256Empty);
  });

  it("inclusion proofs equal Go's and check", async () => {
    const root = parseHash(log.roots[13]!);
    for (let n = 0; n < 13; n++) {
      const p = await proveRecord(13, n, arrayHashReader(goHashes));
      assert.deepEqual(p.map(formatHash), log.recordProofs[n]);
      checkRecord(p, 13, root, n, recordHash(log.records[n]!));
      rejects(() => checkRecord(p, 13, root, n, recordHash("forged\n")), "invalid-proof");
      rejects(() => checkRecord([...p, root], 13, root, n, recordHash(log.records[n]!)), "invalid-proof");
    }
    rejects(() => checkRecord([], 13, root, 13, root), "invalid-input");
  });

  it("consistency proofs equal Go's and check", async () => {
    const root = parseHash(log.roots[13]!);
    for (let n = 1; n <= 13; n++) {
      const p = await proveTree(13, n, arrayHashReader(goHashes));
      assert.deepEqual(p.map(formatHash), log.treeProofs[n - 1]);
      const old = parseHash(log.roots[n]!);
      checkTree(p, 13, root, n, old);
      if (n < 13) rejects(() => checkTree(p, 13, root, n, parseHash(log.roots[n + 1]!)), "invalid-proof");
    }
    rejects(() => checkTree([], 13, root, 0, root), "invalid-input");
  });
});

describe("tree notes and records", () => {
  const golden = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";

  it("formats and parses the golden tree of x/mod's tests", () => {
    const tree = { n: 123456789012, hash: parseHash(vectors.recordHash["hello world"]!) };
    assert.equal(formatTree(tree), golden);
    assert.deepEqual(parseTree(golden), tree);
    assert.deepEqual(parseTree(`${golden}JOE`), tree);
    assert.deepEqual(parseTree(`${golden}${"JOE\n".repeat(1000)}`), tree);
  });

  it("rejects malformed trees", () => {
    for (const bad of [
      `not-${golden}`,
      golden.replace("123456789012", "0xabcdef"),
      golden.replace("123456789012", "0123456789012"),
      golden.replace("123456789012", "+123456789012"),
    ]) {
      rejects(() => parseTree(bad), "malformed-tree");
    }
    rejects(() => parseTree(golden.replace("uwBb0=", "uwBTOOBIG=")), "malformed-tree");
    rejects(() => parseTree(golden.slice(0, -1)), "malformed-tree");
    rejects(() => parseTree(golden.replace("123456789012", "9007199254740993")), "too-large");
  });

  it("formats and parses lookup records", () => {
    assert.equal(
      Buffer.from(formatRecord(123456789012, "hello, world\n")).toString(),
      "123456789012\nhello, world\n\n",
    );
    for (const bad of ["", "hello\nworld", "hello\n\nworld\n", "hello\x01world\n"]) {
      rejects(() => formatRecord(1, bad), "malformed-record");
    }
    const r = parseRecord(Buffer.from("123456789012\nhello, world\n\njunk on end\x01\xff", "latin1"));
    assert.equal(r.id, 123456789012);
    assert.equal(Buffer.from(r.text).toString(), "hello, world\n");
    assert.deepEqual(Buffer.from(r.rest), Buffer.from("junk on end\x01\xff", "latin1"));
    for (const bad of [
      "not-123\nhello world\n\n",
      "123\nhello\x01world\n\n",
      "123\nhello world\n",
      "0x123\nhello world\n\n",
    ]) {
      rejects(() => parseRecord(Buffer.from(bad)), "malformed-record");
    }
    rejects(() => parseRecord(Buffer.from("123\nhello\xffworld\n\n", "latin1")), "malformed-record");
  });
});
