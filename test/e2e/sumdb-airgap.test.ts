/**
 * The air-gap drill with checksum verification ON all the way: x/mod's own
 * sumdb server vouches for the fixture upstream's modules (their go.sum
 * lines computed by Go's dirhash, via the oracle); a connected goark warms a
 * project verifying against it; `goark export` carries the proven records,
 * tiles and head; `goark import` into an empty store proves them again
 * against the configured key (no database reachable); `goark serve
 * --offline` serves them; and the real go command, with GOSUMDB set to
 * goark's own key and URL (no GOSUMDB=off, GONOSUMDB or -insecure), builds
 * the project from a cold cache, its go.sum equal to Go's hashes. A bundle
 * whose carried record was altered (its manifest rewritten to match) is
 * rejected for that version at import.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { escapePath } from "../../src/module/path.ts";
import { sha256Hex } from "../../src/storage/artefact-meta.ts";
import { zipKey } from "../../src/storage/keys.ts";
import { FixtureUpstream, type FixtureVersion, writeTree } from "../helpers/fixture-upstream.ts";
import { describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { goark, showRun as show } from "../helpers/goark-cli.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import {
  type GoSumdbServer,
  type GoSumRecord,
  goSumRecords,
  startGoSumdbServer,
} from "../helpers/sumdb-server.ts";

const TIMEOUT = 60_000;
const T = "2024-01-01T00:00:00Z";
const NAME = "localhost.goark.test/sumdb";

const ALPHA = "example.com/ag/alpha";
const BETA = "example.com/ag/beta";
const GAMMA = "example.com/ag/Gamma";

function pkg(module: string, version: string, requires: string[], body: string): FixtureVersion {
  const name = module.split("/").at(-1)!.toLowerCase();
  const req = requires.length > 0 ? `\nrequire (\n${requires.map((r) => `\t${r}\n`).join("")})\n` : "";
  return {
    module,
    version,
    time: T,
    files: { "go.mod": `module ${module}\n\ngo 1.16\n${req}`, [`${name}.go`]: `package ${name}\n\n${body}` },
  };
}

const VERSIONS = [
  pkg(
    ALPHA,
    "v1.0.0",
    [`${BETA} v1.0.0`],
    `import "${BETA}"\n\nfunc Name() string { return "alpha+" + beta.Name() }\n`,
  ),
  pkg(BETA, "v1.0.0", [], `func Name() string { return "beta" }\n`),
  pkg(GAMMA, "v1.1.0", [], `func Name() string { return "Gamma" }\n`),
];

const MAIN = {
  "go.mod": `module example.com/app\n\ngo 1.16\n\nrequire (\n\t${ALPHA} v1.0.0\n\t${GAMMA} v1.1.0\n)\n`,
  "main.go": `package main\n\nimport (\n\t"fmt"\n\n\t"${ALPHA}"\n\tgamma "${GAMMA}"\n)\n\nfunc main() { fmt.Println(alpha.Name(), gamma.Name()) }\n`,
};

/** Copies a bundle, letting edit replace entries; the manifest is rewritten with the new sizes and sha256s. */
async function rewriteBundle(
  from: string,
  to: string,
  edit: (name: string, data: Buffer) => Buffer,
): Promise<void> {
  const entries: { name: string; data: Buffer }[] = [];
  const extract = tar.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      entries.push({ name: entry.header.name, data: edit(entry.header.name, Buffer.concat(chunks)) });
    }
  })();
  await pipeline(createReadStream(from), extract);
  await reading;
  const manifest = entries[0]!;
  const byName = new Map(entries.map((e) => [e.name, e.data]));
  let text = manifest.data.toString("utf8");
  text = text.replace(/\{"key":"([^"]+)","size":\d+,"sha256":"[0-9a-f]{64}"\}/g, (_all, key: string) => {
    const d = byName.get(key)!;
    return JSON.stringify({ key, size: d.length, sha256: sha256Hex(d) });
  });
  manifest.data = Buffer.from(text, "utf8");
  const pack = tar.pack();
  const writing = pipeline(pack, createWriteStream(to));
  for (const e of entries) pack.entry({ name: e.name, size: e.data.length }, e.data);
  pack.finalize();
  await writing;
}

