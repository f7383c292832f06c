/**
 * goark's own checksum database with the real go client: GOPROXY=goark and
 * GOSUMDB=<goark's key and URL> (no GOSUMDB=off, no GONOSUMDB, no GOPRIVATE
 * anywhere). goark verifies the public modules (fixture upstream) against
 * x/mod's own sumdb server before storing them, fetches the private ones
 * from git, and records both in its log; the go client verifies every
 * module against that log and builds the program — then again with goark
 * offline after a restart (key and log kept). Tampering is caught by the go
 * client: a stored zip whose bytes changed, and a rewritten log record.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DiskStorage } from "../../src/storage/disk.ts";
import { zipKey } from "../../src/storage/keys.ts";
import { type VerifyReport, verifyStore } from "../../src/store-ops/verify.ts";
import { sumdbVerifyHook } from "../../src/sumdb/verify-log.ts";
import { buildZip, FixtureUpstream, generateGraph, writeTree } from "../helpers/fixture-upstream.ts";
import { type GitHost, startGitHost } from "../helpers/git-host.ts";
import { describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import {
  type GoSumdbServer,
  type GoSumRecord,
  goSumRecords,
  startGoSumdbServer,
} from "../helpers/sumdb-server.ts";

const HOST = "git.goark.test";
const PRIVATE = `${HOST}/corp/secret`;
const TIMEOUT = 600_000;

describe("goark's own checksum database with the real go client", { timeout: TIMEOUT }, () => {
  let tmp: string;
  let store: string;
  let upstream: FixtureUpstream;
  let sumdb: GoSumdbServer;
  let host: GitHost;
  let oracle: Oracle;
  const graph = generateGraph(6);
  const top = graph.direct[0]!;
  const clients: GoClient[] = [];
  const instances: GoarkInstance[] = [];
  const saved: Record<string, string | undefined> = {};
  /** Go's go.sum lines of the public fixture versions (what the upstream database holds). */
  let records: Map<string, GoSumRecord>;

  const program = {
    "go.mod": `module example.com/app\n\ngo 1.19\n\nrequire (\n${[...graph.direct, { module: PRIVATE, version: "v1.0.0" }].map((d) => `\t${d.module} ${d.version}\n`).join("")})\n`,
    "main.go": `${graph.main["main.go"]!.replace(
      'import (\n\t"fmt"\n',
      `import (\n\t"fmt"\n\n\t"${PRIVATE}"\n`,
    ).replace(/fmt\.Println\((.*)\) \}/, "fmt.Println($1, secret.Word()) }")}`,
  };
  const expected = `${graph.expectedOutput.trim()} secret-1\n`;

  async function goark(flags: Record<string, string>): Promise<GoarkInstance> {
    const g = await startGoark(
      {
        upstream: `${upstream.url},direct`,
        private: `${HOST}/corp`,
        insecure: HOST,
        sumdb: `${sumdb.verifierKey} ${sumdb.url}/honest`,
        ...flags,
      },
      { store },
    );
    instances.push(g);
    return g;
  }

  async function client(g: GoarkInstance): Promise<GoClient> {
    const gosumdb = g.app.sumdb?.clientGosumdb(g.url);
    assert.ok(gosumdb, "goark serves its own checksum database");
    const line = g.app.clientLines.find((l) => l.startsWith("go env -w GOSUMDB="));
    assert.equal(line, `go env -w GOSUMDB="${gosumdb}"`);
    const c = await GoClient.create({
      proxy: g.url,
      env: { GOSUMDB: gosumdb, GONOSUMDB: "", GOPRIVATE: "" },
    });
    clients.push(c);
    return c;
  }

  /** `goark verify --dry-run` with the checksum-database hook, in process. */
  async function verify(): Promise<{ report: VerifyReport; summary: string }> {
    const storage = await DiskStorage.open({ root: store });
    try {
      const hook = sumdbVerifyHook(join(store, ".sumdb"));
      const report = await verifyStore(storage, { dryRun: true, hooks: [hook] });
      return { report, summary: hook.summary ?? "" };
    } finally {
      await storage.close();
    }
  }

  async function buildAndRun(c: GoClient): Promise<{ dir: string; out: string }> {
    const dir = await c.mainModule(`app-${Math.random().toString(36).slice(2, 8)}`, program);
    const tidy = await c.run(["mod", "tidy"], { cwd: dir });
    assert.equal(tidy.code, 0, describeRun(tidy));
    const build = await c.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(build.code, 0, describeRun(build));
    const out = await new Promise<string>((ok, fail) =>
      execFile(join(dir, "app"), (err, stdout) => (err ? fail(err) : ok(stdout))),
    );
    return { dir, out };
  }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-e2e-sumdb-"));
    store = join(tmp, "store");
    const tree = join(tmp, "tree");
    await writeTree(tree, graph.versions);
    oracle = await startOracle();
    records = await goSumRecords(oracle, tree, graph.versions);
    upstream = await FixtureUpstream.start(tree);
    sumdb = await startGoSumdbServer((_db, path, version) => records.get(`${path}@${version}`)?.text);
    host = await startGitHost({ host: HOST });
    const m01 = graph.modules[0]!;
    await host.createRepo("corp/secret", [
      {
        files: {
          "go.mod": `module ${PRIVATE}\n\ngo 1.19\n\nrequire ${m01} v1.0.0\n`,
          "secret.go": `package secret\n\nimport "${m01}"\n\nfunc Word() string { _ = m01.Value(); return "secret-1" }\n`,
        },
        tags: ["v1.0.0"],
      },
    ]);
    for (const k of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]) {
      saved[k] = process.env[k];
    }
    process.env.HTTP_PROXY = process.env.http_proxy = host.proxyUrl;
    process.env.HTTPS_PROXY = process.env.https_proxy = host.proxyUrl;
    process.env.NO_PROXY = process.env.no_proxy = "127.0.0.1,localhost";
  });

  after(async () => {
    for (const g of instances) await g.close().catch(() => undefined);
    await Promise.all(clients.map((c) => c.close()));
    await upstream?.close();
    await sumdb?.close();
    await host?.close();
    await oracle?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(tmp, { recursive: true, force: true });
  });

  let verifierKey = "";
  let goSum = "";

  test("go builds public and private modules, every one verified against goark's database", async () => {
    const g = await goark({});
    verifierKey = g.app.sumdb!.own!.verifierKey;
    const c = await client(g);
    const { dir, out } = await buildAndRun(c);
    assert.equal(out, expected);
    goSum = await readFile(join(dir, "go.sum"), "utf8");
    // The go command looked every module up in goark's database (its own sumdb cache says so).
    const name = g.app.sumdb!.own!.name;
    const lookups = join(c.env.GOMODCACHE!, "cache/download/sumdb", name, "lookup");
    assert.ok(existsSync(join(lookups, `${PRIVATE}@v1.0.0`)), "the private module was verified");
    assert.ok(existsSync(join(lookups, `${top.module}@${top.version}`)), "a public module was verified");
    // Public modules were verified upstream first: go.sum agrees with Go's hashes of the fixtures.
    for (const line of goSum.trim().split("\n")) {
      const [path, vers] = line.split(" ");
      const rec = records.get(`${path}@${vers!.replace(/\/go\.mod$/, "")}`);
      if (path!.startsWith(HOST)) continue;
      assert.ok(rec?.text.includes(line), `${line} is what the upstream database holds`);
    }
    assert.ok(
      sumdb.asked.some((a) => a.includes(top.module)),
      "goark asked the upstream database",
    );
    assert.ok(!sumdb.asked.some((a) => a.includes(HOST)), "private modules never reach the public database");
    await g.close();
  });

  test("offline after a restart: same key, log kept, go still verifies and builds", async () => {
    await upstream.stop();
    const asked = sumdb.asked.length;
    const g = await goark({ offline: "true" });
    assert.equal(g.app.sumdb!.own!.verifierKey, verifierKey, "the key survived the restart");
    assert.ok((await g.app.sumdb!.own!.size()) >= graph.modules.length + 1, "the log survived");
    const c = await client(g);
    const { dir, out } = await buildAndRun(c);
    assert.equal(out, expected);
    assert.equal(await readFile(join(dir, "go.sum"), "utf8"), goSum);
    assert.equal(sumdb.asked.length, asked, "offline: the upstream database is never contacted");
    await g.close();
    const { report, summary } = await verify();
    assert.deepEqual(report.problems, []);
    assert.match(summary, /records, consistent with its signed head; 0 stored artefacts differ/);
    await upstream.restart();
  });

  test("a stored zip whose bytes changed is refused by the go client", async () => {
    // Swap m02's zip for another valid zip of the same module and version, and
    // drop its metadata record so the store itself sees nothing wrong.
    const victim = graph.versions.find((v) => v.module === graph.modules[1] && v.version === "v1.0.0")!;
    const file = join(store, zipKey(victim.module, victim.version));
    assert.ok(existsSync(file), "the version is stored");
    const original = await readFile(file);
    await buildZip(
      { ...victim, files: { ...victim.files, "evil.go": `package m02\n\nconst Evil = 1\n` } },
      file,
    );
    await rm(`${file}.meta`, { force: true });
    try {
      const g = await goark({ offline: "true" });
      const c = await client(g);
      const { result, modules } = await c.download([`${victim.module}@${victim.version}`]);
      assert.notEqual(result.code, 0, "the go client must refuse the altered zip");
      const err = modules.find((m) => m.Path === victim.module)?.Error ?? result.stderr;
      assert.match(err, /verifying module: checksum mismatch/);
      assert.match(err, /SECURITY ERROR/);
      assert.ok(err.includes(`${g.app.sumdb!.own!.name}: h1:`), err);
      // An untouched module still verifies.
      const ok = await c.download([`${top.module}@${top.version}`]);
      assert.equal(ok.result.code, 0, describeRun(ok.result));
      await g.close();
      // goark verify names the broken entry with both hashes.
      const { report, summary } = await verify();
      const p = report.problems.find((x) => x.key === zipKey(victim.module, victim.version));
      assert.ok(p, JSON.stringify(report.problems));
      const want = records.get(`${victim.module}@${victim.version}`)!.zip;
      assert.ok(p.problem.includes(`records ${want}`), p.problem);
      assert.match(summary, /consistent with its signed head; 1 stored artefacts differ/);
    } finally {
      await writeFile(file, original);
      await rm(`${file}.meta`, { force: true });
    }
  });

  test("a rewritten log record is refused by the go client", async () => {
    const dataDir = join(store, ".sumdb/log/tile/8/data");
    const tiles = (await readdir(dataDir, { recursive: true })).filter((f) => /^\d{3}(\.p\/\d+)?$/.test(f));
    assert.ok(tiles.length > 0, `data tiles in ${dataDir}`);
    const victim = `${graph.modules[2]} v1.0.0 h1:`;
    const changed: [string, Buffer][] = [];
    for (const t of tiles) {
      const path = join(dataDir, t);
      const data = await readFile(path);
      const at = data.indexOf(victim);
      if (at < 0) continue;
      changed.push([path, Buffer.from(data)]);
      const i = at + victim.length;
      data[i] = data[i] === 0x41 ? 0x42 : 0x41;
      await writeFile(path, data);
    }
    assert.ok(changed.length > 0, "the record was found in a data tile");
    try {
      const g = await goark({ offline: "true" });
      const c = await client(g);
      const { result, modules } = await c.download([`${graph.modules[2]}@v1.0.0`]);
      assert.notEqual(result.code, 0, "the go client must refuse the rewritten record");
      const err = modules[0]?.Error ?? result.stderr;
      assert.match(err, /cannot authenticate record data in server response/);
      await g.close();
      const { report, summary } = await verify();
      assert.ok(
        report.problems.some((x) => /does not match its hash in the signed tree/.test(x.problem)),
        JSON.stringify(report.problems),
      );
      assert.match(summary, /INCONSISTENT/);
    } finally {
      for (const [path, data] of changed) await writeFile(path, data);
    }
  });
});
