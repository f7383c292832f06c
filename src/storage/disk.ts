/**
 * The embedded default store: a directory in the go command's download-cache
 * layout (src/storage/keys.ts), so it is itself a valid GOPROXY=file:// tree.
 *
 * On disk, beside each artefact `K`, a one-line JSON record `K.meta`
 * (sha256, size, h1, origin, fetchedAt, lastAccess). The tree is the truth:
 * a missing or unreadable record is rebuilt from the bytes (origin "unknown",
 * fetchedAt = file mtime), so a plain go download cache opens as is.
 * Temporary files live in `<root>/.tmp/`, named `<host>-<pid>-<random>.<use>`.
 *
 * Crash safety (kill -9 at any instant leaves nothing or a complete artefact):
 * - bytes go to a temp file, are hashed and checked, fsync-ed, then published
 *   by link() (immutable keys: fails if present, so two writers can never
 *   replace each other's bytes, even across processes) or rename() (list,
 *   @latest); then the record is written (temp + fsync + rename) and the
 *   directory fsync-ed. Replacing a mutable key first removes its old record,
 *   so a crash leaves an artefact without a record (rebuilt), never a record
 *   describing other bytes.
 * - For immutable keys a record is only ever written for the bytes it
 *   describes, so a record that contradicts its artefact means corruption:
 *   the artefact is removed (and will be fetched and verified again).
 * - sweep() removes temp files of dead writers (same host: pid gone; other
 *   hosts sharing the tree: older than a day).
 *
 * Hot path: the index (key → meta) and a byte-bounded LRU of small artefacts
 * live in memory; a known key's stat/getBytes is a Map lookup. A key is loaded
 * lazily on first use (stat + read record; small artefacts are also read and
 * hashed, so they are verified for free), so start-up costs nothing however
 * many artefacts the tree holds. Misses are not cached: another process
 * sharing the tree may have written the key since.
 *
 * Access times are kept in memory and written in batches, and only when they
 * moved by more than accessGranularityMs, so reads never cause writes.
 */
import { createHash, randomBytes } from "node:crypto";
import { type Dirent, close as fsClose, open as fsOpen, fstat, fsync } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { eachLimited } from "../each-limited.ts";
import { asGoarkError, GoarkError, StorageError } from "../errors.ts";
import { errCode, processAlive } from "../sys-errors.ts";
import {
  buildMeta,
  copyMeta,
  type Digest,
  digestOf,
  formatMetaRecord,
  hashFile,
  immutableConflict,
  keyDetails,
  parseMetaRecord,
  sameDigest,
} from "./artefact-meta.ts";
import { ByteLru } from "./byte-lru.ts";
import { blockingCalls, type FileCalls, isMissing, poolCalls, writeNewFile } from "./file-calls.ts";
import { checkKey, checkKeyPrefix, isImmutableKey, META_SUFFIX } from "./keys.ts";
import { StagedFile } from "./staged-file.ts";
import type {
  ArtefactMeta,
  CommitItem,
  CommitManyOptions,
  CommitOutcome,
  CommitResult,
  PutMeta,
  ReadRange,
  Staged,
  StatResult,
  Storage,
  StoreUsage,
  SweepOptions,
  SweepReport,
} from "./storage.ts";
import { syncFileSystem } from "./syncfs.ts";

export interface DiskStorageOptions {
  root: string;
  /** Bytes of small artefacts kept in memory. Default 64 MiB. */
  memoryBytes?: number;
  /** Artefacts up to this size are cached in memory and hashed when first loaded. Default 1 MiB. */
  smallObjectMax?: number;
  /** Buffer size of openRead streams. Default 1 MiB. */
  readBufferSize?: number;
  /** How often pending access times are written. Default 60 s. */
  accessFlushMs?: number;
  /** An access time is written only when it moved by at least this much. Default 1 h. */
  accessGranularityMs?: number;
  /** Temp files of other hosts sharing the tree are swept after this age. Default 24 h. */
  foreignTempMaxAgeMs?: number;
  /**
   * Make the small file calls (loading keys, creating and writing small
   * files, link, rename, mkdir, unlink) blocking (src/storage/file-calls.ts).
   * For batch commands (import, export, prune, ls, warm): a thread-pool round
   * trip per call costs more than the call, and nothing else waits on the
   * event loop. Never for a server: a slow disk would stall every request.
   * fsyncs and large writes go to the thread pool either way. Default false.
   */
  blockingCalls?: boolean;
  /**
   * A commitStagedMany of at least this many items makes its files durable
   * with one syncfs of the store's file system before they are published and
   * one after (src/storage/syncfs.ts), instead of an fsync per file and per
   * directory; smaller batches, or where syncfs is unavailable, fsync each.
   * Default 32; 0 never uses syncfs.
   */
  syncfsBatch?: number;
}

