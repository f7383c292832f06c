/**
 * The one test suite every Storage backend runs (memory.test.ts, disk.test.ts,
 * later s3): each backend's own test file is a few lines that call
 * runStorageCompliance with a factory. Expected digests are computed here with
 * node:crypto directly, independently of the stores' own hashing code.
 */
import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { crc32 } from "node:zlib";
import { GoarkError } from "../errors.ts";
import { infoKey, latestKey, listKey, modKey, zipKey } from "./keys.ts";
import type { Storage } from "./storage.ts";

/**
 * A full garbage collection, so memory checks measure what is still held, not
 * how late the collector runs (it may leave tens of MiB of freed chunks).
 */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

export interface StorageHarness {
  storage: Storage;
  /** Closes the store and removes whatever it created. */
  cleanup(): Promise<void>;
}

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Deterministic pseudo-random bytes (AES-CTR over zeros), generated chunk by chunk. */
function* pseudoRandom(seed: string, total: number, chunk = 1 << 20): Generator<Buffer> {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunk);
  for (let left = total; left > 0; left -= chunk) {
    yield cipher.update(zeros.subarray(0, Math.min(chunk, left)));
  }
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof GoarkError, `expected a GoarkError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  };
}

const M = "example.com/Compliance/mod";
const ORIGIN = "https://proxy.example";

/** Registers the shared suite under `name`; `open` makes a fresh, empty store per test. */
export function runStorageCompliance(name: string, open: () => Promise<StorageHarness>): void {
  async function withStore(fn: (s: Storage) => Promise<void>): Promise<void> {
    const h = await open();
    try {
      await fn(h.storage);
    } finally {
      await h.cleanup();
    }
  }

  describe(`storage compliance: ${name}`, () => {
    it("round-trips bytes and metadata through stat, getBytes and openRead", () =>
      withStore(async (s) => {
        const key = modKey(M, "v1.2.3");
        const data = Buffer.from("module example.com/Compliance/mod\n\ngo 1.21\n");
        const fetchedAt = Date.UTC(2024, 0, 2, 3, 4, 5);
        const res = await s.putBytes(key, data, { origin: ORIGIN, fetchedAt, h1: "h1:abc=" });
        assert.equal(res.created, true);
        assert.equal(res.meta.sha256, sha(data));

        const st = await s.stat(key);
        assert.ok(st);
        assert.equal(st.size, data.length);
        assert.deepEqual(
          { sha256: st.meta.sha256, size: st.meta.size, h1: st.meta.h1, origin: st.meta.origin },
          { sha256: sha(data), size: data.length, h1: "h1:abc=", origin: ORIGIN },
        );
        assert.equal(st.meta.fetchedAt, fetchedAt);
        assert.equal(st.meta.crc32, crc32(data), "the record keeps the CRC-32 too");
        assert.deepEqual(await s.getBytes(key), data);
        const stream = await s.openRead(key);
        assert.ok(stream);
        assert.deepEqual(await readAll(stream), data);
      }));

    it("reads inclusive byte ranges", () =>
      withStore(async (s) => {
        const key = zipKey(M, "v1.0.0");
        const data = Buffer.concat([...pseudoRandom("ranges", 100_000)]);
        await s.putBytes(key, data, { origin: ORIGIN });
        for (const [start, end] of [
          [0, 0],
          [10, 19],
          [99_990, 99_999],
          [5, undefined],
          [undefined, 9],
        ] as const) {
          const range: { start?: number; end?: number } = {};
          if (start !== undefined) range.start = start;
          if (end !== undefined) range.end = end;
          const r = await s.openRead(key, range);
          assert.ok(r);
          assert.deepEqual(
            await readAll(r),
            data.subarray(start ?? 0, (end ?? data.length - 1) + 1),
            `${start}-${end}`,
          );
        }
      }));

    it("stores empty artefacts (an empty list means no tags)", () =>
      withStore(async (s) => {
        const key = listKey(M);
        await s.putBytes(key, new Uint8Array(0), { origin: ORIGIN });
        assert.equal((await s.stat(key))?.size, 0);
        assert.equal((await s.getBytes(key))?.length, 0);
        const r = await s.openRead(key);
        assert.ok(r);
        assert.equal((await readAll(r)).length, 0);
      }));

    it("keeps its own copy of the bytes a caller hands in", () =>
      withStore(async (s) => {
        const key = infoKey(M, "v1.0.0");
        const data = Buffer.from('{"Version":"v1.0.0"}');
        await s.putBytes(key, data, { origin: ORIGIN });
        data.fill(0x20);
        assert.equal((await s.getBytes(key))?.toString(), '{"Version":"v1.0.0"}');
      }));

    it("answers undefined / false for absent keys", () =>
      withStore(async (s) => {
        const key = zipKey(M, "v9.9.9");
        assert.equal(await s.stat(key), undefined);
        assert.equal(await s.getBytes(key), undefined);
        assert.equal(await s.openRead(key), undefined);
        assert.equal(await s.delete(key), false);
        // A directory in the layout is not an artefact.
        await s.putBytes(modKey(M, "v1.0.0"), Buffer.from("x"), { origin: ORIGIN });
        assert.equal(await s.stat("example.com/!compliance/mod/@v"), undefined);
      }));

    it("deletes artefacts and their metadata", () =>
      withStore(async (s) => {
        const key = zipKey(M, "v1.0.0");
        await s.putBytes(key, Buffer.from("zip bytes"), { origin: ORIGIN });
        assert.equal(await s.delete(key), true);
        assert.equal(await s.stat(key), undefined);
        assert.equal(await s.getBytes(key), undefined);
        assert.equal(await s.delete(key), false);
        // Deleted immutable keys may be stored again (prune, then refetch).
        const again = await s.putBytes(key, Buffer.from("zip bytes"), { origin: ORIGIN });
        assert.equal(again.created, true);
      }));

    it("never replaces a stored version: same bytes are a no-op, different bytes are refused", () =>
      withStore(async (s) => {
        for (const key of [infoKey(M, "v1.0.0"), modKey(M, "v1.0.0"), zipKey(M, "v1.0.0")]) {
          const first = await s.putBytes(key, Buffer.from("first"), { origin: ORIGIN, fetchedAt: 1000 });
          const same = await s.putBytes(key, Buffer.from("first"), { origin: "elsewhere", fetchedAt: 2000 });
          assert.equal(same.created, false);
          assert.deepEqual(same.meta, first.meta, "a no-op keeps the first record");
          await assert.rejects(
            s.putBytes(key, Buffer.from("second"), { origin: ORIGIN }),
            isCode("CHECKSUM_MISMATCH"),
          );
          const staged = await s.stage();
          await writeFile(staged.path, "third");
          await assert.rejects(s.commitStaged(key, staged, { origin: ORIGIN }), isCode("CHECKSUM_MISMATCH"));
          await staged.dispose();
          assert.equal((await s.getBytes(key))?.toString(), "first");
          assert.equal((await s.stat(key))?.meta.origin, ORIGIN);
        }
      }));

    it("replaces list and @latest answers", () =>
      withStore(async (s) => {
        for (const key of [listKey(M), latestKey(M)]) {
          await s.putBytes(key, Buffer.from("v1.0.0\n"), { origin: ORIGIN, fetchedAt: 1000 });
          const res = await s.putBytes(key, Buffer.from("v1.0.0\nv1.1.0\n"), {
            origin: "other",
            fetchedAt: 2000,
          });
          assert.equal(res.created, true);
          assert.equal((await s.getBytes(key))?.toString(), "v1.0.0\nv1.1.0\n");
          const st = await s.stat(key);
          assert.equal(st?.meta.sha256, sha(Buffer.from("v1.0.0\nv1.1.0\n")));
          assert.equal(st?.meta.fetchedAt, 2000);
          assert.equal(st?.meta.origin, "other");
        }
      }));

    it("refuses bytes that contradict the declared sha256 or size, storing nothing", () =>
      withStore(async (s) => {
        const key = modKey(M, "v1.0.0");
        const data = Buffer.from("module m\n");
        await assert.rejects(
          s.putBytes(key, data, { origin: ORIGIN, sha256: sha(Buffer.from("other")) }),
          isCode("CHECKSUM_MISMATCH"),
        );
        await assert.rejects(
          s.putBytes(key, data, { origin: ORIGIN, size: data.length + 1 }),
          isCode("CHECKSUM_MISMATCH"),
        );
        const staged = await s.stage();
        await writeFile(staged.path, data);
        await assert.rejects(
          s.commitStaged(key, staged, { origin: ORIGIN, sha256: "0".repeat(64) }),
          isCode("CHECKSUM_MISMATCH"),
        );
        await staged.dispose();
        assert.equal(await s.stat(key), undefined);
        const ok = await s.putBytes(key, data, {
          origin: ORIGIN,
          sha256: sha(data).toUpperCase(),
          size: data.length,
        });
        assert.equal(ok.created, true);
      }));

    it("commits staged files written through the stream or through the path", () =>
      withStore(async (s) => {
        const a = await s.stage();
        await pipeline(Readable.from([Buffer.from("streamed "), Buffer.from("zip")]), a.createWriteStream());
        const ra = await s.commitStaged(zipKey(M, "v1.0.0"), a, { origin: ORIGIN, h1: "h1:x=" });
        assert.equal(ra.created, true);
        assert.equal(ra.meta.sha256, sha(Buffer.from("streamed zip")));
        await a.dispose();
        assert.equal((await s.getBytes(zipKey(M, "v1.0.0")))?.toString(), "streamed zip");

        const b = await s.stage();
        await writeFile(b.path, "by path");
        await s.commitStaged(zipKey(M, "v1.0.1"), b, { origin: ORIGIN });
        assert.equal((await s.getBytes(zipKey(M, "v1.0.1")))?.toString(), "by path");

        // A stream asked to sync: the commit takes its digest as it is (batch and lone commits).
        const sz = await s.stage();
        await pipeline(
          Readable.from([Buffer.from("synced "), Buffer.from("zip")]),
          sz.createWriteStream({ sync: true }),
        );
        const sm = await s.stage();
        await pipeline(Readable.from([Buffer.from("synced mod")]), sm.createWriteStream({ sync: true }));
        const [rc, rd] = await s.commitStagedMany([
          {
            key: zipKey(M, "v1.0.9"),
            staged: sz,
            meta: { origin: ORIGIN, sha256: sha(Buffer.from("synced zip")) },
          },
          { key: modKey(M, "v1.0.9"), staged: sm, meta: { origin: ORIGIN } },
        ]);
        assert.ok(rc?.ok && rc.result.created && rc.result.meta.sha256 === sha(Buffer.from("synced zip")));
        assert.ok(rd?.ok && rd.result.meta.size === "synced mod".length);
        assert.equal((await s.getBytes(zipKey(M, "v1.0.9")))?.toString(), "synced zip");
        assert.equal((await s.getBytes(modKey(M, "v1.0.9")))?.toString(), "synced mod");
        assert.equal((await s.stat(zipKey(M, "v1.0.1")))?.meta.h1, undefined);
        // A staged file is used once.
        await assert.rejects(s.commitStaged(zipKey(M, "v1.0.2"), b, { origin: ORIGIN }), isCode("STORAGE"));
        await assert.rejects(
          s.commitStaged(
            zipKey(M, "v1.0.3"),
            {
              path: "/etc/hostname",
              createWriteStream: a.createWriteStream,
              write: a.write,
              dispose: async () => {},
            },
            { origin: ORIGIN },
          ),
          isCode("STORAGE"),
        );
        assert.equal(await s.stat(zipKey(M, "v1.0.3")), undefined);

        // Bytes in memory, written whole (synced or not), in a lone commit and in a batch.
        const w = await s.stage();
        await w.write(Buffer.from("written zip"));
        assert.equal(w.writtenDigest?.sha256, sha(Buffer.from("written zip")));
        const ws = await s.stage();
        await ws.write(Buffer.from("written mod"), { sync: true });
        // One write per staged file, whichever the form.
        await assert.rejects(w.write(Buffer.from("again")), isCode("STORAGE"));
        assert.throws(() => w.createWriteStream(), isCode("STORAGE"));
        const rw = await s.commitStaged(zipKey(M, "v1.0.7"), w, {
          origin: ORIGIN,
          sha256: sha(Buffer.from("written zip")),
        });
        assert.equal(rw.meta.crc32, crc32(Buffer.from("written zip")));
        const [rws] = await s.commitStagedMany([
          { key: modKey(M, "v1.0.7"), staged: ws, meta: { origin: ORIGIN } },
        ]);
        assert.ok(rws?.ok && rws.result.meta.size === "written mod".length);
        assert.equal((await s.getBytes(zipKey(M, "v1.0.7")))?.toString(), "written zip");
        assert.equal((await s.getBytes(modKey(M, "v1.0.7")))?.toString(), "written mod");
        await assert.rejects(w.write(Buffer.from("after commit")), isCode("STORAGE"));

        const c = await s.stage();
        await writeFile(c.path, "abandoned");
        await c.dispose();
        await c.dispose();
        await assert.rejects(writeFile(c.path, "x", { flag: "r+" }));
      }));

    it("commits a batch of staged files, each item on its own", () =>
      withStore(async (s) => {
        const stageWith = async (body: string) => {
          const st = await s.stage();
          await pipeline(Readable.from([Buffer.from(body)]), st.createWriteStream());
          return st;
        };
        await s.putBytes(zipKey(M, "v4.0.2"), Buffer.from("stored"), { origin: ORIGIN });
        await s.putBytes(zipKey(M, "v4.0.3"), Buffer.from("stored"), { origin: ORIGIN });
        await s.putBytes(listKey(M), Buffer.from("v0.1.0\n"), { origin: ORIGIN });
        const byPath = await s.stage();
        await writeFile(byPath.path, "by path");
        const items = [
          {
            key: zipKey(M, "v4.0.0"),
            staged: await stageWith("new zip"),
            meta: { origin: ORIGIN, h1: "h1:z=" },
          },
          { key: modKey(M, "v4.0.0"), staged: byPath, meta: { origin: ORIGIN } },
          { key: zipKey(M, "v4.0.2"), staged: await stageWith("stored"), meta: { origin: "other" } },
          { key: zipKey(M, "v4.0.3"), staged: await stageWith("different"), meta: { origin: ORIGIN } },
          {
            key: zipKey(M, "v4.0.4"),
            staged: await stageWith("lies"),
            meta: { origin: ORIGIN, sha256: sha(Buffer.from("other")) },
          },
          { key: listKey(M), staged: await stageWith("v4.0.0\n"), meta: { origin: ORIGIN } },
          {
            key: zipKey(M, "v4.0.5"),
            staged: {
              path: "/etc/hostname",
              createWriteStream: byPath.createWriteStream,
              write: byPath.write,
              dispose: async () => {},
            },
            meta: { origin: ORIGIN },
          },
        ];
        const published: number[] = [];
        const out = await s.commitStagedMany(items, { onPublished: (i) => void published.push(i) });
        assert.equal(out.length, items.length);
        const ok = (i: number) => {
          const o = out[i]!;
          assert.ok(o.ok, `item ${i}: ${o.ok ? "" : o.error.message}`);
          return o.result;
        };
        assert.equal(ok(0).created, true);
        assert.equal(ok(0).meta.sha256, sha(Buffer.from("new zip")));
        assert.equal(ok(0).meta.crc32, crc32(Buffer.from("new zip")), "the write stream's CRC-32 is kept");
        assert.equal((await s.stat(zipKey(M, "v4.0.0")))?.meta.h1, "h1:z=");
        assert.equal((await s.getBytes(modKey(M, "v4.0.0")))?.toString(), "by path");
        assert.equal(ok(2).created, false);
        assert.equal(ok(2).meta.origin, ORIGIN, "the stored record is kept");
        for (const i of [3, 4]) {
          const o = out[i]!;
          assert.ok(!o.ok);
          isCode("CHECKSUM_MISMATCH")(o.error);
        }
        assert.equal((await s.getBytes(zipKey(M, "v4.0.3")))?.toString(), "stored");
        assert.equal(await s.stat(zipKey(M, "v4.0.4")), undefined);
        assert.equal((await s.getBytes(listKey(M)))?.toString(), "v4.0.0\n");
        const bad = out[6]!;
        assert.ok(!bad.ok);
        isCode("STORAGE")(bad.error);
        assert.equal(await s.stat(zipKey(M, "v4.0.5")), undefined);
        assert.ok(published.includes(0) && published.includes(1) && published.includes(5), String(published));
        assert.ok(
          !published.includes(3) && !published.includes(4) && !published.includes(6),
          String(published),
        );
        // Every staged file was consumed.
        for (const item of items.slice(0, 6))
          await assert.rejects(writeFile(item.staged.path, "x", { flag: "r+" }));
        assert.deepEqual(await s.commitStagedMany([]), []);
      }));

    it("lets exactly one of many concurrent commits of a version win", () =>
      withStore(async (s) => {
        const key = zipKey(M, "v2.0.0+incompatible");
        const same = await Promise.all(
          Array.from({ length: 8 }, async (_, i) => {
            if (i % 2 === 0) return s.putBytes(key, Buffer.from("identical"), { origin: `o${i}` });
            const staged = await s.stage();
            await writeFile(staged.path, "identical");
            return s.commitStaged(key, staged, { origin: `o${i}` });
          }),
        );
        assert.equal(same.filter((r) => r.created).length, 1);
        assert.equal(new Set(same.map((r) => r.meta.origin)).size, 1, "all see the winner's record");

        const key2 = zipKey(M, "v3.0.0+incompatible");
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            s.putBytes(key2, Buffer.from(`variant ${i}`), { origin: ORIGIN }),
          ),
        );
        const won = outcomes.filter((o) => o.status === "fulfilled");
        assert.equal(won.length, 1);
        for (const o of outcomes) if (o.status === "rejected") isCode("CHECKSUM_MISMATCH")(o.reason);
        const stored = await s.getBytes(key2);
        assert.ok(stored);
        assert.equal(
          sha(stored),
          (won[0] as PromiseFulfilledResult<{ meta: { sha256: string } }>).value.meta.sha256,
        );
      }));

    it("keeps a replaceable key consistent under concurrent replacement", () =>
      withStore(async (s) => {
        const key = listKey(M);
        const bodies = Array.from({ length: 8 }, (_, i) => Buffer.from(`v1.${i}.0\n`.repeat(i + 1)));
        await Promise.all(bodies.map((b) => s.putBytes(key, b, { origin: ORIGIN })));
        const stored = await s.getBytes(key);
        assert.ok(stored);
        assert.ok(bodies.some((b) => b.equals(stored)));
        const st = await s.stat(key);
        assert.equal(st?.meta.sha256, sha(stored));
        assert.equal(st?.size, stored.length);
      }));

    it("rejects keys that could escape the store with InvalidPathError", () =>
      withStore(async (s) => {
        const hostile = [
          "",
          "..",
          "../x",
          "../../etc/passwd",
          "a/../../etc/passwd",
          "a/..",
          "a/./b",
          "./a",
          "/etc/passwd",
          "/",
          "a//b",
          "a/",
          "a\\..\\..\\b",
          "..\\x",
          "a\0b",
          "%2e%2e/x",
          "a/%2e%2e/%2e%2e/b",
          "%2fetc%2fpasswd",
          "..%2f..%2fetc",
          "a/\u2024\u2024/b",
          "Example.com/m/@v/list",
          ".tmp/x",
          "a/.hidden",
          "a/b.zip.meta",
          "C:/x",
          "a\nb",
          `${"a".repeat(300)}/x`,
        ];
        for (const key of hostile) {
          const label = JSON.stringify(key);
          await assert.rejects(s.stat(key), isCode("INVALID_PATH"), `stat ${label}`);
          await assert.rejects(s.getBytes(key), isCode("INVALID_PATH"), `getBytes ${label}`);
          await assert.rejects(s.openRead(key), isCode("INVALID_PATH"), `openRead ${label}`);
          await assert.rejects(
            s.putBytes(key, Buffer.from("x"), { origin: ORIGIN }),
            isCode("INVALID_PATH"),
            `put ${label}`,
          );
          await assert.rejects(s.delete(key), isCode("INVALID_PATH"), `delete ${label}`);
          const staged = await s.stage();
          await assert.rejects(
            s.commitStaged(key, staged, { origin: ORIGIN }),
            isCode("INVALID_PATH"),
            `commit ${label}`,
          );
          await staged.dispose();
          // "" (everything), "a/" and a name ending in .meta are fine as list prefixes.
          if (key !== "" && key !== "a/" && !key.endsWith(".meta")) {
            await assert.rejects(
              (async () => {
                for await (const _ of s.list(key)) break;
              })(),
              isCode("INVALID_PATH"),
              `list ${label}`,
            );
          }
        }
        const all: string[] = [];
        for await (const k of s.list("")) all.push(k);
        assert.deepEqual(all, []);
      }));

    it("lists keys by string prefix", () =>
      withStore(async (s) => {
        const keys = [
          listKey("example.com/a"),
          modKey("example.com/a", "v1.0.0"),
          zipKey("example.com/a", "v1.0.0"),
          infoKey("example.com/a", "v1.1.0"),
          latestKey("example.com/a"),
          modKey("example.com/a/sub", "v0.1.0"),
          modKey("example.com/ab", "v1.0.0"),
          modKey("example.org/Z", "v1.0.0"),
        ];
        for (const k of keys) await s.putBytes(k, Buffer.from(k), { origin: ORIGIN });
        const list = async (prefix: string) => {
          const out: string[] = [];
          for await (const k of s.list(prefix)) out.push(k);
          return out.sort();
        };
        assert.deepEqual(await list(""), [...keys].sort());
        assert.deepEqual(await list("example.com/a/@v/"), [
          "example.com/a/@v/list",
          "example.com/a/@v/v1.0.0.mod",
          "example.com/a/@v/v1.0.0.zip",
          "example.com/a/@v/v1.1.0.info",
        ]);
        assert.deepEqual(await list("example.com/a/@v/v1.0"), [
          "example.com/a/@v/v1.0.0.mod",
          "example.com/a/@v/v1.0.0.zip",
        ]);
        assert.deepEqual(await list("example.com/a/"), [
          "example.com/a/@latest",
          "example.com/a/@v/list",
          "example.com/a/@v/v1.0.0.mod",
          "example.com/a/@v/v1.0.0.zip",
          "example.com/a/@v/v1.1.0.info",
          "example.com/a/sub/@v/v0.1.0.mod",
        ]);
        assert.deepEqual((await list("example.com/a")).length, 7);
        assert.deepEqual(await list("example.org/"), ["example.org/!z/@v/v1.0.0.mod"]);
        assert.deepEqual(await list("nothing.example/"), []);
        await s.delete(zipKey("example.com/a", "v1.0.0"));
        assert.deepEqual(await list("example.com/a/@v/v1.0"), ["example.com/a/@v/v1.0.0.mod"]);
      }));

    it("records accesses with touch", () =>
      withStore(async (s) => {
        const key = infoKey(M, "v1.0.0");
        await s.putBytes(key, Buffer.from("{}"), { origin: ORIGIN });
        const before = Date.now();
        s.touch(key);
        const at = (await s.stat(key))?.meta.lastAccess;
        assert.ok(at !== undefined && at >= before, `lastAccess ${at} >= ${before}`);
        s.touch(zipKey(M, "v7.0.0")); // absent: ignored
      }));

    it("counts the bytes it holds", () =>
      withStore(async (s) => {
        assert.equal(await s.totalSize(), 0);
        await s.putBytes(modKey(M, "v1.0.0"), Buffer.alloc(100), { origin: ORIGIN });
        await s.putBytes(listKey(M), Buffer.alloc(10), { origin: ORIGIN });
        assert.equal(await s.totalSize(), 110);
        await s.putBytes(listKey(M), Buffer.alloc(30), { origin: ORIGIN });
        await s.putBytes(zipKey(M, "v1.0.0"), Buffer.alloc(1000), { origin: ORIGIN });
        assert.equal(await s.totalSize(), 1130);
        await s.delete(modKey(M, "v1.0.0"));
        assert.equal(await s.totalSize(), 1030);
      }));

    it("counts the artefacts it holds, replaced ones once", () =>
      withStore(async (s) => {
        assert.deepEqual(await s.usage(), { bytes: 0, objects: 0 });
        await s.putBytes(modKey(M, "v1.0.0"), Buffer.alloc(100), { origin: ORIGIN });
        await s.putBytes(listKey(M), Buffer.alloc(10), { origin: ORIGIN });
        assert.deepEqual(await s.usage(), { bytes: 110, objects: 2 });
        await s.putBytes(listKey(M), Buffer.alloc(30), { origin: ORIGIN });
        await s.putBytes(modKey(M, "v1.0.0"), Buffer.alloc(100), { origin: ORIGIN }); // identical: no-op
        const staged = await s.stage();
        await writeFile(staged.path, Buffer.alloc(1000));
        await s.commitStaged(zipKey(M, "v1.0.0"), staged, { origin: ORIGIN });
        assert.deepEqual(await s.usage(), { bytes: 1130, objects: 3 });
        await s.delete(modKey(M, "v1.0.0"));
        await s.delete(modKey(M, "v9.0.0")); // absent
        assert.deepEqual(await s.usage(), { bytes: 1030, objects: 2 });
      }));

    it("sweeps without touching live staged files or artefacts", () =>
      withStore(async (s) => {
        await s.putBytes(modKey(M, "v1.0.0"), Buffer.from("kept"), { origin: ORIGIN });
        const staged = await s.stage();
        await writeFile(staged.path, "in progress");
        const report = await s.sweep();
        assert.equal(report.tempRemoved, 0);
        assert.deepEqual(report.removed, []);
        await s.commitStaged(zipKey(M, "v1.0.0"), staged, { origin: ORIGIN });
        assert.equal((await s.getBytes(zipKey(M, "v1.0.0")))?.toString(), "in progress");
        assert.equal((await s.getBytes(modKey(M, "v1.0.0")))?.toString(), "kept");
      }));

    it("streams a 50 MB artefact in and out with bounded memory", { timeout: 120_000 }, () =>
      withStore(async (s) => {
        const total = 50 << 20;
        const key = zipKey(M, "v5.0.0");
        const expected = createHash("sha256");
        const staged = await s.stage();
        await pipeline(
          Readable.from(
            (function* () {
              for (const chunk of pseudoRandom("fifty", total)) {
                expected.update(chunk);
                yield chunk;
              }
            })(),
          ),
          staged.createWriteStream(),
        );
        const want = expected.digest("hex");
        const res = await s.commitStaged(key, staged, { origin: ORIGIN, sha256: want, size: total });
        assert.equal(res.meta.size, total);
        assert.equal((await s.stat(key))?.meta.sha256, want);

        collectGarbage();
        const baseline = process.memoryUsage().arrayBuffers;
        let peak = 0;
        const got = createHash("sha256");
        let size = 0;
        const r = await s.openRead(key);
        assert.ok(r);
        let n = 0;
        for await (const chunk of r) {
          got.update(chunk as Buffer);
          size += (chunk as Buffer).length;
          // Every few chunks: what is held once the garbage is gone (a reader keeping chunks would grow).
          if (++n % 8 === 0) {
            collectGarbage();
            peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
          }
        }
        assert.equal(size, total);
        assert.equal(got.digest("hex"), want);
        assert.ok(peak < 16 << 20, `reading held ${peak} bytes of external memory`);
      }),
    );
  });
}
