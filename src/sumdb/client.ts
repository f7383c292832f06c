/**
 * A verifying checksum-database client (the behaviour of x/mod sumdb.Client,
 * which the go command uses): a lookup's record is trusted only once the
 * signed tree note that came with it verifies against the configured key and
 * the record's hash is proven to be in that tree through tiles; the latest
 * verified tree head is kept, and every newer head must extend it (a
 * consistency check through the new tree's tiles), so a database that forks
 * its history is detected.
 *
 * All I/O is handed in (SumdbClientOps): fetching paths from the database,
 * keeping the latest note, and a cache for verified tiles and lookups. With a
 * warm cache, lookups verify again without the network.
 */
import { ChecksumMismatchError, GoarkError, NoteError, NotFoundError, TlogError } from "../errors.ts";
import { escapePath, escapeVersion } from "../module/path.ts";
import { openNote, parseVerifierKey, type Verifiers, verifierList } from "./note.ts";
import {
  checkDataTile,
  formatTilePath,
  parseDataTile,
  type Tile,
  type TileReader,
  tileHashReader,
} from "./tile.ts";
import {
  checkTree,
  EMPTY_TREE_HASH,
  formatHash,
  HASH_SIZE,
  hashEqual,
  parseRecord,
  parseTree,
  proveTree,
  recordHash,
  storedHashIndex,
  type Tree,
  treeHash,
} from "./tlog.ts";

/** The go command's built-in key for sum.golang.org (cmd/go/internal/modfetch/key.go). */
export const SUM_GOLANG_ORG_KEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

/** What the client needs from the outside world. */
export interface SumdbClientOps {
  /**
   * The body at a path of the database ("/latest", "/lookup/…", "/tile/…").
   * Rejects with NotFoundError for a 404/410, another GoarkError otherwise.
   * Caps response sizes (a tile is at most 2^h × 32 bytes).
   */
  readRemote(path: string, signal?: AbortSignal): Promise<Uint8Array>;
  /** The latest verified signed tree note kept from earlier runs, if any. */
  loadLatest(): Promise<Uint8Array | undefined>;
  /** Keeps a newer verified signed tree note. */
  saveLatest(note: Uint8Array): Promise<void>;
  /** Verified data kept earlier under key ("tile/…", "lookup/…"), if any. */
  readCache?(key: string): Promise<Uint8Array | undefined>;
  /** Keeps verified data (tiles once authenticated, lookups once proven). */
  writeCache?(key: string, data: Uint8Array): Promise<void>;
  /** Told about a detected fork (the message holds both notes and a proof). */
  securityError?(message: string): void;
}

export interface SumdbClientOptions {
  /** Verifier key `name+hash+base64` of the database. */
  verifierKey: string;
  ops: SumdbClientOps;
  /** Tile height; the go command's databases use 8. */
  tileHeight?: number;
}

const EMPTY_TREE: Tree = { n: 0, hash: EMPTY_TREE_HASH };

/** A checksum-database client for one database. */
export class SumdbClient {
  /** The database's name (from its key). */
  readonly name: string;
  private readonly verifiers: Verifiers;
  private readonly ops: SumdbClientOps;
  private readonly height: number;
  private latestTree: Tree = EMPTY_TREE;
  private latestMsg: Uint8Array = new Uint8Array();
  private initialized: Promise<void> | undefined;
  /** Merges run one at a time: each compares against the head the previous one left. */
  private merging: Promise<unknown> = Promise.resolve();
  private readonly lookups = new Map<string, Promise<string[]>>();
  /** Tile fetches in flight (joined by concurrent readers). */
  private readonly tiles = new Map<string, Promise<Uint8Array>>();
  /** Tile data that came from the server, not yet authenticated and cached. */
  private readonly unsaved = new WeakSet<Uint8Array>();

  constructor(options: SumdbClientOptions) {
    const verifier = parseVerifierKey(options.verifierKey.trim());
    this.name = verifier.name;
    this.verifiers = verifierList(verifier);
    this.ops = options.ops;
    this.height = options.tileHeight ?? 8;
    if (!Number.isInteger(this.height) || this.height < 1 || this.height > 30) {
      throw new TlogError("invalid-input", `invalid tile height ${options.tileHeight}`);
    }
  }

