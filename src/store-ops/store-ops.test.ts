import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { snapshotTree } from "../../test/helpers/store-snapshot.ts";
import { storeVersion } from "../../test/helpers/stored-module.ts";
import { DiskStorage } from "../storage/disk.ts";
import { infoKey, latestKey, listKey, modKey, zipKey } from "../storage/keys.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { listVersions, storeStats } from "./listing.ts";
import { prune } from "./prune.ts";
import { verifyStore } from "./verify.ts";
import { rewriteVersionList, STORED_LIST_ORIGIN } from "./version-list.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 5, 1);
let base: string;
let n = 0;
async function freshStore(opts: { smallObjectMax?: number } = {}): Promise<DiskStorage> {
  return DiskStorage.open({ root: join(base, `s${n++}`), ...opts });
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), "goark-storeops-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Four modules fetched 100, 50, 10 and 1 days before NOW. */
async function agedStore(): Promise<DiskStorage> {
  const s = await freshStore();
  await storeVersion(s, { module: "example.com/old", version: "v1.0.0", fetchedAt: NOW - 100 * DAY });
  await storeVersion(s, { module: "example.com/old", version: "v1.1.0", fetchedAt: NOW - 50 * DAY });
  await storeVersion(s, { module: "corp.internal/pinned", version: "v1.0.0", fetchedAt: NOW - 100 * DAY });
  await storeVersion(s, { module: "example.com/needed", version: "v1.0.0", fetchedAt: NOW - 100 * DAY });
  await storeVersion(s, { module: "example.com/recent", version: "v1.0.0", fetchedAt: NOW - 10 * DAY });
  await storeVersion(s, { module: "example.com/new", version: "v1.0.0", fetchedAt: NOW - 1 * DAY });
  for (const m of [
    "example.com/old",
    "corp.internal/pinned",
    "example.com/needed",
    "example.com/recent",
    "example.com/new",
  ]) {
    await rewriteVersionList(s, m, { mergeForeign: true });
  }
  return s;
}

const KEEP = [{ name: "go.mod", data: "module example.com/main\n\nrequire example.com/needed v1.0.0\n" }];

function ids(r: { removed: { module: string; version: string }[] }): string[] {
  return r.removed.map((v) => `${v.module}@${v.version}`);
}

describe("prune", () => {
  test("--unused-for: old versions go whole, pinned patterns and --keep requirements stay; --dry-run changes nothing", async () => {
    const s = await agedStore();
    const snap = await snapshotTree(s.root);
    const dry = await prune(s, {
      unusedForMs: 30 * DAY,
      pin: ["*.internal"],
      keep: KEEP,
      dryRun: true,
      now: NOW,
    });
    assert.deepEqual(ids(dry), ["example.com/old@v1.0.0", "example.com/old@v1.1.0"]);
    assert.equal(dry.protectedCount, 2);
    assert.deepEqual(await snapshotTree(s.root), snap, "dry run");
    const r = await prune(s, { unusedForMs: 30 * DAY, pin: ["*.internal"], keep: KEEP, now: NOW });
    assert.deepEqual(ids(r), ids(dry));
    for (const kind of [infoKey, modKey, zipKey])
      assert.equal(await s.stat(kind("example.com/old", "v1.0.0")), undefined);
    // The list goark wrote goes with the module's last version.
    assert.equal(await s.stat(listKey("example.com/old")), undefined);
    assert.ok(await s.stat(zipKey("corp.internal/pinned", "v1.0.0")));
    assert.ok(await s.stat(zipKey("example.com/needed", "v1.0.0")));
  });

  test("a recent access keeps a version that --unused-for would drop; --older-than goes by fetch time", async () => {
    const s = await agedStore();
    // An access record, as the server's touch() persists it.
    const path = s.localPath(infoKey("example.com/old", "v1.0.0"))!;
    const rec = JSON.parse(await readFile(`${path}.meta`, "utf8")) as Record<string, unknown>;
    await writeFile(`${path}.meta`, JSON.stringify({ ...rec, lastAccess: NOW - DAY }));
    const s2 = await DiskStorage.open({ root: s.root });
    const r = await prune(s2, { unusedForMs: 30 * DAY, dryRun: true, now: NOW });
    assert.deepEqual(ids(r), [
      "corp.internal/pinned@v1.0.0",
      "example.com/needed@v1.0.0",
      "example.com/old@v1.1.0",
    ]);
    const o = await prune(s2, { olderThanMs: 30 * DAY, dryRun: true, now: NOW });
    assert.equal(o.removed.length, 4);
    assert.ok(o.removed.every((v) => v.reason === "age"));
  });

  test("--max-size removes least recently used first, down to the budget, and says when protection prevents it", async () => {
    const s = await agedStore();
    const stats = await storeStats(s);
    const perVersion = (await listVersions(s)).map((v) => v.size);
    const lists = stats.files.list.bytes;
    // Room for about two versions beyond the lists.
    const budget = lists + perVersion[0]! + perVersion[1]! + 5;
    const r = await prune(s, { maxSizeBytes: budget, now: NOW });
    assert.ok(r.totalAfter <= budget);
    assert.ok(r.removed.every((v) => v.reason === "size"));
    // LRU: the three 100-day-old versions first, then the 50-day one.
    assert.deepEqual(ids(r).slice(0, 3).sort(), [
      "corp.internal/pinned@v1.0.0",
      "example.com/needed@v1.0.0",
      "example.com/old@v1.0.0",
    ]);
    assert.equal(
      (await s.getBytes(listKey("example.com/old")))?.toString() ?? "",
      r.removed.length >= 4 ? "" : "v1.1.0\n",
    );
    const t = await agedStore();
    const all = await prune(t, { maxSizeBytes: 0, pin: ["example.com"], now: NOW });
    assert.deepEqual(ids(all), ["corp.internal/pinned@v1.0.0"]);
    assert.ok((all.budgetShortfall ?? 0) > 0);
  });

  test("lists from an upstream are left alone; an @latest naming a pruned version is removed", async () => {
    const s = await agedStore();
    await s.putBytes(listKey("example.com/recent"), Buffer.from("v1.0.0\nv1.5.0\n"), {
      origin: "https://proxy.example",
    });
    await s.putBytes(latestKey("example.com/recent"), Buffer.from('{"Version":"v1.0.0"}'), {
      origin: "https://proxy.example",
    });
    await prune(s, { olderThanMs: 5 * DAY, pin: ["example.com/new"], now: NOW });
    assert.equal((await s.getBytes(listKey("example.com/recent")))?.toString(), "v1.0.0\nv1.5.0\n");
    assert.equal(await s.stat(latestKey("example.com/recent")), undefined);
  });
});

