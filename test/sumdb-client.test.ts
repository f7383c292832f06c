/**
 * goark's checksum-database client against golang.org/x/mod's own sumdb
 * server (sumdb.NewServer + sumdb.NewTestServer, run by test/sumdb-server on
 * loopback): honest lookups verify, a record that does not match its hash
 * tile or a tile that does not match the signed tree is rejected and not
 * cached, a fork (same key, different history) is detected, a wrong key is
 * refused, and cached lookups verify again with the network gone.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ChecksumMismatchError, NoteError, NotFoundError, TlogError, UpstreamError } from "../src/errors.ts";
import { checkGoSumLines, SumdbClient, type SumdbClientOps } from "../src/sumdb/client.ts";
import { generateKey } from "../src/sumdb/note.ts";
import { type GoSumdbServer, startGoSumdbServer } from "./helpers/sumdb-server.ts";

function h1(s: string): string {
  return `h1:${createHash("sha256").update(s).digest("base64")}`;
}

/** The record the honest log holds; the fork differs for modules named "victim". */
function record(db: string, path: string, version: string): string | undefined {
  if (path.includes("missing")) return undefined;
  const salt = db === "fork" && path.includes("victim") ? "forged" : "";
  return `${path} ${version} ${h1(`${salt}zip ${path}@${version}`)}\n${path} ${version}/go.mod ${h1(`mod ${path}@${version}`)}\n`;
}

let server: GoSumdbServer;
before(async () => {
  server = await startGoSumdbServer(record);
});
after(async () => {
  await server?.close();
});

interface Harness {
  ops: SumdbClientOps;
  cache: Map<string, Uint8Array>;
  latest: { note?: Uint8Array };
  fetched: string[];
  /** Where remote reads go: a route of the Go server, or "offline". */
  base: { route: string };
  security: string[];
}

function harness(route: string, shared?: Pick<Harness, "cache" | "latest">): Harness {
  const cache = shared?.cache ?? new Map<string, Uint8Array>();
  const latest = shared?.latest ?? {};
  const fetched: string[] = [];
  const base = { route };
  const security: string[] = [];
  const ops: SumdbClientOps = {
    async readRemote(path) {
      if (base.route === "offline") throw new UpstreamError(`offline: ${path}`);
      fetched.push(path);
      const res = await fetch(`${server.url}${base.route}${path}`);
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status === 404 || res.status === 410) throw new NotFoundError(`${path}: not found`);
      if (res.status !== 200)
        throw new UpstreamError(`${path}: ${res.status} ${Buffer.from(body).toString()}`);
      return body;
    },
    async loadLatest() {
      return latest.note;
    },
    async saveLatest(note) {
      latest.note = note;
    },
    async readCache(key) {
      return cache.get(key);
    },
    async writeCache(key, data) {
      cache.set(key, new Uint8Array(data));
    },
    securityError(message) {
      security.push(message);
    },
  };
  return { ops, cache, latest, fetched, base, security };
}

const isTlog = (reason: string) => (e: unknown) => e instanceof TlogError && e.reason === reason;

