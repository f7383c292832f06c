import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { test } from "node:test";
import { GoarkError, NotFoundError, UpstreamError } from "../errors.ts";
import { hashGoMod } from "../module/dirhash.ts";
import { create } from "../module/zip.ts";
import { MemorySource } from "../source/memory-source.ts";
import { infoKey, listKey, modKey, zipKey } from "../storage/keys.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { ProxyCore, type ProxyCoreOptions } from "./proxy-core.ts";
import { type KnownSums, VerifyingSource } from "./verify.ts";

const M = "example.com/m";

async function zipOf(module: string, version: string, files: Record<string, string>) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const made = await create(
    out,
    module,
    version,
    Object.entries(files).map(([path, text]) => ({
      path,
      lstat: async () => ({ isFile: true, isSymlink: false, size: Buffer.byteLength(text) }),
      open: () => Readable.from([Buffer.from(text)]),
    })),
  );
  return { bytes: Buffer.concat(chunks), h1: made.h1 };
}

async function setup(opts: Partial<ProxyCoreOptions> = {}) {
  const storage = new MemoryStorage();
  const source = new MemorySource("up");
  const goMod = `module ${M}\n\ngo 1.19\n`;
  const z = await zipOf(M, "v1.0.0", { "go.mod": goMod, "m.go": "package m\n" });
  source.addVersion(M, "v1.0.0", { info: { Time: "2023-01-01T00:00:00Z" }, mod: goMod, zip: z.bytes });
  source.addVersion(M, "v1.1.0", { info: { Time: "2023-02-01T00:00:00Z" }, mod: goMod });
  let now = 1_000_000;
  const core = new ProxyCore({ storage, source, now: () => now, ...opts });
  return { storage, source, core, z, goMod, tick: (ms: number) => (now += ms) };
}

const calls = (s: MemorySource, route: string) => s.calls.filter((c) => c.route === route).length;

test(".info miss stores .info and .mod; then hits", async () => {
  const { core, storage, source, goMod } = await setup();
  const a = await core.info(M, "v1.0.0");
  assert.equal(a.cache, "miss");
  assert.equal(JSON.parse(a.bytes!.toString()).Version, "v1.0.0");
  assert.ok(await storage.stat(modKey(M, "v1.0.0")), ".mod stored with .info");
  assert.equal((await storage.stat(modKey(M, "v1.0.0")))!.meta.h1, hashGoMod(goMod));
  assert.equal(await storage.stat(zipKey(M, "v1.0.0")), undefined, "zip not fetched for .info");
  const b = await core.mod(M, "v1.0.0");
  assert.equal(b.cache, "hit");
  assert.equal(b.bytes!.toString(), goMod);
  assert.equal(calls(source, "info") + calls(source, "mod"), 2);
});

test(".zip miss stores all three, verified; concurrent callers share one fetch", async () => {
  const { core, storage, source, z } = await setup();
  const all = await Promise.all(Array.from({ length: 20 }, () => core.zip(M, "v1.0.0")));
  assert.equal(calls(source, "zip"), 1);
  assert.equal(calls(source, "info"), 1);
  assert.ok(all.every((a) => a.size === z.bytes.length));
  const st = await storage.stat(zipKey(M, "v1.0.0"));
  assert.equal(st!.meta.h1, z.h1);
  assert.ok(await storage.stat(infoKey(M, "v1.0.0")));
  const stream = await core.openZip(all[0]!.key);
  const chunks: Buffer[] = [];
  for await (const c of stream!) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), z.bytes);
});

test("not-found answers are remembered for notFoundTtlMs", async () => {
  const { core, source, tick } = await setup({ notFoundTtlMs: 1000 });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(core.info("example.com/nope", "v1.0.0"), (e: unknown) => e instanceof NotFoundError);
    await assert.rejects(core.list("example.com/nope"), (e: unknown) => e instanceof NotFoundError);
  }
  assert.equal(source.calls.filter((c) => c.module === "example.com/nope").length, 3); // info+mod, list
  tick(1001);
  await assert.rejects(core.list("example.com/nope"));
  assert.equal(calls(source, "list"), 2);
});

test("list is refreshed after its TTL and served stale when the upstream fails", async () => {
  const { core, source, tick } = await setup({ listTtlMs: 1000, refreshBackoffMs: 500 });
  const first = await core.list(M);
  assert.equal(first.cache, "miss");
  assert.equal(first.bytes!.toString(), "v1.0.0 2023-01-01T00:00:00Z\nv1.1.0 2023-02-01T00:00:00Z\n");
  assert.equal((await core.list(M)).cache, "hit");
  assert.equal(calls(source, "list"), 1);
  tick(1500);
  source.fail(M, new UpstreamError("upstream down"));
  const stale = await core.list(M);
  assert.equal(stale.cache, "stale");
  assert.match(stale.staleReason!, /upstream down/);
  assert.equal(stale.bytes!.toString(), first.bytes!.toString());
  // Within the back-off the upstream is not asked again.
  await core.list(M);
  assert.equal(calls(source, "list"), 2);
  source.heal(M);
  tick(600);
  assert.equal((await core.list(M)).cache, "miss");
});

test("@latest is verified, stored and served stale", async () => {
  const { core, source, tick } = await setup({ listTtlMs: 10 });
  source.setLatest(M, { Version: "v1.1.0", Time: "2023-02-01T00:00:00Z" });
  assert.equal(JSON.parse((await core.latest(M)).bytes!.toString()).Version, "v1.1.0");
  tick(20);
  source.fail(M, new UpstreamError("boom"), "latest");
  assert.equal((await core.latest(M)).cache, "stale");
  source.setLatest("example.com/bad", { Version: "master" });
  await assert.rejects(
    core.latest("example.com/bad"),
    (e: unknown) => e instanceof GoarkError && e.code === "INVALID_INFO",
  );
});

