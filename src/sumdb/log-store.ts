/**
 * goark's own checksum database: an append-only transparency log of go.sum
 * records kept in a Storage, signed by goark's key and served in the
 * go command's sumdb format (lookup, tile, latest).
 *
 * Layout under the prefix (default "sumdb-log/"):
 *   tile/8/L/N[.p/W]       hash tiles, exactly as served
 *   tile/8/data/N[.p/W]    data tiles (record text + blank line, no id: the
 *                          current format, see tile.ts)
 *   index/<escaped module>@<escaped version>   the record id, in decimal
 *   latest                 the signed tree note: the commit point
 *
 * Crash safety: an append writes tiles and index entries first and the
 * signed note last (each putBytes is atomic). The log is exactly what
 * `latest` signs; tiles and index entries beyond it are leftovers a crash
 * left and the next append overwrites (every tile key's content is fixed by
 * the records below it, and an index entry pointing at id ≥ N is ignored).
 *
 * Appends are serialized in-process and grouped: concurrent callers share one
 * signed tree. Several processes must not append to one log at once.
 */
import { eachLimited } from "../each-limited.ts";
import { ChecksumMismatchError, NotFoundError, StorageError, TlogError } from "../errors.ts";
import { escapePath, escapeVersion } from "../module/path.ts";
import type { Storage } from "../storage/storage.ts";
import { openNote, type Signer, signNote, type Verifier, verifierList } from "./note.ts";
import {
  formatDataTile,
  formatTilePath,
  hashFromTile,
  newTiles,
  parseDataTile,
  parseTilePath,
  readTileData,
  type Tile,
  tileForIndex,
} from "./tile.ts";
import {
  formatRecord,
  formatTree,
  type Hash,
  type HashReader,
  parseTree,
  recordHash,
  recordTextProblem,
  storedHashesForRecordHash,
  storedHashIndex,
  type Tree,
  treeHash,
} from "./tlog.ts";

/** The part of Storage the log needs. */
export type LogStorage = Pick<Storage, "getBytes" | "putBytes">;

export interface LogStoreOptions {
  storage: LogStorage;
  /** Signs new tree heads. */
  signer: Signer;
  /** Checks the stored head on open (the signer's verifier). */
  verifier: Verifier;
  /** Key prefix inside the storage. */
  prefix?: string;
}

export const TILE_HEIGHT = 8;
const FULL = 2 ** TILE_HEIGHT;
/** File reads or writes of one batch under way at once. */
const FILE_PARALLEL = 16;

const ORIGIN = { origin: "sumdb-log" };

interface Pending {
  key: string;
  module: string;
  version: string;
  text: Uint8Array;
  resolve: (id: number) => void;
  reject: (e: unknown) => void;
}

/** goark's append-only checksum database log. */
export class LogStore {
  private readonly storage: LogStorage;
  private readonly signer: Signer;
  private readonly verifier: Verifier;
  private readonly prefix: string;
  private tree: Tree = { n: 0, hash: new Uint8Array(32) };
  private signed: Uint8Array = new Uint8Array();
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  /** Recently read tiles (the right edge is read on every append). */
  private readonly tileCache = new Map<string, Uint8Array>();

  private constructor(options: LogStoreOptions) {
    this.storage = options.storage;
    this.signer = options.signer;
    this.verifier = options.verifier;
    this.prefix = options.prefix ?? "sumdb-log/";
  }

  /** Opens the log (creating an empty, signed one if none is stored). */
  static async open(options: LogStoreOptions): Promise<LogStore> {
    const log = new LogStore(options);
    const stored = await log.storage.getBytes(log.key("latest"));
    if (stored === undefined) {
      log.tree = { n: 0, hash: await treeHash(0, { readHashes: () => [] }) };
      log.signed = Buffer.from(signNote({ text: formatTree(log.tree) }, [log.signer]));
      await log.storage.putBytes(log.key("latest"), log.signed, ORIGIN);
    } else {
      const note = openNote(stored, verifierList(log.verifier));
      log.tree = parseTree(note.text);
      log.signed = new Uint8Array(stored);
    }
    return log;
  }

  private async reloadHead(): Promise<void> {
    const stored = await this.storage.getBytes(this.key("latest"));
    if (stored === undefined) return;
    const tree = parseTree(openNote(stored, verifierList(this.verifier)).text);
    if (tree.n >= this.tree.n) {
      this.tree = tree;
      this.signed = new Uint8Array(stored);
    }
  }

  /** The current tree head. */
  get head(): Tree {
    return this.tree;
  }

  /** The current signed tree note (what /latest serves). */
  get latest(): Uint8Array {
    return this.signed;
  }

  private key(rest: string): string {
    return this.prefix + rest;
  }

