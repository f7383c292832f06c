import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { crc32 } from "node:zlib";
import { GoarkError } from "../errors.ts";
import { runStorageCompliance } from "./compliance.ts";
import { DiskStorage } from "./disk.ts";
import { infoKey, latestKey, listKey, modKey, zipKey } from "./keys.ts";

// syncfsBatch 1: every commitStagedMany takes the syncfs path (by default only large batches do).
for (const [name, opts] of [
  ["disk", {}],
  ["disk, blocking calls", { blockingCalls: true }],
  ["disk, syncfs for every batch", { syncfsBatch: 1 }],
] as const) {
  runStorageCompliance(name, async () => {
    const dir = await mkdtemp(join(tmpdir(), "goark-disk-"));
    const storage = await DiskStorage.open({ root: join(dir, "store"), ...opts });
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

async function tempRoot(): Promise<{ dir: string; root: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "goark-disk-"));
  return { dir, root: join(dir, "store"), done: () => rm(dir, { recursive: true, force: true }) };
}

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function filesUnder(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel === "" ? ent.name : `${rel}/${ent.name}`;
    if (ent.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

const M = "example.com/Disk/m";
const ORIGIN = "https://proxy.example";

describe("disk store", () => {
  it("lays out artefacts and records as plain files under the root", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root });
      await s.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN, h1: "h1:x=" });
      await s.putBytes(listKey(M), Buffer.from("v1.0.0\n"), { origin: ORIGIN });
      await s.putBytes(latestKey(M), Buffer.from('{"Version":"v1.0.0"}'), { origin: ORIGIN });
      assert.deepEqual(await filesUnder(t.root), [
        "example.com/!disk/m/@latest",
        "example.com/!disk/m/@latest.meta",
        "example.com/!disk/m/@v/list",
        "example.com/!disk/m/@v/list.meta",
        "example.com/!disk/m/@v/v1.0.0.mod",
        "example.com/!disk/m/@v/v1.0.0.mod.meta",
      ]);
      assert.equal(await readFile(join(t.root, "example.com/!disk/m/@v/v1.0.0.mod"), "utf8"), "module m\n");
      const record = JSON.parse(
        await readFile(join(t.root, "example.com/!disk/m/@v/v1.0.0.mod.meta"), "utf8"),
      );
      assert.equal(record.sha256, sha(Buffer.from("module m\n")));
      assert.equal(record.h1, "h1:x=");
      assert.equal(s.localPath(modKey(M, "v1.0.0")), join(t.root, "example.com/!disk/m/@v/v1.0.0.mod"));
      await s.close();
    } finally {
      await t.done();
    }
  });

  it("finds what an earlier process stored, records included", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root });
      await a.putBytes(zipKey(M, "v1.0.0"), Buffer.from("zip"), {
        origin: ORIGIN,
        h1: "h1:z=",
        fetchedAt: 1234,
      });
      await a.close();
      const b = await DiskStorage.open({ root: t.root });
      const st = await b.stat(zipKey(M, "v1.0.0"));
      assert.deepEqual(st?.meta, {
        sha256: sha(Buffer.from("zip")),
        size: 3,
        crc32: crc32(Buffer.from("zip")),
        h1: "h1:z=",
        origin: ORIGIN,
        fetchedAt: 1234,
      });
      await b.close();
    } finally {
      await t.done();
    }
  });

  it("loads with blocking calls exactly as with the thread pool: records, rebuilds, corrupt files dropped", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root });
      const big = Buffer.alloc(2 << 20, 3);
      await a.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN, h1: "h1:m=" });
      await a.putBytes(zipKey(M, "v1.0.0"), big, { origin: ORIGIN, h1: "h1:z=" });
      await a.putBytes(infoKey(M, "v1.0.0"), Buffer.from("{}"), { origin: ORIGIN });
      await a.putBytes(modKey(M, "v1.1.0"), Buffer.from("module m\n\n"), { origin: ORIGIN });
      await a.close();
      const base = join(t.root, "example.com/!disk/m/@v");
      await rm(join(base, "v1.0.0.info.meta"));
      await writeFile(join(base, "v1.1.0.mod"), "module x\n\n"); // same size, other bytes: corrupt
      const keys = [modKey(M, "v1.0.0"), zipKey(M, "v1.0.0"), infoKey(M, "v1.0.0"), modKey(M, "v1.1.0")];
      const seen: unknown[][] = [];
      for (const blockingCalls of [true, false]) {
        // Each pass on a fresh copy of the tree, so the first pass's repairs do not serve the second.
        const root = join(t.dir, `copy-${blockingCalls}`);
        await cp(t.root, root, { recursive: true });
        const s = await DiskStorage.open({ root, blockingCalls });
        const got: unknown[] = [];
        for (const key of keys) {
          const st = await s.stat(key);
          got.push(
            st === undefined
              ? undefined
              : { ...st.meta, fetchedAt: st.meta.origin === "unknown" ? 0 : st.meta.fetchedAt },
          );
        }
        got.push((await s.getBytes(modKey(M, "v1.0.0")))?.toString());
        seen.push(got);
        await s.close();
      }
      assert.deepEqual(seen[0], seen[1]);
      assert.equal(seen[0]![3], undefined, "the corrupt .mod is dropped");
      assert.equal((seen[0]![2] as { origin: string }).origin, "unknown", "the missing record is rebuilt");
      assert.equal((seen[0]![1] as { h1: string }).h1, "h1:z=");
    } finally {
      await t.done();
    }
  });

  it("rebuilds missing or unreadable records from the bytes", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root });
      const big = Buffer.alloc(3 << 20, 7);
      await a.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN });
      await a.putBytes(zipKey(M, "v1.0.0"), big, { origin: ORIGIN });
      await a.putBytes(infoKey(M, "v1.0.0"), Buffer.from("{}"), { origin: ORIGIN });
      await a.close();
      const base = join(t.root, "example.com/!disk/m/@v");
      await rm(join(base, "v1.0.0.mod.meta"));
      await rm(join(base, "v1.0.0.zip.meta"));
      await writeFile(join(base, "v1.0.0.info.meta"), "{not json");
      const mtime = new Date("2020-05-06T07:08:09Z");
      await utimes(join(base, "v1.0.0.mod"), mtime, mtime);
      const b = await DiskStorage.open({ root: t.root, smallObjectMax: 1 << 20 });
      const mod = await b.stat(modKey(M, "v1.0.0"));
      assert.deepEqual(mod?.meta, {
        sha256: sha(Buffer.from("module m\n")),
        size: 9,
        crc32: crc32(Buffer.from("module m\n")),
        origin: "unknown",
        fetchedAt: mtime.getTime(),
      });
      assert.equal((await b.stat(zipKey(M, "v1.0.0")))?.meta.sha256, sha(big));
      assert.equal((await b.stat(infoKey(M, "v1.0.0")))?.meta.sha256, sha(Buffer.from("{}")));
      // Rebuilt records were written back.
      const rec = JSON.parse(await readFile(join(base, "v1.0.0.zip.meta"), "utf8"));
      assert.equal(rec.sha256, sha(big));
      await b.close();
    } finally {
      await t.done();
    }
  });

  it("removes a stored version whose bytes contradict its record, and rebuilds a stale list record", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root });
      await a.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN });
      await a.putBytes(zipKey(M, "v1.0.0"), Buffer.alloc(2 << 20, 1), { origin: ORIGIN });
      await a.putBytes(listKey(M), Buffer.from("v1.0.0\n"), { origin: ORIGIN, fetchedAt: 5 });
      await a.close();
      const base = join(t.root, "example.com/!disk/m/@v");
      await writeFile(join(base, "v1.0.0.mod"), "module evil\n");
      await writeFile(join(base, "v1.0.0.zip"), Buffer.alloc(1 << 20, 1));
      await writeFile(join(base, "list"), "v1.0.0\nv1.1.0\n");
      const b = await DiskStorage.open({ root: t.root });
      assert.equal(await b.stat(modKey(M, "v1.0.0")), undefined);
      assert.equal(await b.getBytes(zipKey(M, "v1.0.0")), undefined);
      assert.deepEqual(
        (await filesUnder(base)).filter((f) => f.startsWith("v1.0.0")),
        [],
      );
      const list = await b.stat(listKey(M));
      assert.equal(list?.meta.sha256, sha(Buffer.from("v1.0.0\nv1.1.0\n")));
      assert.equal(list?.meta.origin, ORIGIN);
      await b.close();
    } finally {
      await t.done();
    }
  });

  it("keeps versions immutable between two stores sharing a tree", async () => {
    const t = await tempRoot();
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => DiskStorage.open({ root: t.root })));
      const key = zipKey(M, "v1.0.0");
      const outcomes = await Promise.allSettled(
        stores.map((s, i) => s.putBytes(key, Buffer.from(`variant ${i}`), { origin: ORIGIN })),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      assert.equal(won.length, 1, JSON.stringify(outcomes.map((o) => o.status)));
      for (const o of outcomes) {
        if (o.status === "rejected") {
          assert.ok(
            o.reason instanceof GoarkError && o.reason.code === "CHECKSUM_MISMATCH",
            String(o.reason),
          );
        }
      }
      const same = await Promise.all(
        stores.map((s) => s.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN })),
      );
      assert.equal(same.filter((r) => r.created).length, 1);
      const bytes = await Promise.all(stores.map((s) => s.getBytes(key)));
      assert.equal(new Set(bytes.map((b) => b?.toString())).size, 1);
      for (const s of stores) await s.close();
    } finally {
      await t.done();
    }
  });

  it("answers hot small artefacts from memory without touching the disk", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root });
      const key = infoKey(M, "v1.0.0");
      await s.putBytes(key, Buffer.from('{"Version":"v1.0.0"}'), { origin: ORIGIN });
      // A second process's view: loaded from disk on first use, memory after.
      const r = await DiskStorage.open({ root: t.root });
      assert.ok(await r.getBytes(key));
      await rename(t.root, `${t.root}.moved`);
      try {
        assert.equal((await s.stat(key))?.size, 20);
        assert.equal((await s.getBytes(key))?.toString(), '{"Version":"v1.0.0"}');
        assert.equal((await r.stat(key))?.size, 20);
        assert.equal((await r.getBytes(key))?.toString(), '{"Version":"v1.0.0"}');
      } finally {
        await rename(`${t.root}.moved`, t.root);
      }
      await s.close();
      await r.close();
    } finally {
      await t.done();
    }
  });

  it("bounds the memory cache by bytes and leaves large artefacts on disk", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root, memoryBytes: 1000, smallObjectMax: 400 });
      for (let i = 0; i < 5; i++) {
        await s.putBytes(modKey(M, `v1.0.${i}`), Buffer.alloc(300, i), { origin: ORIGIN });
      }
      await s.putBytes(zipKey(M, "v1.0.0"), Buffer.alloc(500, 9), { origin: ORIGIN });
      await rename(t.root, `${t.root}.moved`);
      try {
        // Only the last three small ones fit in 1000 bytes.
        assert.equal(await s.getBytes(modKey(M, "v1.0.0")).catch(() => "miss"), undefined);
        assert.equal((await s.getBytes(modKey(M, "v1.0.4")))?.[0], 4);
        assert.equal((await s.getBytes(modKey(M, "v1.0.3")))?.[0], 3);
        assert.equal((await s.getBytes(modKey(M, "v1.0.2")))?.[0], 2);
        assert.equal(await s.getBytes(zipKey(M, "v1.0.0")), undefined);
      } finally {
        await rename(`${t.root}.moved`, t.root);
      }
      await s.close();
    } finally {
      await t.done();
    }
  });

  it("reads ranges from files and from memory alike", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root, smallObjectMax: 1000 });
      const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
      const small = big.subarray(0, 800);
      await s.putBytes(zipKey(M, "v1.0.0"), big, { origin: ORIGIN });
      await s.putBytes(zipKey(M, "v1.0.1"), small, { origin: ORIGIN });
      for (const [key, data] of [
        [zipKey(M, "v1.0.0"), big],
        [zipKey(M, "v1.0.1"), small],
      ] as const) {
        for (const [start, end] of [
          [0, 0],
          [7, 99],
          [100, undefined],
          [undefined, 49],
        ] as const) {
          const range: { start?: number; end?: number } = {};
          if (start !== undefined) range.start = start;
          if (end !== undefined) range.end = end;
          const r = await s.openRead(key, range);
          assert.ok(r);
          const parts: Buffer[] = [];
          for await (const c of r) parts.push(c as Buffer);
          assert.deepEqual(Buffer.concat(parts), data.subarray(start ?? 0, (end ?? data.length - 1) + 1));
        }
      }
      await s.close();
    } finally {
      await t.done();
    }
  });

  it("streams with large reads", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root });
      const key = zipKey(M, "v1.0.0");
      await s.putBytes(key, Buffer.alloc(5 << 20, 3), { origin: ORIGIN });
      const r = await s.openRead(key);
      assert.ok(r);
      const sizes: number[] = [];
      for await (const chunk of r) sizes.push((chunk as Buffer).length);
      assert.deepEqual(sizes, [1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20]);
      await s.close();
    } finally {
      await t.done();
    }
  });

  it("sweeps temp files of dead and long-gone writers only", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root });
      const live = await s.stage();
      const tmp = join(t.root, ".tmp");
      const ours = basename(live.path).split("-")[0]!;
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
      const alive = process.ppid;
      await writeFile(join(tmp, `${ours}-${dead}-00ff.stage`), "x");
      await writeFile(join(tmp, `${ours}-${alive}-00ff.stage`), "x");
      await writeFile(join(tmp, `${ours}-${process.pid}-00aa.put`), "x");
      await writeFile(join(tmp, "0badc0de-1-00ff.meta"), "x");
      await writeFile(join(tmp, "0badc0de-2-00ff.meta"), "x");
      const old = new Date(Date.now() - 2 * 86_400_000);
      await utimes(join(tmp, "0badc0de-2-00ff.meta"), old, old);
      await writeFile(join(tmp, "junk"), "x");
      await utimes(join(tmp, "junk"), old, old);
      const report = await s.sweep();
      assert.equal(report.tempRemoved, 4);
      assert.deepEqual(
        (await readdir(tmp)).sort(),
        [basename(live.path), `${ours}-${alive}-00ff.stage`, "0badc0de-1-00ff.meta"].sort(),
      );
      await live.dispose();
      await s.close();
    } finally {
      await t.done();
    }
  });

  it("deep sweep checks the whole tree", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root, smallObjectMax: 16 });
      await a.putBytes(zipKey(M, "v1.0.0"), Buffer.alloc(1000, 1), { origin: ORIGIN });
      await a.putBytes(zipKey(M, "v1.0.1"), Buffer.alloc(1000, 1), { origin: ORIGIN });
      await a.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN });
      await a.putBytes(listKey(M), Buffer.from("v1.0.0\n"), { origin: ORIGIN });
      await a.close();
      const base = join(t.root, "example.com/!disk/m/@v");
      // Same size, different bytes: only a hash check sees it.
      await writeFile(join(base, "v1.0.1.zip"), Buffer.alloc(1000, 2));
      await rm(join(base, "v1.0.0.mod.meta"));
      await writeFile(join(base, "v9.0.0.info.meta"), "{}");
      await writeFile(join(base, "v1.0.0.ziphash"), "h1:foreign=");

      const b = await DiskStorage.open({ root: t.root, smallObjectMax: 16 });
      const shallow = await b.sweep({ deep: true });
      assert.deepEqual(shallow.removed, []);
      assert.equal(shallow.metaRebuilt, 2); // the .mod, and the go command's .ziphash
      assert.equal(shallow.orphanMetaRemoved, 1);
      assert.equal(shallow.scanned, 5);
      const deep = await b.sweep({ deep: true, verifyHashes: true });
      assert.deepEqual(deep.removed, [zipKey(M, "v1.0.1")]);
      assert.equal(await b.stat(zipKey(M, "v1.0.1")), undefined);
      assert.equal(await b.totalSize(), 1000 + 9 + 7 + 11);
      assert.deepEqual(await b.usage(), { bytes: 1000 + 9 + 7 + 11, objects: 4 });
      await b.close();
    } finally {
      await t.done();
    }
  });

  it("counts a reopened store once, by walking it, then keeps running totals", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root });
      await a.putBytes(zipKey(M, "v1.0.0"), Buffer.alloc(500), { origin: ORIGIN });
      await a.putBytes(modKey(M, "v1.0.0"), Buffer.from("module m\n"), { origin: ORIGIN });
      await a.close();
      const b = await DiskStorage.open({ root: t.root });
      assert.deepEqual(await b.usage(), { bytes: 509, objects: 2 });
      await b.putBytes(listKey(M), Buffer.from("v1.0.0\nv1.1.0\n"), { origin: ORIGIN });
      await b.delete(zipKey(M, "v1.0.0"));
      assert.deepEqual(await b.usage(), { bytes: 9 + 14, objects: 2 });
      await b.putBytes(listKey(M), Buffer.from("v1.0.0\n"), { origin: ORIGIN });
      assert.deepEqual(await b.usage(), { bytes: 9 + 7, objects: 2 });
      await b.close();
    } finally {
      await t.done();
    }
  });

  it("persists access times in batches, coarsely", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root, accessGranularityMs: 0, accessFlushMs: 10 });
      const key = modKey(M, "v1.0.0");
      await s.putBytes(key, Buffer.from("module m\n"), { origin: ORIGIN });
      const metaFile = join(t.root, "example.com/!disk/m/@v/v1.0.0.mod.meta");
      const before = await readFile(metaFile, "utf8");
      s.touch(key);
      const at = (await s.stat(key))?.meta.lastAccess;
      assert.equal(await readFile(metaFile, "utf8"), before, "touch itself writes nothing");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(JSON.parse(await readFile(metaFile, "utf8")).lastAccess, at);
      await s.close();

      const coarse = await DiskStorage.open({ root: t.root, accessFlushMs: 10 });
      await coarse.stat(key);
      coarse.touch(key); // first persisted access: written
      await coarse.flushAccess();
      const first = JSON.parse(await readFile(metaFile, "utf8")).lastAccess;
      coarse.touch(key); // within the hour: memory only
      await coarse.close();
      assert.equal(JSON.parse(await readFile(metaFile, "utf8")).lastAccess, first);
    } finally {
      await t.done();
    }
  });

  it("commits a large batch with syncfs, and file by file where syncfs is unavailable", async () => {
    const t = await tempRoot();
    try {
      const script = join(import.meta.dirname, "../../test/helpers/commit-batch-child.ts");
      const run = (root: string, path: string | undefined) => {
        const env = { ...process.env };
        if (path !== undefined) env.PATH = path;
        const r = spawnSync(process.execPath, ["--import", "tsx", script, root, "40"], {
          env,
          encoding: "utf8",
          timeout: 60_000,
        });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout.trim()) as { syncfs: boolean; ok: boolean[]; read: string[] };
      };
      const want = Array.from({ length: 40 }, (_, i) => `{"Version":"v1.0.${i}"}`);
      const withSync = run(join(t.dir, "a"), undefined);
      assert.equal(withSync.syncfs, process.platform === "linux", "sync -f works here");
      assert.deepEqual(withSync.read, want);
      assert.ok(withSync.ok.every(Boolean));
      // No `sync` on the PATH: the batch falls back to an fsync per file and directory, and lands the same.
      const without = run(join(t.dir, "b"), join(t.dir, "no-such-dir"));
      assert.equal(without.syncfs, false);
      assert.deepEqual(without.read, want);
      assert.ok(without.ok.every(Boolean));
      for (const sub of ["a", "b"])
        assert.deepEqual(await readdir(join(t.dir, sub, ".tmp")), [], `${sub}: no temp files left`);
    } finally {
      await t.done();
    }
  });

  it("a commit of a key stored but not yet loaded compares with the stored bytes, and replaces bytes that contradict their record", async () => {
    const t = await tempRoot();
    try {
      const a = await DiskStorage.open({ root: t.root });
      const good = Buffer.from("zip bytes, stored first");
      await a.putBytes(zipKey(M, "v1.0.0"), good, { origin: ORIGIN });
      await a.putBytes(zipKey(M, "v1.0.1"), good, { origin: ORIGIN });
      await a.close();
      // Behind the store's back: v1.0.1's file no longer matches its record.
      await writeFile(join(t.root, zipKey(M, "v1.0.1")), Buffer.from("zip bytes, changed later"));
      const b = await DiskStorage.open({ root: t.root });
      const stage = async (data: Buffer) => {
        const staged = await b.stage();
        await writeFile(staged.path, data);
        return staged;
      };
      const items = [
        { key: zipKey(M, "v1.0.0"), staged: await stage(good), meta: { origin: ORIGIN } },
        { key: zipKey(M, "v1.0.1"), staged: await stage(good), meta: { origin: ORIGIN } },
      ];
      const [same, replaced] = await b.commitStagedMany(items);
      assert.ok(same?.ok && !same.result.created, "identical bytes already stored: nothing written");
      assert.ok(replaced?.ok && replaced.result.created, "the contradicted file was replaced");
      assert.deepEqual(await readFile(join(t.root, zipKey(M, "v1.0.1"))), good);
      const other = await b
        .commitStaged(zipKey(M, "v1.0.0"), await stage(Buffer.from("other bytes")), {
          origin: ORIGIN,
        })
        .catch((err: unknown) => err);
      assert.ok(other instanceof GoarkError && other.code === "CHECKSUM_MISMATCH", String(other));
      assert.deepEqual(await readdir(join(t.root, ".tmp")), []);
      await b.close();
    } finally {
      await t.done();
    }
  });

  it("reports a staged commit into a path that is a directory as a storage error", async () => {
    const t = await tempRoot();
    try {
      const s = await DiskStorage.open({ root: t.root });
      await mkdir(join(t.root, "example.com/!disk/m/@v/list"), { recursive: true });
      await assert.rejects(
        s.putBytes(listKey(M), Buffer.from("v1.0.0\n"), { origin: ORIGIN }),
        (err: unknown) => err instanceof GoarkError && err.code === "STORAGE",
      );
      assert.deepEqual(await readdir(join(t.root, ".tmp")), []);
      await s.close();
    } finally {
      await t.done();
    }
  });
});