describe("verify", () => {
  test("a healthy store verifies clean and nothing moves", async () => {
    const s = await agedStore();
    const snap = await snapshotTree(s.root);
    const r = await verifyStore(await DiskStorage.open({ root: s.root }));
    assert.deepEqual(r.problems, []);
    assert.equal(r.scanned, 5 * 3 + 1 * 3 + 5);
    assert.deepEqual(await snapshotTree(s.root), snap);
  });

  test("corrupt bytes are quarantined with a note, kept for inspection and removed from the store", async () => {
    // smallObjectMax 0: the store hashes nothing on load, so only verify can notice.
    const s = await freshStore({ smallObjectMax: 0 });
    await storeVersion(s, { module: "example.com/a", version: "v1.0.0" });
    await storeVersion(s, { module: "example.com/b", version: "v1.0.0" });
    const zipPath = s.localPath(zipKey("example.com/a", "v1.0.0"))!;
    const bytes = await readFile(zipPath);
    bytes[bytes.length - 30] = (bytes[bytes.length - 30] ?? 0) ^ 0xff; // same size, other bytes
    await writeFile(zipPath, bytes);
    // A small file changed too, seen by a store that hashes small files on load (and drops them).
    const modPath = s.localPath(modKey("example.com/b", "v1.0.0"))!;
    await writeFile(modPath, "module example.com/B\n");
    // This store hashes files up to 100 bytes (the go.mod, not the zip) when it first loads them.
    const t = await DiskStorage.open({ root: s.root, smallObjectMax: 100 });
    const r = await verifyStore(t, { runName: "run1" });
    const byKey = new Map(r.problems.map((p) => [p.key, p]));
    const zp = byKey.get(zipKey("example.com/a", "v1.0.0"));
    assert.ok(zp, JSON.stringify(r.problems));
    assert.match(zp.problem, /sha256/);
    assert.equal(zp.action, "quarantined");
    assert.deepEqual(await readFile(zp.quarantinedAt!), bytes, "the corrupt bytes are kept");
    assert.match(await readFile(`${zp.quarantinedAt}.problem.json`, "utf8"), /sha256/);
    assert.equal(await t.stat(zipKey("example.com/a", "v1.0.0")), undefined);
    const mp = byKey.get(modKey("example.com/b", "v1.0.0"));
    assert.ok(mp, JSON.stringify(r.problems));
    assert.match(mp.problem, /contradicted its metadata record/);
    assert.equal(await readFile(mp.quarantinedAt!, "utf8"), "module example.com/B\n");
    assert.equal(r.problems.length, 2);
    const again = await verifyStore(await DiskStorage.open({ root: s.root }), { runName: "run2" });
    assert.deepEqual(again.problems, []);
  });

  test("content rules: a zip whose h1 disagrees with its record, a go.mod for another module, a bad .info", async () => {
    const s = await freshStore();
    await storeVersion(s, { module: "example.com/a", version: "v1.0.0" });
    const zipMeta = `${s.localPath(zipKey("example.com/a", "v1.0.0"))}.meta`;
    const rec = JSON.parse(await readFile(zipMeta, "utf8")) as Record<string, unknown>;
    await writeFile(
      zipMeta,
      JSON.stringify({ ...rec, h1: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }),
    );
    await s.putBytes(modKey("example.com/c", "v1.0.0"), Buffer.from("module example.com/other\n"), {
      origin: "test",
    });
    await s.putBytes(infoKey("example.com/c", "v1.0.0"), Buffer.from('{"Version":"v2.0.0"}'), {
      origin: "test",
    });
    const r = await verifyStore(await DiskStorage.open({ root: s.root }), { runName: "content" });
    const problems = new Map(r.problems.map((p) => [p.key, p.problem]));
    assert.match(problems.get(zipKey("example.com/a", "v1.0.0")) ?? "", /hashes to h1:.*record says h1:AAAA/);
    assert.match(problems.get(modKey("example.com/c", "v1.0.0")) ?? "", /example\.com\/other/);
    assert.match(problems.get(infoKey("example.com/c", "v1.0.0")) ?? "", /v2\.0\.0/);
    assert.equal(r.problems.length, 3);
  });

  test("memory store: problems are deleted and reported; hooks run and can report", async () => {
    const s = new MemoryStorage();
    await storeVersion(s, { module: "example.com/a", version: "v1.0.0" });
    await s.putBytes(modKey("example.com/c", "v1.0.0"), Buffer.from("module example.com/other\n"), {
      origin: "test",
    });
    let hookRan = false;
    const r = await verifyStore(s, {
      hooks: [
        {
          name: "sumdb-log",
          async verify(ctx) {
            hookRan = true;
            ctx.problem({ key: "sumdb/log", problem: "log inconsistent", action: "reported" });
          },
        },
      ],
    });
    assert.ok(hookRan);
    assert.deepEqual(
      r.problems.map((p) => `${p.key} ${p.action}`),
      [`${modKey("example.com/c", "v1.0.0")} deleted`, "sumdb/log reported"],
    );
    assert.equal(await s.stat(modKey("example.com/c", "v1.0.0")), undefined);
  });
});

