/**
 * goark verifies before it stores, against a checksum database no code of
 * ours implements: golang.org/x/mod's own sumdb server (test/sumdb-server)
 * over the fixture upstream's modules, their go.sum hashes computed by Go
 * (the oracle's dirhash). goark accepts honest modules, refuses a zip
 * altered upstream (nothing stored, an error naming both hashes), skips
 * --nosumdb modules, detects a forked tree across a restart, reaches the
 * database through an upstream goark's /sumdb/ route, and proxies
 * /sumdb/<name>/ (proven lookups and tiles, cached, served offline, private
 * lookups refused without contacting anyone) well enough for the real go
 * command to verify through it.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { escapePath } from "../src/module/path.ts";
import { zipKey } from "../src/storage/keys.ts";
import { generateKey } from "../src/sumdb/note.ts";
import { buildZip, FixtureUpstream, type FixtureVersion, writeTree } from "./helpers/fixture-upstream.ts";
import { GoClient } from "./helpers/go-client.ts";
import { type GoarkInstance, startGoark } from "./helpers/goark-instance.ts";
import { type Oracle, startOracle } from "./helpers/oracle.ts";
import {
  type GoSumdbServer,
  type GoSumRecord,
  goSumRecords,
  startGoSumdbServer,
} from "./helpers/sumdb-server.ts";

const T = "2024-01-01T00:00:00Z";

function mod(module: string, version: string, extra = ""): FixtureVersion {
  const name =
    module
      .split("/")
      .at(-1)!
      .replace(/[^a-z]/g, "") || "m";
  return {
    module,
    version,
    time: T,
    files: {
      "go.mod": `module ${module}\n\ngo 1.16\n`,
      [`${name}.go`]: `package ${name}\n\n// V is the version.\nconst V = "${version}${extra}"\n`,
    },
  };
}

const GOOD = "example.com/sv/good";
const UPPER = "example.com/sv/Upper";
const TAMPERED = "example.com/sv/tampered";
const VICTIM = "example.com/sv/victim";
const NOSUM = "example.com/nosum/x";
const VERSIONS = [
  mod(GOOD, "v1.0.0"),
  mod(GOOD, "v1.1.0"),
  mod(GOOD, "v1.2.0"),
  mod(UPPER, "v1.0.0"),
  mod(TAMPERED, "v1.0.0"),
  mod(VICTIM, "v1.0.0"),
  mod(NOSUM, "v1.0.0"),
];

let tmp: string;
let upstream: FixtureUpstream;
let sumdb: GoSumdbServer;
let oracle: Oracle;
/** Go's go.sum lines for every fixture version, keyed path@version. */
let records: Map<string, GoSumRecord>;
let alteredZip: Buffer;
let alteredH1: string;
const started: GoarkInstance[] = [];

async function goark(flags: Record<string, string>, store?: string): Promise<GoarkInstance> {
  const g = await startGoark(flags, store === undefined ? {} : { store });
  started.push(g);
  return g;
}

function key(): string {
  return sumdb.verifierKey;
}
const NAME = "localhost.goark.test/sumdb";

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "goark-sumdb-verify-"));
  const tree = join(tmp, "tree");
  await writeTree(tree, VERSIONS);
  oracle = await startOracle();
  records = await goSumRecords(oracle, tree, VERSIONS);
  // The upstream serves a different zip for TAMPERED than the one the database vouches for.
  const altered = join(tmp, "altered.zip");
  await buildZip(mod(TAMPERED, "v1.0.0", " with a backdoor"), altered);
  alteredZip = await readFile(altered);
  alteredH1 = (await oracle.ask<string>("dirhash.HashZip", [altered])).v!;
  upstream = await FixtureUpstream.start(tree);
  upstream.fault(`/${TAMPERED}/@v/v1.0.0.zip`, { kind: "body", body: alteredZip });
  sumdb = await startGoSumdbServer((db, path, version) => {
    if (path.startsWith("example.com/nosum/")) return undefined;
    const r = records.get(`${path}@${version}`);
    if (r === undefined) return undefined;
    // The fork's history differs from the honest one in every record.
    return db === "fork" ? r.text.replaceAll(" h1:", " h1:FORGED") : r.text;
  });
});

