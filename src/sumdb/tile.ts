/**
 * Tiles of the checksum database's log (golang.org/x/mod/sumdb/tlog tile.go):
 * tile coordinates and paths, which tiles a growing log publishes, tile
 * contents, and a HashReader that fetches tiles and authenticates every one
 * against a signed tree before trusting a hash from it.
 *
 * A tile of height h at level l, number n, width w holds w consecutive hashes
 * of tree level h·l starting at n·2^h (2^h when full); level -1 ("data") holds
 * the records themselves. Its path is `tile/H/L/NNN[.p/W]`, N written in
 * 3-digit groups, all but the last prefixed with "x".
 *
 * Data tiles follow sum.golang.org and x/mod ≥ v0.22.0: each record's text
 * followed by a blank line, with no id line. x/mod v0.7.0 (our oracle) through
 * v0.21 wrote `<id>\n` before each record.
 */
import {
  checkCount,
  HASH_SIZE,
  type Hash,
  type HashReader,
  hashEqual,
  nodeHash,
  recordHash,
  recordTextProblem,
  splitStoredHashIndex,
  storedHashIndex,
  subTreeIndex,
  type Tree,
  tlogError,
} from "./tlog.ts";

export interface Tile {
  /** Height: 1 ≤ h ≤ 30 (the go command uses 8). */
  h: number;
  /** Level in the tiling; -1 for a data tile. */
  l: number;
  /** Number within the level. */
  n: number;
  /** Width: 1 ≤ w ≤ 2^h; 2^h is a full tile. */
  w: number;
}

const PATH_BASE = 1000;

/** The tile's path `tile/H/L/NNN[.p/W]` (x/mod Tile.Path). */
export function formatTilePath(t: Tile): string {
  let n = t.n;
  let nStr = String(n % PATH_BASE).padStart(3, "0");
  while (n >= PATH_BASE) {
    n = Math.floor(n / PATH_BASE);
    nStr = `x${String(n % PATH_BASE).padStart(3, "0")}/${nStr}`;
  }
  const p = t.w !== 2 ** t.h ? `.p/${t.w}` : "";
  const l = t.l === -1 ? "data" : String(t.l);
  return `tile/${t.h}/${l}/${nStr}${p}`;
}

const TILE_PATH = /^tile\/([0-9]+)\/(data|[0-9]+)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([0-9]+))?$/;
const CANONICAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * Parses a tile path (x/mod ParseTilePath): only the exact path formatTilePath
 * gives is accepted (no leading zeros, no "x000" lead group, no `.p/W` on a
 * full tile), with 1 ≤ H ≤ 30 and 1 ≤ W < 2^H when `.p` is present. N and L
 * beyond 2^53−1 are refused (Go accepts them up to 2^63−1).
 */
export function parseTilePath(path: string): Tile {
  const bad = (why: string) =>
    tlogError("malformed-tile-path", `malformed tile path ${JSON.stringify(path)}: ${why}`);
  const m = TILE_PATH.exec(path);
  if (!m) throw bad("want tile/H/L/NNN[.p/W]");
  const [, hText = "", lText = "", nText = "", wText] = m;
  if (!CANONICAL.test(hText) || Number(hText) < 1 || Number(hText) > 30) throw bad("height must be 1 to 30");
  const h = Number(hText);
  let l = -1;
  if (lText !== "data") {
    if (!CANONICAL.test(lText)) throw bad("level has leading zeros");
    l = Number(lText);
    if (!Number.isSafeInteger(l))
      throw tlogError("too-large", `tile path ${JSON.stringify(path)}: level too large`);
  }
  const groups = nText.split("/");
  if (groups.length > 1 && groups[0] === "x000") throw bad("number has a leading zero group");
  let n = 0;
  for (const g of groups) n = n * PATH_BASE + Number(g.replace(/^x/, ""));
  if (!Number.isSafeInteger(n))
    throw tlogError("too-large", `tile path ${JSON.stringify(path)}: number too large`);
  let w = 2 ** h;
  if (wText !== undefined) {
    if (!CANONICAL.test(wText) || Number(wText) < 1 || Number(wText) >= w) {
      throw bad(`partial width must be 1 to ${w - 1} without leading zeros`);
    }
    w = Number(wText);
  }
  return { h, l, n, w };
}