test("queries resolve through the source and store the version they name", async () => {
  const { core, storage, source } = await setup();
  source.addQuery(M, "master", "v1.1.0");
  const a = await core.info(M, "master");
  assert.equal(JSON.parse(a.bytes!.toString()).Version, "v1.1.0");
  assert.ok(await storage.stat(infoKey(M, "v1.1.0")));
  assert.ok(await storage.stat(modKey(M, "v1.1.0")));
});

test("bad answers are refused and nothing is stored", async () => {
  const { core, storage, source } = await setup();
  source.addVersion(M, "v1.2.0", { info: { Version: "v1.2.1" } });
  await assert.rejects(core.info(M, "v1.2.0"), /instead of requested version/);
  assert.equal(await storage.stat(infoKey(M, "v1.2.0")), undefined);
  assert.equal(await storage.stat(modKey(M, "v1.2.0")), undefined);

  source.addVersion(M, "v1.3.0", { mod: "module example.com/other\n" });
  await assert.rejects(
    core.mod(M, "v1.3.0"),
    (e: unknown) => e instanceof GoarkError && e.code === "INVALID_MODFILE",
  );
  assert.equal(await storage.stat(modKey(M, "v1.3.0")), undefined);

  const wrong = await zipOf("example.com/other", "v1.4.0", { "a.go": "package a\n" });
  source.addVersion(M, "v1.4.0", { zip: wrong.bytes });
  await assert.rejects(
    core.zip(M, "v1.4.0"),
    (e: unknown) => e instanceof GoarkError && e.code === "INVALID_ZIP",
  );
  assert.equal(await storage.stat(zipKey(M, "v1.4.0")), undefined);

  source.addVersion(M, "v1.5.0", { zip: Buffer.from("PK\u0003\u0004 not a zip") });
  await assert.rejects(
    core.zip(M, "v1.5.0"),
    (e: unknown) => e instanceof GoarkError && e.code === "INVALID_ZIP",
  );
  assert.equal(await storage.stat(zipKey(M, "v1.5.0")), undefined);
});

test("a zip whose h1 differs from a known go.sum hash is refused, per upstream", async () => {
  const storage = new MemoryStorage();
  const good = await zipOf(M, "v1.0.0", { "m.go": "package m\n" });
  const evil = await zipOf(M, "v1.0.0", { "m.go": "package m // evil\n" });
  const knownSums: KnownSums = { lookup: async () => ({ zip: good.h1 }) };
  const bad = new MemorySource("bad").addVersion(M, "v1.0.0", { zip: evil.bytes });
  const core = new ProxyCore({
    storage,
    source: new VerifyingSource(bad, { storage, knownSums }),
    knownSums,
  });
  await assert.rejects(
    core.zip(M, "v1.0.0"),
    (e: unknown) => e instanceof GoarkError && e.code === "CHECKSUM_MISMATCH",
  );
  assert.equal(await storage.stat(zipKey(M, "v1.0.0")), undefined);
});

test("offline: stored versions answer, misses are refused, list comes from the store", async () => {
  const { core, storage } = await setup();
  await core.zip(M, "v1.0.0");
  const offline = new ProxyCore({ storage, source: new MemorySource("unused"), offline: true });
  assert.equal((await offline.zip(M, "v1.0.0")).cache, "hit");
  await assert.rejects(
    offline.info(M, "v1.1.0"),
    (e: unknown) => e instanceof GoarkError && e.code === "DISABLED",
  );
  const list = await offline.list(M);
  assert.equal(list.bytes!.toString(), "v1.0.0\n");
  assert.equal(list.cache, "stale");
  assert.equal(JSON.parse((await offline.latest(M)).bytes!.toString()).Version, "v1.0.0");
  assert.equal(await storage.stat(listKey(M)), undefined);
});

test("prefetchZips: storing .info/.mod also fetches the zip in the background", async () => {
  const { core, storage, source } = await setup({ prefetchZips: true });
  await core.info(M, "v1.0.0");
  for (let i = 0; i < 100 && !(await storage.stat(zipKey(M, "v1.0.0"))); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(await storage.stat(zipKey(M, "v1.0.0")), "zip prefetched");
  assert.equal(calls(source, "zip"), 1);
  assert.equal(calls(source, "info"), 1, "the zip fill reused the stored .info");
});

test("prefix probes: concurrent and repeated misses cost one upstream request per path", async () => {
  const { core, source } = await setup();
  const prefixes = ["golang.org/x/net/html", "golang.org/x/net", "golang.org/x", "golang.org"];
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      prefixes.flatMap((p) => Array.from({ length: 10 }, () => core.latest(p).catch(() => undefined))),
    );
  }
  for (const p of prefixes) {
    assert.equal(source.calls.filter((c) => c.module === p).length, 1, p);
  }
});

test("a slow refresh does not hold clients past the grace period", async () => {
  const { core, source, tick } = await setup({ listTtlMs: 1000, staleGraceMs: 50 });
  const first = await core.list(M);
  tick(2000);
  const slowList = source.list.bind(source);
  source.list = async (m, o) => {
    await new Promise((r) => setTimeout(r, 300));
    return slowList(m, o);
  };
  const t0 = Date.now();
  const a = await core.list(M);
  assert.ok(Date.now() - t0 < 250, "served before the refresh finished");
  assert.equal(a.cache, "stale");
  assert.equal(a.bytes!.toString(), first.bytes!.toString());
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await core.list(M)).cache, "hit", "the background refresh was stored");
});
