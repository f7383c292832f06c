import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { buildTar, filesIn, readTar, snapshotTree } from "../../test/helpers/store-snapshot.ts";
import { storeVersion } from "../../test/helpers/stored-module.ts";
import { GoarkError } from "../errors.ts";
import { hashGoMod, hashZip } from "../module/dirhash.ts";
import { DiskStorage } from "../storage/disk.ts";
import { listKey, modKey, zipKey } from "../storage/keys.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { STORED_LIST_ORIGIN } from "../store-ops/version-list.ts";
import { importDownloadCache } from "./download-cache.ts";
import { exportBundle } from "./export.ts";
import { exportDir } from "./export-dir.ts";
import type { BundleExtension } from "./extension.ts";
import { importBundle, readBundleManifest } from "./import.ts";
import { formatManifest, MANIFEST_NAME, parseManifest } from "./manifest.ts";

let base: string;
let n = 0;
async function freshDir(): Promise<string> {
  return join(base, `d${n++}`);
}
async function freshStore(): Promise<DiskStorage> {
  return DiskStorage.open({ root: await freshDir() });
}

/** A store with a handful of versions: upper case paths, /v2 with a pseudo-version, a go.mod-only version, a dependency graph. */
async function sampleStore(): Promise<DiskStorage> {
  const s = await freshStore();
  await storeVersion(s, {
    module: "example.com/app-dep",
    version: "v1.2.0",
    files: {
      "go.mod": "module example.com/app-dep\n\ngo 1.19\n\nrequire example.com/Upper v1.0.0\n",
      "dep.go": "package dep\n",
    },
  });
  await storeVersion(s, { module: "example.com/Upper", version: "v1.0.0" });
  await storeVersion(s, { module: "example.com/Upper", version: "v1.1.0", noZip: true });
  await storeVersion(s, { module: "example.com/other/v2", version: "v2.0.0-20230101000000-abcdefabcdef" });
  await storeVersion(s, { module: "corp.internal/secret", version: "v0.1.0" });
  return s;
}

async function exportToBuffer(s: DiskStorage, opts: Parameters<typeof exportBundle>[2]): Promise<Buffer> {
  const file = join(await freshDir(), "..", `b${n++}.tar`);
  await exportBundle(s, file, opts);
  return readFile(file);
}

async function importBuffer(s: DiskStorage, data: Buffer, opts: Parameters<typeof importBundle>[2] = {}) {
  return importBundle(s, Readable.from([data]), { name: "test-bundle", ...opts });
}

/** How a bundle reaches import: as a stream (tar-stream's path), or as a file (read by position when plain tar). */
type Via = "stream" | "file";

