/**
 * Go toolchains across the air gap, judged by the real go command (Go ≥ 1.21,
 * which switches toolchains; Debian's 1.19 does not). A fixture upstream
 * serves fake golang.org/toolchain versions (Go's zip layout, bin/go a shell
 * script printing a marker) that x/mod's sumdb server vouches for. A connected
 * goark warms two projects, verifying: one whose go.mod says `toolchain
 * go1.99.0`, one whose dependency needs go 1.99.1 (Go then switches to the
 * latest 1.99 patch it finds in golang.org/toolchain's list). Export by go.mod,
 * import with only the database's key, `serve --offline`: with GOTOOLCHAIN=auto
 * and GOSUMDB set to goark's own key (the go command always checks a
 * toolchain against a checksum database: GOSUMDB=off is not an option for
 * it), the go command downloads exactly the toolchains warm stored, from
 * goark, and runs them.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { goPlatformOf } from "../../src/module/toolchain.ts";
import { fakeToolchainMarker, fakeToolchains, TOOLCHAIN_MODULE } from "../helpers/fake-toolchain.ts";
import { FixtureUpstream, type FixtureVersion, writeTree } from "../helpers/fixture-upstream.ts";
import { describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { goark, showRun as show } from "../helpers/goark-cli.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import { type GoSumdbServer, goSumRecords, startGoSumdbServer } from "../helpers/sumdb-server.ts";
import { findSwitchingGo, SWITCHING_GO_HINT } from "../helpers/switching-go.ts";

const TIMEOUT = 240_000;
const T = "2024-01-01T00:00:00Z";
const HOST = goPlatformOf();
const OTHER =
  HOST?.goos === "darwin" ? { goos: "windows", goarch: "amd64" } : { goos: "darwin", goarch: "arm64" };
const PLATFORMS = HOST === undefined ? [] : [HOST, OTHER];
const switching = findSwitchingGo();

function mod(module: string, goLine: string, body: string): FixtureVersion {
  const name = module.split("/").at(-1)!;
  return {
    module,
    version: "v1.0.0",
    time: T,
    files: { "go.mod": `module ${module}\n\ngo ${goLine}\n`, [`${name}.go`]: `package ${name}\n\n${body}` },
  };
}

const ALPHA = "example.com/tc/alpha";
const NEEDS = "example.com/tc/needs";
const VERSIONS: FixtureVersion[] = [
  ...fakeToolchains(["go1.98.5", "go1.99.0", "go1.99.1", "go1.99.2", "go1.100rc1"], PLATFORMS),
  mod(ALPHA, "1.16", `func Name() string { return "alpha" }\n`),
  mod(NEEDS, "1.99.1", `func Name() string { return "needs" }\n`),
];

const APP = {
  "go.mod": `module example.com/app\n\ngo 1.21\n\ntoolchain go1.99.0\n\nrequire ${ALPHA} v1.0.0\n`,
  "main.go": `package main\n\nimport "${ALPHA}"\n\nfunc main() { println(alpha.Name()) }\n`,
};
const OLD = {
  "go.mod": `module example.com/old\n\ngo 1.21\n\nrequire ${NEEDS} v1.0.0\n`,
  "main.go": `package main\n\nimport "${NEEDS}"\n\nfunc main() { println(needs.Name()) }\n`,
};

interface RequestLine {
  msg?: string;
  path?: string;
  status?: number;
}

describe("Go toolchains: warm → export → import → serve --offline → the go command switches", {
  timeout: TIMEOUT,
}, () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  let sumdb: GoSumdbServer;
  let oracle: Oracle;
  const instances: GoarkInstance[] = [];
  const clients: GoClient[] = [];

  before(async () => {
    if (process.env.CI === "true") {
      assert.ok(switching, SWITCHING_GO_HINT);
      assert.ok(HOST, `Go has no toolchain for ${process.platform}/${process.arch}`);
    }
    if (!switching || !HOST) return;
    tmp = await mkdtemp(join(tmpdir(), "goark-toolchain-e2e-"));
    const tree = join(tmp, "tree");
    await writeTree(tree, VERSIONS);
    oracle = await startOracle();
    const records = await goSumRecords(oracle, tree, VERSIONS);
    upstream = await FixtureUpstream.start(tree);
    sumdb = await startGoSumdbServer((_db, path, version) => records.get(`${path}@${version}`)?.text);
    for (const [dir, files] of [
      ["app", APP],
      ["old", OLD],
    ] as const) {
      await mkdir(join(tmp, dir));
      for (const [f, text] of Object.entries(files)) await writeFile(join(tmp, dir, f), text);
    }
  });

  after(async () => {
    for (const g of instances) await g.close().catch(() => undefined);
    for (const c of clients) await c.close();
    await upstream?.close();
    await sumdb?.close();
    await oracle?.close();
    if (tmp && !process.env.KEEP) await rm(tmp, { recursive: true, force: true });
  });

  test("the go command downloads from goark exactly the toolchains warm stored, verified by goark's own log", {
    timeout: TIMEOUT,
    skip: switching && HOST ? false : SWITCHING_GO_HINT,
  }, async () => {
    const host = `${HOST!.goos}-${HOST!.goarch}`;
    const platforms = PLATFORMS.map((p) => `${p.goos}/${p.goarch}`).join(",");
    const verified = `${sumdb.verifierKey} ${sumdb.url}/honest`;

    // 1. Warm, verifying against the checksum database.
    const warm = await goark(
      [
        "warm",
        "app/go.mod",
        "old/go.mod",
        "--storage",
        "connected",
        "--upstream",
        upstream.url,
        "--sumdb",
        verified,
        "--toolchain-platforms",
        platforms,
      ],
      tmp,
    );
    assert.equal(warm.code, 0, show(warm));
    const warmedToolchains = warm.stdout
      .split("\n")
      .filter((l) => l.startsWith("toolchain: "))
      .map((l) => l.split(" ").slice(1, 3).join(" "))
      .sort();
    const expected = ["go1.99.0", "go1.99.2"].flatMap((n) =>
      PLATFORMS.map((p) => `${n} ${p.goos}/${p.goarch}`),
    );
    assert.deepEqual(warmedToolchains, expected.sort(), show(warm));
    assert.match(warm.stdout, /; 4 of the zips are Go toolchains/);
    for (const v of [`v0.0.1-go1.99.0.${host}`, `v0.0.1-go1.99.2.${host}`])
      assert.ok(sumdb.asked.includes(`honest ${TOOLCHAIN_MODULE}@${v}`), `warm verified ${v}`);
    assert.ok(
      !sumdb.asked.some((a) => a.includes("go1.98.5") || a.includes("go1.99.1.")),
      "nothing else fetched",
    );

    // 2. Export what the two go.mod files need (toolchains included), import with only the key.
    const ex = await goark(
      ["export", "b.tar", "app/go.mod", "old/go.mod", "--storage", "connected", "--sumdb", verified],
      tmp,
    );
    assert.equal(ex.code, 0, show(ex));
    const im = await goark(
      ["import", "b.tar", "--storage", "offline", "--sumdb", sumdb.verifierKey, "--upstream", "off"],
      tmp,
    );
    assert.equal(im.code, 0, show(im));
    assert.match(im.stdout, /^added 6 versions/);
    const ls = await goark(["ls", TOOLCHAIN_MODULE, "--storage", "offline", "--json"], tmp);
    assert.equal(ls.code, 0, show(ls));
    const lsRows = JSON.parse(ls.stdout) as { versions?: { version: string }[] } | { version: string }[];
    const lsText = JSON.stringify(lsRows);
    for (const v of [`v0.0.1-go1.99.0.${host}`, `v0.0.1-go1.99.2.${host}`])
      assert.ok(lsText.includes(v), lsText);

    // 3. Serve offline; the client trusts goark's own checksum database.
    const offline = await startGoark(
      { offline: "true", upstream: "off", sumdb: sumdb.verifierKey, logLevel: "info" },
      { store: join(tmp, "offline") },
    );
    instances.push(offline);
    const key = await goark(
      ["sumdb", "key", "--storage", join(tmp, "offline"), "--url", offline.url, "--json"],
      tmp,
    );
    assert.equal(key.code, 0, show(key));
    const { gosumdb } = JSON.parse(key.stdout) as { gosumdb: string };
    const go = await GoClient.create({
      proxy: offline.url,
      env: {
        GOSUMDB: gosumdb,
        GOTOOLCHAIN: "auto",
        // A go command that switches, first on PATH; no go1.99.x there, so it must download.
        PATH: `${switching!.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      },
    });
    clients.push(go);

    // 4. toolchain go1.99.0 in go.mod: the go command switches at start-up.
    const appDir = await go.mainModule("app", APP);
    const v = await go.run(["version"], { cwd: appDir });
    assert.equal(v.code, 0, describeRun(v));
    assert.match(v.stdout, new RegExp(`^${fakeToolchainMarker("go1.99.0", HOST!)} args=version$`, "m"));
    assert.match(v.stderr, /go: downloading go1\.99\.0 /);

    // 5. A dependency needing go 1.99.1: go mod tidy switches to the latest 1.99 patch in goark's list.
    const oldDir = await go.mainModule("old", OLD);
    const tidy = await go.run(["mod", "tidy"], { cwd: oldDir });
    assert.equal(tidy.code, 0, describeRun(tidy));
    assert.match(tidy.stderr, /requires go >= 1\.99\.1; switching to go1\.99\.2/, describeRun(tidy));
    assert.match(tidy.stdout, new RegExp(`^${fakeToolchainMarker("go1.99.2", HOST!)} args=mod tidy$`, "m"));

    // goark's request log: the toolchain zips asked for are exactly those warm stored for this platform.
    const requests = offline.logs
      .map((l) => JSON.parse(l) as RequestLine)
      .filter((r) => r.msg === "request" && r.path !== undefined);
    const toolchainFiles = requests
      .filter((r) => r.path!.startsWith(`/${TOOLCHAIN_MODULE}/@v/`))
      .map((r) => `${r.status} ${r.path}`);
    const zips = toolchainFiles.filter((p) => p.endsWith(".zip")).sort();
    assert.deepEqual(zips, [
      `200 /${TOOLCHAIN_MODULE}/@v/v0.0.1-go1.99.0.${host}.zip`,
      `200 /${TOOLCHAIN_MODULE}/@v/v0.0.1-go1.99.2.${host}.zip`,
    ]);
    assert.ok(toolchainFiles.includes(`200 /${TOOLCHAIN_MODULE}/@v/list`), toolchainFiles.join("\n"));
    assert.ok(!toolchainFiles.some((p) => !p.startsWith("200 ")), toolchainFiles.join("\n"));
    // Each download was checked against goark's own log.
    const lookups = requests
      .filter((r) => r.path!.includes(`/lookup/${TOOLCHAIN_MODULE}@`))
      .map((r) => r.path!);
    for (const tc of ["go1.99.0", "go1.99.2"])
      assert.ok(
        lookups.some((p) => p.endsWith(`@v0.0.1-${tc}.${host}`)),
        `looked up ${tc}: ${lookups.join(", ")}`,
      );
  });
});