describe("air-gap drill with checksum verification on", { timeout: TIMEOUT * 2 }, () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  let sumdb: GoSumdbServer;
  let oracle: Oracle;
  let records: Map<string, GoSumRecord>;
  const instances: GoarkInstance[] = [];
  const clients: GoClient[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-sumdb-airgap-"));
    const tree = join(tmp, "tree");
    await writeTree(tree, VERSIONS);
    oracle = await startOracle();
    records = await goSumRecords(oracle, tree, VERSIONS);
    upstream = await FixtureUpstream.start(tree);
    sumdb = await startGoSumdbServer((_db, path, version) => records.get(`${path}@${version}`)?.text);
    await writeFile(join(tmp, "go.mod"), MAIN["go.mod"]);
  });

  after(async () => {
    for (const g of instances) await g.close().catch(() => undefined);
    for (const c of clients) await c.close();
    await upstream?.close();
    await sumdb?.close();
    await oracle?.close();
    if (!process.env.KEEP) await rm(tmp, { recursive: true, force: true });
  });

  test("warm (verified) → export → import → serve --offline → go build with GOSUMDB = goark's own key", {
    timeout: TIMEOUT,
  }, async () => {
    const verified = `${sumdb.verifierKey} ${sumdb.url}/honest`;
    const warm = await goark(
      ["warm", "go.mod", "--storage", "connected", "--upstream", upstream.url, "--sumdb", verified],
      tmp,
    );
    assert.equal(warm.code, 0, show(warm));
    for (const v of VERSIONS)
      assert.ok(sumdb.asked.includes(`honest ${v.module}@${v.version}`), `warm verified ${v.module}`);

    const ex = await goark(["export", "b.tar", "go.mod", "--storage", "connected", "--sumdb", verified], tmp);
    assert.equal(ex.code, 0, show(ex));

    // The offline side knows the database's key only: nothing is reachable.
    const asked = sumdb.asked.length;
    const im = await goark(
      ["import", "b.tar", "--storage", "offline", "--sumdb", sumdb.verifierKey, "--upstream", "off"],
      tmp,
    );
    assert.equal(im.code, 0, show(im));
    assert.match(im.stdout, /^added 3 versions/);
    assert.equal(sumdb.asked.length, asked, "import contacted the checksum database");

    // Import itself appended every version to goark's own log (not left to a client's first lookup).
    for (const v of VERSIONS) {
      const indexed = join(tmp, "offline/.sumdb/log/index", `${escapePath(v.module)}@${v.version}`);
      assert.ok(existsSync(indexed), `${v.module}@${v.version} is in goark's own log after import`);
    }

    const offline = await startGoark(
      { offline: "true", upstream: "off", sumdb: sumdb.verifierKey },
      { store: join(tmp, "offline") },
    );
    instances.push(offline);
    // The public database's carried lookups are served offline.
    const lookup = await fetch(`${offline.url}/sumdb/${NAME}/lookup/${escapePath(GAMMA)}@v1.1.0`);
    const lookupText = await lookup.text();
    assert.equal(lookup.status, 200, lookupText);
    assert.ok(lookupText.includes(records.get(`${GAMMA}@v1.1.0`)!.text), lookupText);

    const key = await goark(
      ["sumdb", "key", "--storage", join(tmp, "offline"), "--url", offline.url, "--json"],
      tmp,
    );
    assert.equal(key.code, 0, show(key));
    const { gosumdb, name: ownName } = JSON.parse(key.stdout) as { gosumdb: string; name: string };

    const go = await GoClient.create({ proxy: offline.url, env: { GOSUMDB: gosumdb } });
    clients.push(go);
    for (const k of ["GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOFLAGS", "GOINSECURE"])
      assert.doesNotMatch(go.env[k] ?? "", /^off$|insecure|example\.com/, k);
    const dir = await go.mainModule("app", MAIN);
    const tidy = await go.run(["mod", "tidy"], { cwd: dir });
    assert.equal(tidy.code, 0, describeRun(tidy));
    const b = await go.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(b.code, 0, describeRun(b));
    const out = await new Promise<string>((ok, fail) =>
      execFile(join(dir, "app"), (err, stdout) => (err ? fail(err) : ok(stdout))),
    );
    assert.equal(out, "alpha+beta Gamma\n");
    // The go command verified every module through goark's own log: its go.sum is Go's hashes.
    const gosum = await readFile(join(dir, "go.sum"), "utf8");
    const want = [...records.values()]
      .map((r) => r.text)
      .join("")
      .split("\n")
      .filter(Boolean)
      .sort();
    assert.deepEqual(gosum.split("\n").filter(Boolean).sort(), want);
    const lookedUp = join(go.env.GOMODCACHE!, "cache/download/sumdb", ownName, "lookup", `${ALPHA}@v1.0.0`);
    const verifiedOwn = await readFile(lookedUp, "utf8").catch(() => "");
    assert.ok(
      verifiedOwn.includes(records.get(`${ALPHA}@v1.0.0`)!.text),
      "the go command looked ALPHA up in goark's log",
    );

    // A bundle from a store that did not verify carries no records: rejected, unless exempted.
    const plain = await goark(
      ["export", "plain.tar", "go.mod", "--storage", "connected", "--sumdb", "off"],
      tmp,
    );
    assert.equal(plain.code, 0, show(plain));
    const strict = await goark(
      ["import", "plain.tar", "--storage", "strict", "--sumdb", sumdb.verifierKey, "--upstream", "off"],
      tmp,
    );
    assert.equal(strict.code, 1, show(strict));
    assert.match(strict.stdout, /^added 0 versions/);
    assert.match(
      strict.stdout,
      new RegExp(`rejected: ${BETA}@v1\\.0\\.0: sumdb: .*carries no ${NAME} record`),
    );
    const exempt = await goark(
      [
        "import",
        "plain.tar",
        "--storage",
        "strict",
        "--sumdb",
        sumdb.verifierKey,
        "--nosumdb",
        "example.com/ag",
      ],
      tmp,
    );
    assert.equal(exempt.code, 0, show(exempt));
    assert.match(exempt.stdout, /^added 3 versions/);

    // A bundle whose carried record for ALPHA was altered (manifest made to match): ALPHA is rejected.
    const alphaLookup = `goark-ext/sumdb/${NAME}/lookup/${ALPHA}@v1.0.0`;
    let altered = false;
    await rewriteBundle(join(tmp, "b.tar"), join(tmp, "bad.tar"), (name, data) => {
      if (name !== alphaLookup) return data;
      altered = true;
      return Buffer.from(data.toString("utf8").replace(/ h1:[A-Za-z0-9+/]{4}/, " h1:AAAA"), "utf8");
    });
    assert.ok(altered, `the bundle carries ${alphaLookup}`);
    const bad = await goark(
      ["import", "bad.tar", "--storage", "fresh", "--sumdb", sumdb.verifierKey, "--upstream", "off"],
      tmp,
    );
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stdout, new RegExp(`rejected: ${ALPHA}@v1\\.0\\.0: sumdb: .*does not verify`));
    assert.ok(!existsSync(join(tmp, "fresh", zipKey(ALPHA, "v1.0.0"))), "the rejected version is not stored");
    assert.ok(existsSync(join(tmp, "fresh", zipKey(BETA, "v1.0.0"))), "the others land");
  });
});