/** The tile of height h, and least width, holding the hash at stored index `index`, with its byte range there. */
function tileForIndexRange(h: number, index: number): [Tile, number, number] {
  const split = splitStoredHashIndex(index);
  let { level, n } = split;
  const l = Math.floor(level / h);
  level -= l * h; // level within the tile
  const tn = Math.floor((n * 2 ** level) / 2 ** h);
  n -= (tn * 2 ** h) / 2 ** level; // n within the tile, at that level
  const w = (n + 1) * 2 ** level;
  return [{ h, l, n: tn, w }, n * 2 ** level * HASH_SIZE, (n + 1) * 2 ** level * HASH_SIZE];
}

/** The tile of height h ≥ 1, and least width, storing the hash with stored index `index`. */
export function tileForIndex(h: number, index: number): Tile {
  if (!Number.isInteger(h) || h < 1 || h > 30) throw tlogError("invalid-input", `invalid tile height ${h}`);
  return tileForIndexRange(h, index)[0];
}

/** The hash of a complete subtree whose leaves (2^k hashes) are data. */
function tileHash(data: Uint8Array): Hash {
  if (data.length === HASH_SIZE) return data.slice();
  const half = data.length / 2;
  return nodeHash(tileHash(data.subarray(0, half)), tileHash(data.subarray(half)));
}

/**
 * The hash with stored index `index`, computed from tile t's data; t must be
 * tileForIndex(t.h, index) or a wider tile at the same place (x/mod HashFromTile).
 */
export function hashFromTile(t: Tile, data: Uint8Array, index: number): Hash {
  if (t.h < 1 || t.h > 30 || t.l < 0 || t.l >= 64 || t.w < 1 || t.w > 2 ** t.h) {
    throw tlogError("invalid-tile", `invalid tile ${formatTilePath(t)}`);
  }
  if (data.length < t.w * HASH_SIZE) {
    throw tlogError("invalid-tile", `data len ${data.length} too short for tile ${formatTilePath(t)}`);
  }
  const [t1, start, end] = tileForIndexRange(t.h, index);
  if (t.l !== t1.l || t.n !== t1.n || t.w < t1.w) {
    throw tlogError("invalid-tile", `index ${index} is in ${formatTilePath(t1)} not ${formatTilePath(t)}`);
  }
  return tileHash(data.subarray(start, end));
}

/**
 * The tiles of height h to publish when a log grows from oldSize to newSize
 * records: new full tiles and every new width of the partial tile at the
 * right edge of each level (x/mod NewTiles, same order).
 */
export function newTiles(h: number, oldSize: number, newSize: number): Tile[] {
  if (!Number.isInteger(h) || h < 1 || h > 30) throw tlogError("invalid-input", `invalid tile height ${h}`);
  checkCount(oldSize, "old tree size");
  checkCount(newSize, "new tree size");
  const tiles: Tile[] = [];
  const full = 2 ** h;
  for (let level = 0; Math.floor(newSize / 2 ** (h * level)) > 0; level++) {
    const oldN = Math.floor(oldSize / 2 ** (h * level));
    const newN = Math.floor(newSize / 2 ** (h * level));
    for (let n = Math.floor(oldN / full); n < Math.floor(newN / full); n++)
      tiles.push({ h, l: level, n, w: full });
    const n = Math.floor(newN / full);
    const maxW = newN - n * full;
    const minW = oldN > n * full ? oldN - n * full : 1;
    for (let w = minW; w <= maxW; w++) tiles.push({ h, l: level, n, w });
  }
  return tiles;
}

/** Tile t's contents (its hashes, concatenated) from a log's stored hashes (x/mod ReadTileData). */
export async function readTileData(t: Tile, r: HashReader): Promise<Uint8Array> {
  if (t.l < 0)
    throw tlogError("invalid-tile", `${formatTilePath(t)} is a data tile: it holds records, not hashes`);
  const size = t.w === 0 ? 2 ** t.h : t.w;
  const start = t.n * 2 ** t.h;
  const indexes = new Array<number>(size);
  for (let i = 0; i < size; i++) indexes[i] = storedHashIndex(t.h * t.l, start + i);
  const hashes = await r.readHashes(indexes);
  if (hashes.length !== size) {
    throw tlogError("bad-reader", `hash reader returned ${hashes.length} hashes for ${size} indexes`);
  }
  const out = new Uint8Array(size * HASH_SIZE);
  for (let i = 0; i < size; i++) out.set(hashes[i]!, i * HASH_SIZE);
  return out;
}

