/**
 * goark's own checksum-database log (src/sumdb/log-store.ts): its hash tiles
 * and tree hashes equal what golang.org/x/mod/sumdb/tlog computes over the
 * same records (the Go oracle), its lookups and tiles verify through goark's
 * client, it survives a crash at every write of an append, and concurrent
 * appends get distinct ids under one signed head.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChecksumMismatchError, NotFoundError, StorageError } from "../src/errors.ts";
import { MemoryStorage } from "../src/storage/memory.ts";
import type { PutMeta } from "../src/storage/storage.ts";
import { SumdbClient, type SumdbClientOps } from "../src/sumdb/client.ts";
import { type LogStorage, LogStore } from "../src/sumdb/log-store.ts";
import { generateKey, parseSignerKey, parseVerifierKey } from "../src/sumdb/note.ts";
import { formatTilePath, newTiles, parseDataTile } from "../src/sumdb/tile.ts";
import { formatHash } from "../src/sumdb/tlog.ts";
import { type Oracle, startOracle } from "./helpers/oracle.ts";

const keys = generateKey("goark.test/sumdb", new Uint8Array(32).fill(7));
const signer = parseSignerKey(keys.signerKey);
const verifier = parseVerifierKey(keys.verifierKey);

function record(i: number, salt = ""): [string, string, string] {
  const path = `example.com/log/m${i}`;
  const version = `v1.${i % 7}.0`;
  const h = Buffer.alloc(32, (i * 31 + salt.length) & 0xff).toString("base64");
  return [path, version, `${path} ${version} h1:${h}\n${path} ${version}/go.mod h1:${h}\n`];
}

/** A client reading straight from the log (what goark's /sumdb/<name>/ routes will serve). */
function clientOf(log: LogStore | (() => LogStore)): SumdbClient {
  const current = typeof log === "function" ? log : () => log;
  const ops: SumdbClientOps = {
    async readRemote(path) {
      const log = current();
      if (path === "/latest") return log.latest;
      if (path.startsWith("/tile/")) return log.tile(path.slice(1));
      const m = /^\/lookup\/(.+)@(.+)$/.exec(path);
      if (!m) throw new NotFoundError(path);
      return log.lookup(m[1]!, m[2]!);
    },
    async loadLatest() {
      return undefined;
    },
    async saveLatest() {},
  };
  return new SumdbClient({ verifierKey: keys.verifierKey, ops });
}

let oracle: Oracle;
before(async () => {
  oracle = await startOracle();
});
after(async () => {
  await oracle?.close();
});

