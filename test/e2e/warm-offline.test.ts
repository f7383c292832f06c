/**
 * warm, then offline, with the real go command. A fixture upstream (the
 * 26-module graph plus modules with a retraction, prereleases and only
 * pseudo-versions) is running; `goark warm` fills a store from a project's
 * go.mod/go.sum and a few module@latest queries (and, with --server, a
 * running goark's store). Then the upstream is stopped and
 * `goark serve --offline` — with a loopback "upstream" configured alongside
 * that counts connection attempts — serves a go client with a cold module
 * cache: `go build`, `go list -m -versions`, `go list -m M@latest` and
 * `go mod download -json` all succeed, with the answers and hashes Go gets
 * reading the tree directly (GOPROXY=file://); a module never warmed gets a
 * 404 whose message says how to add it; no connection reaches the upstream.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { modKey, zipKey } from "../../src/storage/keys.ts";
import {
  FixtureUpstream,
  type FixtureVersion,
  generateGraph,
  writeTree,
} from "../helpers/fixture-upstream.ts";
import {
  type DownloadResult,
  describe as describeRun,
  GoClient,
  parseJsonStream,
} from "../helpers/go-client.ts";
import { goark, showRun as show } from "../helpers/goark-cli.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";

const TIMEOUT = 240_000;

function fx(module: string, version: string, time: string, goModExtra = ""): FixtureVersion {
  return {
    module,
    version,
    time,
    files: { "go.mod": `module ${module}\n\ngo 1.16\n${goModExtra}`, "x.go": "package x\n" },
  };
}

const RETRACTING = "example.com/fx/retracting";
const PRE = "example.com/fx/pre";
const PSEUDO = "example.com/fx/pseudo";
const EXTRA: FixtureVersion[] = [
  fx(RETRACTING, "v1.0.0", "2023-01-01T00:00:00Z"),
  fx(RETRACTING, "v1.1.0", "2023-02-01T00:00:00Z"),
  fx(RETRACTING, "v1.2.0", "2023-03-01T00:00:00Z", "\nretract [v1.1.0, v1.2.0] // broken\n"),
  fx(PRE, "v0.1.0", "2023-01-01T00:00:00Z"),
  fx(PRE, "v0.2.0-rc.1", "2023-02-01T00:00:00Z"),
  fx(PSEUDO, "v0.0.0-20230101000000-aaaaaaaaaaaa", "2023-01-01T00:00:00Z"),
  fx(PSEUDO, "v0.0.0-20230201000000-bbbbbbbbbbbb", "2023-02-01T00:00:00Z"),
];

/** A TCP listener that only counts connection attempts (and drops them). */
async function trap(): Promise<{ server: Server; url: string; connections: () => number }> {
  let n = 0;
  const server = createServer((sock) => {
    n++;
    sock.destroy();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}`, connections: () => n };
}

describe("goark warm, then serve --offline, with the real go command", { timeout: TIMEOUT * 3 }, () => {
  const graph = generateGraph(24);
  let tmp: string;
  let store: string;
  let upstream: FixtureUpstream;
  const clients: GoClient[] = [];
  const instances: GoarkInstance[] = [];
  let tidied: { "go.mod": string; "go.sum": string };
  let appDir: string;
  /** What Go answers reading the tree directly. */
  const expected = {
    versions: new Map<string, string>(),
    latest: new Map<string, string>(),
    sums: new Map<string, [string | undefined, string | undefined]>(),
  };
  const listed = ["example.com/fx/m03", RETRACTING, PRE];
  const latestOf = ["example.com/fx/m03", "example.com/fx/m24", RETRACTING, PRE, PSEUDO];

  const client = async (proxy: string) => {
    const c = await GoClient.create({ proxy });
    clients.push(c);
    return c;
  };

  async function versionsAndLatest(go: GoClient, cwd: string) {
    const versions = new Map<string, string>();
    for (const m of listed) {
      const r = await go.run(["list", "-m", "-versions", m], { cwd });
      assert.equal(r.code, 0, describeRun(r));
      versions.set(m, r.stdout.trim());
    }
    const r = await go.run(["list", "-m", "-json", ...latestOf.map((m) => `${m}@latest`)], { cwd });
    assert.equal(r.code, 0, describeRun(r));
    const latest = new Map(
      parseJsonStream<{ Path: string; Version: string }>(r.stdout).map((m) => [m.Path, m.Version]),
    );
    return { versions, latest };
  }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-warm-e2e-"));
    store = join(tmp, "store");
    await writeTree(join(tmp, "tree"), [...graph.versions, ...EXTRA]);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));

    // The project, tidied by Go reading the tree directly; Go's answers there are the expectations.
    const direct = await client(pathToFileURL(join(tmp, "tree")).href);
    const dir = await direct.mainModule("app", graph.main);
    const t = await direct.run(["mod", "tidy"], { cwd: dir });
    assert.equal(t.code, 0, describeRun(t));
    tidied = {
      "go.mod": await readFile(join(dir, "go.mod"), "utf8"),
      "go.sum": await readFile(join(dir, "go.sum"), "utf8"),
    };
    const d = await direct.download(["all"], { cwd: dir });
    assert.equal(d.result.code, 0, describeRun(d.result));
    for (const m of d.modules) expected.sums.set(`${m.Path}@${m.Version}`, [m.Sum, m.GoModSum]);
    assert.ok(expected.sums.size >= 26, `graph has ${expected.sums.size} modules`);
    const va = await versionsAndLatest(direct, dir);
    expected.versions = va.versions;
    expected.latest = va.latest;

    // The project warm reads: a fresh copy of the tidied go.mod/go.sum.
    const proj = await client("off");
    appDir = await proj.mainModule("project", { ...graph.main, ...tidied });
  });

  after(async () => {
    for (const g of instances) await g.close();
    await upstream?.close();
    for (const c of clients) await c.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("warm fills the local store from a project directory and module queries", {
    timeout: TIMEOUT,
  }, async () => {
    const r = await goark(
      [
        "warm",
        appDir,
        "example.com/fx/m03@latest",
        `${RETRACTING}@latest`,
        `${PRE}@latest`,
        `${PRE}@v0.2.0-rc.1`,
        `${PSEUDO}@latest`,
        "--storage",
        store,
        "--upstream",
        upstream.url,
        "--sumdb",
        "off",
        "--jobs",
        "4",
      ],
      tmp,
    );
    assert.equal(r.code, 0, show(r));
    const m = /warmed disk:\S+: (\d+) modules, (\d+) versions \((\d+) zips\), .* (\d+) failures/.exec(
      r.stdout,
    );
    assert.ok(m, show(r));
    assert.ok(Number(m[1]) >= 29, show(r));
    assert.equal(Number(m[4]), 0);
    // Not a terminal: plain progress lines, no bar.
    assert.match(r.stderr, /^warm: \d+\/\d+ done/m);
  });

  test("warm reports what failed and why, with exit code 1", { timeout: TIMEOUT }, async () => {
    const r = await goark(
      [
        "warm",
        "example.com/fx/m01@v1.9.0",
        "example.com/fx/nowhere@latest",
        "example.com/fx/m02@v1.0.0",
        "--storage",
        join(tmp, "store-fail"),
        "--upstream",
        upstream.url,
        "--sumdb",
        "off",
        "--json",
      ],
      tmp,
    );
    assert.equal(r.code, 1, show(r));
    const report = JSON.parse(r.stdout) as {
      versions: number;
      failures: { module: string; version: string; step: string; error: string }[];
    };
    assert.equal(report.versions, 2); // m02 and m01@v1.0.0 it requires
    const failed = report.failures.map((f) => `${f.module}@${f.version} ${f.step}`).sort();
    assert.deepEqual(failed, ["example.com/fx/m01@v1.9.0 mod", "example.com/fx/nowhere@latest resolve"]);
    for (const f of report.failures) assert.match(f.error, /404|not found/i);
  });

  test("warm --server fills a running goark's own store", { timeout: TIMEOUT }, async () => {
    const connected = await startGoark({ upstream: upstream.url, sumdb: "off" });
    instances.push(connected);
    const r = await goark(["warm", "--server", connected.url, join(appDir, "go.mod")], tmp);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`warmed ${connected.url.replace(/[.]/g, "\\.")}: `));
    for (const id of expected.sums.keys()) {
      const [mod, v] = id.split("@") as [string, string];
      assert.ok(await connected.app.storage.stat(modKey(mod, v)), `${id}.mod`);
      assert.ok(await connected.app.storage.stat(zipKey(mod, v)), `${id}.zip`);
    }
  });

  test("with the upstream gone, serve --offline answers the go client from the store alone", {
    timeout: TIMEOUT,
  }, async () => {
    await upstream.stop();
    const t = await trap();
    try {
      const offline = await startGoark({ offline: "true", upstream: t.url, sumdb: "off" }, { store });
      instances.push(offline);
      const go = await client(offline.url);
      const dir = await go.mainModule("app", { ...graph.main, ...tidied });

      const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
      assert.equal(b.code, 0, describeRun(b));
      const out = await new Promise<string>((ok, fail) =>
        execFile(join(dir, "app"), (err, stdout) => (err ? fail(err) : ok(stdout))),
      );
      assert.equal(out, graph.expectedOutput);

      const va = await versionsAndLatest(go, dir);
      assert.deepEqual(va.versions, expected.versions);
      assert.deepEqual(va.latest, expected.latest);

      await go.clearModCache();
      const d = await go.download(["all"], { cwd: dir });
      assert.equal(d.result.code, 0, describeRun(d.result));
      const got = new Map(
        d.modules.map((m: DownloadResult) => [`${m.Path}@${m.Version}`, [m.Sum, m.GoModSum]]),
      );
      assert.deepEqual(got, expected.sums);

      // Never warmed: an existing version upstream had, and an unknown module.
      const miss = await go.download(["example.com/fx/m05@v1.1.0"], { cwd: dir });
      assert.notEqual(miss.result.code, 0);
      const err = miss.modules[0]?.Error ?? "";
      assert.match(err, /404 Not Found/);
      assert.match(err, /example\.com\/fx\/m05@v1\.1\.0: not in the offline store/);
      assert.match(err, /goark warm example\.com\/fx\/m05@v1\.1\.0.*goark export.*goark import/);
      const unknown = await go.run(["list", "-m", "example.com/fx/unknown@latest"], { cwd: dir });
      assert.notEqual(unknown.code, 0);
      assert.match(
        unknown.stderr,
        /example\.com\/fx\/unknown: not in the offline store; to add it, run `goark warm/,
      );

      assert.equal(t.connections(), 0, "an offline goark opened a connection to its configured upstream");
    } finally {
      await new Promise((r) => t.server.close(r));
    }
  });

  test("an upstream of off serves offline too", { timeout: TIMEOUT }, async () => {
    const off = await startGoark({ upstream: "off", sumdb: "off" }, { store });
    instances.push(off);
    const go = await client(off.url);
    const r = await go.run(["list", "-m", "-versions", RETRACTING]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), expected.versions.get(RETRACTING));
    const miss = await go.run(["list", "-m", "example.com/fx/m05@v1.1.0"]);
    assert.notEqual(miss.code, 0);
    assert.match(miss.stderr, /not in the offline store/);
  });
});
