/**
 * The Storage seam: where goark keeps every artefact it served. Backends:
 * disk (the embedded default, src/storage/disk.ts), memory (tests), S3 later.
 * Keys follow src/storage/keys.ts; every method validates its key first and
 * rejects unsafe ones with InvalidPathError.
 *
 * Contract every backend keeps (checked by src/storage/compliance.ts):
 * - Readers never see a partial artefact: an artefact is either absent or
 *   complete, with its metadata.
 * - Versioned .info/.mod/.zip are immutable: committing an existing one is a
 *   no-op when the bytes are the same (`created: false`) and a
 *   ChecksumMismatchError when they differ. `list` and `@latest` are replaced.
 * - `stat`/`getBytes` of a hot small artefact are in-memory lookups.
 * - Errors are GoarkErrors (StorageError for I/O failures).
 */
import type { Readable, Writable } from "node:stream";
import type { GoarkError } from "../errors.ts";

/** The record kept beside each artefact. Everything but h1/origin can be rebuilt from the bytes. */
export interface ArtefactMeta {
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
  size: number;
  /**
   * CRC-32 (IEEE) of the stored bytes, taken with the sha256 when the bytes
   * were written or rebuilt (absent in older records): a cheap re-check that
   * the file did not change underneath, where a full sha256 pass is not needed.
   */
  crc32?: number;
  /** The go.sum hash ("h1:…") of a .zip (or of a .mod), when the writer computed it. */
  h1?: string;
  /** Where the bytes came from: an upstream URL, "direct", "import:…"; "unknown" when rebuilt from the tree. */
  origin: string;
  /** When the bytes were fetched, ms since the epoch. */
  fetchedAt: number;
  /** Last recorded access, ms since the epoch; persisted coarsely (see touch). */
  lastAccess?: number;
}

/** What a writer states about the bytes it commits; the store computes sha256/size itself. */
export interface PutMeta {
  origin: string;
  /** Defaults to now. */
  fetchedAt?: number;
  h1?: string;
  /** When given, the bytes must hash to this or the commit fails with ChecksumMismatchError. */
  sha256?: string;
  /** When given, the bytes must have this length or the commit fails with ChecksumMismatchError. */
  size?: number;
}

export interface StatResult {
  size: number;
  meta: ArtefactMeta;
}

/** A byte range, both ends inclusive like HTTP Range and fs.createReadStream. */
export interface ReadRange {
  start?: number;
  end?: number;
}

/**
 * A temporary file inside the store (same file system, so commit is a rename)
 * that a caller streams a download into and verifies before committing.
 * Write either through createWriteStream() (which hashes on the way, so commit
 * need not read the file again) or to `path` directly (commit then hashes it).
 */
export interface Staged {
  readonly path: string;
  /**
   * With `sync`, the stream also fsyncs the file before it finishes, so a
   * commit need not (for writers that run behind other work: the wait is
   * theirs, not the commit's).
   */
  createWriteStream(opts?: { sync?: boolean }): Writable;
  /**
   * Writes data as the whole file, for bytes already in memory (no stream);
   * `sync` as for createWriteStream. A staged file is written once: by
   * this or by createWriteStream.
   */
  write(data: Buffer, opts?: { sync?: boolean }): Promise<void>;
  /** sha256/size of what was written (stream or write), once that finished cleanly. */
  readonly writtenDigest?: { sha256: string; size: number } | undefined;
  /** Removes the file if it was not committed; idempotent, safe after commit. */
  dispose(): Promise<void>;
}

export interface CommitResult {
  /** False when an identical immutable artefact was already stored (nothing written). */
  created: boolean;
  meta: ArtefactMeta;
}

/** One file of a commitStagedMany batch. */
export interface CommitItem {
  key: string;
  staged: Staged;
  meta: PutMeta;
}

/** What became of one item of a batch: committed, or refused with its own error. */
export type CommitOutcome = { ok: true; result: CommitResult } | { ok: false; error: GoarkError };