describe("goark's checksum database log", () => {
  it("stores x/mod's tiles and tree hashes, in batches of any size", async () => {
    const storage = new MemoryStorage();
    const log = await LogStore.open({ storage, signer, verifier });
    const records: string[] = [];
    let i = 0;
    // Batches of different sizes, crossing tile boundaries at levels 0 and 1.
    for (const size of [1, 2, 5, 250, 1, 3, 300, 17]) {
      const batch = Array.from({ length: size }, () => record(i++));
      await Promise.all(batch.map(([p, v, t]) => log.add(p, v, t)));
      records.push(...batch.map(([, , t]) => t));
    }
    const n = records.length;
    assert.equal(log.head.n, n);
    const built = await oracle.ask<{ roots: string[] }>("tlog.Build", [records]);
    assert.equal(formatHash(log.head.hash), built.v!.roots[n]);
    // Every hash tile of the final tree, byte for byte.
    const tiles = newTiles(8, 0, n).filter(
      (t) => t.w === 256 || t.w === Math.min(256, Math.floor(n / 256 ** t.l) - t.n * 256),
    );
    for (const t of tiles) {
      const path = formatTilePath(t);
      const want = await oracle.ask<string>("tlog.ReadTileData", [records, t.h, t.l, t.n, t.w]);
      assert.equal(Buffer.from(await log.tile(path)).toString("base64"), want.v, path);
      // [new] data tiles: record texts and blank lines, no ids.
      if (t.l === 0) {
        const data = parseDataTile(await log.tile(formatTilePath({ ...t, l: -1 })));
        assert.deepEqual(
          data.map((r) => Buffer.from(r).toString()),
          records.slice(t.n * 256, t.n * 256 + t.w),
        );
      }
    }
    await assert.rejects(log.tile("tile/8/0/005"), (e: unknown) => e instanceof NotFoundError);
  });

  it("serves lookups that goark's client verifies, and keeps records immutable", async () => {
    const log = await LogStore.open({ storage: new MemoryStorage(), signer, verifier });
    const recs = Array.from({ length: 300 }, (_, i) => record(i));
    for (const [p, v, t] of recs.slice(0, 100)) await log.add(p, v, t);
    await Promise.all(recs.slice(100).map(([p, v, t]) => log.add(p, v, t)));
    const client = clientOf(log);
    for (const [p, v, t] of recs) {
      assert.deepEqual(await client.lookup(p, v), [t.split("\n")[0]]);
    }
    // Adding the same record again is a no-op; a different one is refused.
    const [p, v, t] = recs[5]!;
    assert.equal(await log.add(p, v, t), 5);
    await assert.rejects(
      log.add(p, v, record(5, "other")[2]),
      (e: unknown) => e instanceof ChecksumMismatchError,
    );
    assert.equal(log.head.n, 300);
    await assert.rejects(
      log.lookup("example.com/nope", "v1.0.0"),
      (e: unknown) => e instanceof NotFoundError,
    );
  });

  it("is consistent after a crash at any write of an append, and goes on", async () => {
    // Count the writes one append of 3 records makes after 40 records.
    const probe = new FlakyStorage();
    const plog = await LogStore.open({ storage: probe, signer, verifier });
    for (let i = 0; i < 40; i++) await plog.add(...record(i));
    const before = probe.writes;
    await Promise.all([40, 41, 42].map((i) => plog.add(...record(i))));
    const perAppend = probe.writes - before;
    assert.ok(perAppend > 3);

    for (let crashAt = 0; crashAt < perAppend; crashAt++) {
      const storage = new FlakyStorage();
      const log = await LogStore.open({ storage, signer, verifier });
      for (let i = 0; i < 40; i++) await log.add(...record(i));
      let serving = log;
      const client = clientOf(() => serving);
      await client.refresh();
      storage.failAfter = crashAt;
      const results = await Promise.allSettled([40, 41, 42].map((i) => log.add(...record(i, "crashed"))));
      assert.ok(
        results.some((r) => r.status === "rejected"),
        `crash at write ${crashAt}`,
      );
      storage.failAfter = undefined;
      // "Restart": reopen from storage; the head is the old one (nothing half-visible).
      const reopened = await LogStore.open({ storage, signer, verifier });
      assert.equal(reopened.head.n, 40, `crash at write ${crashAt}`);
      for (const i of [40, 41, 42]) assert.equal(await reopened.find(record(i)[0], record(i)[1]), undefined);
      // Other records take the ids the crash left behind; everything verifies,
      // and the new head extends the one the client saw before the crash.
      for (const i of [43, 44, 40]) await reopened.add(...record(i));
      const after = clientOf(reopened);
      for (const i of [0, 39, 43, 44, 40]) {
        const [p, v, t] = record(i);
        assert.deepEqual(await after.lookup(p, v), [t.split("\n")[0]]);
      }
      assert.equal(await reopened.find(record(41)[0], record(41)[1]), undefined);
      serving = reopened;
      await client.refresh();
      assert.equal((await client.latest()).n, 43);
    }
  });

  it("concurrent appends get distinct ids under one head", async () => {
    const log = await LogStore.open({ storage: new MemoryStorage(), signer, verifier });
    const recs = Array.from({ length: 500 }, (_, i) => record(i));
    const ids = await Promise.all(recs.map(([p, v, t]) => log.add(p, v, t)));
    assert.equal(new Set(ids).size, 500);
    assert.equal(log.head.n, 500);
    const again = await Promise.all(recs.map(([p, v, t]) => log.add(p, v, t)));
    assert.deepEqual(again, ids);
  });
});

/** Memory storage whose putBytes fails (like a killed process) after failAfter more writes. */
class FlakyStorage implements LogStorage {
  private readonly inner = new MemoryStorage();
  writes = 0;
  failAfter: number | undefined;

  getBytes(key: string) {
    return this.inner.getBytes(key);
  }

  putBytes(key: string, data: Uint8Array, meta: PutMeta) {
    if (this.failAfter !== undefined) {
      if (this.failAfter === 0) return Promise.reject(new StorageError(`simulated crash writing ${key}`));
      this.failAfter--;
    }
    this.writes++;
    return this.inner.putBytes(key, data, meta);
  }
}
