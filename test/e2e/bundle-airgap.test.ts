/**
 * The air-gap drill with the real go command and the goark CLI: a connected
 * goark fills its store while `go mod tidy` + `go build` run through it; the
 * store is exported (selected by the program's go.mod) and imported into an
 * empty store; the go command then builds the program from that store with
 * `GOPROXY=file://<store>` (the store is a GOPROXY tree), from an
 * `export --format dir` tree, and from a store filled by importing the go
 * command's own download cache. The bundle's h1 values must equal the go.sum
 * lines Go computed. An incremental bundle after a dependency bump carries
 * only the new version; a corrupted bundle is rejected and changes nothing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { readBundleManifest } from "../../src/bundle/import.ts";
import { parseGoSum } from "../../src/module/gosum.ts";
import { FixtureUpstream, generateGraph, writeTree } from "../helpers/fixture-upstream.ts";
import { describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { goark, showRun as show } from "../helpers/goark-cli.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import { snapshotTree } from "../helpers/store-snapshot.ts";

const TIMEOUT = 240_000;

describe("air-gap drill: export, import, build with the real go command", { timeout: TIMEOUT * 2 }, () => {
  const graph = generateGraph(24);
  let tmp: string;
  let upstream: FixtureUpstream;
  let connected: GoarkInstance;
  const clients: GoClient[] = [];
  let tidied: { "go.mod": string; "go.sum": string };

  const client = async (proxy: string) => {
    const c = await GoClient.create({ proxy });
    clients.push(c);
    return c;
  };

  /** Builds the program from proxy in a fresh client and returns its output and the client. */
  async function buildFrom(
    proxy: string,
    name: string,
    files: Record<string, string>,
  ): Promise<{ out: string; go: GoClient }> {
    const go = await client(proxy);
    const dir = await go.mainModule(name, { ...graph.main, ...files });
    const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(b.code, 0, describeRun(b));
    const out = await new Promise<string>((ok, fail) =>
      execFile(join(dir, "app"), (err, stdout) => (err ? fail(err) : ok(stdout))),
    );
    return { out, go };
  }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-airgap-"));
    await writeTree(join(tmp, "tree"), graph.versions);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
    connected = await startGoark(
      { upstream: upstream.url, upstreamRetries: "0" },
      { store: join(tmp, "connected") },
    );
    // The connected side: the go command fills goark's store.
    const go = await client(connected.url);
    const dir = await go.mainModule("app", graph.main);
    const t = await go.run(["mod", "tidy"], { cwd: dir });
    assert.equal(t.code, 0, describeRun(t));
    const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(b.code, 0, describeRun(b));
    tidied = {
      "go.mod": await readFile(join(dir, "go.mod"), "utf8"),
      "go.sum": await readFile(join(dir, "go.sum"), "utf8"),
    };
    await writeFile(join(tmp, "go.mod"), tidied["go.mod"]);
  });

  after(async () => {
    await connected?.close();
    await upstream?.close();
    for (const c of clients) await c.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("bundle by go.mod → empty store → GOPROXY=file://store builds; h1s equal Go's go.sum", {
    timeout: TIMEOUT,
  }, async () => {
    const ex = await goark(["export", "full.tar.gz", "go.mod", "--storage", "connected"], tmp);
    assert.equal(ex.code, 0, show(ex));
    const manifest = await readBundleManifest(join(tmp, "full.tar.gz"));
    // Every go.sum line Go wrote is a hash the bundle states for the same file.
    const stated = new Map<string, string>();
    for (const v of manifest.versions) {
      if (v.zipH1) stated.set(`${v.module} ${v.version}`, v.zipH1);
      if (v.modH1) stated.set(`${v.module} ${v.version}/go.mod`, v.modH1);
    }
    const lines = parseGoSum(tidied["go.sum"]);
    assert.ok(lines.length >= 50, `go.sum has ${lines.length} lines`);
    for (const l of lines) {
      assert.equal(
        stated.get(`${l.path} ${l.version}${l.goMod ? "/go.mod" : ""}`),
        l.hash,
        `${l.path} ${l.version} goMod=${l.goMod}`,
      );
    }

    // The offline side: no upstream anywhere, just the imported store. Fixture modules are in no
    // public checksum database, so the import runs with --sumdb off (else they are rejected).
    const im = await goark(["import", "full.tar.gz", "--storage", "offline", "--sumdb", "off"], tmp);
    assert.equal(im.code, 0, show(im));
    assert.match(im.stdout, new RegExp(`^added ${manifest.versions.length} versions`));
    const again = await goark(
      ["import", "full.tar.gz", "--storage", "offline", "--json", "--sumdb", "off"],
      tmp,
    );
    assert.equal(again.code, 0, show(again));
    assert.equal(
      (JSON.parse(again.stdout) as { present: unknown[] }).present.length,
      manifest.versions.length,
    );

    const { out } = await buildFrom(pathToFileURL(join(tmp, "offline")).href, "from-store", tidied);
    assert.equal(out, graph.expectedOutput);

    const v = await goark(["verify", "--storage", "offline"], tmp);
    assert.equal(v.code, 0, show(v));
  });

  test("export --format dir is a GOPROXY tree; the go download cache imports as a store", {
    timeout: TIMEOUT,
  }, async () => {
    const ex = await goark(["export", "plain", "--format", "dir", "--all", "--storage", "connected"], tmp);
    assert.equal(ex.code, 0, show(ex));
    const { out, go } = await buildFrom(pathToFileURL(join(tmp, "plain")).href, "from-dir", tidied);
    assert.equal(out, graph.expectedOutput);
    // The go command's own download cache, imported as is, is a store the go command builds from.
    const cache = join(go.env.GOMODCACHE!, "cache", "download");
    const im = await goark(["import", cache, "--storage", "from-cache"], tmp);
    assert.equal(im.code, 0, show(im));
    const built = await buildFrom(pathToFileURL(join(tmp, "from-cache")).href, "from-cache", tidied);
    assert.equal(built.out, graph.expectedOutput);
  });

  test("an incremental bundle after a dependency bump carries only the new version", {
    timeout: TIMEOUT,
  }, async () => {
    await goark(["export", "base.tar", "go.mod", "--storage", "connected"], tmp);
    // Bump a dependency through the connected goark.
    const go = await client(connected.url);
    const dir = await go.mainModule("bump", { ...graph.main, ...tidied });
    const g = await go.run(["get", "example.com/fx/m05@v1.1.0"], { cwd: dir });
    assert.equal(g.code, 0, describeRun(g));
    const bumped = {
      "go.mod": await readFile(join(dir, "go.mod"), "utf8"),
      "go.sum": await readFile(join(dir, "go.sum"), "utf8"),
    };
    await writeFile(join(tmp, "bumped.mod"), bumped["go.mod"]);
    const ex = await goark(
      ["export", "inc.tar", "bumped.mod", "--since-bundle", "base.tar", "--storage", "connected"],
      tmp,
    );
    assert.equal(ex.code, 0, show(ex));
    const inc = await readBundleManifest(join(tmp, "inc.tar"));
    assert.deepEqual(
      inc.versions.map((v) => `${v.module}@${v.version}`),
      ["example.com/fx/m05@v1.1.0"],
    );
    for (const b of ["base.tar", "inc.tar"]) {
      const im = await goark(["import", b, "--storage", "offline-inc", "--sumdb", "off"], tmp);
      assert.equal(im.code, 0, show(im));
    }
    const { out } = await buildFrom(pathToFileURL(join(tmp, "offline-inc")).href, "bumped", bumped);
    assert.equal(out, graph.expectedOutput);
  });

  test("a corrupted bundle is rejected with one line and the store is unchanged", {
    timeout: TIMEOUT,
  }, async () => {
    await goark(["export", "c.tar", "--all", "--storage", "connected"], tmp);
    const data = await readFile(join(tmp, "c.tar"));
    const at = Math.floor(data.length / 2);
    data[at] = (data[at] ?? 0) ^ 0x5a;
    await writeFile(join(tmp, "c-bad.tar"), data);
    const before = await snapshotTree(join(tmp, "offline"));
    const im = await goark(["import", "c-bad.tar", "--storage", "offline"], tmp);
    assert.equal(im.code, 1, show(im));
    assert.equal(im.stderr.trimEnd().split("\n").length, 1, im.stderr);
    assert.match(im.stderr, /^goark: bundle c-bad\.tar/);
    assert.deepEqual(await snapshotTree(join(tmp, "offline")), before);
  });
});