  /** The latest verified tree head (size 0 before any). */
  async latest(): Promise<Tree> {
    await this.init();
    return this.latestTree;
  }

  /** The latest verified signed tree note, as received (empty before any). */
  async latestNote(): Promise<Uint8Array> {
    await this.init();
    return this.latestMsg;
  }

  /** Fetches /latest and merges it: a newer head must extend the one kept. */
  async refresh(signal?: AbortSignal): Promise<Tree> {
    await this.init();
    const msg = await this.ops.readRemote("/latest", signal);
    await this.merge(msg);
    return this.latestTree;
  }

  /**
   * The go.sum lines the database holds for path@version (version may end in
   * "/go.mod" for the go.mod line only), verified. Errors carry the module
   * and version.
   */
  async lookup(path: string, version: string, signal?: AbortSignal): Promise<string[]> {
    const bare = version.endsWith("/go.mod") ? version.slice(0, -"/go.mod".length) : version;
    const remotePath = `/lookup/${escapePath(path)}@${escapeVersion(bare)}`;
    let pending = this.lookups.get(remotePath);
    if (pending === undefined) {
      pending = this.lookupRecord(remotePath, signal).finally(() => this.lookups.delete(remotePath));
      this.lookups.set(remotePath, pending);
    }
    try {
      const lines = await pending;
      const prefix = `${path} ${version} `;
      return lines.filter((l) => l.startsWith(prefix));
    } catch (e) {
      throw withModule(e, path, version);
    }
  }

  /**
   * The bytes of hash tile t, proven against the latest verified tree (which
   * is refreshed first when t lies beyond it): the tile of that tree holding
   * t's last hash is authenticated, and t is served as its prefix. What a
   * proxy hands on is then exactly what an honest database publishes.
   */
  async tile(t: Tile, signal?: AbortSignal): Promise<Uint8Array> {
    await this.init();
    const path = formatTilePath(t);
    if (t.l < 0) return this.dataTile(t, signal);
    if (t.h !== this.height) {
      throw new NotFoundError(`${path}: ${this.name} serves tiles of height ${this.height} only`);
    }
    const full = 2 ** t.h;
    const need = t.n * full + t.w;
    const levelSize = (tree: Tree) => Math.floor(tree.n / 2 ** (t.l * t.h));
    let tree = this.latestTree;
    if (levelSize(tree) < need) tree = await this.refresh(signal);
    if (levelSize(tree) < need) {
      throw new NotFoundError(`${path}: beyond the signed tree of ${this.name} (${tree.n} records)`);
    }
    const cover: Tile = { ...t, w: Math.min(full, levelSize(tree) - t.n * full) };
    const coverPath = formatTilePath(cover);
    const inner = this.tileReader();
    let got: Uint8Array | undefined;
    const reader: TileReader = {
      height: inner.height,
      readTiles: async (tiles) => {
        const data = await inner.readTiles(tiles);
        tiles.forEach((x, i) => {
          if (formatTilePath(x) === coverPath) got = data[i];
        });
        return data;
      },
      saveTiles: (tiles, data) => inner.saveTiles?.(tiles, data),
    };
    await tileHashReader(tree, reader).readHashes([storedHashIndex(t.l * t.h, need - 1)]);
    if (got === undefined) throw new TlogError("bad-reader", `${path}: tile ${coverPath} was not read`);
    return got.subarray(0, t.w * HASH_SIZE);
  }

  /** A data tile, checked record by record against its proven level-0 hash tile. */
  private async dataTile(t: Tile, signal?: AbortSignal): Promise<Uint8Array> {
    const path = formatTilePath(t);
    const hashes = await this.tile({ ...t, l: 0 }, signal);
    const cached = await this.ops.readCache?.(path);
    const data = cached ?? (await this.ops.readRemote(`/${path}`, signal));
    checkDataTile(parseDataTile(data), hashes);
    if (cached === undefined) await this.ops.writeCache?.(path, data);
    return data;
  }

