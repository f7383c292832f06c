/**
 * End to end with the real go command: a fixture upstream (modules built by
 * the test, a static GOPROXY tree on loopback) behind goark. Cold, warm, and
 * with the upstream stopped, `go mod download -json`, `go list -m -versions`,
 * `go list -m M@latest` and `go build` of a program whose graph has 26
 * modules must all work; the hashes Go computes through goark must equal the
 * ones it computes reading the tree directly (GOPROXY=file://). Then the two
 * fall-through separators with two upstreams.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { FixtureUpstream, type Graph, generateGraph, writeTree } from "../helpers/fixture-upstream.ts";
import { type DownloadResult, describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";

const TIMEOUT = 180_000;

function sums(mods: DownloadResult[]): Map<string, [string | undefined, string | undefined]> {
  return new Map(mods.map((m) => [`${m.Path}@${m.Version}`, [m.Sum, m.GoModSum]]));
}

/** `go mod tidy` then `go build` then run the program; returns its output. */
async function buildAndRun(go: GoClient, graph: Graph, name: string, tidy = true): Promise<string> {
  const dir = await go.mainModule(name, graph.main);
  if (tidy) {
    const t = await go.run(["mod", "tidy"], { cwd: dir });
    assert.equal(t.code, 0, describeRun(t));
  }
  const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
  assert.equal(b.code, 0, describeRun(b));
  const graphList = await go.run(["list", "-m", "all"], { cwd: dir });
  assert.equal(graphList.code, 0, describeRun(graphList));
  assert.ok(graphList.stdout.trim().split("\n").length - 1 >= 20, graphList.stdout);
  const { execFile } = await import("node:child_process");
  return new Promise((ok, fail) =>
    execFile(join(dir, "app"), (err, stdout) => (err ? fail(err) : ok(stdout))),
  );
}