async function importVia(
  via: Via,
  s: DiskStorage,
  data: Buffer,
  opts: Parameters<typeof importBundle>[2] = {},
) {
  if (via === "stream") return importBuffer(s, data, opts);
  const file = join(base, `in${n++}.tar`);
  await writeFile(file, data);
  try {
    return await importBundle(s, file, { name: "test-bundle", ...opts });
  } finally {
    await rm(file, { force: true });
  }
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

async function expectUnchanged(
  s: DiskStorage,
  fn: () => Promise<unknown>,
  code: string | RegExp,
): Promise<GoarkError> {
  const before = await snapshotTree(s.root);
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GoarkError, `expected a GoarkError, got ${String(caught)}`);
  if (typeof code === "string") assert.equal(caught.code, code, caught.message);
  else assert.match(caught.message, code);
  assert.ok(!caught.message.includes("\n"), "one-line error");
  assert.deepEqual(await snapshotTree(s.root), before, "the store must be as it was");
  assert.deepEqual(await filesIn(join(s.root, ".tmp")), [], "no staged files left");
  return caught;
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), "goark-bundle-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("export and import", () => {
  test("round trip: every file lands byte for byte, lists are rebuilt, a second import changes nothing", async () => {
    const a = await sampleStore();
    const bundle = await exportToBuffer(a, { select: { kind: "all" } });
    const b = await freshStore();
    const r = await importBuffer(b, bundle);
    assert.equal(r.added.length, 5);
    assert.deepEqual(r.rejected, []);
    assert.equal(r.filesCreated, 14);
    const want = await snapshotTree(a.root);
    const got = await snapshotTree(b.root);
    for (const [path, digest] of want) {
      if (path.endsWith(".meta")) continue;
      assert.equal(got.get(path), digest, path);
    }
    // Lists: tagged versions with a .mod, as the go command writes them; none for a pseudo-only module.
    assert.equal((await b.getBytes(listKey("example.com/Upper")))?.toString(), "v1.0.0\nv1.1.0\n");
    assert.equal((await b.stat(listKey("example.com/Upper")))?.meta.origin, STORED_LIST_ORIGIN);
    assert.equal(await b.stat(listKey("example.com/other/v2")), undefined);
    assert.equal((await b.stat(zipKey("example.com/Upper", "v1.0.0")))?.meta.origin, "import:test-bundle");
    // h1 records agree with hashes computed from the bytes.
    const zipMeta = (await b.stat(zipKey("example.com/Upper", "v1.0.0")))!.meta;
    assert.equal(zipMeta.h1, await hashZip(b.localPath(zipKey("example.com/Upper", "v1.0.0"))!));
    const mod = (await b.getBytes(modKey("example.com/Upper", "v1.0.0")))!;
    assert.equal((await b.stat(modKey("example.com/Upper", "v1.0.0")))!.meta.h1, hashGoMod(mod));

    const before = await snapshotTree(b.root);
    const again = await importBuffer(b, bundle);
    assert.equal(again.added.length, 0);
    assert.equal(again.present.length, 5);
    assert.equal(again.filesCreated, 0);
    assert.deepEqual(await snapshotTree(b.root), before);
  });

  test("deterministic: same content gives the same bytes, from the same store and from a copy of it", async () => {
    const a = await sampleStore();
    const one = await exportToBuffer(a, { select: { kind: "all" } });
    const two = await exportToBuffer(a, { select: { kind: "all" } });
    assert.equal(sha(one), sha(two));
    const b = await freshStore();
    await importBuffer(b, one);
    const three = await exportToBuffer(b, { select: { kind: "all" } });
    assert.equal(sha(three), sha(one), "a store filled by import exports the same bundle");
    const gz1 = await exportToBuffer(a, { select: { kind: "all" }, format: "tar.gz" });
    const gz2 = await exportToBuffer(b, { select: { kind: "all" }, format: "tar.gz" });
    assert.equal(sha(gz1), sha(gz2));
    // The manifest is the first entry and every entry has fixed metadata.
    const entries = await readTar(one);
    assert.equal(entries[0]!.name, MANIFEST_NAME);
    const m = parseManifest(entries[0]!.data);
    assert.deepEqual(
      entries.slice(1).map((e) => e.name),
      m.files.map((f) => f.key),
    );
    assert.equal(m.createdAt, undefined, "no clock in the bundle unless asked for");
  });

  test("gzip bundles are recognised by their magic number", async () => {
    const a = await sampleStore();
    const gz = await exportToBuffer(a, { select: { kind: "all" }, format: "tar.gz" });
    assert.equal(gz[0], 0x1f);
    const b = await freshStore();
    const r = await importBuffer(b, gz);
    assert.equal(r.added.length, 5);
  });

  test("selection by module pattern (GOPRIVATE syntax)", async () => {
    const a = await sampleStore();
    const m = parseManifest(
      (
        await readTar(
          await exportToBuffer(a, {
            select: { kind: "modules", patterns: ["corp.internal", "example.com/Upper"] },
          }),
        )
      )[0]!.data,
    );
    assert.deepEqual(
      m.versions.map((v) => `${v.module}@${v.version}`),
      ["corp.internal/secret@v0.1.0", "example.com/Upper@v1.0.0", "example.com/Upper@v1.1.0"],
    );
    const m2 = parseManifest(
      (await readTar(await exportToBuffer(a, { select: { kind: "modules", patterns: ["*.internal"] } })))[0]!
        .data,
    );
    assert.deepEqual(
      m2.versions.map((v) => v.module),
      ["corp.internal/secret"],
    );
  });

  test("selection by go.mod: the requirement closure over the store, missing versions reported", async () => {
    const a = await sampleStore();
    const gomod =
      "module example.com/main\n\ngo 1.19\n\nrequire (\n\texample.com/app-dep v1.2.0\n\texample.com/absent v0.0.1\n)\n";
    const file = join(base, "bundle-gomod.tar");
    const report = await exportBundle(a, file, {
      select: { kind: "gomod", files: [{ name: "go.mod", data: gomod }] },
    });
    assert.deepEqual(
      report.manifest.versions.map((v) => `${v.module}@${v.version}`),
      // module.Sort order: byte order of paths ("U" < "a").
      ["example.com/Upper@v1.0.0", "example.com/app-dep@v1.2.0"],
    );
    assert.deepEqual(
      report.missing.map((m) => `${m.module}@${m.version} ${m.requiredBy}`),
      ["example.com/absent@v0.0.1 go.mod"],
    );
  });

  test("incremental bundles: --since-bundle and --since carry only what is new", async () => {
    const a = await sampleStore();
    const oldFile = join(base, "old.tar");
    await exportBundle(a, oldFile, { select: { kind: "all" } });
    const t = Date.now();
    await storeVersion(a, { module: "example.com/Upper", version: "v1.2.0", fetchedAt: t + 1000 });
    // A zip fetched later for a version the old bundle carried without one.
    await storeVersion(a, { module: "example.com/Upper", version: "v1.1.0" }).catch(() => undefined);
    const oldManifest = await readBundleManifest(oldFile);
    const inc = await exportToBuffer(a, { select: { kind: "all" }, sinceManifest: oldManifest });
    const m = parseManifest((await readTar(inc))[0]!.data);
    assert.deepEqual(
      m.versions.map((v) => `${v.module}@${v.version}:${v.files.join("+")}`),
      ["example.com/Upper@v1.1.0:zip+mod+info", "example.com/Upper@v1.2.0:zip+mod+info"],
    );
    const since = await exportToBuffer(a, { select: { kind: "all" }, since: new Date(t + 500) });
    assert.deepEqual(
      parseManifest((await readTar(since))[0]!.data).versions.map((v) => v.version),
      ["v1.2.0"],
    );
    // Old + incremental into an empty store gives everything.
    const b = await freshStore();
    await importBundle(b, oldFile);
    const r = await importBuffer(b, inc);
    assert.equal(r.added.length, 2);
    assert.equal((await b.getBytes(listKey("example.com/Upper")))?.toString(), "v1.0.0\nv1.1.0\nv1.2.0\n");
  });

  test("a store whose records lack h1 (a plain tree opened as a store) exports the hashes computed from the bytes", async () => {
    const a = await sampleStore();
    const want = parseManifest(
      (await readTar(await exportToBuffer(a, { select: { kind: "all" } })))[0]!.data,
    );
    const dir = await freshDir();
    await exportDir(a, dir, { select: { kind: "all" } });
    const plain = await DiskStorage.open({ root: dir });
    assert.equal((await plain.stat(zipKey("example.com/Upper", "v1.0.0")))?.meta.h1, undefined);
    const got = parseManifest(
      (await readTar(await exportToBuffer(plain, { select: { kind: "all" } })))[0]!.data,
    );
    assert.deepEqual(got.versions, want.versions);
  });

  test("works with the memory store too", async () => {
    const a = new MemoryStorage();
    await storeVersion(a, { module: "example.com/mem", version: "v1.0.0" });
    const chunks: Buffer[] = [];
    const { PassThrough } = await import("node:stream");
    const out = new PassThrough();
    out.on("data", (c: Buffer) => chunks.push(c));
    await exportBundle(a, out, { select: { kind: "all" } });
    const b = new MemoryStorage();
    const r = await importBundle(b, Readable.from([Buffer.concat(chunks)]));
    assert.equal(r.added.length, 1);
    assert.equal(
      (await b.stat(zipKey("example.com/mem", "v1.0.0")))?.meta.sha256,
      (await a.stat(zipKey("example.com/mem", "v1.0.0")))?.meta.sha256,
    );
  });

  test("a stored file changed underneath: the export fails and leaves no bundle, or carries the verified bytes", async () => {
    const big = { module: "example.com/big", version: "v1.0.0" };
    for (const records of ["with CRC-32", "older, sha256 only"] as const) {
      for (const target of ["big zip", "small zip"] as const) {
        for (const change of ["flip", "truncate", "extend"] as const) {
          for (const format of ["tar", "tar.gz"] as const) {
            let a = await sampleStore();
            // Larger than what the export takes from the store's memory: read from disk, checked on the way.
            await storeVersion(a, {
              ...big,
              files: { "go.mod": `module ${big.module}\n`, "blob.bin": randomBytes(400_000) },
            });
            if (records !== "with CRC-32") {
              // Records written before the CRC-32 was kept: the export falls back to sha256.
              for (const name of (await snapshotTree(a.root)).keys()) {
                if (!name.endsWith(".meta")) continue;
                const rec = JSON.parse(await readFile(join(a.root, name), "utf8"));
                delete rec.crc32;
                await writeFile(join(a.root, name), JSON.stringify(rec));
              }
              a = await DiskStorage.open({ root: a.root });
            }
            const key =
              target === "big zip" ? zipKey(big.module, big.version) : zipKey("example.com/Upper", "v1.0.0");
            assert.equal((await a.stat(key))?.meta.crc32 !== undefined, records === "with CRC-32");
            // The store has the records in memory already: the change happens behind its back.
            const path = join(a.root, key);
            const original = await readFile(path);
            const data = Buffer.from(original);
            if (change === "flip") data[data.length >> 1]! ^= 0x20;
            await writeFile(
              path,
              change === "truncate"
                ? data.subarray(1)
                : change === "extend"
                  ? Buffer.concat([data, data])
                  : data,
            );
            const outDir = await freshDir();
            await mkdir(outDir, { recursive: true });
            const out = join(outDir, "b.tar");
            const what = `${records}, ${target}, ${change}, ${format}`;
            const outcome = await exportBundle(a, out, { select: { kind: "all" }, format }).then(
              () => undefined,
              (err: unknown) => err,
            );
            if (outcome !== undefined) {
              // The export's own check, or the store's when it reads the file again and drops it as corrupt.
              assert.ok(outcome instanceof GoarkError, `${what}: ${String(outcome)}`);
              assert.ok(
                ["CHECKSUM_MISMATCH", "STORAGE"].includes(outcome.code),
                `${what}: ${outcome.message}`,
              );
              assert.ok(outcome.message.includes(key), `${what}: ${outcome.message}`);
              assert.deepEqual(await readdir(outDir), [], `${what}: no bundle, no partial file`);
              continue;
            }
            // Only a small file the store verified and still holds in memory can go out, as verified.
            assert.notEqual(target, "big zip", `${what}: the export did not notice`);
            const b = await freshStore();
            const r = await importBundle(b, out);
            assert.deepEqual(r.rejected, [], what);
            assert.ok(
              (await b.getBytes(key))?.equals(original),
              `${what}: the bundle carries the verified bytes`,
            );
          }
        }
      }
    }
  });
});