describe("ls and stats", () => {
  test("rows per version with files, sizes, times and origin; totals", async () => {
    const s = await agedStore();
    await storeVersion(s, {
      module: "example.com/old",
      version: "v1.2.0",
      noZip: true,
      origin: "https://up",
      fetchedAt: NOW,
    });
    const rows = await listVersions(s, ["example.com/old"]);
    assert.deepEqual(
      rows.map((r) => `${r.version} ${r.files.join("+")} ${r.origin}`),
      ["v1.0.0 zip+mod+info test", "v1.1.0 zip+mod+info test", "v1.2.0 mod+info https://up"],
    );
    assert.equal(rows[0]!.fetchedAt, NOW - 100 * DAY);
    const st = await storeStats(s);
    assert.equal(st.modules, 5);
    assert.equal(st.versions, 7);
    assert.equal(st.versionsWithZip, 6);
    assert.equal(st.files.list.count, 5);
    assert.equal(st.totalBytes, await s.totalSize());
  });

  test("lists: goark's own are rewritten to the stored versions, an upstream's is merged on import", async () => {
    const s = await freshStore();
    await storeVersion(s, { module: "example.com/m", version: "v1.0.0" });
    assert.equal(await rewriteVersionList(s, "example.com/m", { mergeForeign: true }), "written");
    assert.equal(await rewriteVersionList(s, "example.com/m", { mergeForeign: true }), "unchanged");
    await s.putBytes(listKey("example.com/m"), Buffer.from("v0.9.0\n"), { origin: "https://up" });
    assert.equal(await rewriteVersionList(s, "example.com/m", { mergeForeign: false }), "kept-foreign");
    assert.equal(await rewriteVersionList(s, "example.com/m", { mergeForeign: true }), "written");
    assert.equal((await s.getBytes(listKey("example.com/m")))?.toString(), "v0.9.0\nv1.0.0\n");
    assert.equal((await s.stat(listKey("example.com/m")))?.meta.origin, STORED_LIST_ORIGIN);
  });
});
