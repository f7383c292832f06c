/**
 * `goark import BUNDLE`: loads a bundle written by `goark export` into a
 * store. The bundle is untrusted input:
 * - bounded: the manifest's size and counts, each file's size by kind, tar
 *   long headers (TarGuard), bytes after the archive's end;
 * - strict: the manifest comes first, then exactly the files it lists, in
 *   its order, each with the size it states; names are checked against the
 *   store's key layout before use, so no entry can name a path outside it;
 * - verified before anything becomes visible: every file is streamed into
 *   the store's staging area while its sha256 is computed, and every
 *   version's zip and go.mod pass the proxy's own checks and match the h1
 *   the manifest states. Only when the whole bundle has been read and
 *   checked does anything get committed.
 *
 * A bundle whose bytes contradict its manifest (truncated, tampered with) or
 * that is not a goark bundle fails as a whole with a one-line error and
 * leaves the store as it was. A version whose content is self-consistent but
 * unacceptable (an invalid zip, a go.mod for another module, bytes that
 * differ from what the store already holds, a checksum-database veto) is
 * rejected on its own, with its reason; the others land.
 *
 * Crash safety: commits are atomic per file, and files are committed in two
 * batches (storage.commitStagedMany): every .zip and .mod, durable, then the
 * .info files, so a version is "present" (has .info) only once all its files
 * are; list files are rewritten last. kill -9 at any point leaves staged temp
 * files (swept at the next open) and whole versions. Importing again
 * completes an interrupted import; importing the same bundle twice changes
 * nothing.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { Extract } from "tar-stream";
import tar from "tar-stream";
import {
  asGoarkError,
  BadRequestError,
  ChecksumMismatchError,
  GoarkError,
  NotFoundError,
  TooLargeError,
  UnsupportedError,
} from "../errors.ts";
import type { CommitItem, PutMeta, Staged, Storage } from "../storage/storage.ts";
import { versionId } from "../store-ops/inventory.ts";
import { planVersionList } from "../store-ops/version-list.ts";
import type { BundleExtension, ReceivedExtensionFile, VersionVerdict } from "./extension.ts";
import {
  type BundleManifest,
  checkExtensionEntry,
  EXTENSION_PREFIX,
  MANIFEST_NAME,
  MAX_MANIFEST_BYTES,
  type ManifestFile,
  type ManifestVersion,
  parseManifest,
} from "./manifest.ts";
import { type TarEntry, TarFileReader } from "./tar-file-reader.ts";
import { TarGuard } from "./tar-guard.ts";
import { checkVersionFiles, type FileToCheck } from "./version-check.ts";
import { type ZipVerifier, ZipVerifyPool } from "./zip-verify-pool.ts";

export interface ImportOptions {
  /** The bundle's name in messages and in the origin of imported files ("import:NAME"); the file name by default. */
  name?: string;
  extensions?: readonly BundleExtension[];
  /**
   * Worker threads that check zips while this thread reads the bundle on: by
   * default one where there are two cores or more and the bundle holds at
   * least WORKER_MIN_BYTES of zips small enough to be checked from memory,
   * else 0 (checked on this thread, still while reading on). Zips up to
   * MEMORY_ZIP_MAX are handed to the worker as received, without a copy;
   * larger ones are checked from their staged file on this thread. A worker
   * costs a fixed amount of memory (its own V8 isolate and the garbage it
   * collects late: 20-40 MB) whatever the bundle's size.
   */
  zipWorkers?: number;
  /** Called after each file commit (tests use it to interrupt an import at a chosen point). */
  onCommit?: (key: string) => void | Promise<void>;
}

export interface ModuleVersionRef {
  module: string;
  version: string;
}

export interface ImportReport {
  manifest: BundleManifest;
  /** Versions of which this import stored at least one file. */
  added: ModuleVersionRef[];
  /** Versions whose carried files were all in the store already. */
  present: ModuleVersionRef[];
  rejected: (ModuleVersionRef & { reason: string })[];
  filesCreated: number;
  /** Bytes of the files this import stored. */
  bytesCreated: number;
  /** list files written or removed. */
  listsUpdated: number;
  /** Of the import's time, how long the commit took (after the bundle was read and checked): disk latency shows here. */
  commitSeconds?: number;
}

