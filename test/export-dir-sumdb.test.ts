/**
 * The checksum-database material `goark export --format dir` writes under
 * `<tree>/sumdb/<name>/` (src/bundle/export-dir.ts, writeDirSumdb), read the
 * way the go command reads a database through a proxy: by
 * golang.org/x/mod/sumdb's own Client (the oracle), which verifies every
 * lookup through the tiles. The log is big enough for full tiles and a
 * second tile level; an increment exported into the same tree verifies for
 * a client that remembers the older head; a changed byte in a tile is
 * caught; versions goark's log cannot vouch for are reported and not
 * written; data tiles never leave the store.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeDirSumdb } from "../src/bundle/export-dir.ts";
import { modKey, zipKey } from "../src/storage/keys.ts";
import type { StoredFile, StoredVersion } from "../src/store-ops/inventory.ts";
import { OwnSumdb } from "../src/sumdb/own-db.ts";
import { type Oracle, startOracle } from "./helpers/oracle.ts";
import { fakeStore } from "./helpers/sumdb-append-child.ts";

const NAME = "goark.dir-export.test";

/** The hash fakeStore states for a key. */
const h1 = (key: string) => `h1:${createHash("sha256").update(key).digest("base64")}`;
const mv = (i: number): [string, string] => [`example.com/dir/m${i}`, `v1.0.${i % 3}`];

function stored(i: number, opts: { zipH1?: string; noZip?: boolean } = {}): StoredVersion {
  const [module, version] = mv(i);
  const file = (key: string, kind: "zip" | "mod", h: string): StoredFile => ({
    key,
    kind,
    size: 1,
    meta: { sha256: "", size: 1, origin: "test", fetchedAt: 0, h1: h },
  });
  const v: StoredVersion = {
    module,
    version,
    mod: file(modKey(module, version), "mod", h1(modKey(module, version))),
  };
  if (!opts.noZip) v.zip = file(zipKey(module, version), "zip", opts.zipH1 ?? h1(zipKey(module, version)));
  return v;
}

interface Lookups {
  lookups: { lines?: string[]; err?: string }[];
  latest: string;
  securityErrors: string[] | null;
}

describe("export --format dir: goark's log as x/mod's sumdb client reads it", () => {
  let tmp: string;
  let oracle: Oracle;
  let db: OwnSumdb;
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => a + k);
  const record = async (ids: number[]) => {
    for (let g = 0; g < ids.length; g += 100)
      await Promise.all(ids.slice(g, g + 100).map((i) => db.record(...mv(i))));
  };
  const lookups = async (dir: string, latest: string, ids: number[]): Promise<Lookups> => {
    const a = await oracle.ask<Lookups>("sumdb.ClientLookups", [
      dir,
      db.verifierKey,
      latest,
      ids.map((i) => mv(i).join("@")),
    ]);
    assert.equal(a.err, undefined, a.err);
    return a.v!;
  };
  const want = (i: number) => {
    const [module, version] = mv(i);
    return [`${module} ${version} ${h1(zipKey(module, version))}`];
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-dir-sumdb-"));
    oracle = await startOracle();
    db = await OwnSumdb.open({ dir: join(tmp, "store/.sumdb"), name: NAME, storage: fakeStore() });
  });

  after(async () => {
    await db?.close();
    await oracle?.close();
    if (process.env.KEEP) process.stderr.write(`kept ${tmp} ${db?.verifierKey}\n`);
    else await rm(tmp, { recursive: true, force: true });
  });

  test("every exported version verifies; an increment verifies against the older head", async () => {
    await record(range(0, 600));
    const tree = join(tmp, "tree");
    const first = [...range(0, 600), 600].map((i) => stored(i));
    const bad = [stored(601, { noZip: true }), stored(7, { zipH1: `h1:${"A".repeat(43)}=` })];
    const report = await writeDirSumdb(tree, db, [...first, ...bad]);
    // m600 was stored but not yet logged: the export records it.
    assert.equal(report.recorded, 1);
    assert.equal(report.treeSize, 601);
    assert.equal(report.lookups, 601);
    assert.deepEqual(report.modOnly, [{ module: mv(601)[0], version: mv(601)[1] }]);
    assert.deepEqual(
      report.uncovered.map((u) => `${u.module}@${u.version}`),
      [mv(7).join("@")],
    );
    assert.ok(!(await readdir(join(tree, "sumdb", NAME, "lookup/example.com/dir"))).includes("m601@v1.0.1"));
    assert.equal(report.gosumdb, db.verifierKey);
    const root = join(tree, "sumdb", NAME);
    const tiles = (await readdir(join(root, "tile/8"), { recursive: true })).sort();
    // Two full level-0 tiles, the partial third, and level 1; no data tiles.
    for (const t of ["0/000", "0/001", "0/002.p/89", "1/000.p/2"])
      assert.ok(tiles.includes(t), tiles.join(" "));
    assert.ok(!tiles.some((t) => t.startsWith("data")), tiles.join(" "));
    assert.equal(await readFile(join(root, "supported"), "utf8"), "");

    const all = await lookups(root, "", range(0, 601));
    for (const [i, l] of all.lookups.entries()) assert.deepEqual(l, { lines: want(i) }, `m${i}`);
    assert.equal(all.securityErrors, null);
    assert.match(all.latest, /^go\.sum database tree\n601\n/);

    // More versions, exported into the same tree: old and new verify for a client that saw the first head.
    await record(range(601, 900));
    const inc = await writeDirSumdb(
      tree,
      db,
      range(601, 900).map((i) => stored(i)),
    );
    assert.deepEqual(inc.uncovered, []);
    assert.equal(inc.treeSize, 900);
    const ids = [0, 255, 256, 599, 600, 601, 767, 899];
    const again = await lookups(root, all.latest, ids);
    for (const [k, l] of again.lookups.entries()) assert.deepEqual(l, { lines: want(ids[k]!) }, `m${ids[k]}`);
    assert.match(again.latest, /^go\.sum database tree\n900\n/);
    // A lookup file written by the first export carries the older head; it still proves.
    assert.match(await readFile(join(root, "lookup/example.com/dir/m5@v1.0.2"), "utf8"), /\n601\n/);

    // A changed byte in a hash tile is caught. (The level-1 tile: Debian's x/mod v0.7.0 leaves some
    // level-0 tiles unauthenticated when subtree hashes share a tile; see src/sumdb/tile.ts.)
    const broken = join(tmp, "broken");
    await cp(root, broken, { recursive: true });
    const tile = join(broken, "tile/8/1/000.p/2");
    const data = await readFile(tile);
    data[40] = data[40]! ^ 1;
    await writeFile(tile, data);
    const caught = await lookups(broken, "", [300]);
    assert.match(caught.lookups[0]!.err ?? "", /inconsistent tile/, JSON.stringify(caught));
  });
});