  private async lookupRecord(remotePath: string, signal?: AbortSignal): Promise<string[]> {
    await this.init();
    const key = `lookup${remotePath.slice("/lookup".length)}`;
    let data = await this.ops.readCache?.(key);
    const fromCache = data !== undefined;
    if (data === undefined) data = await this.ops.readRemote(remotePath, signal);
    const { id, text, rest } = parseRecord(data);
    await this.merge(rest);
    await this.checkRecord(id, text);
    if (!fromCache) await this.ops.writeCache?.(key, data);
    return Buffer.from(text).toString("utf8").split("\n");
  }

  private init(): Promise<void> {
    this.initialized ??= (async () => {
      const msg = await this.ops.loadLatest();
      if (msg !== undefined && msg.length > 0) await this.merge(msg, false);
    })();
    return this.initialized;
  }

  /** Merges a signed tree note into the kept head (serialized). */
  private merge(msg: Uint8Array, save = true): Promise<void> {
    const run = this.merging.then(() => this.mergeNow(msg, save));
    this.merging = run.catch(() => undefined);
    return run;
  }

  private async mergeNow(msg: Uint8Array, save: boolean): Promise<void> {
    if (msg.length === 0) return;
    let text: string;
    try {
      text = openNote(msg, this.verifiers).text;
    } catch (e) {
      if (e instanceof NoteError) {
        throw new NoteError(e.reason, `reading tree note of ${this.name}: ${e.message}`, { cause: e });
      }
      throw e;
    }
    const tree = parseTree(text);
    const latest = this.latestTree;
    // The head already kept (the usual case: many lookups share one head).
    if (tree.n === latest.n && hashEqual(tree.hash, latest.hash)) return;
    if (tree.n <= latest.n) {
      // An older (or the same) head: it must be a prefix of ours.
      await this.checkTrees(tree, msg, latest, this.latestMsg);
      return;
    }
    await this.checkTrees(latest, this.latestMsg, tree, msg);
    this.latestTree = tree;
    this.latestMsg = msg;
    if (save) await this.ops.saveLatest(msg);
  }

  /** Checks that newer extends older, recomputing older's hash from newer's tiles. */
  private async checkTrees(
    older: Tree,
    olderMsg: Uint8Array,
    newer: Tree,
    newerMsg: Uint8Array,
  ): Promise<void> {
    // A tree of size 0 commits to nothing. (Its hash is SHA-256("") today,
    // all zeros from x/mod servers before v0.19.0: accept either.)
    if (older.n === 0) return;
    const thr = tileHashReader(newer, this.tileReader());
    const h = await treeHash(older.n, thr);
    if (hashEqual(h, older.hash)) return;
    let proof: string;
    try {
      const p = await proveTree(newer.n, older.n, thr);
      checkTree(p, newer.n, newer.hash, older.n, h);
      proof = [formatHash(h), ...p.map(formatHash)].join("\n\t");
    } catch (e) {
      proof = `(no proof: ${e instanceof Error ? e.message : String(e)})`;
    }
    const indent = (b: Uint8Array) => Buffer.from(b).toString("utf8").replaceAll("\n", "\n\t");
    const report =
      `SECURITY ERROR\nchecksum database ${this.name} misbehaved: its tree of ${newer.n} records ` +
      `does not extend its earlier tree of ${older.n}\n\n` +
      `old database:\n\t${indent(olderMsg)}\nnew database:\n\t${indent(newerMsg)}\nproof of misbehavior:\n\t${proof}`;
    this.ops.securityError?.(report);
    throw new TlogError(
      "fork",
      `SECURITY ERROR: checksum database ${this.name} forked: tree ${newer.n} (${formatHash(newer.hash)}) ` +
        `does not extend tree ${older.n} (${formatHash(older.hash)})`,
    );
  }