interface IndexEntry {
  meta: ArtefactMeta;
  /** lastAccess as last written to the record. */
  persistedAccess: number;
}

type LoadOutcome = "loaded" | "rebuilt" | "removed" | "absent";

/** What the publishes of one commitStagedMany share. */
interface PublishBatch {
  /** Directories made in this batch, by the mkdir that made them (each runs once; others wait on it). */
  made: Map<string, Promise<string | undefined>>;
  /** Directories to make durable once the whole batch is published. */
  toSync: Set<string>;
}

/** How a publish inside commitStagedMany differs from a lone one. */
interface BatchPublish {
  batch: PublishBatch;
  /** The record, already written to a temp file and made durable: published by rename. */
  recordTmp: string;
}

interface LoadMode {
  /** Hash large artefacts too (deep sweep with verifyHashes). */
  verifyLarge: boolean;
  /** Keep small artefacts read during the load in the LRU. */
  cache: boolean;
}

const TMP_DIR = ".tmp";
/** link() errors that mean "this file system has no hard links". */
const LINKLESS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);
const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
const TEMP_NAME = /^([0-9a-f]{8})-(\d+)-[0-9a-f]+\.[a-z-]+$/;
/** Temp names: this process's random part, then a count. */
const TEMP_SALT = randomBytes(8).toString("hex");
let tempCounter = 0;

/** fsyncs in flight at once in a batch: enough to share journal commits, few enough to leave the thread pool room. */
const SYNC_PARALLEL = 16;
/** Publishes (link and rename, each a trip to the thread pool) under way at once in a batch. */
const PUBLISH_PARALLEL = 8;

/** Records are one short line; a longer file is not a record (and is rebuilt). */
const MAX_RECORD = 64 << 10;