interface PendingFile {
  file: ManifestFile;
  kind: "zip" | "mod" | "info";
  /** Absent when the store already holds the same bytes. */
  staged?: Staged;
  /** The bytes of a staged .mod or .info, until the version's checks have run. */
  data?: Buffer;
}

interface PendingVersion {
  mv: ManifestVersion;
  files: PendingFile[];
  reason?: string;
  /** Bytes of its zip held in memory for the check (taken from the import's ByteBudget). */
  held?: number;
  /** The buffer holding them (from the import's ZipBuffers), to give back. */
  buffer?: ArrayBuffer;
}

/** List files planned and staged at once at the end of an import (then committed in one batch). */
const LIST_WRITERS = 8;

/** Store lookups asked ahead of the entry being read. */
const STAT_AHEAD = 16;

/** Versions whose checks may be running at once while the bundle is read on. */
const MAX_CHECKING = 8;
/** The same on this thread: each check holds its zip's read-ahead, so fewer at once; enough to overlap the I/O. */
const MAX_CHECKING_HERE = 2;

/**
 * Zips up to this size are kept in memory as they are received and checked
 * from there (handed to a worker without a copy), not read back from disk;
 * larger ones are checked from their staged file.
 */
const MEMORY_ZIP_MAX = 8 << 20;
/** Bytes of received zips held in memory for their checks at once. */
const MEMORY_ZIP_BUDGET = 16 << 20;

/** Files held in memory from this size up are synced as they are staged (see writeStaged). */
const SYNC_BEHIND_MIN = 256 << 10;

/** Below this many bytes of zips to check from memory, a worker's start-up costs more than it saves. */
const WORKER_MIN_BYTES = 32 << 20;

/** One zip-check worker where there are two cores or more and enough zips to check from memory; else none. */
function defaultZipWorkers(manifest: BundleManifest): number {
  if (availableParallelism() < 2) return 0;
  let bytes = 0;
  for (const f of manifest.files) if (f.key.endsWith(".zip") && f.size <= MEMORY_ZIP_MAX) bytes += f.size;
  return bytes >= WORKER_MIN_BYTES ? 1 : 0;
}

/** A count of bytes that may be held at once; take waits until enough are free (one taker may always hold any amount). */
class ByteBudget {
  #free: number;
  readonly #waiting: { n: number; go: () => void }[] = [];
  #held = 0;

  constructor(total: number) {
    this.#free = total;
  }