  private async checkRecord(id: number, text: Uint8Array): Promise<void> {
    const latest = this.latestTree;
    if (id < 0 || id >= latest.n) {
      throw new TlogError("invalid-input", `cannot validate record ${id} in tree of size ${latest.n}`);
    }
    const [h] = await tileHashReader(latest, this.tileReader()).readHashes([storedHashIndex(0, id)]);
    if (!hashEqual(h!, recordHash(text))) {
      throw new TlogError(
        "inconsistent-tile",
        `cannot authenticate record ${id}: its data does not match the tree`,
      );
    }
  }

  private tileReader(): TileReader {
    return {
      height: this.height,
      readTiles: (tiles) => Promise.all(tiles.map((t) => this.readTile(t))),
      // Called only once the tiles are authenticated: now they may be cached.
      saveTiles: async (tiles, data) => {
        await Promise.all(
          tiles.map(async (t, i) => {
            const d = data[i]!;
            if (!this.unsaved.has(d)) return;
            this.unsaved.delete(d);
            await this.ops.writeCache?.(formatTilePath(t), d);
          }),
        );
      },
    };
  }

  /** A tile: from the cache, else remote (one fetch per tile at a time). */
  private readTile(t: Tile): Promise<Uint8Array> {
    const path = formatTilePath(t);
    let pending = this.tiles.get(path);
    if (pending === undefined) {
      pending = this.fetchTile(t, path).finally(() => this.tiles.delete(path));
      this.tiles.set(path, pending);
    }
    return pending;
  }

  private async fetchTile(t: Tile, path: string): Promise<Uint8Array> {
    const full: Tile = { ...t, w: 2 ** t.h };
    const fullPath = formatTilePath(full);
    const cut = (data: Uint8Array) => {
      if (data.length !== full.w * HASH_SIZE) {
        throw new TlogError(
          "bad-reader",
          `tile ${fullPath} has ${data.length} bytes, want ${full.w * HASH_SIZE}`,
        );
      }
      return data.subarray(0, t.w * HASH_SIZE);
    };
    const cached = await this.ops.readCache?.(path);
    if (cached !== undefined) return cached;
    if (t.w !== full.w) {
      const cachedFull = await this.ops.readCache?.(fullPath);
      if (cachedFull !== undefined) return cut(cachedFull);
    }
    let data: Uint8Array;
    try {
      data = await this.ops.readRemote(`/${path}`);
    } catch (e) {
      // A server may drop a partial tile once the full one exists.
      if (t.w === full.w || !(e instanceof NotFoundError)) throw e;
      data = cut(await this.ops.readRemote(`/${fullPath}`));
    }
    this.unsaved.add(data);
    return data;
  }
}

function withModule(e: unknown, module: string, version: string): unknown {
  if (!(e instanceof GoarkError) || e.module !== undefined) return e;
  const message = `${module}@${version}: verifying go.sum: ${e.message}`;
  const details = { module, version, cause: e };
  if (e instanceof NoteError) return new NoteError(e.reason, message, details);
  if (e instanceof TlogError) return new TlogError(e.reason, message, details);
  if (e.constructor === GoarkError) return new GoarkError(e.code, message, details);
  // Every other GoarkError subclass takes (message, details): keep the class.
  return Reflect.construct(e.constructor, [message, details]) as GoarkError;
}

/**
 * Checks a module's hash against the database's go.sum lines for it: the
 * line for `path version` (or `path version/go.mod` when goMod) must exist
 * and carry this hash. Throws a ChecksumMismatchError naming both hashes.
 */
export function checkGoSumLines(
  lines: readonly string[],
  path: string,
  version: string,
  h1: string,
  goMod = false,
): void {
  const vers = goMod ? `${version}/go.mod` : version;
  const prefix = `${path} ${vers} `;
  const want = lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  if (want.length === 0) {
    throw new ChecksumMismatchError(`${path}@${vers}: checksum database has no hash for it`, {
      module: path,
      version,
    });
  }
  if (!want.includes(h1)) {
    throw new ChecksumMismatchError(
      `${path}@${vers}: checksum mismatch: downloaded ${h1}, checksum database says ${want.join(", ")}`,
      { module: path, version },
    );
  }
}