/** fsyncs a file and returns its size, with one open (callback API: these run by the thousand). */
function syncFile(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fsOpen(path, "r", (err, fd) => {
      if (err) return reject(err);
      const done = (e: Error | null, size?: number) =>
        fsClose(fd, (ce) => {
          const failure = e ?? ce;
          if (failure) reject(failure);
          else resolve(size!);
        });
      fstat(fd, (se, st) => {
        if (se) return done(se);
        fsync(fd, (ye) => done(ye, st.size));
      });
    });
  });
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class DiskStorage implements Storage {
  readonly name: string;
  readonly root: string;
  readonly #tmp: string;
  readonly #index = new Map<string, IndexEntry>();
  readonly #lru: ByteLru;
  readonly #smallMax: number;
  readonly #readBuffer: number;
  readonly #flushMs: number;
  readonly #granularity: number;
  readonly #foreignTempAge: number;
  readonly #calls: FileCalls;
  readonly #syncfsBatch: number;
  readonly #locks = new Map<string, Promise<void>>();
  readonly #live = new Set<StagedFile>();
  readonly #dirtyAccess = new Set<string>();
  #flushTimer: NodeJS.Timeout | undefined;
  /** Running totals, known after the first walk (totalSize/usage or a deep sweep). */
  #total: number | undefined;
  #objects: number | undefined;

  private constructor(opts: DiskStorageOptions) {
    this.root = resolve(opts.root);
    this.name = `disk:${this.root}`;
    this.#tmp = join(this.root, TMP_DIR);
    this.#lru = new ByteLru(opts.memoryBytes ?? 64 << 20);
    this.#smallMax = opts.smallObjectMax ?? 1 << 20;
    this.#readBuffer = opts.readBufferSize ?? 1 << 20;
    this.#flushMs = opts.accessFlushMs ?? 60_000;
    this.#granularity = opts.accessGranularityMs ?? 3_600_000;
    this.#foreignTempAge = opts.foreignTempMaxAgeMs ?? 86_400_000;
    this.#calls = opts.blockingCalls === true ? blockingCalls : poolCalls;
    this.#syncfsBatch = opts.syncfsBatch ?? 32;
  }

  /** Opens (creating if needed) the store at opts.root. Call sweep() before serving. */
  static async open(opts: DiskStorageOptions): Promise<DiskStorage> {
    const store = new DiskStorage(opts);
    try {
      await mkdir(store.#tmp, { recursive: true });
    } catch (err) {
      throw new StorageError(`cannot create store directory ${store.#tmp}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return store;
  }

  #path(key: string): string {
    return join(this.root, key);
  }

  #tempPath(use: string): string {
    // Unique without a random draw per file (an import makes thousands): random per process, then counted.
    const n = (tempCounter++).toString(16).padStart(8, "0");
    return join(this.#tmp, `${HOST_TAG}-${process.pid}-${TEMP_SALT}${n}.${use}`);
  }

  #ioError(op: string, key: string, err: unknown): GoarkError {
    if (err instanceof GoarkError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new StorageError(`${op} ${key} in ${this.root}: ${msg}`, { ...keyDetails(key), cause: err });
  }

  async #withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.#locks.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }

  /** The index entry, loading it from disk (under the key's lock) on a miss. */
  async #entry(key: string): Promise<IndexEntry | undefined> {
    const hit = this.#index.get(key);
    if (hit !== undefined) return hit;
    return this.#withLock(key, async () => {
      const again = this.#index.get(key);
      if (again !== undefined) return again;
      return (await this.#load(key, { verifyLarge: false, cache: true })).entry;
    });
  }

  /**
   * Reads key's artefact and record from disk into the index; caller holds the
   * key's lock. Rebuilds a missing record (and a stale one of a replaceable
   * key); removes an immutable artefact its record contradicts.
   */
  async #load(key: string, mode: LoadMode): Promise<{ entry?: IndexEntry; outcome: LoadOutcome }> {
    const path = this.#path(key);
    try {
      const st = await this.#calls.readArtefact(path, this.#smallMax);
      if (st === undefined) return { outcome: "absent" };
      const metaPath = path + META_SUFFIX;
      const text = await this.#calls.readWhole(metaPath, MAX_RECORD);
      const recorded = text === undefined ? undefined : parseMetaRecord(text.toString("utf8"));
      const immutable = isImmutableKey(key);
      const data = st.data;
      let actual: Digest | undefined;
      if (data !== undefined) {
        actual = digestOf(data);
      } else if (mode.verifyLarge || recorded === undefined || recorded.size !== st.size) {
        actual = await hashFile(path);
      }
      let outcome: LoadOutcome = "loaded";
      let meta = recorded;
      const agrees =
        recorded !== undefined &&
        (actual === undefined ? recorded.size === st.size : sameDigest(recorded, actual));
      if (!agrees) {
        if (recorded !== undefined && immutable) {
          await this.#removeFiles(key);
          return { outcome: "removed" };
        }
        const d = actual ?? (await hashFile(path));
        meta = {
          sha256: d.sha256,
          size: d.size,
          origin: recorded?.origin ?? "unknown",
          fetchedAt: Math.floor(st.mtimeMs),
        };
        if (d.crc32 !== undefined) meta.crc32 = d.crc32;
        // Best effort: an unwritable record is rebuilt again next time.
        await this.#writeRecord(path, meta, false).catch(() => undefined);
        outcome = "rebuilt";
      }
      const entry: IndexEntry = { meta: meta!, persistedAccess: meta!.lastAccess ?? 0 };
      this.#index.set(key, entry);
      if (data !== undefined && mode.cache) this.#lru.set(key, data);
      return { entry, outcome };
    } catch (err) {
      throw this.#ioError("loading", key, err);
    }
  }

  /** Writes K.meta via a temp file and rename (fsync-ed when durable). */
  async #writeRecord(artefactPath: string, meta: ArtefactMeta, durable: boolean): Promise<void> {
    const tmp = await this.#prepareRecord(meta, durable);
    try {
      await this.#calls.rename(tmp, artefactPath + META_SUFFIX);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** A temp file holding meta's record, fsync-ed when durable, ready to be renamed into place. */
  async #prepareRecord(meta: ArtefactMeta, durable: boolean): Promise<string> {
    const tmp = this.#tempPath("meta");
    try {
      const record = Buffer.from(formatMetaRecord(meta));
      await (durable ? writeNewFile(tmp, record, true) : this.#calls.writeNew(tmp, record));
      return tmp;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Removes record then artefact (a crash in between leaves an artefact whose record is rebuilt). */
  async #removeFiles(key: string): Promise<boolean> {
    const path = this.#path(key);
    let size = this.#index.get(key)?.meta.size;
    this.#index.delete(key);
    this.#lru.delete(key);
    this.#dirtyAccess.delete(key);
    await rm(path + META_SUFFIX, { force: true });
    if (size === undefined && this.#total !== undefined) {
      size = await lstat(path).then(
        (s) => s.size,
        () => 0,
      );
    }
    try {
      await rm(path);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    if (this.#total !== undefined) this.#total -= size ?? 0;
    if (this.#objects !== undefined) this.#objects--;
    return true;
  }

  // Hot paths look the key up before validating it: only validated keys ever enter the index.
  async stat(key: string): Promise<StatResult | undefined> {
    let e = this.#index.get(key);
    if (e === undefined) {
      checkKey(key);
      e = await this.#entry(key);
    }
    return e === undefined ? undefined : { size: e.meta.size, meta: copyMeta(e.meta) };
  }

  /** The artefact's bytes; small ones come from memory and are shared, so treat them as read-only. */
  async getBytes(key: string): Promise<Buffer | undefined> {
    // The LRU only ever holds indexed (so validated) keys.
    const cached = this.#lru.get(key);
    if (cached !== undefined) return cached;
    if (!this.#index.has(key)) checkKey(key);
    return this.#getBytes(key, true);
  }

  async #getBytes(key: string, retry: boolean): Promise<Buffer | undefined> {
    const e = this.#index.get(key) ?? (await this.#entry(key));
    if (e === undefined) return undefined;
    const again = this.#lru.get(key);
    if (again !== undefined) return again;
    let data: Buffer;
    try {
      data = await readFile(this.#path(key));
    } catch (err) {
      if (!isMissing(err)) throw this.#ioError("reading", key, err);
      // Removed behind our back (prune by another process).
      this.#index.delete(key);
      return undefined;
    }
    if (data.length !== e.meta.size) {
      if (!retry)
        throw this.#ioError("reading", key, new Error(`size ${data.length} differs from its record`));
      // Replaced by another process sharing the tree: reload it properly.
      this.#index.delete(key);
      return this.#getBytes(key, false);
    }
    if (data.length <= this.#smallMax) this.#lru.set(key, data);
    return data;
  }

  async openRead(key: string, range: ReadRange = {}): Promise<Readable | undefined> {
    const cached = this.#lru.get(key);
    if (cached !== undefined) {
      const end = Math.min(range.end ?? cached.length - 1, cached.length - 1);
      return Readable.from([cached.subarray(range.start ?? 0, end + 1)], { objectMode: false });
    }
    if (!this.#index.has(key)) checkKey(key);
    const e = this.#index.get(key) ?? (await this.#entry(key));
    if (e === undefined) return undefined;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.#path(key), "r");
    } catch (err) {
      if (!isMissing(err)) throw this.#ioError("opening", key, err);
      this.#index.delete(key);
      this.#lru.delete(key);
      return undefined;
    }
    const opts: { highWaterMark: number; start?: number; end?: number } = { highWaterMark: this.#readBuffer };
    if (range.start !== undefined) opts.start = range.start;
    if (range.end !== undefined) opts.end = range.end;
    // The stream owns the handle and closes it at end, error or destroy.
    return fh.createReadStream(opts);
  }

  localPath(key: string): string | undefined {
    checkKey(key);
    return this.#path(key);
  }

  async putBytes(key: string, data: Uint8Array, put: PutMeta): Promise<CommitResult> {
    checkKey(key);
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const digest = digestOf(buf);
    const meta = buildMeta(key, digest, put);
    const known = isImmutableKey(key) ? (this.#index.get(key) ?? (await this.#entry(key))) : undefined;
    if (known !== undefined) {
      // An immutable artefact already stored: nothing to write.
      if (!sameDigest(known.meta, digest)) throw immutableConflict(key, known.meta, digest);
      return { created: false, meta: copyMeta(known.meta) };
    }
    const tmp = this.#tempPath("put");
    try {
      const fh = await open(tmp, "wx");
      try {
        await fh.writeFile(buf);
        await fh.sync();
      } finally {
        await fh.close();
      }
      // Copy for the LRU: the caller may reuse its buffer.
      const cache = buf.length <= this.#smallMax ? Buffer.from(buf) : undefined;
      return await this.#publish(key, tmp, meta, cache);
    } catch (err) {
      throw this.#ioError("writing", key, err);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async stage(): Promise<Staged> {
    const path = this.#tempPath("stage");
    let fd: number;
    try {
      fd = await this.#calls.createNew(path);
    } catch (err) {
      throw new StorageError(`cannot create a staged file in ${this.#tmp}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // The descriptor goes to the file's write stream (no second open), or is closed when it settles.
    const file = new StagedFile(path, this, (f) => this.#live.delete(f), fd, this.#calls);
    this.#live.add(file);
    return file;
  }

  /** Takes a staged file for a commit (so a second commit of it fails instead of racing). */
  #take(key: string, staged: Staged): StagedFile {
    checkKey(key);
    if (!(staged instanceof StagedFile) || staged.owner !== this || staged.settled) {
      throw new StorageError(
        `commit of ${key}: the staged file was not made by this store or was already used`,
        {
          ...keyDetails(key),
        },
      );
    }
    staged.markSettled();
    return staged;
  }

  /**
   * Makes a taken staged file durable (with sync false, a syncfs of the
   * whole batch does that later) and returns its record: the digest its
   * write computed when the file still has that size, else hashed. A write
   * that synced the file (write or createWriteStream with { sync: true })
   * has done both already: its digest is taken as it is.
   */
  async #durableMeta(key: string, staged: StagedFile, put: PutMeta, sync = true): Promise<ArtefactMeta> {
    let digest = staged.writtenDigest;
    // Written and synced by its own write: already durable, digest known.
    if (digest !== undefined && staged.synced) return buildMeta(key, digest, put);
    const size = sync ? await syncFile(staged.path) : await this.#calls.size(staged.path);
    if (digest === undefined || digest.size !== size) digest = await hashFile(staged.path);
    return buildMeta(key, digest, put);
  }

  async commitStaged(key: string, staged: Staged, put: PutMeta): Promise<CommitResult> {
    const file = this.#take(key, staged);
    try {
      const meta = await this.#durableMeta(key, file, put);
      return await this.#publish(key, file.path, meta, undefined);
    } catch (err) {
      throw this.#ioError("committing", key, err);
    } finally {
      await rm(file.path, { force: true });
    }
  }

  /**
   * The batch form of commitStaged (see Storage): every data file and every
   * record (written to temp files first) is made durable — by one syncfs in
   * a batch of syncfsBatch items or more, else an fsync each, a few at a
   * time; then the items are published, a few at a time, each under its
   * key's lock; then each directory that gained a name is made durable
   * (syncfs again, or an fsync each). A crash at any point leaves each item
   * absent or complete, as with commitStaged.
   */
  async commitStagedMany(
    items: readonly CommitItem[],
    opts: CommitManyOptions = {},
  ): Promise<CommitOutcome[]> {
    const outcomes: (CommitOutcome | undefined)[] = new Array(items.length);
    const fail = (i: number, err: unknown): void => {
      outcomes[i] = { ok: false, error: this.#ioError("committing", items[i]!.key, err) };
    };
    interface Prepared {
      i: number;
      file: StagedFile;
      meta?: ArtefactMeta;
      recordTmp?: string;
    }
    const taken: Prepared[] = [];
    for (const [i, item] of items.entries()) {
      try {
        taken.push({ i, file: this.#take(item.key, item.staged) });
      } catch (err) {
        fail(i, err);
        await item.staged.dispose().catch(() => undefined);
      }
    }
    const batch: PublishBatch = { made: new Map(), toSync: new Set() };
    // A large batch: files and records are written without an fsync each, then one syncfs.
    const wide = this.#syncfsBatch > 0 && taken.length >= this.#syncfsBatch;
    try {
      // Durable first: each data file (its size checked against what its stream wrote) and its record.
      await eachLimited(taken, SYNC_PARALLEL, async (p) => {
        const item = items[p.i]!;
        try {
          const meta = await this.#durableMeta(item.key, p.file, item.meta, !wide);
          // An immutable artefact known to be stored needs no record: settle it now (publishing checks again).
          const known = isImmutableKey(item.key) ? this.#index.get(item.key) : undefined;
          if (known !== undefined) {
            outcomes[p.i] = { ok: true, result: this.#sameOrConflict(item.key, known, meta) };
            return;
          }
          p.meta = meta;
          p.recordTmp = await this.#prepareRecord(meta, !wide);
        } catch (err) {
          fail(p.i, err);
        }
      });
      if (wide && !(await syncFileSystem(this.root))) {
        // No syncfs here: the fsyncs the batch skipped, file by file.
        await eachLimited(taken, SYNC_PARALLEL, async (p) => {
          if (outcomes[p.i] !== undefined || p.recordTmp === undefined) return;
          try {
            if (!p.file.synced) await syncFile(p.file.path);
            await fsyncPath(p.recordTmp);
          } catch (err) {
            fail(p.i, err);
          }
        });
      }
      // Then visible, a few at a time: each item is atomic on its own, and none depends on another
      // of the same batch (callers put what must come later in a later batch).
      await eachLimited(taken, PUBLISH_PARALLEL, async (p) => {
        if (outcomes[p.i] !== undefined || p.recordTmp === undefined) return;
        const key = items[p.i]!.key;
        try {
          const result = await this.#publish(key, p.file.path, p.meta!, undefined, {
            batch,
            recordTmp: p.recordTmp,
          });
          // Created: the record temp was renamed into place (nothing left to remove).
          if (result.created) delete p.recordTmp;
          outcomes[p.i] = { ok: true, result };
        } catch (err) {
          fail(p.i, err);
          return;
        }
        await opts.onPublished?.(p.i);
      });
      // Then the names durable: each directory once (or all at once).
      try {
        if (!wide || !(await syncFileSystem(this.root)))
          await eachLimited([...batch.toSync], SYNC_PARALLEL, fsyncPath);
      } catch (err) {
        throw new StorageError(
          `committing ${items.length} files in ${this.root}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    } finally {
      const leftovers = taken.flatMap((p) =>
        p.recordTmp === undefined ? [p.file.path] : [p.file.path, p.recordTmp],
      );
      await eachLimited(leftovers, SYNC_PARALLEL, async (path) => {
        await this.#calls.unlinkIfThere(path);
      });
    }
    // Every item has its outcome by now; the fallback only keeps the type honest.
    return outcomes.map(
      (o) => o ?? { ok: false, error: asGoarkError(new StorageError("commit did not run")) },
    );
  }

  /** Publishes a complete, fsync-ed temp file as key (see the header for the order of steps). */
  async #publish(
    key: string,
    tmp: string,
    meta: ArtefactMeta,
    data: Buffer | undefined,
    inBatch?: BatchPublish,
  ): Promise<CommitResult> {
    return this.#withLock(key, async () => {
      const immutable = isImmutableKey(key);
      const path = this.#path(key);
      const dir = dirname(path);
      if (immutable) {
        // Known here: settled without touching the disk. Stored but not known (another process, or not
        // loaded yet): link() below fails with EEXIST and #commitLost compares with what is stored.
        const existing = this.#index.get(key);
        if (existing !== undefined) return this.#sameOrConflict(key, existing, meta);
      }
      let firstCreated: string | undefined;
      const making = inBatch?.batch.made.get(dir);
      if (making !== undefined) {
        // Made (or being made) by another item of the batch, which syncs what it created.
        await making;
      } else {
        const made = this.#calls.mkdirs(dir);
        inBatch?.batch.made.set(dir, made);
        firstCreated = await made;
      }
      let oldSize = 0;
      let replaced = false;
      if (immutable) {
        try {
          await this.#calls.link(tmp, path);
        } catch (err) {
          const code = errCode(err) ?? "";
          if (code === "EEXIST") {
            const lost = await this.#commitLost(key, meta);
            if (lost !== undefined) return lost;
            // What was there contradicted its record and is gone now: ours takes its place.
            await this.#calls.link(tmp, path);
          } else {
            if (!LINKLESS.has(code)) throw err;
            // A file system without hard links: check, then rename (racy only across processes).
            if (await this.#exists(path)) {
              const lost = await this.#commitLost(key, meta);
              if (lost !== undefined) return lost;
            }
            await this.#calls.rename(tmp, path);
          }
        }
      } else {
        if (this.#total !== undefined) {
          const old = await lstat(path).catch(() => undefined);
          oldSize = old?.size ?? 0;
          replaced = old !== undefined;
        }
        this.#index.delete(key);
        this.#lru.delete(key);
        await rm(path + META_SUFFIX, { force: true });
        await this.#calls.rename(tmp, path);
      }
      if (inBatch === undefined) {
        await this.#writeRecord(path, meta, true);
        await this.#syncDirs(dir, firstCreated);
      } else {
        await this.#calls.rename(inBatch.recordTmp, path + META_SUFFIX);
        for (const d of this.#dirsToSync(dir, firstCreated)) inBatch.batch.toSync.add(d);
      }
      this.#index.set(key, { meta, persistedAccess: 0 });
      if (data !== undefined) this.#lru.set(key, data);
      if (this.#total !== undefined) this.#total += meta.size - oldSize;
      if (this.#objects !== undefined && !replaced) this.#objects++;
      return { created: true, meta: copyMeta(meta) };
    });
  }

  /**
   * key was stored already (by another process, or before this one loaded it): compare with what is
   * there. Undefined when nothing is there after all (it contradicted its record and was removed).
   */
  async #commitLost(key: string, offered: ArtefactMeta): Promise<CommitResult | undefined> {
    const { entry } = await this.#load(key, { verifyLarge: true, cache: false });
    if (entry === undefined) return undefined;
    return this.#sameOrConflict(key, entry, offered);
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await lstat(path);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  #sameOrConflict(key: string, existing: IndexEntry, offered: ArtefactMeta): CommitResult {
    if (!sameDigest(existing.meta, offered)) throw immutableConflict(key, existing.meta, offered);
    return { created: false, meta: copyMeta(existing.meta) };
  }

  /** dir and, when mkdir created directories, each of them up to the first one's parent. */
  #dirsToSync(dir: string, firstCreated: string | undefined): string[] {
    const dirs = [dir];
    if (firstCreated !== undefined) {
      let d = dir;
      while (d !== firstCreated && d.length > this.root.length) {
        d = dirname(d);
        dirs.push(d);
      }
      dirs.push(dirname(firstCreated));
    }
    return dirs;
  }

  /** fsyncs dir and, when mkdir created directories, each of them up to the first one's parent. */
  async #syncDirs(dir: string, firstCreated: string | undefined): Promise<void> {
    for (const d of this.#dirsToSync(dir, firstCreated)) await fsyncPath(d);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.#withLock(key, async () => {
      try {
        const removed = await this.#removeFiles(key);
        if (removed) await fsyncPath(dirname(this.#path(key))).catch(() => undefined);
        return removed;
      } catch (err) {
        throw this.#ioError("deleting", key, err);
      }
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    checkKeyPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const base = prefix.slice(0, slash + 1);
    const rest = prefix.slice(slash + 1);
    for await (const { key, isMeta } of this.#walk(base, rest)) {
      if (!isMeta) yield key;
    }
  }

  /**
   * Files under the key directory `base` ("" or ending in "/") whose first
   * element starts with `first`; dot-names (.tmp) and names that cannot be
   * keys (foreign files) are skipped.
   */
  async *#walk(base: string, first = ""): AsyncGenerator<{ key: string; isMeta: boolean }> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, base), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw this.#ioError("listing", base, err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (ent.name.startsWith(".") || !ent.name.startsWith(first)) continue;
      const key = base + ent.name;
      if (ent.isDirectory()) {
        yield* this.#walk(key + "/");
      } else if (ent.isFile()) {
        const isMeta = ent.name.endsWith(META_SUFFIX);
        try {
          checkKey(isMeta ? key.slice(0, -META_SUFFIX.length) : key);
        } catch {
          continue;
        }
        yield { key, isMeta };
      }
    }
  }

  touch(key: string): void {
    const e = this.#index.get(key);
    if (e === undefined) return;
    const now = Date.now();
    e.meta.lastAccess = now;
    if (now - e.persistedAccess < this.#granularity) return;
    this.#dirtyAccess.add(key);
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        void this.flushAccess().catch(() => undefined);
      }, this.#flushMs);
      this.#flushTimer.unref();
    }
  }

  /** Writes pending access times now (also done by a timer and by close). */
  async flushAccess(): Promise<void> {
    const keys = [...this.#dirtyAccess];
    this.#dirtyAccess.clear();
    for (const key of keys) {
      await this.#withLock(key, async () => {
        const e = this.#index.get(key);
        if (e === undefined) return;
        const at = e.meta.lastAccess ?? 0;
        // Not fsync-ed: losing an access time to a power cut is harmless.
        await this.#writeRecord(this.#path(key), e.meta, false).catch(() => undefined);
        e.persistedAccess = at;
      });
    }
  }

  async sweep(opts: SweepOptions = {}): Promise<SweepReport> {
    const report: SweepReport = {
      tempRemoved: 0,
      scanned: 0,
      removed: [],
      metaRebuilt: 0,
      orphanMetaRemoved: 0,
    };
    await this.#sweepTemps(report);
    if (opts.deep) await this.#sweepTree(report, opts.verifyHashes === true);
    return report;
  }

  async #sweepTemps(report: SweepReport): Promise<void> {
    const live = new Set([...this.#live].map((f) => f.path));
    let names: string[];
    try {
      names = await readdir(this.#tmp);
    } catch (err) {
      if (isMissing(err)) return;
      throw this.#ioError("sweeping", TMP_DIR, err);
    }
    const now = Date.now();
    for (const name of names) {
      const path = join(this.#tmp, name);
      if (live.has(path)) continue;
      const m = TEMP_NAME.exec(name);
      let stale: boolean;
      if (m !== null && m[1] === HOST_TAG) {
        const pid = Number(m[2]);
        // Our own pid: a leftover of a failed write of ours (live ones were skipped above).
        stale = pid === process.pid || !processAlive(pid);
      } else {
        const st = await lstat(path).catch(() => undefined);
        stale = st !== undefined && now - st.mtimeMs > this.#foreignTempAge;
      }
      if (!stale) continue;
      await rm(path, { recursive: true, force: true });
      report.tempRemoved++;
    }
  }

  async #sweepTree(report: SweepReport, verifyHashes: boolean): Promise<void> {
    let total = 0;
    let objects = 0;
    const metas: string[] = [];
    for await (const { key, isMeta } of this.#walk("")) {
      if (isMeta) {
        metas.push(key);
        continue;
      }
      report.scanned++;
      const { entry, outcome } = await this.#withLock(key, async () => {
        this.#index.delete(key);
        this.#lru.delete(key);
        return this.#load(key, { verifyLarge: verifyHashes, cache: false });
      });
      if (outcome === "removed") report.removed.push(key);
      if (outcome === "rebuilt") report.metaRebuilt++;
      if (entry !== undefined) {
        total += entry.meta.size;
        objects++;
      }
    }
    for (const metaKey of metas) {
      const path = join(this.root, metaKey);
      const artefact = path.slice(0, -META_SUFFIX.length);
      const exists = await lstat(artefact).then(
        () => true,
        () => false,
      );
      if (exists) continue;
      await rm(path, { force: true });
      report.orphanMetaRemoved++;
    }
    this.#total = total;
    this.#objects = objects;
  }

  async totalSize(): Promise<number> {
    return (await this.usage()).bytes;
  }

  async usage(): Promise<StoreUsage> {
    if (this.#total !== undefined && this.#objects !== undefined) {
      return { bytes: this.#total, objects: this.#objects };
    }
    let total = 0;
    let objects = 0;
    for await (const { key, isMeta } of this.#walk("")) {
      if (isMeta) continue;
      objects++;
      const known = this.#index.get(key);
      if (known !== undefined) {
        total += known.meta.size;
        continue;
      }
      total += await lstat(this.#path(key)).then(
        (s) => s.size,
        () => 0,
      );
    }
    // A commit or delete that ran during the walk may have been missed; good enough for pruning and metrics.
    if (this.#total === undefined || this.#objects === undefined) {
      this.#total = total;
      this.#objects = objects;
    }
    return { bytes: this.#total, objects: this.#objects };
  }

  async close(): Promise<void> {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    await this.flushAccess();
  }
}