for (const via of ["stream", "file"] as const)
  describe(`hostile and broken bundles leave the store as it was (read as a ${via})`, () => {
    const importBuffer = (s: DiskStorage, data: Buffer, opts: Parameters<typeof importBundle>[2] = {}) =>
      importVia(via, s, data, opts);
    let good: Buffer;
    let entries: { name: string; data: Buffer }[];
    before(async () => {
      const a = await sampleStore();
      good = await exportToBuffer(a, { select: { kind: "all" } });
      entries = await readTar(good);
    });

    async function targetStore(): Promise<DiskStorage> {
      const s = await freshStore();
      // Something already stored, to show it survives.
      await storeVersion(s, { module: "example.com/existing", version: "v1.0.0" });
      return s;
    }

    test("truncated anywhere: the import fails and nothing lands (bounded cut points)", async () => {
      const s = await targetStore();
      const cuts = [
        0,
        1,
        100,
        511,
        512,
        1024,
        Math.floor(good.length / 3),
        Math.floor(good.length / 2),
        good.length - 1030,
        good.length - 1024 - 1,
      ];
      for (const cut of cuts) {
        const err = await expectUnchanged(
          s,
          () => importBuffer(s, good.subarray(0, cut)),
          /truncated|empty|not a goark bundle/,
        );
        assert.match(err.message, /test-bundle/, `cut ${cut}: names the bundle`);
      }
      const gz = gzipSync(good);
      await expectUnchanged(
        s,
        () => importBuffer(s, gz.subarray(0, Math.floor(gz.length * 0.8))),
        /truncated/,
      );
    });

    test("any changed byte is noticed (bounded sample of positions); only the manifest's descriptive first line may change harmlessly", async () => {
      const manifestLen = entries[0]!.data.length;
      const headEnd = 512 + entries[0]!.data.indexOf(0x0a);
      const clean = await freshStore();
      await importBuffer(clean, good);
      const want = new Map([...(await snapshotTree(clean.root))].filter(([k]) => !k.endsWith(".meta")));
      const positions = new Set<number>();
      for (let p = 0; p < good.length; p += Math.max(1, Math.floor(good.length / 150))) positions.add(p);
      for (let p = 148; p < 160; p++) positions.add(p); // the first header's checksum field
      for (let p = good.length - 1024; p < good.length; p += 97) positions.add(p); // end-of-archive blocks
      let noticed = 0;
      for (const p of positions) {
        const bad = Buffer.from(good);
        bad[p] = (bad[p] ?? 0) ^ 0x20;
        const s = await freshStore();
        let outcome: string;
        try {
          const r = await importBuffer(s, bad);
          outcome = r.rejected.length > 0 ? "rejected" : "accepted";
        } catch (err) {
          assert.ok(err instanceof GoarkError, String(err));
          outcome = "failed";
        }
        if (outcome === "accepted") {
          assert.ok(
            p >= 512 && p < headEnd,
            `byte ${p} changed without notice (manifest is ${manifestLen} bytes at 512)`,
          );
          const got = new Map([...(await snapshotTree(s.root))].filter(([k]) => !k.endsWith(".meta")));
          assert.deepEqual(got, want);
        } else {
          noticed++;
          if (outcome === "failed")
            assert.deepEqual(await snapshotTree(s.root), new Map(), `byte ${p}: nothing lands`);
        }
      }
      assert.ok(noticed >= positions.size - 10, `${noticed} of ${positions.size}`);
    });

    test("a flipped byte in a zip fails the whole bundle", async () => {
      const s = await targetStore();
      const i = entries.findIndex((e) => e.name.endsWith(".zip"));
      const bad = entries.map((e, j) =>
        j === i ? { ...e, data: Buffer.from(e.data).fill(0x41, 40, 41) } : e,
      );
      const err = await expectUnchanged(
        s,
        async () => importBuffer(s, await buildTar(bad)),
        "CHECKSUM_MISMATCH",
      );
      assert.match(err.message, /tampered/);
      assert.ok(err.message.includes(entries[i]!.name));
    });

    test("a manifest rewritten to match tampered bytes: the zip checks reject those versions, the others land", async () => {
      const m = parseManifest(entries[0]!.data);
      const upper = entries.findIndex((e) => e.name === zipKey("example.com/Upper", "v1.0.0"));
      const dep = entries.findIndex((e) => e.name === zipKey("example.com/app-dep", "v1.2.0"));
      // A valid zip for the same module@version with other content: only its h1 gives it away.
      const other = new MemoryStorage();
      await storeVersion(other, {
        module: "example.com/Upper",
        version: "v1.0.0",
        files: { "go.mod": "module example.com/Upper\n", "evil.go": "package evil\n" },
      });
      const tampered = (await other.getBytes(zipKey("example.com/Upper", "v1.0.0")))!;
      // And bytes that are no zip at all.
      const garbage = Buffer.from("PK\x03\x04 not really a zip");
      const replaced = new Map([
        [upper, tampered],
        [dep, garbage],
      ]);
      m.files = m.files.map((f, j) => {
        const data = replaced.get(j + 1);
        return data === undefined ? f : { ...f, sha256: sha(data), size: data.length };
      });
      const rebuilt = [
        { name: MANIFEST_NAME, data: formatManifest(m) },
        ...entries.slice(1).map((e, j) => ({ ...e, data: replaced.get(j + 1) ?? e.data })),
      ];
      const bundle = await buildTar(rebuilt);
      // On this thread and on a worker thread alike.
      for (const zipWorkers of [0, 1]) {
        const s = await targetStore();
        const r = await importBuffer(s, bundle, { zipWorkers });
        assert.deepEqual(
          r.rejected.map((x) => `${x.module}@${x.version}`),
          ["example.com/Upper@v1.0.0", "example.com/app-dep@v1.2.0"],
          `zipWorkers ${zipWorkers}`,
        );
        assert.match(r.rejected[0]!.reason, /has hash h1:.*but h1:.* was declared/);
        assert.match(r.rejected[1]!.reason, /not a valid zip file/);
        assert.equal(r.added.length, 3);
        assert.equal(await s.stat(zipKey("example.com/Upper", "v1.0.0")), undefined);
        assert.equal(
          await s.stat(modKey("example.com/Upper", "v1.0.0")),
          undefined,
          "the version lands whole or not at all",
        );
      }
    });

    test("a go.mod that declares another module is rejected with its reason", async () => {
      const s = await targetStore();
      const m = parseManifest(entries[0]!.data);
      const key = modKey("example.com/Upper", "v1.1.0");
      const i = entries.findIndex((e) => e.name === key);
      const data = Buffer.from("module example.com/evil\n");
      m.files = m.files.map((f) => (f.key === key ? { ...f, sha256: sha(data), size: data.length } : f));
      m.versions = m.versions.map((v) =>
        v.module === "example.com/Upper" && v.version === "v1.1.0" ? { ...v, modH1: hashGoMod(data) } : v,
      );
      const rebuilt = [
        { name: MANIFEST_NAME, data: formatManifest(m) },
        ...entries.slice(1).map((e, j) => (j + 1 === i ? { ...e, data } : e)),
      ];
      const r = await importBuffer(s, await buildTar(rebuilt));
      assert.equal(r.rejected.length, 1);
      assert.match(r.rejected[0]!.reason, /example\.com\/evil/);
    });

    test("foreign input: not a tar, a tar without manifest, zstd, an empty file, a newer format", async () => {
      const s = await targetStore();
      await expectUnchanged(
        s,
        () => importBuffer(s, Buffer.from("hello, this is not a bundle at all".repeat(40))),
        /not a goark bundle/,
      );
      await expectUnchanged(
        s,
        async () => importBuffer(s, await buildTar([{ name: "README", data: "hi" }])),
        /not a goark bundle: its first entry is "README"/,
      );
      await expectUnchanged(
        s,
        () => importBuffer(s, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])),
        /zstd/,
      );
      await expectUnchanged(s, () => importBuffer(s, Buffer.alloc(0)), /empty/);
      const m = JSON.parse(entries[0]!.data.toString()) as Record<string, unknown>;
      m.formatVersion = 2;
      await expectUnchanged(
        s,
        async () => importBuffer(s, await buildTar([{ name: MANIFEST_NAME, data: JSON.stringify(m) }])),
        /format version 2 is not supported/,
      );
      m.format = "something-else";
      await expectUnchanged(
        s,
        async () => importBuffer(s, await buildTar([{ name: MANIFEST_NAME, data: JSON.stringify(m) }])),
        /not a goark bundle/,
      );
      await expectUnchanged(s, () => importBundle(s, join(base, "no-such-file.tar")), "NOT_FOUND");
    });

    test("entry names are checked against the layout: traversal, absolute paths, symlinks, extra and reordered entries", async () => {
      const s = await targetStore();
      const m = parseManifest(entries[0]!.data);
      for (const key of [
        "../../etc/passwd.zip",
        "/etc/x/@v/v1.0.0.zip",
        "a/@v/.hidden.zip",
        "A/@v/v1.0.0.zip",
        "a/@v/v1.0.0.exe",
        "a/@v/v1.0.zip",
      ]) {
        const raw = JSON.parse(formatManifest(m).toString()) as {
          files: { key: string }[];
          versions: unknown[];
        };
        raw.files[0]!.key = key;
        await expectUnchanged(
          s,
          async () =>
            importBuffer(
              s,
              await buildTar([{ name: MANIFEST_NAME, data: JSON.stringify(raw) }, ...entries.slice(1)]),
            ),
          /./,
        );
      }
      // The tar's entries must be exactly the manifest's, in order.
      const swapped = [entries[0]!, entries[2]!, entries[1]!, ...entries.slice(3)];
      await expectUnchanged(
        s,
        async () => importBuffer(s, await buildTar(swapped)),
        /where the manifest lists/,
      );
      await expectUnchanged(
        s,
        async () => importBuffer(s, await buildTar([...entries, { name: "extra/@v/v1.0.0.zip", data: "x" }])),
        /unexpected entry/,
      );
      const sym = [...entries];
      sym[1] = { name: entries[1]!.name, data: Buffer.alloc(0) };
      await expectUnchanged(
        s,
        async () =>
          importBuffer(
            s,
            await buildTar(sym.map((e, j) => (j === 1 ? { ...e, type: "symlink" as const } : e))),
          ),
        /not a regular file|bytes but the manifest says/,
      );
    });

    test("a version whose bytes differ from what the store holds is rejected (stored versions are immutable)", async () => {
      const s = await freshStore();
      await s.putBytes(
        modKey("example.com/Upper", "v1.1.0"),
        Buffer.from("module example.com/Upper\n\n// different\n"),
        { origin: "test" },
      );
      const r = await importBuffer(s, good);
      assert.deepEqual(
        r.rejected.map((x) => `${x.module}@${x.version}`),
        ["example.com/Upper@v1.1.0"],
      );
      assert.match(r.rejected[0]!.reason, /immutable/);
      assert.equal(r.added.length, 4);
    });
  });

