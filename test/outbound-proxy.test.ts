/**
 * goark's outbound HTTP honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY: with a
 * loopback forward proxy standing in for a company egress proxy, an upstream
 * GOPROXY and a checksum database at made-up host names (which no resolver
 * knows) are reached only through it — the module is fetched, verified
 * against x/mod's own sumdb server and served — while NO_PROXY=127.0.0.1
 * sends loopback upstreams past it. `warm --server` (HttpFetcher) too.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { HttpFetcher } from "../src/warm/fetcher.ts";
import { FixtureUpstream, type FixtureVersion, writeTree } from "./helpers/fixture-upstream.ts";
import { type ForwardProxy, startForwardProxy } from "./helpers/forward-proxy.ts";
import { type GoarkInstance, startGoark } from "./helpers/goark-instance.ts";
import { type Oracle, startOracle } from "./helpers/oracle.ts";
import { type GoSumdbServer, goSumRecords, startGoSumdbServer } from "./helpers/sumdb-server.ts";

const MODULE = "example.com/egress/pkg";
const VERSION: FixtureVersion = {
  module: MODULE,
  version: "v1.0.0",
  time: "2024-01-01T00:00:00Z",
  files: { "go.mod": `module ${MODULE}\n\ngo 1.16\n`, "pkg.go": "package pkg\n\nconst V = 1\n" },
};
const UPSTREAM_HOST = "proxy.goark.test";
const SUMDB_HOST = "sum.goark.test";
const PROXY_VARS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"];

let tmp: string;
let upstream: FixtureUpstream;
let sumdb: GoSumdbServer;
let oracle: Oracle;
let proxy: ForwardProxy;
const saved: Record<string, string | undefined> = {};
const started: GoarkInstance[] = [];

/** Sets the proxy variables in one case form only, clearing the rest. */
function setProxyEnv(vars: Record<string, string>): void {
  for (const k of PROXY_VARS) delete process.env[k];
  Object.assign(process.env, vars);
}

before(async () => {
  for (const k of PROXY_VARS) saved[k] = process.env[k];
  tmp = await mkdtemp(join(tmpdir(), "goark-egress-"));
  const tree = join(tmp, "tree");
  await writeTree(tree, [VERSION]);
  oracle = await startOracle();
  const records = await goSumRecords(oracle, tree, [VERSION]);
  upstream = await FixtureUpstream.start(tree);
  sumdb = await startGoSumdbServer((_db, path, version) => records.get(`${path}@${version}`)?.text);
  proxy = await startForwardProxy({
    [UPSTREAM_HOST]: upstream.url,
    [SUMDB_HOST]: new URL(sumdb.url).origin,
  });
});

afterEach(async () => {
  for (const g of started.splice(0)) await g.close().catch(() => undefined);
  proxy.seen.length = 0;
  upstream.requests.length = 0;
});

after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await proxy?.close();
  await upstream?.close();
  await sumdb?.close();
  await oracle?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function goark(flags: Record<string, string>): Promise<GoarkInstance> {
  const g = await startGoark(flags);
  started.push(g);
  return g;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: Buffer.from(await res.arrayBuffer()).toString("latin1") };
}

function sumdbFlag(base: string): string {
  const path = new URL(sumdb.url).pathname.replace(/\/+$/, "");
  return `${sumdb.verifierKey} ${base}${path}/honest`;
}

describe("outbound HTTP through HTTP_PROXY", () => {
  test("an upstream and a checksum database at made-up hosts are reached only through the proxy", async () => {
    setProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1,localhost" });
    const g = await goark({
      upstream: `http://${UPSTREAM_HOST}`,
      sumdb: sumdbFlag(`http://${SUMDB_HOST}`),
    });
    const zip = await get(`${g.url}/${MODULE}/@v/v1.0.0.zip`);
    assert.equal(zip.status, 200, zip.text);
    assert.equal((await get(`${g.url}/${MODULE}/@v/list`)).text, "v1.0.0\n");
    const viaUpstream = proxy.seen.filter((s) => s.startsWith(`GET http://${UPSTREAM_HOST}/`));
    const viaSumdb = proxy.seen.filter((s) => s.startsWith(`GET http://${SUMDB_HOST}/`));
    assert.ok(
      viaUpstream.includes(`GET http://${UPSTREAM_HOST}/${MODULE}/@v/v1.0.0.zip`),
      proxy.seen.join("\n"),
    );
    assert.ok(
      viaSumdb.some((s) => s.includes(`/lookup/${MODULE}@v1.0.0`)),
      `the database lookup went through the proxy:\n${proxy.seen.join("\n")}`,
    );
    assert.ok(upstream.requests.length > 0, "the upstream answered (through the proxy)");
  });

  test("the lower-case forms work the same", async () => {
    setProxyEnv({ http_proxy: proxy.url, no_proxy: "127.0.0.1" });
    const g = await goark({ upstream: `http://${UPSTREAM_HOST}` });
    const info = await get(`${g.url}/${MODULE}/@v/v1.0.0.info`);
    assert.equal(info.status, 200, info.text);
    assert.ok(
      proxy.seen.includes(`GET http://${UPSTREAM_HOST}/${MODULE}/@v/v1.0.0.info`),
      proxy.seen.join("\n"),
    );
    assert.ok(
      proxy.seen.every((s) => s.startsWith(`GET http://${UPSTREAM_HOST}/`)),
      proxy.seen.join("\n"),
    );
  });

  test("without a proxy variable the made-up host is unreachable", async () => {
    setProxyEnv({});
    const g = await goark({ upstream: `http://${UPSTREAM_HOST}`, upstreamRetries: "0" });
    const info = await get(`${g.url}/${MODULE}/@v/v1.0.0.info`);
    assert.equal(info.status, 502, info.text);
    assert.deepEqual([...proxy.seen], []);
  });

  test("NO_PROXY=127.0.0.1 sends loopback upstreams and databases past the proxy", async () => {
    setProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" });
    const g = await goark({ upstream: upstream.url, sumdb: sumdbFlag(new URL(sumdb.url).origin) });
    const zip = await get(`${g.url}/${MODULE}/@v/v1.0.0.zip`);
    assert.equal(zip.status, 200, zip.text);
    assert.ok(upstream.requests.length > 0);
    assert.deepEqual([...proxy.seen], [], "nothing went through the proxy");

    // The same loopback servers, without the exemption, are reached through it.
    setProxyEnv({ HTTP_PROXY: proxy.url });
    const h = await goark({ upstream: upstream.url, sumdb: sumdbFlag(new URL(sumdb.url).origin) });
    const info = await get(`${h.url}/${MODULE}/@v/v1.0.0.info`);
    assert.equal(info.status, 200, info.text);
    const origin = new URL(upstream.url).origin;
    assert.ok(proxy.seen.includes(`GET ${origin}/${MODULE}/@v/v1.0.0.info`), proxy.seen.join("\n"));
    assert.ok(
      proxy.seen.some((s) => s.startsWith(`GET ${new URL(sumdb.url).origin}/`)),
      proxy.seen.join("\n"),
    );
  });

  test("warm --server reaches a remote goark through the proxy", async () => {
    setProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "localhost" });
    const g = await goark({ upstream: upstream.url });
    const fetcher = new HttpFetcher(g.url);
    const mod = await fetcher.mod(MODULE, "v1.0.0");
    assert.equal(mod.data.toString(), VERSION.files["go.mod"]);
    assert.ok(
      proxy.seen.includes(`GET ${new URL(g.url).origin}/${MODULE}/@v/v1.0.0.mod`),
      proxy.seen.join("\n"),
    );
  });
});