  private indexKey(module: string, version: string): string {
    return this.key(`index/${escapePath(module)}@${escapeVersion(version)}`);
  }

  /** The record id of module@version, if the log holds it. */
  find(module: string, version: string): Promise<number | undefined> {
    return this.findByKey(this.indexKey(module, version), module, version);
  }

  /**
   * The id an index entry names, if it is in the signed tree and its record
   * is module@version's. A crashed append can leave an entry at or beyond the
   * signed size, and a later append may then give that id to another record.
   */
  private async findByKey(key: string, module: string, version: string): Promise<number | undefined> {
    const raw = await this.storage.getBytes(key);
    if (raw === undefined) return undefined;
    const id = Number(raw.toString("latin1"));
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.tree.n) return undefined;
    const text = Buffer.from(await this.readRecord(id)).toString("utf8");
    const own = `${module} ${version} `;
    const ownMod = `${module} ${version}/go.mod `;
    return text.split("\n").some((l) => l.startsWith(own) || l.startsWith(ownMod)) ? id : undefined;
  }

  /**
   * Appends the go.sum record (text: its lines, each ending in "\n") for
   * module@version, or returns the id it already has. A different record for
   * a module version already in the log is a ChecksumMismatchError: the log
   * never changes a record.
   */
  async add(module: string, version: string, text: string | Uint8Array): Promise<number> {
    const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
    const problem = recordTextProblem(bytes);
    if (problem !== undefined) {
      throw new TlogError("malformed-record", `${module}@${version}: record text ${problem}`, {
        module,
        version,
      });
    }
    const key = this.indexKey(module, version);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ key, module, version, text: bytes, resolve, reject });
      this.schedule();
    }).then(async (id) => {
      const stored = await this.readRecord(id);
      if (!Buffer.from(stored).equals(Buffer.from(bytes))) {
        throw new ChecksumMismatchError(
          `${module}@${version}: the checksum database already holds a different record for it (id ${id})`,
          { module, version },
        );
      }
      return id;
    });
  }

  /** Starts draining on a later tick, so that callers adding at once share a batch. */
  private schedule(): void {
    if (this.draining !== undefined) return;
    this.draining = (async () => {
      await new Promise((r) => setImmediate(r));
      try {
        await this.drain();
      } finally {
        this.draining = undefined;
        // Entries queued after the last batch was taken start a new round.
        if (this.queue.length > 0) this.schedule();
      }
    })();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 1024);
      try {
        const ids = await this.appendBatch(batch);
        for (const [i, p] of batch.entries()) p.resolve(ids[i]!);
      } catch (e) {
        // The head is whatever the stored note says (a failed write may or
        // may not have landed); the batch failed either way and may be retried.
        this.tileCache.clear();
        await this.reloadHead().catch(() => undefined);
        for (const p of batch) p.reject(e);
      }
    }
  }

  /** Appends the new records of a batch and commits one signed head; returns each entry's id. */
  private async appendBatch(batch: Pending[]): Promise<number[]> {
    const oldN = this.tree.n;
    const ids: number[] = [];
    const fresh: Uint8Array[] = [];
    const freshIds = new Map<string, number>();
    // What the log holds already, looked up a few at a time (each is a file read).
    const known = new Array<number | undefined>(batch.length);
    await eachLimited(batch.keys(), FILE_PARALLEL, async (i) => {
      const p = batch[i]!;
      known[i] = await this.findByKey(p.key, p.module, p.version);
    });
    for (const [i, p] of batch.entries()) {
      const existing = freshIds.get(p.key) ?? known[i];
      if (existing !== undefined) {
        ids.push(existing);
        continue;
      }
      const id = oldN + fresh.length;
      freshIds.set(p.key, id);
      fresh.push(p.text);
      ids.push(id);
    }
    if (fresh.length === 0) return ids;

    // New stored hashes, reading older ones from the stored tiles.
    const added = new Map<number, Hash>();
    const old = this.storedHashReader(oldN);
    const reader: HashReader = {
      readHashes: async (indexes) => {
        const missing = indexes.filter((i) => !added.has(i));
        const got = missing.length > 0 ? await old.readHashes(missing) : [];
        const byIndex = new Map(missing.map((i, k) => [i, got[k]!]));
        return indexes.map((i) => added.get(i) ?? byIndex.get(i)!);
      },
    };
    for (const [k, text] of fresh.entries()) {
      const id = oldN + k;
      const hashes = await storedHashesForRecordHash(id, recordHash(text), reader);
      let at = storedHashIndex(0, id);
      for (const h of hashes) added.set(at++, h);
    }
    const newN = oldN + fresh.length;
    const root = await treeHash(newN, reader);

    // Tiles (hash and data), then index entries, then the signed head. Of
    // the partial widths NewTiles lists, only the last is ever named by a
    // signed tree (widths in between were never published): skip the others.
    const tiles = newTiles(TILE_HEIGHT, oldN, newN).filter(
      (t) => t.w === FULL || t.w === LogStore.width(t.l, t.n, newN),
    );
    for (const t of tiles) {
      await this.putTile(t, await readTileData(t, reader));
      const dataTile = { ...t, l: -1 };
      if (t.l === 0) await this.putTile(dataTile, await this.dataTileBytes(dataTile, oldN, fresh));
    }
    // Index entries in any order, a few at a time: the signed head below is the commit point.
    await eachLimited(freshIds.entries(), FILE_PARALLEL, ([key, id]) =>
      this.storage.putBytes(key, Buffer.from(String(id)), ORIGIN).then(() => undefined),
    );
    const tree = { n: newN, hash: root };
    const signed = Buffer.from(signNote({ text: formatTree(tree) }, [this.signer]));
    await this.storage.putBytes(this.key("latest"), signed, ORIGIN);
    this.tree = tree;
    this.signed = signed;
    return ids;
  }

  /** The data tile t: the records already in the log below oldN, then the fresh ones. */
  private async dataTileBytes(t: Tile, oldN: number, fresh: Uint8Array[]): Promise<Uint8Array> {
    const start = t.n * FULL;
    const records: Uint8Array[] = [];
    if (start < oldN) {
      const w = Math.min(FULL, oldN - start);
      records.push(...parseDataTile(await this.getTile({ h: TILE_HEIGHT, l: -1, n: t.n, w })));
    }
    for (let id = start + records.length; id < start + t.w; id++) records.push(fresh[id - oldN]!);
    return formatDataTile(records);
  }

  private async putTile(t: Tile, data: Uint8Array): Promise<void> {
    const path = formatTilePath(t);
    await this.storage.putBytes(this.key(path), data, ORIGIN);
    this.remember(path, data);
  }

  private remember(path: string, data: Uint8Array): void {
    this.tileCache.set(path, data);
    if (this.tileCache.size > 64) this.tileCache.delete(this.tileCache.keys().next().value!);
  }

  private async getTile(t: Tile): Promise<Uint8Array> {
    const path = formatTilePath(t);
    const hit = this.tileCache.get(path);
    if (hit) return hit;
    const data = await this.storage.getBytes(this.key(path));
    if (data === undefined) throw new StorageError(`checksum database log: tile ${path} is missing`);
    this.remember(path, data);
    return data;
  }

  /** Width of tile (l, n) in the tree of size size. */
  private static width(l: number, n: number, size: number): number {
    return Math.min(FULL, Math.floor(size / FULL ** l) - n * FULL);
  }

  /** Stored hashes of the tree of size n, read from its tiles. */
  private storedHashReader(n: number): HashReader {
    return {
      readHashes: (indexes) =>
        Promise.all(
          indexes.map(async (i) => {
            const t = tileForIndex(TILE_HEIGHT, i);
            const tile = { ...t, w: LogStore.width(t.l, t.n, n) };
            return hashFromTile(tile, await this.getTile(tile), i);
          }),
        ),
    };
  }

  /** The record text with this id. */
  async readRecord(id: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.tree.n) {
      throw new NotFoundError(`checksum database log has no record ${id} (size ${this.tree.n})`);
    }
    const n = Math.floor(id / FULL);
    const t = { h: TILE_HEIGHT, l: -1, n, w: LogStore.width(0, n, this.tree.n) };
    const records = parseDataTile(await this.getTile(t));
    const r = records[id - n * FULL];
    if (r === undefined)
      throw new StorageError(`checksum database log: data tile ${formatTilePath(t)} is short`);
    return r;
  }

  /** The /lookup answer for module@version: `<id>\n<text>\n<signed note>`; NotFoundError if absent. */
  async lookup(module: string, version: string): Promise<Uint8Array> {
    const signed = this.signed;
    const id = await this.find(module, version);
    if (id === undefined) {
      throw new NotFoundError(`${module}@${version}: not in the checksum database`, { module, version });
    }
    return Buffer.concat([formatRecord(id, await this.readRecord(id)), signed]);
  }

  /**
   * The bytes of a tile path ("tile/8/…") of the current tree, as served;
   * NotFoundError for tiles beyond it, a TlogError for malformed paths.
   */
  async tile(path: string): Promise<Uint8Array> {
    const t = parseTilePath(path);
    const size = this.tree.n;
    const level = Math.max(t.l, 0);
    if (t.h !== TILE_HEIGHT || t.w > LogStore.width(level, t.n, size) || t.n * FULL * FULL ** level >= size) {
      throw new NotFoundError(`${path}: no such tile in the checksum database of size ${size}`);
    }
    return this.getTile(t);
  }
}
