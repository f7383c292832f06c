/**
 * The air-gap drill of issue 6, end to end with the real go command and the
 * goark CLI, checksum verification on throughout. A generated project whose
 * module graph holds more than 50 modules: public ones from the fixture
 * upstream (vouched for by x/mod's own sumdb server), private ones straight
 * from git (`--private`), several major versions, a +incompatible and a
 * case-escaped module, a pseudo-version, a subdirectory module, graph
 * pruning (go 1.16 and 1.17+ go.mod files) and test-only dependencies.
 *
 * Connected side: the go command itself (direct mode for git, the fixture
 * upstream and x/mod's sumdb for the rest) tidies the project; that go.sum
 * is the reference. `goark warm` fills a store from the go.mod, `goark
 * export` writes a bundle. Air-gapped side: `goark import` into an empty
 * store with no upstream and `--offline`, `goark serve --offline`, and the go
 * command, from a cold module cache and with GOSUMDB = the offline goark's
 * own key, tidies (its go.sum must equal the reference), builds and tests.
 * Then a dependency bump: the incremental bundle carries exactly the new
 * versions; corrupted copies of it are refused with one line and leave the
 * store's bytes unchanged; the good one imports and the bumped project
 * builds and tests. Finally the same with `GOPROXY=file://` on an `export
 * --format dir` tree and no goark running at all, GOSUMDB = the connected
 * goark's own key, whose log the tree carries under sumdb/<name>/.
 */
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { readBundleManifest } from "../../src/bundle/import.ts";
import { escapePath, escapeVersion } from "../../src/module/path.ts";
import { generateKey } from "../../src/sumdb/note.ts";
import { FixtureUpstream, type FixtureVersion, writeTree } from "../helpers/fixture-upstream.ts";
import { type GitHost, startGitHost } from "../helpers/git-host.ts";
import { describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { goark, type Run, showRun as show } from "../helpers/goark-cli.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import { snapshotTree } from "../helpers/store-snapshot.ts";
import { type GoSumdbServer, goSumRecords, startGoSumdbServer } from "../helpers/sumdb-server.ts";
import { tarEntries } from "../helpers/tar-offsets.ts";

const TIMEOUT = 600_000;
const HOST = "git.goark.test";
const CORP = `${HOST}/corp`;
const PUB = "example.com/pub";
const CONNECTED_DB = "goark.connected.test";
const AIRGAP_DB = "goark.airgap.test";
/** Nothing listens here: any network use by an "offline" client fails at once. */
const DEAD_PROXY = "http://127.0.0.1:9";

// ------------------------------------------------------------ the project

const N = 34;
const pad = (i: number) => String(i).padStart(2, "0");
const p = (i: number) => `${PUB}/p${pad(i)}`;
const deps = (i: number) => [...new Set([i - 1, Math.floor(i / 2)])].filter((j) => j >= 1 && j < i);

function gomod(module: string, go: string, requires: string[]): string {
  const req = requires.length > 0 ? `\nrequire (\n${requires.map((r) => `\t${r}\n`).join("")})\n` : "";
  return `module ${module}\n\ngo ${go}\n${req}`;
}

/** A Go file of package pkg importing imports (alias → path) with a Value() of base plus theirs. */
function valueFile(pkg: string, base: number, imports: Record<string, string>): string {
  const names = Object.keys(imports);
  const imp =
    names.length > 0 ? `import (\n${names.map((a) => `\t${a} "${imports[a]}"\n`).join("")})\n\n` : "";
  const sum = names.map((a) => ` + ${a}.Value()`).join("");
  return `// Package ${pkg} is a goark drill fixture.\npackage ${pkg}\n\n${imp}// Value adds this module's number to its dependencies'.\nfunc Value() int { return ${base}${sum} }\n`;
}

function valueTest(pkg: string): string {
  return `package ${pkg}\n\nimport "testing"\n\nfunc TestValue(t *testing.T) {\n\tif Value() <= 0 {\n\t\tt.Fatal("Value() <= 0")\n\t}\n}\n`;
}

const T0 = "2023-01-02T03:04:05Z";
const T1 = "2023-06-07T08:09:10Z";
const T2 = "2024-02-03T04:05:06Z";

/** One public version: pkg's Value(), a real test, a LICENSE. */
function pub(
  module: string,
  version: string,
  time: string,
  go: string,
  pkg: string,
  base: number,
  imports: Record<string, string>,
  requires: string[],
  extra: Record<string, string> = {},
): FixtureVersion {
  return {
    module,
    version,
    time,
    files: {
      "go.mod": gomod(module, go, requires),
      [`${pkg}.go`]: valueFile(pkg, base, imports),
      [`${pkg}_test.go`]: valueTest(pkg),
      LICENSE: "drill fixture licence\n",
      ...extra,
    },
  };
}

/** Every public version the fixture upstream serves (the bump's versions included, unused at first). */
function publicVersions(): FixtureVersion[] {
  const out: FixtureVersion[] = [];
  for (let i = 1; i <= N; i++) {
    // Every fourth module predates graph pruning (go 1.16): the go command reads its whole graph.
    const go = i % 4 === 0 ? "1.16" : "1.17";
    const ds = deps(i);
    const extraImports: Record<string, string> = {};
    const extraReq: string[] = [];
    if (i === 3) {
      extraImports.codec = `${PUB}/codec`;
      extraReq.push(`${PUB}/codec v1.0.0`);
    }
    if (i === 7) {
      extraImports.codec3 = `${PUB}/codec/v3`;
      extraReq.push(`${PUB}/codec/v3 v3.0.0`);
    }
    const imports = { ...Object.fromEntries(ds.map((j) => [`p${pad(j)}`, p(j)])), ...extraImports };
    out.push(
      pub(p(i), "v1.0.0", T0, go, `p${pad(i)}`, i * 10, imports, [
        ...ds.map((j) => `${p(j)} v1.0.0`),
        ...extraReq,
      ]),
    );
    // v1.1.0 asks for its neighbours' v1.1.0 where i+j is odd, else their v1.0.0.
    out.push(
      pub(p(i), "v1.1.0", T1, go, `p${pad(i)}`, i * 10 + 1, imports, [
        ...ds.map((j) => `${p(j)} ${(i + j) % 2 === 1 ? "v1.1.0" : "v1.0.0"}`),
        ...extraReq,
      ]),
    );
  }
  // The bump: p20 v1.2.0 needs p19 v1.2.0; every other requirement is already in the graph.
  out.push(
    pub(p(19), "v1.2.0", T2, "1.17", "p19", 192, { p18: p(18), p09: p(9) }, [
      `${p(18)} v1.1.0`,
      `${p(9)} v1.1.0`,
    ]),
    pub(p(20), "v1.2.0", T2, "1.16", "p20", 202, { p19: p(19), p10: p(10) }, [
      `${p(19)} v1.2.0`,
      `${p(10)} v1.1.0`,
    ]),
  );
  out.push(
    pub(`${PUB}/codec`, "v1.0.0", T0, "1.17", "codec", 100, {}, []),
    pub(`${PUB}/codec`, "v1.2.0", T1, "1.17", "codec", 102, {}, []),
    pub(`${PUB}/codec/v2`, "v2.0.0", T0, "1.17", "codec", 200, {}, []),
    pub(`${PUB}/codec/v2`, "v2.1.0", T1, "1.17", "codec", 201, {}, []),
    pub(`${PUB}/codec/v3`, "v3.0.0", T1, "1.18", "codec", 300, {}, []),
    pub(`${PUB}/Upper`, "v1.0.0", T0, "1.17", "upper", 7, {}, []),
    // A module with no go.mod at a v2 tag: the .mod is synthesized.
    {
      module: `${PUB}/legacy`,
      version: "v2.0.0+incompatible",
      time: T0,
      files: { "legacy.go": valueFile("legacy", 11, {}), "legacy_test.go": valueTest("legacy") },
    },
  );
  // Test-only dependencies of the project: go test needs them, go build does not.
  for (const [version, time] of [
    ["v1.0.0", T0],
    ["v1.1.0", T1],
  ] as const) {
    out.push({
      module: `${PUB}/assert`,
      version,
      time,
      files: {
        "go.mod": gomod(`${PUB}/assert`, "1.17", [`${PUB}/diff ${version}`]),
        "assert.go": `// Package assert is a goark drill fixture.\npackage assert\n\nimport (\n\t"testing"\n\n\t"${PUB}/diff"\n)\n\n// Equal fails t when got differs from want.\nfunc Equal(t testing.TB, want, got string) {\n\tt.Helper()\n\tif want != got {\n\t\tt.Fatalf("not equal:\\n%s", diff.Lines(want, got))\n\t}\n}\n`,
      },
    });
    out.push({
      module: `${PUB}/diff`,
      version,
      time,
      files: {
        "go.mod": gomod(`${PUB}/diff`, "1.17", []),
        "diff.go": `// Package diff is a goark drill fixture.\npackage diff\n\n// Lines shows two texts one above the other.\nfunc Lines(a, b string) string { return "- " + a + "\\n+ " + b }\n`,
      },
    });
  }
  return out;
}

/** The private repositories: root, subdirectory and /v2 modules, a pseudo-version, a test-only one. */
async function createRepos(host: GitHost): Promise<{ edgePseudo: string }> {
  const kitFiles = (module: string, base: number) => ({
    "go.mod": gomod(module, "1.17", []),
    "kit.go": valueFile("kit", base, {}),
    "kit_test.go": valueTest("kit"),
  });
  await host.createRepo("corp/kit", [
    { files: kitFiles(`${CORP}/kit`, 1000), tags: ["v1.0.0"] },
    { files: kitFiles(`${CORP}/kit/v2`, 2000), tags: ["v2.0.0"] },
    { files: kitFiles(`${CORP}/kit/v2`, 2001), tags: ["v2.1.0"] },
  ]);
  const platform = (minor: number, p05: string) => ({
    "go.mod": gomod(`${CORP}/platform`, "1.17", [`${CORP}/kit v1.0.0`, `${p(5)} ${p05}`]),
    "platform.go": valueFile("platform", 500 + minor, { kit: `${CORP}/kit`, p05: p(5) }),
    "platform_test.go": valueTest("platform"),
    // A nested module: left out of the root module's zip.
    "auth/go.mod": gomod(`${CORP}/platform/auth`, "1.18", [`${CORP}/platform v1.1.0`]),
    "auth/auth.go": valueFile("auth", 40, { platform: `${CORP}/platform` }),
  });
  await host.createRepo("corp/platform", [
    { files: platform(0, "v1.0.0"), tags: ["v1.0.0"] },
    { files: platform(1, "v1.1.0"), tags: ["v1.1.0", "auth/v0.3.0"] },
  ]);
  const edge = await host.createRepo("corp/edge", [
    {
      files: { "go.mod": gomod(`${CORP}/edge`, "1.17", []), "edge.go": valueFile("edge", 59, {}) },
      date: "2021-03-04T05:06:07Z",
    },
    {
      files: {
        "go.mod": gomod(`${CORP}/edge`, "1.17", [`${PUB}/Upper v1.0.0`]),
        "edge.go": valueFile("edge", 60, { upper: `${PUB}/Upper` }),
      },
      date: "2021-03-05T06:07:08Z",
    },
  ]);
  const head = edge.commits.at(-1)!;
  const edgePseudo = `v0.0.0-20210305060708-${head.hash.slice(0, 12)}`;
  await host.createRepo("corp/testkit", [
    {
      files: {
        "go.mod": gomod(`${CORP}/testkit`, "1.17", []),
        "testkit.go": `// Package testkit is a goark drill fixture.\npackage testkit\n\nimport "testing"\n\n// Check fails t unless ok.\nfunc Check(t testing.TB, ok bool) {\n\tt.Helper()\n\tif !ok {\n\t\tt.Fatal("check failed")\n\t}\n}\n`,
      },
      tags: ["v0.1.0"],
    },
  ]);
  for (let n = 1; n <= 5; n++) {
    const module = `${CORP}/svc${pad(n)}`;
    const imports: Record<string, string> = { platform: `${CORP}/platform`, pub: p(3 * n) };
    const requires = [`${CORP}/platform v1.${n % 2}.0`, `${p(3 * n)} v1.0.0`];
    if (n === 2) {
      imports.codec = `${PUB}/codec/v2`;
      requires.push(`${PUB}/codec/v2 v2.0.0`);
    }
    await host.createRepo(`corp/svc${pad(n)}`, [
      {
        files: {
          "go.mod": gomod(module, "1.17", requires),
          [`svc${pad(n)}.go`]: valueFile(`svc${pad(n)}`, 100 * n, imports),
          [`svc${pad(n)}_test.go`]: valueTest(`svc${pad(n)}`),
        },
        tags: ["v1.0.0"],
      },
    ]);
  }
  return { edgePseudo };
}

/** The main module: three packages with tests; go mod tidy completes its go.mod. */
function project(edgePseudo: string): Record<string, string> {
  const svc = [1, 2, 3, 4, 5].map((n) => `svc${pad(n)}`);
  const coreImports: Record<string, string> = {
    p34: p(34),
    codec: `${PUB}/codec`,
    codec2: `${PUB}/codec/v2`,
    upper: `${PUB}/Upper`,
    legacy: `${PUB}/legacy`,
    kit: `${CORP}/kit/v2`,
    edge: `${CORP}/edge`,
    auth: `${CORP}/platform/auth`,
    ...Object.fromEntries(svc.map((s) => [s, `${CORP}/${s}`])),
  };
  const names = Object.keys(coreImports);
  return {
    "go.mod": gomod("example.com/app", "1.19", [
      `${p(34)} v1.1.0`,
      `${p(17)} v1.0.0`,
      `${PUB}/codec v1.2.0`,
      `${PUB}/codec/v2 v2.1.0`,
      `${PUB}/Upper v1.0.0`,
      `${PUB}/legacy v2.0.0+incompatible`,
      `${PUB}/assert v1.1.0`,
      `${CORP}/kit/v2 v2.1.0`,
      `${CORP}/edge ${edgePseudo}`,
      `${CORP}/platform/auth v0.3.0`,
      `${CORP}/testkit v0.1.0`,
      ...svc.map((s) => `${CORP}/${s} v1.0.0`),
    ]),
    "main.go": `package main\n\nimport (\n\t"fmt"\n\n\t"example.com/app/internal/core"\n\t"example.com/app/internal/report"\n)\n\nfunc main() { fmt.Println(core.Total(), report.Line()) }\n`,
    "main_test.go": `package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"strings"\n\t"testing"\n\n\t"${PUB}/assert"\n\n\t"example.com/app/internal/core"\n\t"example.com/app/internal/report"\n)\n\n// The output must be what the connected build printed.\nfunc TestOutput(t *testing.T) {\n\twant, err := os.ReadFile("testdata/want.txt")\n\tif err != nil {\n\t\tt.Fatal(err)\n\t}\n\tassert.Equal(t, strings.TrimSpace(string(want)), fmt.Sprint(core.Total(), " ", report.Line()))\n}\n`,
    "internal/core/core.go": `// Package core adds up the whole graph.\npackage core\n\nimport (\n${names.map((a) => `\t${a} "${coreImports[a]}"\n`).join("")})\n\n// Total is the sum of every dependency's Value.\nfunc Total() int { return 0${names.map((a) => ` + ${a}.Value()`).join("")} }\n`,
    "internal/core/core_test.go": `package core\n\nimport (\n\t"testing"\n\n\t"${CORP}/testkit"\n)\n\nfunc TestTotal(t *testing.T) { testkit.Check(t, Total() > 0) }\n`,
    "internal/report/report.go": `// Package report formats a line.\npackage report\n\nimport (\n\t"fmt"\n\n\tp17 "${p(17)}"\n\tsvc03 "${CORP}/svc03"\n)\n\n// Line names two values.\nfunc Line() string { return fmt.Sprintf("p17=%d svc03=%d", p17.Value(), svc03.Value()) }\n`,
    "internal/report/report_test.go": `package report_test\n\nimport (\n\t"strings"\n\t"testing"\n\n\t"${PUB}/assert"\n\n\t"example.com/app/internal/report"\n)\n\nfunc TestLine(t *testing.T) {\n\tf := strings.Fields(report.Line())\n\tassert.Equal(t, "p17= svc03=", f[0][:4]+" "+f[1][:6])\n}\n`,
  };
}

// ------------------------------------------------------------ helpers

interface Tree {
  files: Record<string, string>;
  gosum: string;
}

/** Reads back the project files (everything but go.sum) and go.sum from dir. */
async function readProject(dir: string, names: string[]): Promise<Tree> {
  const files: Record<string, string> = {};
  for (const n of names) files[n] = await readFile(join(dir, n), "utf8");
  return { files, gosum: await readFile(join(dir, "go.sum"), "utf8") };
}

/** module@version of every line in go.sum. */
function sumVersions(gosum: string): Set<string> {
  const out = new Set<string>();
  for (const line of gosum.split("\n").filter(Boolean)) {
    const [path, version] = line.split(" ");
    out.add(`${path}@${version!.replace(/\/go\.mod$/, "")}`);
  }
  return out;
}

/** Every regular file under dir, as slash paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries)
    if (e.isFile())
      out.push(relative(dir, join(e.parentPath ?? (e as { path?: string }).path ?? dir, e.name)));
  return out.sort();
}

// ------------------------------------------------------------ the drill

describe("air-gap drill: >50 modules, public and private, verification on", { timeout: TIMEOUT }, () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  let sumdb: GoSumdbServer;
  let oracle: Oracle;
  let host: GitHost;
  let offline: GoarkInstance | undefined;
  const clients: GoClient[] = [];
  let names: string[];
  let base: Tree;
  let bumped: Tree;
  /** The connected goark's flags: fixture upstream, x/mod's sumdb, private modules from git. */
  let connectedFlags: string[];
  /** The connected goark reaches the made-up git host through the host's forward proxy. */
  let egress: Record<string, string>;
  const airgapFlags = () => [
    "--storage",
    join(tmp, "airgap"),
    "--offline",
    "--upstream",
    "off",
    "--sumdb",
    sumdb.verifierKey,
    "--private",
    CORP,
    "--sumdb-name",
    AIRGAP_DB,
  ];

  const client = async (proxy: string, env: Record<string, string>) => {
    // One build cache for all: modules are still fetched and verified into each cold module cache.
    const c = await GoClient.create({ proxy, env: { GOCACHE: join(tmp, "gocache"), ...env } });
    clients.push(c);
    return c;
  };
  const go = async (c: GoClient, args: string[], cwd: string) => {
    const r = await c.run(args, { cwd, timeoutMs: 240_000 });
    assert.equal(r.code, 0, `go ${args.join(" ")}: ${describeRun(r)}`);
    return r;
  };
  const cli = (args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<Run> =>
    goark(args, tmp, env, timeoutMs);

  /**
   * A client that may reach only what GOPROXY names and verifies everything
   * against gosumdb: no GONOSUMDB, GOPRIVATE, GOINSECURE or GOSUMDB=off.
   * Tidies files (go.sum left out) from a cold module cache, checks go.mod
   * stays and go.sum equals want, then builds and tests.
   */
  async function drill(proxy: string, gosumdb: string, want: Tree, label: string): Promise<GoClient> {
    const c = await client(proxy, {
      GOSUMDB: gosumdb,
      HTTP_PROXY: DEAD_PROXY,
      HTTPS_PROXY: DEAD_PROXY,
      http_proxy: DEAD_PROXY,
      https_proxy: DEAD_PROXY,
    });
    for (const k of ["GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"]) assert.equal(c.env[k], "", k);
    assert.notEqual(c.env.GOSUMDB, "off");
    assert.doesNotMatch(c.env.GOFLAGS ?? "", /insecure/);
    const dir = await c.mainModule(label, want.files);
    await go(c, ["mod", "tidy"], dir);
    assert.equal(await readFile(join(dir, "go.mod"), "utf8"), want.files["go.mod"], "tidy changed go.mod");
    assert.equal(await readFile(join(dir, "go.sum"), "utf8"), want.gosum, "go.sum differs from Go's own");
    await go(c, ["build", "./..."], dir);
    const t = await go(c, ["test", "-count=1", "./..."], dir);
    assert.match(t.stdout, /^ok\s+example\.com\/app\s/m, t.stdout);
    assert.match(t.stdout, /^ok\s+example\.com\/app\/internal\/core\s/m, t.stdout);
    assert.match(t.stdout, /^ok\s+example\.com\/app\/internal\/report\s/m, t.stdout);
    return c;
  }

  /** Asserts the go client looked every go.sum version up in database name (its lookup cache). */
  async function assertLookedUp(c: GoClient, name: string, gosum: string): Promise<void> {
    const cached = await filesUnder(join(c.env.GOMODCACHE!, "cache/download/sumdb", name, "lookup"));
    const want = [...sumVersions(gosum)]
      .map((mv) => {
        const at = mv.lastIndexOf("@");
        return `${escapePath(mv.slice(0, at))}@${escapeVersion(mv.slice(at + 1))}`;
      })
      .sort();
    assert.deepEqual(cached, want, `lookups in ${name}`);
  }

  /**
   * Starts the air-gapped goark (offline, no upstream, on the airgap store) as
   * `offline` and drills want through it, GOSUMDB = its own database's key.
   */
  async function drillOffline(want: Tree, label: string): Promise<GoarkInstance> {
    const g = await startGoark(
      {
        offline: "true",
        upstream: "off",
        sumdb: sumdb.verifierKey,
        private: CORP,
        sumdbName: AIRGAP_DB,
      },
      { store: join(tmp, "airgap") },
    );
    offline = g;
    const key = await cli(["sumdb", "key", "--json", "--url", g.url, ...airgapFlags()]);
    assert.equal(key.code, 0, show(key));
    const { gosumdb, name } = JSON.parse(key.stdout) as { gosumdb: string; name: string };
    assert.equal(name, AIRGAP_DB);
    const c = await drill(g.url, gosumdb, want, label);
    await assertLookedUp(c, AIRGAP_DB, want.gosum);
    return g;
  }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-drill-"));
    const versions = publicVersions();
    const tree = join(tmp, "upstream");
    await writeTree(tree, versions);
    oracle = await startOracle();
    // The public records: Go's dirhash over the fixture's own zips and go.mod files.
    const records = await goSumRecords(oracle, tree, versions);
    upstream = await FixtureUpstream.start(tree);
    sumdb = await startGoSumdbServer((_db, path, version) => records.get(`${path}@${version}`)?.text);
    host = await startGitHost({ host: HOST });
    const { edgePseudo } = await createRepos(host);

    egress = {
      HTTP_PROXY: host.proxyUrl,
      http_proxy: host.proxyUrl,
      HTTPS_PROXY: host.proxyUrl,
      https_proxy: host.proxyUrl,
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
    };
    connectedFlags = [
      "--storage",
      join(tmp, "connected"),
      "--upstream",
      upstream.url,
      "--sumdb",
      `${sumdb.verifierKey} ${sumdb.url}/honest`,
      "--private",
      CORP,
      "--insecure",
      HOST,
      "--sumdb-name",
      CONNECTED_DB,
    ];

    // The reference: the go command itself, connected (fixture upstream + x/mod's sumdb for public
    // modules, git directly for private ones), tidies the project and prints its output.
    const ref = await client(upstream.url, {
      GOSUMDB: `${sumdb.verifierKey} ${sumdb.url}/honest`,
      GOPRIVATE: CORP,
      GOINSECURE: HOST,
      ...egress,
    });
    const files = project(edgePseudo);
    const dir = await ref.mainModule("base", files);
    await go(ref, ["mod", "tidy"], dir);
    const run = await go(ref, ["run", "."], dir);
    files["testdata/want.txt"] = run.stdout;
    names = Object.keys(files);
    await mkdir(join(dir, "testdata"), { recursive: true });
    await writeFile(join(dir, "testdata/want.txt"), run.stdout);
    base = await readProject(dir, names);
    await cp(dir, join(tmp, "base"), { recursive: true });

    // The graph is big enough, and mixed.
    const listed = (await go(ref, ["list", "-m", "all"], dir)).stdout.trim().split("\n").slice(1);
    assert.ok(listed.length >= 50, `go list -m all: ${listed.length} modules besides the main one`);
    assert.ok(listed.filter((l) => l.startsWith(`${CORP}/`)).length >= 10, listed.join("\n"));
    assert.ok(listed.filter((l) => l.startsWith(`${PUB}/`)).length >= 35, listed.join("\n"));
    const graph = (await go(ref, ["mod", "graph"], dir)).stdout;
    const nodes = new Set(graph.split(/\s+/).filter((s) => s.includes("@")));
    assert.ok(nodes.size > listed.length, `go mod graph has ${nodes.size} module versions`);
  });

  after(async () => {
    await offline?.close().catch(() => undefined);
    for (const c of clients) await c.close();
    await upstream?.close();
    await sumdb?.close();
    await oracle?.close();
    await host?.close();
    if (!process.env.KEEP) await rm(tmp, { recursive: true, force: true, maxRetries: 3 });
    else process.stderr.write(`kept ${tmp}\n`);
  });

  test("warm → export → import (--offline, empty store) → go mod tidy, build, test; go.sum is Go's", {
    timeout: TIMEOUT,
  }, async () => {
    const warm = await cli(["warm", "base/go.mod", "--no-progress", ...connectedFlags], egress);
    assert.equal(warm.code, 0, show(warm));
    const ex = await cli(["export", "base.tar", "base/go.mod", ...connectedFlags]);
    assert.equal(ex.code, 0, show(ex));
    assert.doesNotMatch(ex.stdout, /unproven/, show(ex));
    const manifest = await readBundleManifest(join(tmp, "base.tar"));
    // Exported for a database whose key the kept proofs do not verify against: export says
    // which public versions an import would reject (the private ones need no proof).
    const otherKey = generateKey(sumdb.verifierKey.split("+")[0]!).verifierKey;
    const wrong = await cli([
      "export",
      "wrong-key.tar",
      "base/go.mod",
      ...connectedFlags.map((f) => (f.startsWith(sumdb.verifierKey) ? otherKey : f)),
    ]);
    assert.equal(wrong.code, 0, show(wrong));
    const unproven = [...wrong.stdout.matchAll(/^unproven: (\S+): /gm)].map((m) => m[1]).sort();
    const publicIds = manifest.versions
      .filter((v) => !v.module.startsWith(`${CORP}/`))
      .map((v) => `${v.module}@${v.version}`)
      .sort();
    assert.deepEqual(unproven, publicIds);
    // Every version Go needs travels in the bundle, with the hashes Go computed.
    const carried = new Map(manifest.versions.map((v) => [`${v.module}@${v.version}`, v]));
    for (const line of base.gosum.split("\n").filter(Boolean)) {
      const [path, version, hash] = line.split(" ") as [string, string, string];
      const v = carried.get(`${path}@${version.replace(/\/go\.mod$/, "")}`);
      assert.ok(v, `the bundle carries ${path}@${version}`);
      assert.equal(version.endsWith("/go.mod") ? v.modH1 : v.zipH1, hash, line);
    }

    // The air-gapped side: an empty store, no upstream, offline; it knows x/mod's sumdb key only.
    const asked = sumdb.asked.length;
    const im = await cli(["import", "base.tar", ...airgapFlags()]);
    assert.equal(im.code, 0, show(im));
    assert.match(im.stdout, new RegExp(`^added ${manifest.versions.length} versions`));
    assert.equal(sumdb.asked.length, asked, "import contacted the checksum database");

    const requests = upstream.requests.length;
    await drillOffline(base, "offline");
    assert.equal(upstream.requests.length, requests, "the offline side reached the upstream");
  });

  test("a dependency bump: the incremental bundle holds exactly the new versions; corrupted copies change nothing", {
    timeout: TIMEOUT,
  }, async () => {
    // A new private release, and the go command bumps a public and a private dependency.
    const platform = await host.extendRepo("corp/platform", [
      {
        files: {
          "go.mod": gomod(`${CORP}/platform`, "1.17", [`${CORP}/kit v1.0.0`, `${p(5)} v1.1.0`]),
          "platform.go": valueFile("platform", 502, { kit: `${CORP}/kit`, p05: p(5) }),
          "platform_test.go": valueTest("platform"),
          "auth/go.mod": gomod(`${CORP}/platform/auth`, "1.18", [`${CORP}/platform v1.1.0`]),
          "auth/auth.go": valueFile("auth", 40, { platform: `${CORP}/platform` }),
        },
        tags: ["v1.2.0"],
      },
    ]);
    assert.ok(platform.commits.at(-1)!.tags.includes("v1.2.0"));
    const ref = await client(upstream.url, {
      GOSUMDB: `${sumdb.verifierKey} ${sumdb.url}/honest`,
      GOPRIVATE: CORP,
      GOINSECURE: HOST,
      ...egress,
    });
    const dir = await ref.mainModule("bumped", { ...base.files, "go.sum": base.gosum });
    await go(ref, ["get", `${p(20)}@v1.2.0`, `${CORP}/platform@v1.2.0`], dir);
    await go(ref, ["mod", "tidy"], dir);
    const run = await go(ref, ["run", "."], dir);
    await writeFile(join(dir, "testdata/want.txt"), run.stdout);
    bumped = await readProject(dir, names);
    assert.notEqual(bumped.files["testdata/want.txt"], base.files["testdata/want.txt"]);
    await cp(dir, join(tmp, "bumped"), { recursive: true });

    const warm = await cli(["warm", "bumped/go.mod", "--no-progress", ...connectedFlags], egress);
    assert.equal(warm.code, 0, show(warm));
    const ex = await cli([
      "export",
      "inc.tar",
      "bumped/go.mod",
      "--since-bundle",
      "base.tar",
      ...connectedFlags,
    ]);
    assert.equal(ex.code, 0, show(ex));
    const inc = await readBundleManifest(join(tmp, "inc.tar"));
    const incVersions = inc.versions.map((v) => `${v.module}@${v.version}`).sort();
    assert.deepEqual(incVersions, [`${CORP}/platform@v1.2.0`, `${p(19)}@v1.2.0`, `${p(20)}@v1.2.0`].sort());
    // And that is what go.sum gained.
    const before = sumVersions(base.gosum);
    const gained = [...sumVersions(bumped.gosum)].filter((v) => !before.has(v)).sort();
    assert.deepEqual(gained, incVersions);

    // The air-gapped goark stops (nothing writes to its store), then corrupted copies are refused.
    await offline?.close();
    offline = undefined;
    const good = await readFile(join(tmp, "inc.tar"));
    const zipEntry = tarEntries(good).find((e) => e.name.endsWith(".zip") && e.size > 200);
    assert.ok(zipEntry, "the bundle holds a zip");
    const flipped = Buffer.from(good);
    const at = zipEntry.offset + Math.floor(zipEntry.size / 2);
    flipped[at] = flipped[at]! ^ 0x20;
    flipped[at + 1] = flipped[at + 1]! ^ 0x01;
    await writeFile(join(tmp, "inc-flipped.tar"), flipped);
    await writeFile(join(tmp, "inc-truncated.tar"), good.subarray(0, zipEntry.offset + 100));
    const store = join(tmp, "airgap");
    const snapshot = await snapshotTree(store, { includeDot: true });
    for (const bad of ["inc-flipped.tar", "inc-truncated.tar"]) {
      const im = await cli(["import", bad, ...airgapFlags()], {}, 60_000);
      assert.equal(im.code, 1, show(im));
      assert.equal(im.stdout, "", show(im));
      assert.equal(im.stderr.trimEnd().split("\n").length, 1, show(im));
      assert.match(im.stderr, new RegExp(`^goark: .*${bad.replace(".", "\\.")}`), show(im));
      assert.deepEqual(await snapshotTree(store, { includeDot: true }), snapshot, `${bad} changed the store`);
    }

    const im = await cli(["import", "inc.tar", ...airgapFlags()]);
    assert.equal(im.code, 0, show(im));
    assert.match(im.stdout, /^added 3 versions/);
    const g = await drillOffline(bumped, "offline-bumped");
    await g.close();
    offline = undefined;
  });

  test("GOPROXY=file:// on export --format dir, no goark running, GOSUMDB = the connected goark's key", {
    timeout: TIMEOUT,
  }, async () => {
    const key = await cli(["sumdb", "key", "--json", ...connectedFlags]);
    assert.equal(key.code, 0, show(key));
    const { verifierKey, name } = JSON.parse(key.stdout) as { verifierKey: string; name: string };
    assert.equal(name, CONNECTED_DB);
    const tree = join(tmp, "tree");
    const proxy = pathToFileURL(tree).href;

    const ex = await cli(["export", tree, "--format", "dir", "base/go.mod", ...connectedFlags]);
    assert.equal(ex.code, 0, show(ex));
    const c1 = await drill(proxy, verifierKey, base, "dir-base");
    await assertLookedUp(c1, CONNECTED_DB, base.gosum);

    // The bump, exported into the same tree as an increment.
    const inc = await cli([
      "export",
      tree,
      "--format",
      "dir",
      "bumped/go.mod",
      "--since-bundle",
      "base.tar",
      ...connectedFlags,
    ]);
    assert.equal(inc.code, 0, show(inc));
    assert.match(inc.stdout, /^exported 3 versions/);
    const c2 = await drill(proxy, verifierKey, bumped, "dir-bumped");
    await assertLookedUp(c2, CONNECTED_DB, bumped.gosum);
  });
});