/**
 * A data tile's contents: each record text followed by a blank line, no id
 * (sum.golang.org and x/mod ≥ v0.22.0; v0.7.0 wrote an id line first).
 */
export function formatDataTile(records: readonly (Uint8Array | string)[]): Uint8Array {
  const parts: Buffer[] = [];
  records.forEach((r, i) => {
    const problem = recordTextProblem(r);
    if (problem !== undefined)
      throw tlogError("malformed-record", `malformed record data: record ${i} ${problem}`);
    parts.push(typeof r === "string" ? Buffer.from(r, "utf8") : Buffer.from(r), Buffer.from("\n"));
  });
  return new Uint8Array(Buffer.concat(parts));
}

/** Splits a data tile into its record texts (the current format; see formatDataTile). */
export function parseDataTile(data: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf("\n\n", at);
    if (end < 0)
      throw tlogError(
        "malformed-record",
        `malformed data tile: record ${out.length} has no blank line after it`,
      );
    const text = data.subarray(at, end + 1);
    const problem = recordTextProblem(text);
    if (problem !== undefined)
      throw tlogError("malformed-record", `malformed data tile: record ${out.length} ${problem}`);
    out.push(text);
    at = end + 2;
  }
  return out;
}

/**
 * Checks a data tile against the level-0 hash tile at the same place: one
 * record per hash, each record's hash equal to it.
 */