after(async () => {
  for (const g of started) await g.close().catch(() => undefined);
  await upstream?.close();
  await sumdb?.close();
  await oracle?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function get(g: GoarkInstance, path: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`${g.url}${path}`);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe("verify before store (x/mod's sumdb server)", () => {
  test("honest modules are verified and stored; the tree head is kept", async () => {
    const g = await goark({ upstream: upstream.url, sumdb: `${key()} ${sumdb.url}/honest` });
    for (const m of [GOOD, UPPER]) {
      const r = await get(g, `/${escapePath(m)}/@v/v1.0.0.zip`);
      assert.equal(r.status, 200, r.body.toString());
      assert.ok(existsSync(join(g.store, zipKey(m, "v1.0.0"))));
      assert.ok(sumdb.asked.includes(`honest ${m}@v1.0.0`), `the database was asked for ${m}`);
    }
    const kept = await readFile(join(g.store, ".sumdb/remote", NAME, "latest"), "utf8");
    assert.match(kept, /^go\.sum database tree\n\d+\n/);
    assert.ok(Number(kept.split("\n")[1]) >= 2);
    const cached = await readdir(join(g.store, ".sumdb/remote", NAME), { recursive: true });
    assert.ok(cached.includes(`lookup/${GOOD}@v1.0.0`), "the proven lookup is cached");
    assert.ok(
      cached.some((f) => f.startsWith("tile/8/0/000")),
      "proven tiles are cached",
    );
    // .info/.mod alone are verified too (the go.mod hash).
    const info = await get(g, `/${GOOD}/@v/v1.1.0.info`);
    assert.equal(info.status, 200);
    assert.ok(sumdb.asked.includes(`honest ${GOOD}@v1.1.0`));
  });

  test("a zip altered upstream is refused, not stored, with both hashes named", async () => {
    const g = await goark({ upstream: upstream.url, sumdb: `${key()} ${sumdb.url}/honest` });
    const r = await get(g, `/${TAMPERED}/@v/v1.0.0.zip`);
    const text = r.body.toString();
    assert.equal(r.status, 502, text);
    const want = records.get(`${TAMPERED}@v1.0.0`)!.zip;
    assert.ok(text.includes(`${TAMPERED}@v1.0.0`), text);
    assert.ok(text.includes(want), `expected hash ${want} in: ${text}`);
    assert.ok(text.includes(alteredH1), `actual hash ${alteredH1} in: ${text}`);
    assert.match(text, /checksum database localhost\.goark\.test\/sumdb/);
    assert.ok(!existsSync(join(g.store, zipKey(TAMPERED, "v1.0.0"))), "the altered zip is not stored");
    // Its go.mod is honest, and is stored.
    assert.equal((await get(g, `/${TAMPERED}/@v/v1.0.0.mod`)).status, 200);
  });

  test("a module the database does not know is refused, unless it matches --nosumdb", async () => {
    const strict = await goark({ upstream: upstream.url, sumdb: `${key()} ${sumdb.url}/honest` });
    const r = await get(strict, `/${NOSUM}/@v/v1.0.0.zip`);
    assert.equal(r.status, 502, r.body.toString());
    assert.match(r.body.toString(), /has no record of it/);
    assert.ok(!existsSync(join(strict.store, zipKey(NOSUM, "v1.0.0"))));

    const asked = sumdb.asked.length;
    const lax = await goark({
      upstream: upstream.url,
      sumdb: `${key()} ${sumdb.url}/honest`,
      nosumdb: "example.com/nosum",
    });
    assert.equal((await get(lax, `/${NOSUM}/@v/v1.0.0.zip`)).status, 200);
    assert.ok(existsSync(join(lax.store, zipKey(NOSUM, "v1.0.0"))));
    assert.equal(sumdb.asked.length, asked, "--nosumdb modules are never looked up");
    // Lookups of such a module through goark's proxy are refused without contacting anyone.
    const lookup = await get(lax, `/sumdb/${NAME}/lookup/${NOSUM}@v1.0.0`);
    assert.equal(lookup.status, 404);
    assert.match(lookup.body.toString(), /--nosumdb: not looked up/);
    assert.equal(sumdb.asked.length, asked);
    const priv = await goark({
      upstream: upstream.url,
      sumdb: `${key()} ${sumdb.url}/honest`,
      private: "example.com/sv/good",
    });
    const refused = await get(priv, `/sumdb/${NAME}/lookup/${GOOD}@v1.0.0`);
    assert.equal(refused.status, 404);
    assert.match(
      refused.body.toString(),
      /private module \(--private\): not looked up in the public checksum database/,
    );
    assert.equal(sumdb.asked.length, asked, "private lookups contact no one");
  });

  test("--sumdb off stores unverified and says so", async () => {
    const g = await goark({ upstream: upstream.url, sumdb: "off", logLevel: "info" });
    assert.ok(g.logs.some((l) => /checksum verification is off/.test(l)));
    assert.ok(g.app.clientLines.some((l) => /verification is off/.test(l)));
    const asked = sumdb.asked.length;
    assert.equal((await get(g, `/${TAMPERED}/@v/v1.0.0.zip`)).status, 200);
    assert.equal(sumdb.asked.length, asked);
  });

  test("a forked tree is detected across a restart; nothing is stored from it", async () => {
    const store = join(tmp, "fork-store");
    const honest = await goark({ upstream: upstream.url, sumdb: `${key()} ${sumdb.url}/honest` }, store);
    assert.equal((await get(honest, `/${VICTIM}/@v/v1.0.0.zip`)).status, 200);
    await honest.close();
    const keptBefore = await readFile(join(store, ".sumdb/remote", NAME, "latest"));

    // Same key, another history: the database lies.
    const forked = await goark({ upstream: upstream.url, sumdb: `${key()} ${sumdb.url}/fork` }, store);
    const r = await get(forked, `/${GOOD}/@v/v1.2.0.zip`);
    assert.equal(r.status, 502, r.body.toString());
    assert.match(r.body.toString(), /SECURITY ERROR/);
    assert.ok(!existsSync(join(store, zipKey(GOOD, "v1.2.0"))));
    assert.ok(forked.logs.some((l) => l.includes("SECURITY ERROR") && l.includes("proof")));
    assert.deepEqual(await readFile(join(store, ".sumdb/remote", NAME, "latest")), keptBefore);
  });
});

describe("checksum database proxying", () => {
  let a: GoarkInstance;
  before(async () => {
    a = await goark(
      { upstream: upstream.url, sumdb: `${key()} ${sumdb.url}/honest`, nosumdb: "example.com/nosum" },
      join(tmp, "proxy-store"),
    );
  });

  test("supported, lookup, tiles and latest are proven and served", async () => {
    assert.equal((await get(a, `/sumdb/${NAME}/supported`)).status, 200);
    const lookup = await get(a, `/sumdb/${NAME}/lookup/${GOOD}@v1.0.0`);
    assert.equal(lookup.status, 200, lookup.body.toString());
    const text = lookup.body.toString();
    assert.ok(text.includes(records.get(`${GOOD}@v1.0.0`)!.text), text);
    assert.match(text, /^\d+\n/);
    const latest = await get(a, `/sumdb/${NAME}/latest`);
    assert.equal(latest.status, 200);
    const n = Number(latest.body.toString().split("\n")[1]);
    assert.ok(n >= 1);
    // The level-0 tile as the database publishes it.
    const w = Math.min(n, 256);
    const tilePath = `tile/8/0/000${w < 256 ? `.p/${w}` : ""}`;
    const ours = await get(a, `/sumdb/${NAME}/${tilePath}`);
    const theirs = Buffer.from(await (await fetch(`${sumdb.url}/honest/${tilePath}`)).arrayBuffer());
    assert.equal(ours.status, 200);
    assert.deepEqual(ours.body, theirs);
    // Unknown paths and other databases are 404 with a reason.
    assert.equal((await get(a, "/sumdb/sum.example.com/supported")).status, 404);
    assert.equal((await get(a, `/sumdb/${NAME}/tile/8/0/999`)).status, 404);
    assert.equal((await get(a, `/sumdb/${NAME}/lookup/nonsense`)).status, 400);
  });

  test("a second goark reaches the database through the first one's /sumdb/ route", async () => {
    const before = sumdb.asked.length;
    // No URL in --sumdb: the upstream proxy is asked whether it proxies the database.
    const b = await goark({ upstream: a.url, sumdb: key() });
    const r = await get(b, `/${GOOD}/@v/v1.1.0.zip`);
    assert.equal(r.status, 200, r.body.toString());
    assert.ok(existsSync(join(b.store, ".sumdb/remote", NAME, "latest")));
    assert.ok(
      existsSync(join(a.store, ".sumdb/remote", NAME, "lookup", GOOD + "@v1.1.0")),
      "lookup went through a",
    );
    assert.ok(sumdb.asked.length >= before);
    const bad = await get(b, `/${TAMPERED}/@v/v1.0.0.zip`);
    assert.equal(bad.status, 502);
  });

  test("the go command verifies through goark's proxied database", async () => {
    const go = await GoClient.create({ proxy: a.url, env: { GOSUMDB: key() } });
    try {
      const { result, modules } = await go.download([`${GOOD}@v1.0.0`, `${UPPER}@v1.0.0`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(modules.find((m) => m.Path === GOOD)?.Sum, records.get(`${GOOD}@v1.0.0`)!.zip);
      // The go command did verify: its own sumdb cache holds the lookup and the tree head.
      const goSumdb = join(go.env.GOMODCACHE!, "cache/download/sumdb", NAME);
      assert.ok(existsSync(join(goSumdb, "lookup", `${GOOD}@v1.0.0`)), "go looked the module up");
      assert.ok(existsSync(join(go.env.GOPATH!, "pkg/sumdb", NAME, "latest")), "go kept the tree head");
      const bad = await go.download([`${TAMPERED}@v1.0.0`]);
      assert.notEqual(bad.result.code, 0);
    } finally {
      await go.close();
    }
  });

  test("what is cached is served when the database is unreachable", async () => {
    const lookupPath = `/sumdb/${NAME}/lookup/${GOOD}@v1.0.0`;
    const cachedLookup = await get(a, lookupPath);
    assert.equal(cachedLookup.status, 200);
    const latest = await get(a, `/sumdb/${NAME}/latest`);
    // The database goes away: a goark pointing at a dead URL over the same store.
    const store = a.store;
    await a.close();
    const dead = await goark(
      { upstream: upstream.url, sumdb: `${key()} http://127.0.0.1:1/nowhere`, listTtl: "0s" },
      store,
    );
    const again = await get(dead, lookupPath);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, cachedLookup.body);
    const staleLatest = await get(dead, `/sumdb/${NAME}/latest`);
    assert.equal(staleLatest.status, 200);
    assert.deepEqual(staleLatest.body, latest.body);
    const miss = await get(dead, `/sumdb/${NAME}/lookup/${GOOD}@v1.2.0`);
    assert.equal(miss.status, 502, miss.body.toString());
  });
});

describe("bad input from the upstream database is rejected and nothing is cached", () => {
  /** Files kept for the database besides the signed head (tiles, lookups). */
  async function kept(g: GoarkInstance): Promise<string[]> {
    const dir = join(g.store, ".sumdb/remote", NAME);
    if (!existsSync(dir)) return [];
    const all = await readdir(dir, { recursive: true });
    return all.filter((f) => /^(tile|lookup)\/.+[^/]$/.test(f) && !f.endsWith("/") && /\d|@/.test(f));
  }

  async function refused(sumdbValue: string, pattern: RegExp): Promise<GoarkInstance> {
    const g = await goark({ upstream: upstream.url, sumdb: sumdbValue });
    const r = await get(g, `/${GOOD}/@v/v1.0.0.zip`);
    assert.equal(r.status, 502, r.body.toString());
    assert.match(r.body.toString(), pattern);
    assert.ok(r.body.toString().includes(`${GOOD}@v1.0.0`), r.body.toString());
    assert.ok(!existsSync(join(g.store, zipKey(GOOD, "v1.0.0"))), "nothing stored");
    const lookup = await get(g, `/sumdb/${NAME}/lookup/${GOOD}@v1.0.0`);
    assert.equal(lookup.status, 502, "the proxy does not hand it on either");
    return g;
  }

  test("tiles that do not hash to the signed tree", async () => {
    const g = await refused(`${key()} ${sumdb.url}/badtile`, /inconsistent tile/);
    assert.deepEqual(await kept(g), []);
    assert.equal((await get(g, `/sumdb/${NAME}/tile/8/0/000.p/1`)).status, 502);
  });

  test("a record that is not the one in the tree", async () => {
    const g = await refused(`${key()} ${sumdb.url}/badrecord`, /cannot authenticate record|does not match/);
    assert.deepEqual(
      (await kept(g)).filter((f) => f.startsWith("lookup/")),
      [],
    );
  });

  test("notes signed by another key", async () => {
    const other = generateKey(NAME).verifierKey;
    const g = await refused(`${other} ${sumdb.url}/honest`, /tree note|signature|unknown key|verif/i);
    assert.ok(!existsSync(join(g.store, ".sumdb/remote", NAME, "latest")), "no head kept");
  });

  test("malformed notes and oversized responses", async () => {
    const bad = createServer((req, res) => {
      if ((req.url ?? "").startsWith("/big/")) {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(Buffer.alloc(2 << 20, 0x41));
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`0\n${GOOD} v1.0.0 h1:x\n\ngo.sum database tree\n1\nnot a note\n`);
    });
    await new Promise<void>((r) => bad.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
    try {
      const g1 = await refused(`${key()} ${base}/bad`, /note|malformed/i);
      assert.deepEqual(await kept(g1), []);
      const g2 = await refused(`${key()} ${base}/big`, /over the \d+-byte limit/);
      assert.deepEqual(await kept(g2), []);
    } finally {
      await new Promise<void>((r) => bad.close(() => r()));
    }
  });
});

describe("goark's own database over a store filled without goark (import, copied tree)", () => {
  test("an offline goark records a stored version on its first lookup, with Go's hashes", async () => {
    const store = join(tmp, "copied-store");
    await cp(join(tmp, "tree"), store, { recursive: true });
    const g = await goark({ upstream: upstream.url, offline: "true" }, store);
    const own = g.app.sumdb!.own!;
    assert.equal(await own.size(), 0);
    const r = await get(g, `/sumdb/${own.name}/lookup/${escapePath(UPPER)}@v1.0.0`);
    assert.equal(r.status, 200, r.body.toString());
    assert.ok(r.body.toString().includes(records.get(`${UPPER}@v1.0.0`)!.text), r.body.toString());
    assert.equal(await own.size(), 1);
    const miss = await get(g, `/sumdb/${own.name}/lookup/example.com/not/stored@v1.0.0`);
    assert.equal(miss.status, 404, miss.body.toString());
  });
});
