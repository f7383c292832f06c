import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TlogError } from "../errors.ts";
import { vectors } from "./testdata/go-vectors.ts";
import {
  checkDataTile,
  formatDataTile,
  formatTilePath,
  hashFromTile,
  newTiles,
  parseDataTile,
  parseTilePath,
  readTileData,
  type Tile,
  type TileReader,
  tileForIndex,
  tileHashReader,
} from "./tile.ts";
import { arrayHashReader, formatHash, parseHash, storedHashIndex } from "./tlog.ts";

function rejects(f: () => unknown, reason: string): void {
  assert.throws(f, (e: unknown) => e instanceof TlogError && e.reason === reason);
}

const log = vectors.log;
const goHashes = log.hashes.map(parseHash);

describe("tile paths (vectors from x/mod)", () => {
  it("parses and formats x/mod's table", () => {
    for (const { path, tile, err } of vectors.tilePaths) {
      if (err) {
        rejects(() => parseTilePath(path), "malformed-tile-path");
        continue;
      }
      assert.deepEqual(parseTilePath(path), tile, path);
      assert.equal(formatTilePath(tile!), path);
    }
  });

  it("accepts only the canonical form", () => {
    for (const bad of [
      "tile/08/0/000",
      "tile/8/00/000",
      "tile/8/0/00",
      "tile/8/0/x000/001",
      "tile/8/0/000.p/256",
      "tile/8/0/000.p/0",
      "tile/8/0/000.p/017",
      "tile/31/0/000",
      "tile/0/0/000",
      "tile/8/0/000/",
      "tile/8/-1/000",
      "tile/8/0/X001/000",
    ]) {
      rejects(() => parseTilePath(bad), "malformed-tile-path");
    }
  });

  it("lists the tiles a growing log publishes as Go does", () => {
    assert.deepEqual(newTiles(2, 5, 23), vectors.newTiles_2_5_23);
    assert.deepEqual(Object.keys(log.tiles2), newTiles(2, 0, 13).map(formatTilePath));
  });
});

describe("tile contents", () => {
  it("tile data from stored hashes equals Go's", async () => {
    for (const [path, want] of Object.entries(log.tiles2)) {
      const data = await readTileData(parseTilePath(path), arrayHashReader(goHashes));
      assert.equal(Buffer.from(data).toString("base64"), want, path);
    }
  });

  it("every stored hash can be recovered from its tile", () => {
    const tiles = new Map(Object.entries(log.tiles2).map(([p, d]) => [p, Buffer.from(d, "base64")]));
    for (let i = 0; i < goHashes.length; i++) {
      const t = tileForIndex(2, i);
      // The widest published tile at that place holds it too.
      const wide = [...tiles.keys()]
        .map(parseTilePath)
        .filter((x) => x.l === t.l && x.n === t.n && x.w >= t.w);
      for (const w of wide) {
        assert.equal(
          formatHash(hashFromTile(w, tiles.get(formatTilePath(w))!, i)),
          log.hashes[i],
          `index ${i}`,
        );
      }
    }
  });

  it("[new] data tiles: record text and a blank line, no id line (sum.golang.org, x/mod >= v0.22.0)", () => {
    const records = log.records.slice(0, 4).map((r) => Buffer.from(r));
    const data = formatDataTile(records);
    assert.equal(Buffer.from(data).toString(), `${log.records.slice(0, 4).join("\n")}\n`);
    assert.deepEqual(
      parseDataTile(data).map((r) => Buffer.from(r)),
      records,
    );
    checkDataTile(parseDataTile(data), Buffer.from(log.tiles2["tile/2/0/000"]!, "base64"));
    // x/mod v0.7.0's layout (an id line first) parses, but as records whose hashes are wrong.
    const old = formatDataTile(records.map((r, i) => Buffer.concat([Buffer.from(`${i}\n`), r])));
    rejects(
      () => checkDataTile(parseDataTile(old), Buffer.from(log.tiles2["tile/2/0/000"]!, "base64")),
      "inconsistent-tile",
    );
    rejects(
      () => checkDataTile(parseDataTile(data).reverse(), Buffer.from(log.tiles2["tile/2/0/000"]!, "base64")),
      "inconsistent-tile",
    );
  });
});

/** A tile server over the Go-built log, optionally lying about some tiles. */
function reader(h: number, tamper: Record<string, Uint8Array> = {}): TileReader & { saved: string[] } {
  const saved: string[] = [];
  return {
    height: h,
    saved,
    async readTiles(tiles: readonly Tile[]) {
      return Promise.all(
        tiles.map((t) => tamper[formatTilePath(t)] ?? readTileData(t, arrayHashReader(goHashes))),
      );
    },
    saveTiles(tiles) {
      saved.push(...tiles.map(formatTilePath));
    },
  };
}

describe("tile hash reader", () => {
  const tree = { n: 13, hash: parseHash(log.roots[13]!) };

  it("returns hashes proven against the tree, then saves the tiles", async () => {
    const r = reader(2);
    const indexes = [0, 5, storedHashIndex(0, 12), storedHashIndex(2, 1)];
    const got = await tileHashReader(tree, r).readHashes(indexes);
    assert.deepEqual(
      got.map(formatHash),
      indexes.map((i) => log.hashes[i]),
    );
    assert.ok(r.saved.length > 0);
  });

  it("rejects a tree hash the tiles do not support", async () => {
    const r = reader(2);
    await assert.rejects(
      async () => tileHashReader({ n: 13, hash: parseHash(log.roots[12]!) }, r).readHashes([0]),
      (e: unknown) => e instanceof TlogError && e.reason === "inconsistent-tile",
    );
    assert.deepEqual(r.saved, []);
  });

  it("rejects a tampered full tile below the tree-hash tiles (x/mod v0.7.0 accepts it)", async () => {
    // Tree 13 at height 2: subtree hashes for [0,8) and [8,12) share tile/2/1/000.p/3,
    // so x/mod's loop over "the other tiles" starts one too late and never checks
    // tile/2/0/000: Go's TileHashReader returns the forged hash (see the differential test).
    const data = Buffer.from(log.tiles2["tile/2/0/000"]!, "base64");
    data[0]! ^= 1;
    const r = reader(2, { "tile/2/0/000": data });
    await assert.rejects(
      async () => tileHashReader(tree, r).readHashes([0]),
      (e: unknown) => e instanceof TlogError && e.reason === "inconsistent-tile",
    );
  });

  it("rejects truncated tiles and indexes outside the tree", async () => {
    const r = reader(2, { "tile/2/0/000": new Uint8Array(64) });
    await assert.rejects(
      async () => tileHashReader(tree, r).readHashes([0]),
      (e: unknown) => e instanceof TlogError && e.reason === "bad-reader",
    );
    await assert.rejects(
      async () => tileHashReader(tree, reader(2)).readHashes([storedHashIndex(0, 13)]),
      (e: unknown) => e instanceof TlogError && e.reason === "invalid-input",
    );
  });
});