describe("sumdb client against x/mod's sumdb server", () => {
  it("verifies honest lookups and keeps the latest tree", async () => {
    const h = harness("/honest");
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: h.ops });
    const mods = Array.from({ length: 40 }, (_, i) => [`example.com/honest/m${i}`, `v1.${i}.0`] as const);
    for (const [path, version] of mods) {
      const lines = await client.lookup(path, version);
      assert.deepEqual(lines, [`${path} ${version} ${h1(`zip ${path}@${version}`)}`]);
      const modLines = await client.lookup(path, `${version}/go.mod`);
      assert.deepEqual(modLines, [`${path} ${version}/go.mod ${h1(`mod ${path}@${version}`)}`]);
      checkGoSumLines(lines, path, version, h1(`zip ${path}@${version}`));
    }
    assert.ok((await client.latest()).n >= 40);
    assert.ok(h.latest.note && h.latest.note.length > 0, "latest note saved");
    assert.ok(
      [...h.cache.keys()].some((k) => k.startsWith("tile/8/0/")),
      "tiles cached after verification",
    );
  });

  it("many lookups at once verify too", async () => {
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: harness("/honest").ops });
    const mods = Array.from({ length: 60 }, (_, i) => [`example.com/parallel/m${i}`, "v0.1.0"] as const);
    const all = await Promise.all(mods.map(([p, v]) => client.lookup(p, v)));
    for (const [i, [p, v]] of mods.entries()) assert.deepEqual(all[i], [`${p} ${v} ${h1(`zip ${p}@${v}`)}`]);
  });

  it("a module hash that differs from the database's is a checksum mismatch naming both", async () => {
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: harness("/honest").ops });
    const lines = await client.lookup("example.com/tampered", "v1.0.0");
    assert.throws(
      () => checkGoSumLines(lines, "example.com/tampered", "v1.0.0", h1("altered zip")),
      (e: unknown) =>
        e instanceof ChecksumMismatchError &&
        e.module === "example.com/tampered" &&
        e.message.includes(h1("altered zip")) &&
        e.message.includes(h1("zip example.com/tampered@v1.0.0")),
    );
  });

  it("an unknown module is not found, with module and version", async () => {
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: harness("/honest").ops });
    await assert.rejects(
      client.lookup("example.com/missing", "v1.0.0"),
      (e: unknown) =>
        e instanceof NotFoundError && e.module === "example.com/missing" && e.version === "v1.0.0",
    );
  });

  it("cached lookups verify again offline, from a fresh client", async () => {
    const h = harness("/honest");
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: h.ops });
    const mods = Array.from({ length: 5 }, (_, i) => [`example.com/offline/m${i}`, "v2.0.0"] as const);
    const want = await Promise.all(mods.map(([p, v]) => client.lookup(p, v)));
    const off = harness("offline", h);
    const again = new SumdbClient({ verifierKey: server.verifierKey, ops: off.ops });
    assert.deepEqual(await Promise.all(mods.map(([p, v]) => again.lookup(p, v))), want);
    assert.deepEqual(off.fetched, []);
    await assert.rejects(
      again.lookup("example.com/offline/never", "v1.0.0"),
      (e: unknown) => e instanceof UpstreamError,
    );
  });

  it("rejects tiles that do not hash to the signed tree, caching nothing from them", async () => {
    const h = harness("/badtile");
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: h.ops });
    await assert.rejects(client.lookup("example.com/badtile", "v1.0.0"), isTlog("inconsistent-tile"));
    assert.deepEqual([...h.cache.keys()], []);
  });

  it("rejects a record that does not match its hash in the tree", async () => {
    const h = harness("/badrecord");
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: h.ops });
    await assert.rejects(client.lookup("example.com/badrecord", "v1.0.0"), isTlog("inconsistent-tile"));
    assert.ok(![...h.cache.keys()].some((k) => k.startsWith("lookup/")));
  });

  it("refuses a database signed by another key", async () => {
    const other = generateKey("localhost.goark.test/sumdb").verifierKey;
    const client = new SumdbClient({ verifierKey: other, ops: harness("/honest").ops });
    await assert.rejects(
      client.lookup("example.com/honest/m1", "v1.1.0"),
      (e: unknown) => e instanceof NoteError,
    );
  });

  it("detects a fork: the same key signing a different history", async () => {
    // Fill both logs with the same first records, then let them differ.
    const h = harness("/fork");
    const forkClient = new SumdbClient({ verifierKey: server.verifierKey, ops: h.ops });
    const shared = Array.from({ length: 3 }, (_, i) => [`example.com/fork/shared${i}`, "v1.0.0"] as const);
    for (const [p, v] of shared) await forkClient.lookup(p, v);

    const honest = harness("/honest");
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: honest.ops });
    for (const [p, v] of shared) await client.lookup(p, `${v}-honest`);
    const before = await client.latest();
    assert.ok(before.n > 0);
    // The fork's log holds the shared records at other positions than the
    // honest one (which has many more): its tree cannot extend ours.
    honest.base.route = "/fork";
    await assert.rejects(client.lookup("example.com/fork/victim", "v1.0.0"), isTlog("fork"));
    assert.equal(honest.security.length, 1);
    assert.match(honest.security[0]!, /^SECURITY ERROR\n/);
    // The kept head is still the honest one.
    assert.equal((await client.latest()).n, before.n);
  });

  it("detects a fork the other way: a longer tree that does not extend the kept one", async () => {
    const h = harness("/fork");
    const client = new SumdbClient({ verifierKey: server.verifierKey, ops: h.ops });
    await client.lookup("example.com/fork/first", "v1.0.0");
    const forkHead = await client.latest();
    // Make sure the honest log is longer than the fork's.
    const honest = new SumdbClient({ verifierKey: server.verifierKey, ops: harness("/honest").ops });
    for (let i = 0; i <= forkHead.n; i++) await honest.lookup(`example.com/fork/grow${i}`, "v1.0.0");
    h.base.route = "/honest";
    await assert.rejects(client.refresh(), isTlog("fork"));
    assert.equal((await client.latest()).n, forkHead.n);
    assert.equal(server.stderr(), "");
  });
});
