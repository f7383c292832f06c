/**
 * warm fetches the Go toolchains projects make the go command switch to: a
 * fixture upstream serving fake golang.org/toolchain versions for two
 * platforms, and projects whose go/toolchain lines (go.mod, go.work) or
 * dependencies need a newer Go. Which version is expected follows Go's
 * select.go / switch.go rules (their tables are in src/module/toolchain.test.ts).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fakeToolchains } from "../../test/helpers/fake-toolchain.ts";
import { FixtureUpstream, type FixtureVersion, writeTree } from "../../test/helpers/fixture-upstream.ts";
import { ProxyCore } from "../cache/proxy-core.ts";
import { ProxySource } from "../source/proxy-source.ts";
import { infoKey, modKey, zipKey } from "../storage/keys.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { CoreFetcher, HttpFetcher } from "./fetcher.ts";
import { type WarmReport, warmGraph } from "./graph.ts";
import { addArgument, emptyPlan } from "./inputs.ts";

const TC = "golang.org/toolchain";
const LINUX = { goos: "linux", goarch: "amd64" };
const DARWIN = { goos: "darwin", goarch: "arm64" };
const NAMES = ["go1.98.4", "go1.98.5", "go1.99.0", "go1.99.1", "go1.99.2", "go1.100rc1"];

function mod(module: string, goLine: string, requires: string[] = []): FixtureVersion {
  const req = requires.map((r) => `require ${r}\n`).join("");
  return {
    module,
    version: "v1.0.0",
    time: "2024-01-01T00:00:00Z",
    files: { "go.mod": `module ${module}\n\ngo ${goLine}\n${req}`, "x.go": "package x\n" },
  };
}

const VERSIONS: FixtureVersion[] = [
  ...fakeToolchains(NAMES, [LINUX, DARWIN]),
  // Only for linux: a platform the upstream lacks for this name.
  ...fakeToolchains(["go1.97.0"], [LINUX]),
  mod("example.com/tc/old", "1.16"),
  mod("example.com/tc/new", "1.99.1"),
  mod("example.com/tc/future", "1.200.0"),
  // Needs a newer Go only through its own dependency.
  mod("example.com/tc/mid", "1.20", ["example.com/tc/new v1.0.0"]),
];

async function keysUnder(storage: MemoryStorage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of storage.list(prefix)) out.push(k);
  return out;
}

const toolchainIds = (r: WarmReport) => r.toolchains.map((t) => `${t.name} ${t.platform}`).sort();

describe("warm: Go toolchains", { timeout: 120_000 }, () => {
  let tmp: string;
  let upstream: FixtureUpstream;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-warm-toolchain-"));
    await writeTree(join(tmp, "tree"), VERSIONS);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
  });
  after(async () => {
    await upstream?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  let n = 0;
  /** Warms one project (go.mod text, or a directory of files), returning report and store. */
  const warm = async (
    files: Record<string, string>,
    opts: { platforms?: { goos: string; goarch: string }[]; args?: string[] } = {},
  ) => {
    const dir = join(tmp, `p${n++}`);
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(dir, rel, ".."), { recursive: true });
      await writeFile(join(dir, rel), text);
    }
    const storage = new MemoryStorage();
    const core = new ProxyCore({ storage, source: new ProxySource(upstream.url, { retries: 0 }) });
    const plan = emptyPlan();
    for (const a of opts.args ?? [dir]) await addArgument(plan, a);
    const report = await warmGraph(plan, new CoreFetcher(core), {
      toolchainPlatforms: opts.platforms ?? [LINUX, DARWIN],
    });
    await core.close(0);
    return { report, storage, dir };
  };

  test("a toolchain line newer than the go line: that toolchain, for every platform, stored whole", async () => {
    const { report, storage } = await warm({ "go.mod": "module m\n\ngo 1.98\n\ntoolchain go1.99.0\n" });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(toolchainIds(report), ["go1.99.0 darwin/arm64", "go1.99.0 linux/amd64"]);
    for (const p of ["linux-amd64", "darwin-arm64"]) {
      const v = `v0.0.1-go1.99.0.${p}`;
      for (const key of [infoKey(TC, v), modKey(TC, v), zipKey(TC, v)])
        assert.ok(await storage.stat(key), key);
      assert.equal((await storage.getBytes(modKey(TC, v)))?.toString(), "module golang.org/toolchain\n");
    }
    // Counted like any module version in the summary.
    assert.equal(report.zips, 2);
    assert.equal(report.versions, 2);
    assert.ok(report.bytes > 0 && report.newBytes === report.bytes);
    assert.match(report.toolchains[0]!.requiredBy, /go\.mod \(toolchain go1\.99\.0\)$/);
  });

  test("a go line newer than the toolchain line wins; a language version means its .0 release", async () => {
    const a = await warm({ "go.mod": "module m\n\ngo 1.99.1\n\ntoolchain go1.99.0\n" });
    assert.deepEqual(toolchainIds(a.report), ["go1.99.1 darwin/arm64", "go1.99.1 linux/amd64"]);
    const b = await warm({ "go.mod": "module m\n\ngo 1.99\n" }, { platforms: [LINUX] });
    assert.deepEqual(toolchainIds(b.report), ["go1.99.0 linux/amd64"]);
    assert.deepEqual(b.report.failures, []);
  });

  test("nothing for toolchain default, for Go 1.21.0 and older, or with no platforms", async () => {
    for (const gomod of [
      "module m\n\ngo 1.99.1\n\ntoolchain default\n",
      "module m\n\ngo 1.21\n",
      "module m\n\ngo 1.21.0\n\ntoolchain go1.21.0\n",
      "module m\n\ngo 1.16\n\nrequire example.com/tc/old v1.0.0\n",
    ]) {
      const { report, storage } = await warm({ "go.mod": gomod });
      assert.deepEqual(report.failures, [], gomod);
      assert.deepEqual(report.toolchains, [], gomod);
      assert.deepEqual(await keysUnder(storage, `${TC}/`), [], gomod);
    }
    const none = await warm({ "go.mod": "module m\n\ngo 1.99.0\n" }, { platforms: [] });
    assert.deepEqual(none.report.toolchains, []);
    assert.deepEqual(await keysUnder(none.storage, `${TC}/`), []);
  });

  test("go.work's lines decide, not the used modules' go.mod files", async () => {
    const { report } = await warm({
      "go.work": "go 1.98.5\n\nuse ./a\n",
      "a/go.mod": "module a\n\ngo 1.16\n\ntoolchain go1.99.2\n",
    });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(toolchainIds(report), ["go1.98.5 darwin/arm64", "go1.98.5 linux/amd64"]);
    assert.match(report.toolchains[0]!.requiredBy, /go\.work \(go 1\.98\.5\)$/);
  });

  test("a dependency needing a newer Go: the latest patch the upstream's list offers (switch.go)", async () => {
    // The project selects go1.98.5; example.com/tc/new (through mid) needs go 1.99.1. From the list
    // (…1.99.2, 1.100rc1) Go picks the newest 1.99 patch: 1.100 has only a prerelease.
    const { report } = await warm(
      { "go.mod": "module m\n\ngo 1.98.5\n\nrequire example.com/tc/mid v1.0.0\n" },
      { platforms: [LINUX] },
    );
    assert.deepEqual(report.failures, []);
    assert.deepEqual(toolchainIds(report), ["go1.98.5 linux/amd64", "go1.99.2 linux/amd64"]);
    const sw = report.toolchains.find((t) => t.name === "go1.99.2")!;
    assert.match(sw.requiredBy, /go\.mod \(a module needs go >= 1\.99\.1\)$/);
  });

  test("a dependency no newer than the selected toolchain adds nothing", async () => {
    const { report } = await warm(
      { "go.mod": "module m\n\ngo 1.99.1\n\nrequire example.com/tc/new v1.0.0\n" },
      { platforms: [LINUX] },
    );
    assert.deepEqual(toolchainIds(report), ["go1.99.1 linux/amd64"]);
  });

  test("a module@version target needing a newer Go (go install m@v switches too)", async () => {
    const { report } = await warm({}, { platforms: [LINUX], args: ["example.com/tc/new@v1.0.0"] });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(toolchainIds(report), ["go1.99.2 linux/amd64"]);
  });

  test("a toolchain named outright as a target (a client's GOTOOLCHAIN=go1.X+auto minimum)", async () => {
    const v = "v0.0.1-go1.99.0.linux-amd64";
    const { report, storage } = await warm({}, { platforms: [], args: [`${TC}@${v}`] });
    assert.deepEqual(report.failures, []);
    for (const key of [infoKey(TC, v), modKey(TC, v), zipKey(TC, v)]) assert.ok(await storage.stat(key), key);
    assert.equal(report.zips, 1);
  });

  test("failures: a platform the upstream lacks, a language version as toolchain, an invalid line", async () => {
    const a = await warm({ "go.mod": "module m\n\ngo 1.21\n\ntoolchain go1.97.0\n" });
    assert.deepEqual(toolchainIds(a.report), ["go1.97.0 linux/amd64"]);
    assert.deepEqual(
      a.report.failures.map((f) => `${f.module}@${f.version} ${f.step}`),
      [`${TC}@v0.0.1-go1.97.0.darwin-arm64 mod`],
    );

    const b = await warm({ "go.mod": "module m\n\ngo 1.16\n\ntoolchain go1.99\n" }, { platforms: [LINUX] });
    assert.equal(b.report.failures.length, 1);
    assert.match(
      b.report.failures[0]!.error,
      /go1\.99 is a language version but not a toolchain version: go1\.99\.x/,
    );

    // (a go.mod with it does not parse at all; a go.work's lines are read as text, like Go does)
    const c = await warm({
      "go.work": "go 1.16\n\ntoolchain gccgo-go1.99.0\n\nuse ./a\n",
      "a/go.mod": "module a\n",
    });
    assert.deepEqual(
      c.report.failures.map((f) => `${f.step}: ${f.error}`),
      ['toolchain: invalid toolchain "gccgo-go1.99.0"'],
    );
  });

  test("no release new enough in the list: one failure naming the need", async () => {
    const { report } = await warm({}, { platforms: [LINUX], args: ["example.com/tc/future@v1.0.0"] });
    assert.deepEqual(report.toolchains, []);
    assert.deepEqual(
      report.failures.map((f) => `${f.module}@${f.version} ${f.step}: ${f.error}`),
      [`${TC}@go1.200.0 toolchain: no toolchain release for go >= 1.200.0 in the ${TC} list`],
    );
  });

  test("--server: the same toolchains through HTTP (the list too)", async () => {
    // Any GOPROXY answers HttpFetcher; the fixture upstream stands in for a running goark.
    const dir = join(tmp, "http");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "go.mod"), "module m\n\ngo 1.98.5\n\nrequire example.com/tc/mid v1.0.0\n");
    const plan = emptyPlan();
    await addArgument(plan, dir);
    const report = await warmGraph(plan, new HttpFetcher(upstream.url), { toolchainPlatforms: [DARWIN] });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(toolchainIds(report), ["go1.98.5 darwin/arm64", "go1.99.2 darwin/arm64"]);
  });
});
