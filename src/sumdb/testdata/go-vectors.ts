/**
 * Loads go-vectors.json: fixed answers of golang.org/x/mod/sumdb v0.7.0,
 * printed by gen-vectors.go (see there to regenerate). Shared by the unit
 * tests of note.ts, tlog.ts and tile.ts.
 */
import { readFileSync } from "node:fs";

export interface KeyVector {
  key: string;
  name?: string;
  hash?: number;
  err?: string;
}

export interface TileVector {
  h: number;
  l: number;
  n: number;
  w: number;
}

export interface GoVectors {
  verifierKeys: KeyVector[];
  signerKeys: KeyVector[];
  generated: { name: string; signerKey: string; verifierKey: string };
  signed: { text: string; peter: string; peterAndLocal: string };
  log: {
    records: string[];
    hashes: string[];
    /** TreeHash(i) for i = 0..13; roots[0] is v0.7.0's all-zero empty-tree hash. */
    roots: string[];
    /** ProveRecord(13, n) for n = 0..12. */
    recordProofs: string[][];
    /** ProveTree(13, n) for n = 1..13. */
    treeProofs: string[][];
    /** ReadTileData for NewTiles(2, 0, 13), by path. */
    tiles2: Record<string, string>;
  };
  treeNote: string;
  storedHashIndex: [number, number, number][];
  storedHashCount: number[];
  sha256Empty: string;
  recordHash: Record<string, string>;
  tilePaths: { path: string; tile?: TileVector; err?: string }[];
  newTiles_2_5_23: TileVector[];
}

export const vectors: GoVectors = JSON.parse(
  readFileSync(new URL("./go-vectors.json", import.meta.url), "utf8"),
) as GoVectors;