  async take(n: number): Promise<void> {
    if (this.#waiting.length === 0 && (n <= this.#free || this.#held === 0)) {
      this.#free -= n;
      this.#held++;
      return;
    }
    await new Promise<void>((go) => this.#waiting.push({ n, go }));
  }

  give(n: number): void {
    this.#free += n;
    this.#held--;
    while (this.#waiting.length > 0) {
      const w = this.#waiting[0]!;
      if (w.n > this.#free && this.#held > 0) return;
      this.#waiting.shift();
      this.#free -= w.n;
      this.#held++;
      w.go();
    }
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** The first bytes of stream, and a stream that still yields everything. */
async function sniff(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = stream[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) break;
    chunks.push(r.value as Buffer);
    len += (r.value as Buffer).length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  }
  return { head, stream: Readable.from(all(), { objectMode: false }) };
}

/** The size of the bundle file at path; a one-line error when it is missing or not a file. */
async function bundleFileSize(path: string): Promise<number> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new BadRequestError(`bundle ${path} is not a file`);
    return st.size;
  } catch (err) {
    if (err instanceof GoarkError) throw err;
    throw new NotFoundError(`bundle ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Refuses what no bundle starts with (nothing, zstd); true for gzip. */
function isGzip(head: Buffer, name: string): boolean {
  if (head.length === 0) throw new BadRequestError(`bundle ${name} is empty`);
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) {
    throw new UnsupportedError(
      `bundle ${name} is zstd-compressed; decompress it first (zstd -d) or export with --format tar.gz`,
    );
  }
  return head.subarray(0, 2).equals(GZIP_MAGIC);
}

/**
 * The entries of a bundle: a plain tar file is read by position
 * (TarFileReader); gzip, and bundles given as streams, through tar-stream.
 */
async function openEntries(input: string | Readable, name: string): Promise<EntrySource> {
  if (typeof input === "string") {
    const size = await bundleFileSize(input);
    const head = Buffer.alloc(Math.min(4, size));
    try {
      const fh = await open(input, "r");
      try {
        await fh.read(head, 0, head.length, 0);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new NotFoundError(`bundle ${input} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    if (!isGzip(head, name)) return TarFileReader.open(input, name);
  }
  return new EntryReader(await openBundleStream(input, name), name);
}

/** The tar byte stream of a bundle: gzip is recognised by its magic number and undone. */
async function openBundleStream(input: string | Readable, name: string): Promise<Readable> {
  let raw: Readable;
  if (typeof input === "string") {
    await bundleFileSize(input);
    raw = createReadStream(input, { highWaterMark: 1 << 20 });
  } else {
    raw = input;
  }
  const { head, stream } = await sniff(raw, 4);
  if (isGzip(head, name)) {
    const gunzip = createGunzip();
    stream.on("error", (err) => gunzip.destroy(err));
    gunzip.once("close", () => stream.destroy());
    return stream.pipe(gunzip);
  }
  return stream;
}

/** One line for what the tar or gzip reader reported. */
function readError(name: string, err: unknown): GoarkError {
  if (err instanceof GoarkError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  if (/unexpected end/i.test(msg) || code === "Z_BUF_ERROR") {
    return new BadRequestError(`bundle ${name} is truncated (${msg})`, { cause: err });
  }
  if (/invalid tar header|unknown format/i.test(msg)) {
    return new BadRequestError(
      `bundle ${name} is not a goark bundle (not a tar archive, or corrupt: ${msg})`,
      { cause: err },
    );
  }
  if (code?.startsWith("Z_"))
    return new BadRequestError(`bundle ${name}: corrupt gzip data (${msg})`, { cause: err });
  return asGoarkError(err);
}

/** Where import takes a bundle's entries from, one at a time. */
interface EntrySource {
  next(): Promise<TarEntry | undefined>;
  /** What stopped the reading, if something did behind the entry being read. */
  readonly failure: unknown;
  /** Stops reading and releases the input. */
  close(): Promise<void>;
}

type StreamEntry = Readable & { header: { name: string; type: string | null; size?: number } };

/** Reads all of a tar-stream entry into dst (exactly its size). */
async function fill(entry: StreamEntry, dst: Buffer): Promise<void> {
  if (entry.destroyed) throw new Error("bundle entry was cut off");
  let at = 0;
  for await (const chunk of entry) {
    const c = chunk as Buffer;
    if (at + c.length > dst.length) throw new Error("bundle entry is longer than its header says");
    c.copy(dst, at);
    at += c.length;
  }
  if (at !== dst.length) throw new Error("bundle entry was cut off");
}

/** Reads tar entries one at a time from a byte stream (tar-stream), through the guard. */
class EntryReader implements EntrySource {
  readonly #extract: Extract;
  readonly #source: Readable;
  readonly #it: AsyncIterator<StreamEntry>;
  readonly #feeding: Promise<void>;
  #feedError: unknown;
  #extractError: unknown;

  constructor(source: Readable, name: string) {
    this.#source = source;
    this.#extract = tar.extract();
    // The tar reader's own error ("Unexpected end of data") says what went wrong; the entry
    // being read then only reports that it was destroyed.
    this.#extract.on("error", (err: unknown) => {
      this.#extractError ??= err;
    });
    this.#it = this.#extract[Symbol.asyncIterator]() as AsyncIterator<StreamEntry>;
    const guard = new TarGuard(name);
    const extract = this.#extract;
    this.#feeding = (async () => {
      try {
        for await (const chunk of source) {
          guard.inspect(chunk as Buffer);
          if (extract.destroyed) return;
          if (!extract.write(chunk)) {
            // Remove both listeners once either fires: one pair per backpressure
            // wait would otherwise pile up on the extractor.
            await new Promise<void>((r) => {
              const done = () => {
                extract.off("drain", done);
                extract.off("close", done);
                r();
              };
              extract.on("drain", done);
              extract.on("close", done);
            });
          }
        }
        extract.end(undefined);
      } catch (err) {
        this.#feedError = err;
        extract.destroy(err as Error);
      }
    })();
  }

  async next(): Promise<TarEntry | undefined> {
    let r: IteratorResult<StreamEntry>;
    try {
      r = await this.#it.next();
      if (this.#feedError !== undefined) throw this.#feedError;
    } catch (err) {
      throw this.#feedError ?? err;
    }
    if (r.done) return undefined;
    const e = r.value;
    return {
      header: { name: e.header.name, type: e.header.type ?? "unknown", size: e.header.size ?? 0 },
      readInto: (dst) => fill(e, dst),
      stream: () => {
        // pipeline() never settles for an entry the tar reader destroyed before it was attached
        // (a bundle that ends inside this entry).
        if (e.destroyed) throw new Error("bundle entry was cut off");
        return e;
      },
    };
  }

  /** What stopped the input or the tar reader, if anything did. */
  get failure(): unknown {
    return this.#feedError ?? this.#extractError;
  }

  /** Stops reading and releases the input (its file handle included). */
  async close(): Promise<void> {
    if (!this.#extract.destroyed) this.#extract.destroy();
    this.#source.destroy();
    await this.#feeding;
  }
}

/**
 * Streams an entry into staged (or nowhere) and returns its sha256 and size:
 * the staged file's write stream hashes what it writes, so each byte is
 * hashed once.
 */
async function receive(
  entry: TarEntry,
  staged: Staged | undefined,
): Promise<{ sha256: string; size: number }> {
  if (staged === undefined) {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of entry.stream()) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { sha256: hash.digest("hex"), size };
  }
  await pipeline(entry.stream(), staged.createWriteStream());
  const digest = staged.writtenDigest;
  if (digest === undefined) throw new GoarkError("INTERNAL", `staged file ${staged.path} reported no digest`);
  return digest;
}