export interface CommitManyOptions {
  /** Called right after item `index` is published (visible), before the batch is durable as a whole. */
  onPublished?: (index: number) => void | Promise<void>;
}

export interface SweepOptions {
  /**
   * Also walk the whole tree: rebuild missing metadata, drop orphan metadata,
   * remove immutable artefacts whose size (or, with verifyHashes, sha256)
   * contradicts their metadata, and recount totalSize.
   */
  deep?: boolean;
  verifyHashes?: boolean;
}

export interface SweepReport {
  /** Temporary files left by crashed writers and removed. */
  tempRemoved: number;
  /** Artefacts examined by a deep sweep. */
  scanned: number;
  /** Keys removed because their bytes contradicted their metadata. */
  removed: string[];
  /** Metadata records rebuilt from the bytes (missing, unreadable or stale for a replaceable key). */
  metaRebuilt: number;
  /** Metadata records without an artefact, removed. */
  orphanMetaRemoved: number;
}

/** How much the store holds: artefacts only, metadata records excluded. */
export interface StoreUsage {
  bytes: number;
  objects: number;
}

export interface Storage {
  /** A short description for logs ("disk:/var/lib/goark", "memory"). */
  readonly name: string;
  /** Size and metadata, or undefined when absent. A Map lookup once the key is known. */
  stat(key: string): Promise<StatResult | undefined>;
  /** The whole artefact in memory; meant for small ones (.info, .mod, list, @latest). */
  getBytes(key: string): Promise<Buffer | undefined>;
  /** A stream of the artefact (or of a range), read with large buffers; undefined when absent. */
  openRead(key: string, range?: ReadRange): Promise<Readable | undefined>;
  /**
   * The artefact's file when the backend keeps it as a local file (for
   * sendfile-style serving); undefined otherwise. Does not check existence:
   * call stat first, and expect the file may vanish if pruned meanwhile.
   */
  localPath?(key: string): string | undefined;
  putBytes(key: string, data: Uint8Array, meta: PutMeta): Promise<CommitResult>;
  stage(): Promise<Staged>;
  /**
   * Makes a staged file the artefact `key`: verifies it against meta, makes it
   * durable, then publishes it atomically. Consumes the staged file whatever
   * the outcome (dispose stays safe to call).
   */
  commitStaged(key: string, staged: Staged, meta: PutMeta): Promise<CommitResult>;
  /**
   * Commits many staged files, each with commitStaged's guarantees, sharing
   * the cost of durability: the files are made durable together, then
   * published, then every directory touched is made durable once. When the
   * promise resolves, every item published is durable. Items may be published
   * in any order, several at once (two items for one key still go in the
   * given order): a file that must become visible only once others are
   * durable goes into a later batch. An item
   * that cannot be committed (declared digest wrong, different immutable
   * bytes already stored, a bad key or staged file, an I/O error on its
   * files) gets its error as its outcome; the others still land. Rejects
   * only when durability of the batch as a whole cannot be ensured. Consumes
   * every staged file, whatever the outcome.
   */
  commitStagedMany(items: readonly CommitItem[], opts?: CommitManyOptions): Promise<CommitOutcome[]>;
  /** Removes the artefact and its metadata; false when it was absent. */
  delete(key: string): Promise<boolean>;
  /** Keys that start with prefix (a string prefix, "" for all), in no promised order. */
  list(prefix: string): AsyncIterable<string>;
  /** Records an access; in memory now, persisted in batches (never one write per request). */
  touch(key: string): void;
  /** Removes leftovers of crashed writers; run at start. */
  sweep(opts?: SweepOptions): Promise<SweepReport>;
  /** Bytes of all artefacts (metadata excluded). */
  totalSize(): Promise<number>;
  /**
   * Bytes and number of all artefacts. A backend that must scan for it does
   * so once, then keeps running totals, so callers may ask often.
   */
  usage(): Promise<StoreUsage>;
  /** Persists pending access times and releases timers. */
  close(): Promise<void>;
}