describe("goark with the real go command", { timeout: TIMEOUT * 3 }, () => {
  const graph = generateGraph(24);
  let tmp: string;
  let upstream: FixtureUpstream;
  let goark: GoarkInstance;
  const clients: GoClient[] = [];
  let goSum: Record<string, string>;
  const args = graph.versions.map((v) => `${v.module}@${v.version}`);

  const client = async (proxy: string) => {
    const c = await GoClient.create({ proxy });
    clients.push(c);
    return c;
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-e2e-"));
    await writeTree(join(tmp, "tree"), graph.versions);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
    goark = await startGoark({
      upstream: upstream.url,
      listTtl: "1s",
      upstreamRetries: "0",
      upstreamTimeout: "2s",
    });
  });

  after(async () => {
    await goark?.close();
    await upstream?.close();
    for (const c of clients) await c.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("cold: go mod download -json agrees with Go reading the tree directly", {
    timeout: TIMEOUT,
  }, async () => {
    const direct = await client(pathToFileURL(join(tmp, "tree")).href);
    const want = await direct.download(args);
    assert.equal(want.result.code, 0, describeRun(want.result));
    const go = await client(goark.url);
    const got = await go.download(args);
    assert.equal(got.result.code, 0, describeRun(got.result));
    assert.equal(got.modules.length, args.length);
    for (const m of got.modules) assert.equal(m.Error, undefined, `${m.Path}@${m.Version}: ${m.Error}`);
    assert.deepEqual(sums(got.modules), sums(want.modules));
    // Everything the client got is stored: info, mod and zip of each version.
    for (const v of graph.versions) {
      const { zipKey, infoKey, modKey } = await import("../../src/storage/keys.ts");
      for (const key of [
        zipKey(v.module, v.version),
        infoKey(v.module, v.version),
        modKey(v.module, v.version),
      ]) {
        assert.ok(await goark.app.storage.stat(key), key);
      }
    }
  });

  test("cold: list, latest and go build of a 26-module program", { timeout: TIMEOUT }, async () => {
    const go = await client(goark.url);
    const versions = await go.run(["list", "-m", "-versions", "example.com/fx/m05"]);
    assert.equal(versions.code, 0, describeRun(versions));
    assert.equal(versions.stdout.trim(), "example.com/fx/m05 v1.0.0 v1.1.0");
    const latest = await go.run(["list", "-m", "example.com/fx/Upper@latest"]);
    assert.equal(latest.code, 0, describeRun(latest));
    assert.equal(latest.stdout.trim(), "example.com/fx/Upper v1.1.0");
    assert.equal(await buildAndRun(go, graph, "cold"), graph.expectedOutput);
    // The tidied go.mod and go.sum: later builds must not need the network for anything new.
    goSum = {
      "go.mod": await readWorkFile(go, "cold", "go.mod"),
      "go.sum": await readWorkFile(go, "cold", "go.sum"),
    };
  });

  test("warm: a fresh client builds without versioned upstream requests", { timeout: TIMEOUT }, async () => {
    upstream.resetLog();
    const go = await client(goark.url);
    const dir = await go.mainModule("warm", { ...graph.main, ...goSum });
    const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(b.code, 0, describeRun(b));
    const versioned = upstream.requests.filter((r) => /\.(info|mod|zip)$/.test(r.path));
    assert.deepEqual(versioned, []);
  });

  test("upstream stopped: stored modules still build; list and latest come from the store", {
    timeout: TIMEOUT,
  }, async () => {
    await upstream.stop();
    await new Promise((r) => setTimeout(r, 1100)); // past listTtl
    const go = await client(goark.url);
    const dir = await go.mainModule("offline", { ...graph.main, ...goSum });
    const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(b.code, 0, describeRun(b));
    const d = await go.download(args.slice(0, 6));
    assert.equal(d.result.code, 0, describeRun(d.result));

    const versions = await go.run(["list", "-m", "-versions", "example.com/fx/m05"]);
    assert.equal(versions.code, 0, describeRun(versions));
    assert.equal(versions.stdout.trim(), "example.com/fx/m05 v1.0.0 v1.1.0");
    const latest = await go.run(["list", "-m", "example.com/fx/Upper@latest"]);
    assert.equal(latest.code, 0, describeRun(latest));
    assert.equal(latest.stdout.trim(), "example.com/fx/Upper v1.1.0");

    const res = await fetch(`${goark.url}/example.com/fx/m05/@v/list`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-goark-stale"), "1");
    assert.match(res.headers.get("warning") ?? "", /^110 /);
    await res.arrayBuffer();

    // A module never seen: a clear error, not a hang or a crash.
    const miss = await go.run(["mod", "download", "-json", "example.com/fx/never@v1.0.0"]);
    assert.notEqual(miss.code, 0);
    assert.match(miss.stdout, /example\.com\/fx\/never@v1\.0\.0/);
    assert.match(miss.stdout, /502|server response/);
    await upstream.restart();
  });

  describe("two upstreams", () => {
    let emptyRoot: string;
    let empty: FixtureUpstream;
    let full: FixtureUpstream;
    before(async () => {
      emptyRoot = join(tmp, "empty");
      await writeTree(emptyRoot, []);
      empty = await FixtureUpstream.start(emptyRoot);
      full = await FixtureUpstream.start(join(tmp, "tree"));
    });
    after(async () => {
      await empty?.close();
      await full?.close();
    });

    async function buildThrough(upstreamList: string, name: string): Promise<{ ok: boolean; out: string }> {
      const g = await startGoark({ upstream: upstreamList, upstreamRetries: "0", upstreamTimeout: "1s" });
      try {
        const go = await client(g.url);
        const dir = await go.mainModule(name, { ...graph.main, ...goSum });
        const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
        return { ok: b.code === 0, out: describeRun(b) };
      } finally {
        await g.close();
      }
    }

    test("`,` falls through on 404 and on 410", { timeout: TIMEOUT }, async () => {
      const r404 = await buildThrough(`${empty.url},${full.url}`, "comma404");
      assert.ok(r404.ok, r404.out);
      const remove = empty.fault(/./, { kind: "status", status: 410, body: "gone\n" });
      try {
        const r410 = await buildThrough(`${empty.url},${full.url}`, "comma410");
        assert.ok(r410.ok, r410.out);
      } finally {
        remove();
      }
    });

    test("`,` does not fall through on 5xx; `|` does, and on timeouts", { timeout: TIMEOUT }, async () => {
      const remove = empty.fault(/./, { kind: "status", status: 503, body: "down for maintenance\n" });
      try {
        const comma = await buildThrough(`${empty.url},${full.url}`, "comma5xx");
        assert.ok(!comma.ok, "`,` must not fall through on 503");
        assert.match(comma.out, /502 Bad Gateway|503/);
        const pipe = await buildThrough(`${empty.url}|${full.url}`, "pipe5xx");
        assert.ok(pipe.ok, pipe.out);
      } finally {
        remove();
      }
      const hang = empty.fault(/./, { kind: "hang" });
      try {
        const pipe = await buildThrough(`${empty.url}|${full.url}`, "pipeTimeout");
        assert.ok(pipe.ok, pipe.out);
      } finally {
        hang();
      }
    });
  });
});

async function readWorkFile(go: GoClient, name: string, file: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return readFile(join(go.home, "work", name, file), "utf8");
}
