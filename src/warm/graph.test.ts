/**
 * warm's requirement closure against the go command: a fixture GOPROXY tree
 * with a graph that has non-selected versions, an excluded version, an
 * exact and a wildcard module replacement and a directory replacement whose
 * go.mod requires more. Go's `go mod graph` of an unpruned (go 1.16) main
 * module lists every module version of the full graph; mapped through the
 * main module's replacements (Go prints the original names) it must equal
 * what warm stored. Plus go.sum inputs (zip vs go.mod-only), module@latest
 * targets, failures, and go.work.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { FixtureUpstream, type FixtureVersion, writeTree } from "../../test/helpers/fixture-upstream.ts";
import { describe as describeRun, GoClient } from "../../test/helpers/go-client.ts";
import { ProxyCore } from "../cache/proxy-core.ts";
import { ProxySource } from "../source/proxy-source.ts";
import { modKey, zipKey } from "../storage/keys.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { CoreFetcher } from "./fetcher.ts";
import { type WarmReport, warmGraph } from "./graph.ts";
import { addArgument, emptyPlan, knownSumsOf, parseGoWork } from "./inputs.ts";

const G = "example.com/g";

function ver(name: string, version: string, requires: [string, string][] = [], extra = ""): FixtureVersion {
  const module = `${G}/${name}`;
  const req = requires.map(([n, v]) => `\t${G}/${n} ${v}\n`).join("");
  return {
    module,
    version,
    time: "2023-01-02T03:04:05Z",
    files: {
      "go.mod": `module ${module}\n\ngo 1.16\n${req ? `\nrequire (\n${req})\n` : ""}${extra}`,
      [`${name}.go`]: `package ${name}\n`,
    },
  };
}

const VERSIONS: FixtureVersion[] = [
  ver("a", "v1.0.0", [["b", "v1.0.0"]]),
  ver("a", "v1.1.0", [
    ["b", "v1.1.0"],
    ["c", "v1.0.0"],
  ]),
  ver("b", "v1.0.0", [["d", "v1.0.0"]]),
  ver("b", "v1.1.0", [["d", "v1.1.0"]]),
  ver("c", "v1.0.0", [
    ["e", "v1.0.0"],
    ["k", "v1.0.0"],
  ]),
  ver("c", "v1.1.0"),
  ver("d", "v1.0.0"),
  ver("d", "v1.1.0"),
  ver("e", "v1.0.0", [["never", "v1.0.0"]]),
  ver("e", "v1.1.0"),
  ver("k", "v1.0.0"),
  ver("never", "v1.0.0"),
  ver("r", "v1.0.0", [["never", "v1.0.0"]]),
  ver("rr", "v1.2.0", [["f", "v1.0.0"]]),
  ver("f", "v1.0.0"),
  ver("gg", "v1.0.0"),
  // Requires a version older than the one selected: its own requirements are still in the graph.
  ver("ww", "v1.0.0", [["b", "v1.0.0"]]),
  ver("late", "v1.0.0"),
  ver("late", "v1.3.0"),
  ver("late", "v1.4.0-rc.1"),
];

const MAIN_GO_MOD = `module example.com/main

go 1.16

require (
	${G}/a v1.1.0
	${G}/r v1.0.0
	${G}/l v1.0.0
	${G}/w v1.5.0
)

exclude ${G}/e v1.0.0

replace ${G}/r v1.0.0 => ${G}/rr v1.2.0

replace ${G}/l => ./local

replace ${G}/w => ${G}/ww v1.0.0
`;

const LOCAL_GO_MOD = `module ${G}/l\n\ngo 1.16\n\nrequire ${G}/gg v1.0.0\n`;

function ids(report: WarmReport): string[] {
  return report.warmed.map((w) => `${w.module}@${w.version}`).sort();
}

describe("warm closure", { timeout: 180_000 }, () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  let go: GoClient;
  let mainDir: string;
  /** Every module@version of Go's full graph, mapped through the main module's replacements. */
  let goGraph: string[];

  const newFetcher = () => {
    const storage = new MemoryStorage();
    const core = new ProxyCore({ storage, source: new ProxySource(upstream.url, { retries: 0 }) });
    return { storage, core, fetcher: new CoreFetcher(core) };
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-warm-graph-"));
    await writeTree(join(tmp, "tree"), VERSIONS);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
    mainDir = join(tmp, "main");
    await mkdir(join(mainDir, "local"), { recursive: true });
    await writeFile(join(mainDir, "go.mod"), MAIN_GO_MOD);
    await writeFile(join(mainDir, "local", "go.mod"), LOCAL_GO_MOD);

    go = await GoClient.create({ proxy: pathToFileURL(join(tmp, "tree")).href });
    const r = await go.run(["mod", "graph"], { cwd: mainDir, env: { GOFLAGS: "-mod=mod" } });
    assert.equal(r.code, 0, describeRun(r));
    // The oracle read the same go.mod warm reads (-mod=mod did not rewrite it).
    assert.equal(await readFile(join(mainDir, "go.mod"), "utf8"), MAIN_GO_MOD);
    const replace = (id: string): string | undefined => {
      if (id === `${G}/r@v1.0.0`) return `${G}/rr@v1.2.0`;
      if (id.startsWith(`${G}/l@`)) return undefined; // directory: nothing to fetch
      if (id.startsWith(`${G}/w@`)) return `${G}/ww@v1.0.0`;
      return id;
    };
    const nodes = new Set<string>();
    for (const line of r.stdout.trim().split("\n")) {
      for (const node of line.split(" ")) {
        if (!node.includes("@")) continue; // the main module
        const mapped = replace(node);
        if (mapped !== undefined) nodes.add(mapped);
      }
    }
    goGraph = [...nodes].sort();
  });

  after(async () => {
    await go?.close();
    await upstream?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("the full graph of a go.mod equals go mod graph's nodes (replace, exclude, directory replacement)", async () => {
    // Sanity of the oracle: it has the cases this test is about.
    assert.ok(goGraph.includes(`${G}/d@v1.0.0`), "a requirement of a non-selected version (b@v1.0.0)");
    assert.ok(goGraph.includes(`${G}/gg@v1.0.0`), "a requirement of the directory replacement");
    assert.ok(goGraph.includes(`${G}/f@v1.0.0`), "a requirement of the module replacement");
    const { storage, core, fetcher } = newFetcher();
    const plan = emptyPlan();
    await addArgument(plan, join(mainDir, "go.mod"));
    const report = await warmGraph(plan, fetcher, { jobs: 3 });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(ids(report), goGraph);
    // Everything warmed has its .mod and zip stored; the replaced original was never fetched.
    for (const id of goGraph) {
      const [m, v] = id.split("@") as [string, string];
      assert.ok(await storage.stat(modKey(m, v)), `${id}.mod`);
      assert.ok(await storage.stat(zipKey(m, v)), `${id}.zip`);
    }
    assert.equal(upstream.count(`/r/@v/`), 0);
    assert.equal(upstream.count(`/never/@v/`), 0);
    assert.equal(report.modules, new Set(goGraph.map((id) => id.split("@")[0])).size);
    assert.equal(report.zips, goGraph.length);
    assert.ok(report.bytes > 0 && report.newBytes === report.bytes);

    // Warming again downloads nothing.
    const again = await warmGraph(plan, fetcher, { jobs: 3 });
    assert.equal(again.fetched, 0);
    assert.equal(again.newBytes, 0);
    assert.deepEqual(ids(again), goGraph);
    await core.close(0);
  });

  test("go.sum: a version with an h1 line gets its zip, one with only a /go.mod line only its go.mod", async () => {
    const { storage, fetcher } = newFetcher();
    const sum = join(tmp, "only.sum");
    await writeFile(
      sum,
      `${G}/d v1.1.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n` +
        `${G}/d v1.1.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n` +
        `${G}/k v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n`,
    );
    const plan = emptyPlan();
    await addArgument(plan, sum);
    const report = await warmGraph(plan, fetcher);
    assert.deepEqual(report.failures, []);
    assert.deepEqual(ids(report), [`${G}/d@v1.1.0`, `${G}/k@v1.0.0`]);
    assert.ok(await storage.stat(zipKey(`${G}/d`, "v1.1.0")));
    assert.ok(await storage.stat(modKey(`${G}/k`, "v1.0.0")));
    assert.equal(await storage.stat(zipKey(`${G}/k`, "v1.0.0")), undefined);
  });

  test("downloads and stored artefacts are checked against the go.sum given (hashes from Go)", async () => {
    const d = await go.download([`${G}/d@v1.1.0`]);
    assert.equal(d.result.code, 0, describeRun(d.result));
    const { Sum: zipSum, GoModSum: modSum } = d.modules[0]!;
    assert.ok(zipSum?.startsWith("h1:") && modSum?.startsWith("h1:"));
    const wrong = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const sumFile = async (name: string, zip: string, mod: string) => {
      const f = join(tmp, name);
      await writeFile(f, `${G}/d v1.1.0 ${zip}\n${G}/d v1.1.0/go.mod ${mod}\n`);
      const plan = emptyPlan();
      await addArgument(plan, f);
      return plan;
    };
    const warmWith = async (core: ProxyCore, plan: Awaited<ReturnType<typeof sumFile>>) =>
      warmGraph(plan, new CoreFetcher(core, { knownSums: knownSumsOf(plan) }));
    const storage = new MemoryStorage();
    const coreFor = (plan: Awaited<ReturnType<typeof sumFile>>) =>
      new ProxyCore({
        storage,
        source: new ProxySource(upstream.url, { retries: 0 }),
        knownSums: knownSumsOf(plan),
      });

    // A download whose zip hash differs from go.sum is refused and not stored.
    const badZip = await sumFile("badzip.sum", wrong, modSum!);
    const r1 = await warmWith(coreFor(badZip), badZip);
    assert.deepEqual(
      r1.failures.map((f) => f.step),
      ["zip"],
    );
    assert.match(r1.failures[0]!.error, /hash .* but .*badzip\.sum records h1:AAAA/);
    assert.equal(await storage.stat(zipKey(`${G}/d`, "v1.1.0")), undefined);

    // Go's own hashes pass.
    const good = await sumFile("good.sum", zipSum!, modSum!);
    const r2 = await warmWith(coreFor(good), good);
    assert.deepEqual(r2.failures, []);
    assert.ok(await storage.stat(zipKey(`${G}/d`, "v1.1.0")));

    // What is already stored is checked too.
    const badMod = await sumFile("badmod.sum", zipSum!, wrong);
    const r3 = await warmWith(coreFor(badMod), badMod);
    assert.deepEqual(
      r3.failures.map((f) => f.step),
      ["mod"],
    );
    assert.match(r3.failures[0]!.error, /stored go\.mod has hash .* but .*badmod\.sum records h1:AAAA/);
  });

  test("module@latest follows Go's latest (release over newer prerelease); module@version; failures listed", async () => {
    const { fetcher } = newFetcher();
    const plan = emptyPlan();
    for (const arg of [`${G}/late@latest`, `${G}/a@v1.0.0`, `${G}/missing@v1.0.0`, `${G}/late@v1.9.0`]) {
      await addArgument(plan, arg);
    }
    const report = await warmGraph(plan, fetcher, { jobs: 2 });
    const warmedIds = ids(report);
    // a@v1.0.0 brings b@v1.0.0 and its d@v1.0.0; late@latest is v1.3.0.
    assert.deepEqual(warmedIds, [`${G}/a@v1.0.0`, `${G}/b@v1.0.0`, `${G}/d@v1.0.0`, `${G}/late@v1.3.0`]);
    const failed = report.failures.map((f) => `${f.module}@${f.version}:${f.step}`).sort();
    assert.deepEqual(failed, [`${G}/late@v1.9.0:mod`, `${G}/missing@v1.0.0:mod`]);
    for (const f of report.failures) assert.match(f.error, /404|not found/i);
  });

  test("go.work: used modules are main modules, their requirements walked, go.work replacements first", async () => {
    const ws = join(tmp, "ws");
    await mkdir(join(ws, "one"), { recursive: true });
    await mkdir(join(ws, "two"), { recursive: true });
    await writeFile(
      join(ws, "go.work"),
      `go 1.19\n\nuse (\n\t./one // the first\n\t"./two"\n)\n\nreplace ${G}/c v1.0.0 => ${G}/c v1.1.0\n`,
    );
    await writeFile(
      join(ws, "one", "go.mod"),
      `module example.com/one\n\ngo 1.19\n\nrequire (\n\t${G}/c v1.0.0\n\texample.com/two v0.0.0\n)\n`,
    );
    await writeFile(
      join(ws, "two", "go.mod"),
      `module example.com/two\n\ngo 1.19\n\nrequire ${G}/k v1.0.0\n`,
    );
    const { fetcher } = newFetcher();
    const plan = emptyPlan();
    await addArgument(plan, ws);
    const report = await warmGraph(plan, fetcher);
    assert.deepEqual(report.failures, []);
    assert.deepEqual(ids(report), [`${G}/c@v1.1.0`, `${G}/k@v1.0.0`]);
  });

  test("parseGoWork reads use and replace, single and in blocks, with comments", () => {
    const w = parseGoWork(
      `go 1.21\ntoolchain go1.21.0\nuse ./a\nuse (\n  ./b // c\n  "./with space"\n)\nreplace x.example/y v1.0.0 => ../y\nreplace (\n  x.example/z => x.example/zz v1.2.3\n)\n`,
    );
    assert.deepEqual(w.use, ["./a", "./b", "./with space"]);
    assert.deepEqual(w.replace, [
      { old: { path: "x.example/y", version: "v1.0.0" }, new: { path: "../y" } },
      { old: { path: "x.example/z" }, new: { path: "x.example/zz", version: "v1.2.3" } },
    ]);
    assert.throws(() => parseGoWork("use (\n./a\n"), /go\.work:\d+: unexpected end of file/);
    assert.throws(() => parseGoWork("frobnicate x\n"), /unknown directive/);
  });
});