describe("extension hook (checksum-database material travels here)", () => {
  test("export adds files and a section; import checks versions before commit and sees what landed", async () => {
    const a = await sampleStore();
    const payload = Buffer.from("tile data\n");
    const seen: { files: string[]; landed: string[]; section: unknown } = {
      files: [],
      landed: [],
      section: undefined,
    };
    const ext: BundleExtension = {
      name: "sumdb",
      async export(_storage, versions) {
        return {
          section: { note: "test", versions: versions.length },
          files: [{ path: "tile/8/0/000", size: payload.length, open: async () => Readable.from([payload]) }],
        };
      },
      async checkImport(ctx) {
        seen.section = ctx.section;
        seen.files = await Promise.all(
          ctx.files.map(async (f) => `${f.path}=${(await readFile(f.localPath)).toString()}`),
        );
        return new Map([["corp.internal/secret@v0.1.0", "not in the checksum database"]]);
      },
      async afterImport(ctx) {
        seen.landed = ctx.landed.map((v) => `${v.module}@${v.version}`);
      },
    };
    const bundle = await exportToBuffer(a, { select: { kind: "all" }, extensions: [ext] });
    const names = (await readTar(bundle)).map((e) => e.name);
    assert.equal(names.at(-1), "goark-ext/sumdb/tile/8/0/000");
    const b = await freshStore();
    const r = await importBuffer(b, bundle, { extensions: [ext] });
    assert.deepEqual(seen.section, { note: "test", versions: 5 });
    assert.deepEqual(seen.files, ["tile/8/0/000=tile data\n"]);
    assert.deepEqual(
      r.rejected.map((x) => `${x.module}@${x.version}: ${x.reason}`),
      ["corp.internal/secret@v0.1.0: sumdb: not in the checksum database"],
    );
    assert.equal(seen.landed.length, 4);
    assert.ok(!seen.landed.includes("corp.internal/secret@v0.1.0"));
    // A bundle with extension files imports without the extension too (its files are just checked).
    const c = await freshStore();
    assert.equal((await importBuffer(c, bundle)).added.length, 5);
  });
});