/**
 * Reusable buffers for the zips an import holds in memory: a fresh
 * ArrayBuffer per zip would be new memory each time (page faults, zeroing),
 * and a worker would free the ones it was handed only at its next
 * collection. A worker hands each back with its answer. Capacities are
 * powers of two from 64 KiB; at most MEMORY_ZIP_BUDGET bytes are kept free.
 */
class ZipBuffers {
  readonly #free = new Map<number, ArrayBuffer[]>();
  #freeBytes = 0;

  static capacity(size: number): number {
    let c = 64 << 10;
    while (c < size) c *= 2;
    return c;
  }

  /** A view of size bytes at the start of a buffer of its own (whole: transferable to a worker). */
  take(size: number): Buffer {
    const list = this.#free.get(ZipBuffers.capacity(size));
    const ab = list?.pop();
    if (ab !== undefined) {
      this.#freeBytes -= ab.byteLength;
      return Buffer.from(ab, 0, size);
    }
    return Buffer.from(new ArrayBuffer(ZipBuffers.capacity(size)), 0, size);
  }

  /** Takes back a buffer from take (ignored when detached, of another size, or over the bound). */
  give(ab: ArrayBuffer): void {
    const c = ab.byteLength;
    if (c === 0 || c !== ZipBuffers.capacity(c) || this.#freeBytes + c > MEMORY_ZIP_BUDGET) return;
    const list = this.#free.get(c) ?? [];
    list.push(ab);
    this.#free.set(c, list);
    this.#freeBytes += c;
  }
}

/**
 * An entry's bytes, in a buffer of their own from buffers (a zip can be
 * handed to a worker without a copy). size is what the tar header says,
 * which expectEntry matched to the manifest.
 */
async function collect(entry: TarEntry, size: number, buffers?: ZipBuffers): Promise<Buffer> {
  const data = buffers?.take(size) ?? Buffer.from(new ArrayBuffer(size));
  await entry.readInto(data);
  return data;
}

/**
 * Writes a received file's bytes to a new staged file, behind the reading:
 * the staged file's stream hashes them on the way, and a hash that differs
 * from the manifest's fails the import (tampered), as in the streamed case.
 */
async function writeStaged(storage: Storage, pf: PendingFile, data: Buffer, name: string): Promise<void> {
  const staged = await storage.stage();
  pf.staged = staged;
  // A large file is synced here, behind the reading, so the commit at the end has little left
  // to write out; small ones are left to the commit (one syncfs for the lot, in a large batch).
  await staged.write(data, { sync: data.length >= SYNC_BEHIND_MIN });
  const got = staged.writtenDigest;
  if (got === undefined) throw new GoarkError("INTERNAL", `staged file ${staged.path} reported no digest`);
  if (got.sha256 !== pf.file.sha256 || got.size !== pf.file.size) throw tampered(name, pf.file, got);
}

function expectEntry(name: string, entry: TarEntry | undefined, file: ManifestFile): TarEntry {
  if (entry === undefined)
    throw new BadRequestError(`bundle ${name} is truncated: it ends before ${file.key}`);
  const h = entry.header;
  if (h.name !== file.key) {
    throw new BadRequestError(
      `bundle ${name}: entry ${JSON.stringify(h.name)} where the manifest lists ${file.key} next`,
    );
  }
  if (h.type !== "file")
    throw new BadRequestError(`bundle ${name}: ${file.key} is a ${h.type}, not a regular file`);
  if (h.size !== file.size) {
    throw new ChecksumMismatchError(
      `bundle ${name}: ${file.key} is ${h.size} bytes but the manifest says ${file.size}; the bundle is corrupt or was tampered with`,
      { path: file.key },
    );
  }
  return entry;
}

function tampered(
  name: string,
  file: ManifestFile,
  got: { sha256: string; size: number },
): ChecksumMismatchError {
  const what =
    got.size !== file.size
      ? `${got.size} bytes, the manifest says ${file.size}`
      : `sha256 ${got.sha256}, the manifest says ${file.sha256}`;
  return new ChecksumMismatchError(
    `bundle ${name}: ${file.key} has ${what}; the bundle is corrupt or was tampered with`,
    {
      path: file.key,
    },
  );
}

/** Reads only the manifest of a bundle (for `export --since-bundle OLD`). */
export async function readBundleManifest(
  input: string | Readable,
  opts: { name?: string } = {},
): Promise<BundleManifest> {
  const name = opts.name ?? (typeof input === "string" ? basename(input) : "bundle");
  const reader = await openEntries(input, name);
  try {
    return await readManifestEntry(reader, name);
  } catch (err) {
    throw readError(name, err);
  } finally {
    await reader.close().catch(() => undefined);
  }
}

async function readManifestEntry(reader: EntrySource, name: string): Promise<BundleManifest> {
  const first = await reader.next();
  if (first === undefined)
    throw new BadRequestError(`bundle ${name} is not a goark bundle: it holds no files`);
  if (first.header.name !== MANIFEST_NAME || first.header.type !== "file") {
    throw new BadRequestError(
      `bundle ${name} is not a goark bundle: its first entry is ${JSON.stringify(first.header.name)}, want ${MANIFEST_NAME}`,
    );
  }
  if ((first.header.size ?? 0) > MAX_MANIFEST_BYTES) {
    throw new TooLargeError(
      `bundle ${name}: manifest of ${first.header.size} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`,
    );
  }
  const data = await collect(first, first.header.size);
  try {
    return parseManifest(data);
  } catch (err) {
    const e = asGoarkError(err);
    throw new GoarkError(e.code, `bundle ${name}: ${e.message}`, { cause: err });
  }
}

export async function importBundle(
  storage: Storage,
  input: string | Readable,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const name = opts.name ?? (typeof input === "string" ? basename(input) : "bundle");
  const origin = `import:${name}`;
  const pending: PendingVersion[] = [];
  const extFiles = new Map<string, ReceivedExtensionFile[]>();
  const extStaged: Staged[] = [];
  let manifest: BundleManifest;
  let pool: ZipVerifyPool | undefined;
  try {
    const reader = await openEntries(input, name);
    try {
      manifest = await readManifestEntry(reader, name);
      const workers = opts.zipWorkers ?? defaultZipWorkers(manifest);
      const buffers = new ZipBuffers();
      if (workers > 0) pool = new ZipVerifyPool(workers, { onReturn: (ab) => buffers.give(ab) });
      await receiveVersions(storage, reader, manifest, name, origin, pending, pool, buffers);
      await receiveExtensionFiles(storage, reader, manifest, name, extFiles, extStaged);
      const extra = await reader.next();
      if (extra !== undefined) {
        throw new BadRequestError(
          `bundle ${name}: unexpected entry ${JSON.stringify(extra.header.name)} after the files the manifest lists`,
        );
      }
    } catch (err) {
      throw readError(name, err instanceof GoarkError ? err : (reader.failure ?? err));
    } finally {
      await reader.close().catch(() => undefined);
      await pool?.close();
    }
    await runChecks(storage, manifest, pending, extFiles, opts.extensions ?? []);
    const started = performance.now();
    const report = await commitAll(storage, manifest, pending, extFiles, origin, opts);
    report.commitSeconds = Math.round(performance.now() - started) / 1000;
    return report;
  } finally {
    for (const p of pending) for (const f of p.files) await f.staged?.dispose();
    for (const s of extStaged) await s.dispose();
  }
}

async function receiveVersions(
  storage: Storage,
  reader: EntrySource,
  manifest: BundleManifest,
  name: string,
  origin: string,
  pending: PendingVersion[],
  zips: ZipVerifier | undefined,
  buffers: ZipBuffers,
): Promise<void> {
  // A version's checks run while the next versions are read; a bounded number at a time.
  const checking: Promise<void>[] = [];
  const memory = new ByteBudget(MEMORY_ZIP_BUDGET);
  // What the store holds for the next few keys is asked ahead, so the lookups overlap the reading.
  const moduleFiles = manifest.versions.reduce((n, v) => n + v.files.length, 0);
  const stats = new Map<number, ReturnType<Storage["stat"]>>();
  let asked = 0;
  const statOf = (i: number): ReturnType<Storage["stat"]> => {
    for (; asked < Math.min(moduleFiles, i + STAT_AHEAD); asked++) {
      const p = storage.stat(manifest.files[asked]!.key);
      p.catch(() => undefined);
      stats.set(asked, p);
    }
    const p = stats.get(i)!;
    stats.delete(i);
    return p;
  };
  // A file that contradicts the manifest, found behind the reading: the whole import fails with it.
  let failure: unknown;
  let failed = false;
  // The writes of the version being read, which has no task yet.
  let current: Promise<void>[] = [];
  try {
    let index = 0;
    for (const mv of manifest.versions) {
      if (failed) throw failure;
      const pv: PendingVersion = { mv, files: [] };
      pending.push(pv);
      // Files kept in memory are written to staging behind the reading (no wait on the disk here).
      const writes: Promise<void>[] = [];
      current = writes;
      for (const kind of mv.files) {
        const file = manifest.files[index]!;
        const existing = await statOf(index++);
        const entry = expectEntry(name, await reader.next(), file);
        const same =
          existing !== undefined && existing.meta.sha256 === file.sha256 && existing.size === file.size;
        // Bytes the store already holds are only hashed (the bundle must still be intact), never staged.
        const stage = !same && existing === undefined && pv.reason === undefined;
        const pf: PendingFile = { file, kind };
        pv.files.push(pf);
        if (stage && (kind !== "zip" || file.size <= MEMORY_ZIP_MAX)) {
          if (kind === "zip") {
            await memory.take(file.size);
            pv.held = file.size;
          }
          pf.data = await collect(entry, file.size, kind === "zip" ? buffers : undefined);
          if (kind === "zip") pv.buffer = pf.data.buffer as ArrayBuffer;
          const write = writeStaged(storage, pf, pf.data, name);
          // Handled here, judged when the version's files are all read.
          write.catch(() => undefined);
          writes.push(write);
          continue;
        }
        const staged = stage ? await storage.stage() : undefined;
        if (staged !== undefined) pf.staged = staged;
        const got = await receive(entry, staged);
        if (got.sha256 !== file.sha256 || got.size !== file.size) throw tampered(name, file, got);
        if (existing !== undefined && !same) {
          pv.reason ??= `the store already holds different bytes for ${file.key} (sha256 ${existing.meta.sha256}, the bundle's is ${file.sha256}); stored versions are immutable`;
        }
        if (same && kind === "zip" && existing.meta.h1 !== undefined && existing.meta.h1 !== mv.zipH1) {
          pv.reason ??= `the manifest's zip hash ${mv.zipH1} differs from the stored zip's ${existing.meta.h1}`;
        }
      }
      const release = () => {
        if (pv.held !== undefined) memory.give(pv.held);
        delete pv.held;
        // Detached (length 0) when it went to a worker: the pool's onReturn has it back already.
        if (pv.buffer !== undefined) buffers.give(pv.buffer);
        delete pv.buffer;
        for (const f of pv.files) delete f.data;
      };
      // A zip in memory goes to the workers; one checked from its file is checked here, fewer at once.
      const inMemory = pv.held !== undefined;
      const limit = zips !== undefined && inMemory ? MAX_CHECKING : MAX_CHECKING_HERE;
      while (checking.length >= limit) await checking.shift();
      const task = Promise.all(writes).then(
        () => (pv.reason === undefined ? checkPending(pv, origin, zips) : dropStaged(pv)),
        async (err: unknown) => {
          if (!failed) {
            failed = true;
            failure = err;
          }
          // Every write settled before the caller removes what they staged.
          await Promise.allSettled(writes);
        },
      );
      checking.push(task.finally(release));
    }
  } finally {
    // Never leave a write or a check running on files the caller is about to remove.
    await Promise.allSettled(current);
    await Promise.all(checking);
    await Promise.allSettled(stats.values());
  }
  if (failed) throw failure;
}

/**
 * Runs a received version's content checks; a failure becomes the version's
 * rejection reason. The .mod and .info are checked at once, from memory; the
 * zip by the pool, in the background.
 */
function checkPending(pv: PendingVersion, origin: string, zips: ZipVerifier | undefined): Promise<void> {
  const { mv } = pv;
  const expect: { zipH1?: string; modH1?: string } = {};
  if (mv.zipH1 !== undefined) expect.zipH1 = mv.zipH1;
  if (mv.modH1 !== undefined) expect.modH1 = mv.modH1;
  const small: FileToCheck[] = [];
  const zip: FileToCheck[] = [];
  for (const f of pv.files) {
    if (f.staged === undefined) continue;
    const c: FileToCheck = { kind: f.kind, path: f.staged.path };
    if (f.data !== undefined) c.data = f.data;
    delete f.data;
    (f.kind === "zip" ? zip : small).push(c);
  }
  const reject = async (err: unknown): Promise<void> => {
    pv.reason = asGoarkError(err).message;
    await dropStaged(pv).catch(() => undefined);
  };
  return checkVersionFiles(mv.module, mv.version, small, origin, expect)
    .then(() =>
      // Only zips held in memory go to the workers: a worker reading a large zip from its file
      // would hold its own garbage of read buffers (tens of MB) until its next collection.
      checkVersionFiles(
        mv.module,
        mv.version,
        zip,
        origin,
        expect,
        zip[0]?.data === undefined ? undefined : zips,
      ),
    )
    .then(() => undefined, reject);
}

/** Frees the staging space of a version that will not land. */
async function dropStaged(pv: PendingVersion): Promise<void> {
  for (const f of pv.files) {
    await f.staged?.dispose();
    delete f.staged;
  }
}

async function receiveExtensionFiles(
  storage: Storage,
  reader: EntrySource,
  manifest: BundleManifest,
  name: string,
  out: Map<string, ReceivedExtensionFile[]>,
  stagedList: Staged[],
): Promise<void> {
  for (const file of manifest.files) {
    if (!file.key.startsWith(EXTENSION_PREFIX)) continue;
    const entry = expectEntry(name, await reader.next(), file);
    const { extension, path } = checkExtensionEntry(file.key);
    const staged = await storage.stage();
    stagedList.push(staged);
    const got = await receive(entry, staged);
    if (got.sha256 !== file.sha256 || got.size !== file.size) throw tampered(name, file, got);
    const list = out.get(extension) ?? [];
    list.push({ path, size: file.size, sha256: file.sha256, localPath: staged.path });
    out.set(extension, list);
  }
}

async function runChecks(
  storage: Storage,
  manifest: BundleManifest,
  pending: PendingVersion[],
  extFiles: Map<string, ReceivedExtensionFile[]>,
  extensions: readonly BundleExtension[],
): Promise<void> {
  for (const ext of extensions) {
    if (ext.checkImport === undefined) continue;
    const accepted = pending.filter((p) => p.reason === undefined);
    const verdicts: Map<string, VersionVerdict> | undefined = await ext.checkImport({
      storage,
      manifest,
      section: manifest.extensions[ext.name],
      files: extFiles.get(ext.name) ?? [],
      versions: accepted.map((p) => p.mv),
    });
    if (verdicts === undefined) continue;
    for (const p of accepted) {
      const reason = verdicts.get(versionId(p.mv.module, p.mv.version));
      if (reason === undefined) continue;
      p.reason = `${ext.name}: ${reason}`;
      for (const f of p.files) {
        await f.staged?.dispose();
        delete f.staged;
      }
    }
  }
}

async function commitAll(
  storage: Storage,
  manifest: BundleManifest,
  pending: PendingVersion[],
  extFiles: Map<string, ReceivedExtensionFile[]>,
  origin: string,
  opts: ImportOptions,
): Promise<ImportReport> {
  const report: ImportReport = {
    manifest,
    added: [],
    present: [],
    rejected: [],
    filesCreated: 0,
    bytesCreated: 0,
    listsUpdated: 0,
  };
  // Two batches: every .zip and .mod, durable, then the .info files, which make versions present.
  const accepted = pending.filter((p) => p.reason === undefined);
  const created = new Map<PendingVersion, number>();
  const failed = new Map<PendingVersion, string>();
  const commitBatch = async (pick: (f: PendingFile) => boolean): Promise<void> => {
    const owners: PendingVersion[] = [];
    const items: CommitItem[] = [];
    for (const p of accepted) {
      for (const f of p.files) {
        if (f.staged === undefined || !pick(f)) continue;
        if (failed.has(p)) {
          await f.staged.dispose();
          delete f.staged;
          continue;
        }
        const meta: PutMeta = { origin, sha256: f.file.sha256, size: f.file.size };
        if (f.kind === "zip" && p.mv.zipH1 !== undefined) meta.h1 = p.mv.zipH1;
        if (f.kind === "mod" && p.mv.modH1 !== undefined) meta.h1 = p.mv.modH1;
        items.push({ key: f.file.key, staged: f.staged, meta });
        owners.push(p);
        // Consumed by the commit, whatever its outcome.
        delete f.staged;
      }
    }
    const outcomes = await storage.commitStagedMany(items, {
      onPublished: (i) => opts.onCommit?.(items[i]!.key),
    });
    for (const [i, o] of outcomes.entries()) {
      const p = owners[i]!;
      if (o.ok) {
        if (o.result.created) {
          created.set(p, (created.get(p) ?? 0) + 1);
          report.filesCreated++;
          report.bytesCreated += o.result.meta.size;
        }
      } else if (o.error.code === "CHECKSUM_MISMATCH") {
        // Another writer stored different bytes meanwhile: this version cannot land; others still may.
        if (!failed.has(p)) failed.set(p, o.error.message);
      } else {
        throw o.error;
      }
    }
  };
  await commitBatch((f) => f.kind !== "info");
  await commitBatch((f) => f.kind === "info");
  const touchedModules = new Set<string>();
  const landed: ManifestVersion[] = [];
  for (const p of pending) {
    const ref = { module: p.mv.module, version: p.mv.version };
    const reason = p.reason ?? failed.get(p);
    if (reason !== undefined) {
      report.rejected.push({ ...ref, reason });
      continue;
    }
    landed.push(p.mv);
    ((created.get(p) ?? 0) > 0 ? report.added : report.present).push(ref);
    // Also for versions already present: an earlier, interrupted import may have stored them without their list.
    touchedModules.add(p.mv.module);
  }
  // Last: a list names only versions whose files are all in place. Unchanged lists are not rewritten;
  // the others are staged a few at once and committed in one batch (one syncfs for many).
  const modules = [...touchedModules].sort();
  const lists: CommitItem[] = [];
  let nextModule = 0;
  const listStager = async (): Promise<void> => {
    while (nextModule < modules.length) {
      const plan = await planVersionList(storage, modules[nextModule++]!, { mergeForeign: true });
      if (plan.outcome === "removed") {
        await storage.delete(plan.key);
        report.listsUpdated++;
      }
      if (plan.outcome !== "written") continue;
      const staged = await storage.stage();
      lists.push({ key: plan.key, staged, meta: plan.meta });
      await staged.write(Buffer.from(plan.text));
    }
  };
  const staging = await Promise.allSettled(
    Array.from({ length: Math.min(LIST_WRITERS, modules.length) }, listStager),
  );
  const stagingFailed = staging.find((r) => r.status === "rejected");
  if (stagingFailed !== undefined) {
    for (const l of lists) await l.staged.dispose();
    throw stagingFailed.reason;
  }
  for (const o of await storage.commitStagedMany(lists)) {
    if (!o.ok) throw o.error;
    report.listsUpdated++;
  }
  for (const ext of opts.extensions ?? []) {
    await ext.afterImport?.({
      storage,
      manifest,
      section: manifest.extensions[ext.name],
      files: extFiles.get(ext.name) ?? [],
      versions: pending.filter((p) => p.reason === undefined).map((p) => p.mv),
      landed,
    });
  }
  return report;
}