export function checkDataTile(records: readonly Uint8Array[], hashTile: Uint8Array): void {
  if (hashTile.length !== records.length * HASH_SIZE) {
    throw tlogError(
      "inconsistent-tile",
      `data tile has ${records.length} records for ${hashTile.length / HASH_SIZE} hashes`,
    );
  }
  records.forEach((r, i) => {
    if (!hashEqual(recordHash(r), hashTile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
      throw tlogError("inconsistent-tile", `data tile record ${i} does not match its hash tile`);
    }
  });
}

/** Where a tile hash reader gets tiles (x/mod TileReader). */
export interface TileReader {
  /** The height of the tiles it serves (8 for the go command's databases). */
  readonly height: number;
  /**
   * The data of each tile (tiles[i].w × 32 bytes). Data fetched from a server
   * is unproven until saveTiles is called for it.
   */
  readTiles(tiles: readonly Tile[]): Promise<Uint8Array[]>;
  /** Called with tiles once they have been authenticated against the tree. */
  saveTiles?(tiles: readonly Tile[], data: readonly Uint8Array[]): void | Promise<void>;
}

const NO_TILE: Tile = { h: 0, l: 0, n: 0, w: 0 };

function tileKey(t: Tile): string {
  return `${t.h}/${t.l}/${t.n}/${t.w}`;
}

/** t's k'th parent among the tiles of a tree of size n, or NO_TILE if it has none. */
function tileParent(t: Tile, k: number, n: number): Tile {
  const l = t.l + k;
  const tn = Math.floor(t.n / 2 ** (k * t.h));
  let w = 2 ** t.h;
  const max = Math.floor(n / 2 ** (l * t.h));
  const start = tn * 2 ** t.h;
  if (start + w >= max) {
    if (start >= max) return NO_TILE;
    w = max - start;
  }
  return { h: t.h, l, n: tn, w };
}

/**
 * A HashReader over the tiles of a signed tree (x/mod TileHashReader): it
 * fetches the tiles holding the requested hashes plus those needed to
 * recompute the tree's hash, checks them against tree.hash (and full tiles
 * against their parents), and only then answers. Any hash it returns is
 * proven to be in the tree.
 */
export function tileHashReader(tree: Tree, tr: TileReader): HashReader {
  return {
    async readHashes(indexes) {
      const h = tr.height;
      const order = new Map<string, number>();
      const tiles: Tile[] = [];
      const add = (t: Tile): number => {
        order.set(tileKey(t), tiles.length);
        tiles.push(t);
        return tiles.length - 1;
      };
      // Tiles for recomputing the tree hash; if it matches, they are authentic.
      if (tree.n === 0) {
        if (indexes.length === 0) return [];
        throw tlogError("invalid-input", "the empty tree holds no hashes");
      }
      const stx = subTreeIndex(0, tree.n, []);
      const stxOrder = stx.map((x) => {
        const t = tileParent(tileForIndex(h, x), 0, tree.n);
        return order.get(tileKey(t)) ?? add(t);
      });
      // Several subtree hashes often share a tile, so this count (not
      // stx.length, as x/mod v0.7.0 uses) is where the other tiles start.
      const stxTiles = tiles.length;
      // Tiles holding the indexes, with the parents that authenticate them.
      const limit = storedHashIndex(0, tree.n);
      const indexOrder = indexes.map((x) => {
        if (!Number.isSafeInteger(x) || x < 0 || x >= limit) {
          throw tlogError("invalid-input", `stored hash ${x} is not in the tree of ${tree.n} records`);
        }
        const t = tileForIndex(h, x);
        let k = 0;
        let found = -1;
        for (; ; k++) {
          const j = order.get(tileKey(tileParent(t, k, tree.n)));
          if (j !== undefined) {
            if (k === 0) found = j;
            break;
          }
        }
        // Walk back down, listing children after their parents.
        for (k--; k >= 0; k--) {
          const p = tileParent(t, k, tree.n);
          if (p.w !== 2 ** p.h) {
            throw tlogError(
              "invalid-tile",
              `tile ${formatTilePath(p)} has a parent but is not full (tree ${tree.n}, index ${x})`,
            );
          }
          const j = add(p);
          if (k === 0) found = j;
        }
        return found;
      });

      const data = await tr.readTiles(tiles);
      if (data.length !== tiles.length) {
        throw tlogError("bad-reader", `tile reader returned ${data.length} tiles for ${tiles.length}`);
      }
      tiles.forEach((t, i) => {
        if (data[i]!.length !== t.w * HASH_SIZE) {
          throw tlogError(
            "bad-reader",
            `tile ${formatTilePath(t)} has ${data[i]!.length} bytes, want ${t.w * HASH_SIZE}`,
          );
        }
      });

      // The tree-hash tiles first: they must rebuild the signed root.
      const last = stx.length - 1;
      let th = hashFromTile(tiles[stxOrder[last]!]!, data[stxOrder[last]!]!, stx[last]!);
      for (let i = last - 1; i >= 0; i--) {
        th = nodeHash(hashFromTile(tiles[stxOrder[i]!]!, data[stxOrder[i]!]!, stx[i]!), th);
      }
      if (!hashEqual(th, tree.hash)) {
        throw tlogError(
          "inconsistent-tile",
          `downloaded inconsistent tile: tiles do not hash to the tree of ${tree.n} records`,
        );
      }
      // Then every other (full) tile against its already authenticated parent.
      // x/mod v0.7.0 starts this loop at len(stx), so when subtree hashes share
      // tiles it skips the first few other tiles and trusts them unchecked; the
      // go command would accept a forged hash from such a tile. goark checks all.
      for (let i = stxTiles; i < tiles.length; i++) {
        const t = tiles[i]!;
        const p = tileParent(t, 1, tree.n);
        const j = order.get(tileKey(p));
        if (j === undefined) throw tlogError("invalid-tile", `lost the parent of tile ${formatTilePath(t)}`);
        const want = hashFromTile(p, data[j]!, storedHashIndex(p.l * p.h, t.n));
        if (!hashEqual(want, tileHash(data[i]!))) {
          throw tlogError("inconsistent-tile", `downloaded inconsistent tile ${formatTilePath(t)}`);
        }
      }
      await tr.saveTiles?.(tiles, data);
      return indexes.map((x, i) => hashFromTile(tiles[indexOrder[i]!]!, data[indexOrder[i]!]!, x));
    },
  };
}