describe("plain GOPROXY trees", () => {
  test("export --format dir writes the layout without metadata, with lists and @latest for pseudo-only modules", async () => {
    const a = await sampleStore();
    const dir = await freshDir();
    const r = await exportDir(a, dir, { select: { kind: "all" } });
    assert.equal(r.versions, 5);
    const tree = await snapshotTree(dir);
    assert.ok([...tree.keys()].every((k) => !k.endsWith(".meta")));
    assert.equal(await readFile(join(dir, "example.com/!upper/@v/list"), "utf8"), "v1.0.0\nv1.1.0\n");
    assert.equal(await readFile(join(dir, "example.com/other/v2/@v/list"), "utf8"), "");
    assert.match(
      await readFile(join(dir, "example.com/other/v2/@latest"), "utf8"),
      /v2\.0\.0-20230101000000-abcdefabcdef/,
    );
  });

  test("a go download cache (or GOPROXY tree) imports; a .ziphash that disagrees rejects its version", async () => {
    const a = await sampleStore();
    const dir = await freshDir();
    await exportDir(a, dir, { select: { kind: "all" } });
    // Extra files the go command keeps in its cache are skipped.
    await writeFile(join(dir, "example.com/!upper/@v/v1.0.0.lock"), "");
    await writeFile(
      join(dir, "example.com/!upper/@v/v1.0.0.ziphash"),
      `${(await a.stat(zipKey("example.com/Upper", "v1.0.0")))!.meta.h1}\n`,
    );
    await writeFile(
      join(dir, "example.com/app-dep/@v/v1.2.0.ziphash"),
      "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    );
    const b = await freshStore();
    const r = await importDownloadCache(b, dir);
    assert.deepEqual(
      r.rejected.map((x) => `${x.module}@${x.version}`),
      ["example.com/app-dep@v1.2.0"],
    );
    assert.equal(r.added.length, 4);
    const again = await importDownloadCache(b, dir);
    assert.equal(again.added.length, 0);
    assert.equal(again.present.length, 4);
  });
});
