/**
 * `goark export`: writes the selected module versions of a store as one tar
 * file (optionally gzip-compressed), the manifest first, then every file in
 * manifest order, then extension files. Deterministic: entries sorted, fixed
 * mode/owner/mtime, no clock unless `createdAt` is given, so the same store
 * content and selection give the same bytes. Memory stays flat: files are
 * read in 1 MiB pieces straight into the tar writer's reusable buffer
 * (tar-writer.ts), by a blocking copy loop into a plain tar file, each
 * checked on the way against its record (size, and CRC-32 or sha256; small files come
 * through the store's getBytes, from its memory when it verified them), so
 * a bundle never carries bytes that contradict its manifest: a store that
 * changed underneath fails the export instead of producing a bundle that no
 * import would accept.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createWriteStream, fstatSync, openSync, readSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { crc32, createGzip } from "node:zlib";
import { ChecksumMismatchError, StorageError } from "../errors.ts";
import { hashGoMod } from "../module/dirhash.ts";
import { sha256Hex } from "../storage/artefact-meta.ts";
import type { Storage } from "../storage/storage.ts";
import { type StoredFile, versionFiles } from "../store-ops/inventory.ts";
import { zipH1Of } from "../store-ops/local-file.ts";
import type { RequiredVersion } from "../store-ops/requirements.ts";
import type { BundleExtension } from "./extension.ts";
import {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  type BundleManifest,
  checkExtensionEntry,
  EXTENSION_PREFIX,
  formatManifest,
  MANIFEST_NAME,
  type ManifestFile,
  type ManifestVersion,
} from "./manifest.ts";
import { type Selection, type SelectOptions, selectVersions } from "./select.ts";
import {
  bufferBody,
  type EntryBody,
  FileSink,
  iterableBody,
  StreamSink,
  type TarSource,
  TarWriter,
  writeTarFile,
} from "./tar-writer.ts";

export type BundleFormat = "tar" | "tar.gz";

export interface ExportOptions extends SelectOptions {
  format?: BundleFormat;
  /** Written into the manifest, e.g. "goark 0.1.0". */
  createdBy?: string;
  /** Recorded in the manifest and used as every entry's mtime; the epoch when absent. */
  createdAt?: Date;
  extensions?: readonly BundleExtension[];
}

export interface ExportReport {
  manifest: BundleManifest;
  versions: number;
  /** Files carried (extension files included). */
  files: number;
  /** Bytes of carried files (tar overhead excluded). */
  bytes: number;
  missing: RequiredVersion[];
  unreadable: Selection["unreadable"];
  /** Versions left out because the store holds only part of them. */
  incomplete: { module: string; version: string }[];
}

interface PlannedFile extends ManifestFile {
  open(): Promise<Readable | undefined>;
  /** The store's CRC-32 of the file, when its record has one. */
  crc32?: number;
}

const EPOCH = new Date(0);

/** Fails the stream when the bytes differ from what the manifest promises. */
export class DigestCheck extends Transform {
  readonly #hash = createHash("sha256");
  #size = 0;
  constructor(private readonly file: ManifestFile) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.file.size) {
      cb(changed(this.file, `more than the recorded ${this.file.size} bytes`));
      return;
    }
    this.#hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.#size !== this.file.size) {
      cb(changed(this.file, `${this.#size} bytes, the record says ${this.file.size}`));
      return;
    }
    const got = this.#hash.digest("hex");
    cb(
      got === this.file.sha256
        ? null
        : changed(this.file, `sha256 ${got}, the record says ${this.file.sha256}`),
    );
  }
}

function changed(file: ManifestFile, what: string): ChecksumMismatchError {
  return new ChecksumMismatchError(
    `export: stored ${file.key} changed or is corrupt (${what}); run goark verify`,
    { path: file.key },
  );
}

async function modH1Of(storage: Storage, f: StoredFile): Promise<string> {
  const data = await storage.getBytes(f.key);
  if (data === undefined)
    throw new StorageError(`export: ${f.key} vanished from the store while exporting`, { path: f.key });
  if (data.length !== f.size || sha256Hex(data) !== f.meta.sha256) {
    throw changed({ key: f.key, size: f.size, sha256: f.meta.sha256 }, "its bytes do not match its record");
  }
  return hashGoMod(data);
}

export interface BundlePlan {
  manifest: BundleManifest;
  files: PlannedFile[];
  selection: Selection;
}

/** Selects versions and builds the manifest (hashing what the records lack), without writing anything. */
export async function planBundle(storage: Storage, opts: ExportOptions): Promise<BundlePlan> {
  const selection = await selectVersions(storage, opts);
  const versions: ManifestVersion[] = [];
  const files: PlannedFile[] = [];
  for (const v of selection.versions) {
    const mv: ManifestVersion = { module: v.module, version: v.version, files: [] };
    for (const f of versionFiles(v)) {
      mv.files.push(f.kind);
      if (f.kind === "zip") mv.zipH1 = f.meta.h1 ?? (await zipH1Of(storage, f.key));
      if (f.kind === "mod") mv.modH1 = await modH1Of(storage, f);
      const pf: PlannedFile = {
        key: f.key,
        size: f.size,
        sha256: f.meta.sha256,
        open: () => storage.openRead(f.key),
      };
      if (f.meta.crc32 !== undefined) pf.crc32 = f.meta.crc32;
      files.push(pf);
    }
    versions.push(mv);
  }
  const sections: Record<string, unknown> = {};
  const extNames = new Set<string>();
  for (const ext of opts.extensions ?? []) {
    if (ext.export === undefined) continue;
    if (extNames.has(ext.name)) throw new StorageError(`export: two bundle extensions are named ${ext.name}`);
    extNames.add(ext.name);
    const out = await ext.export(storage, versions);
    sections[ext.name] = out.section ?? null;
    const extFiles = [...out.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const ef of extFiles) {
      const key = `${EXTENSION_PREFIX}${ext.name}/${ef.path}`;
      checkExtensionEntry(key);
      const sha256 = ef.sha256 ?? (await hashStream(await ef.open()));
      files.push({ key, size: ef.size, sha256, open: () => ef.open() });
    }
  }
  const extOrdered = files.filter((f) => f.key.startsWith(EXTENSION_PREFIX));
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    createdBy: opts.createdBy ?? "goark",
    selection: selection.description,
    files: [...files.filter((f) => !f.key.startsWith(EXTENSION_PREFIX)), ...extOrdered].map(
      ({ key, size, sha256 }) => ({
        key,
        size,
        sha256,
      }),
    ),
    versions,
    extensions: sections,
  };
  if (opts.createdAt !== undefined) manifest.createdAt = opts.createdAt.toISOString();
  return { manifest, files, selection };
}

async function hashStream(stream: Readable): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * A stored file as a tar entry body, checked on the way: its size when
 * opened, and at its end the CRC-32 its record holds (a third of SHA-256's
 * cost, and as sure to notice a file that changed underneath; the importer
 * checks every sha256 anyway), or its sha256 when the record is older.
 */
function storedBody(mf: ManifestFile, path: string, crc: number | undefined): EntryBody {
  // Blocking calls throughout: opening, reading and closing a local file take microseconds, and
  // a round trip through the thread pool for each would cost more than the copy (tar-writer.ts).
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw code === "ENOENT"
      ? new StorageError(`export: ${mf.key} vanished from the store while exporting`, { path: mf.key })
      : new StorageError(`export: opening ${mf.key}: ${(err as Error).message}`, {
          path: mf.key,
          cause: err,
        });
  }
  let open = true;
  const close = async (): Promise<void> => {
    if (open) closeSync(fd);
    open = false;
  };
  try {
    const size = fstatSync(fd).size;
    if (size !== mf.size) throw changed(mf, `${size} bytes, the record says ${mf.size}`);
  } catch (err) {
    void close();
    throw err;
  }
  const hash = crc === undefined ? createHash("sha256") : undefined;
  let sum = 0;
  let position = 0;
  const readPiece = (dst: Buffer, offset: number, length: number): number => {
    if (position === mf.size) return 0;
    const n = readSync(fd, dst, offset, Math.min(length, mf.size - position), position);
    if (n === 0) throw changed(mf, `it ended after ${position} bytes, the record says ${mf.size}`);
    const piece = dst.subarray(offset, offset + n);
    if (hash !== undefined) hash.update(piece);
    else sum = crc32(piece, sum);
    position += n;
    if (position === mf.size) {
      if (hash !== undefined) {
        const got = hash.digest("hex");
        if (got !== mf.sha256) throw changed(mf, `sha256 ${got}, the record says ${mf.sha256}`);
      } else if (sum !== crc) {
        throw changed(mf, `CRC-32 ${sum}, the record says ${crc}`);
      }
    }
    return n;
  };
  return { readSync: readPiece, read: async (dst, offset, length) => readPiece(dst, offset, length), close };
}

/** Files up to this size are taken whole through getBytes (from the store's memory cache when there). */
const SMALL_FILE = 256 << 10;

/** A small stored file's bytes as a tar entry body, checked like storedBody's. */
async function checkedBytes(storage: Storage, mf: ManifestFile, crc: number | undefined): Promise<EntryBody> {
  const data = await storage.getBytes(mf.key);
  // The store drops an immutable file whose bytes contradict its record when it reads it again.
  if (data === undefined) {
    throw new StorageError(
      `export: ${mf.key} left the store while exporting (pruned, or removed as corrupt); run goark verify`,
      { path: mf.key },
    );
  }
  if (data.length !== mf.size) throw changed(mf, `${data.length} bytes, the record says ${mf.size}`);
  if (crc !== undefined) {
    const got = crc32(data);
    if (got !== crc) throw changed(mf, `CRC-32 ${got}, the record says ${crc}`);
  } else {
    const got = sha256Hex(data);
    if (got !== mf.sha256) throw changed(mf, `sha256 ${got}, the record says ${mf.sha256}`);
  }
  return bufferBody(data);
}

/** The bundle's entries in order: the manifest, then every file it lists. */
function* bundleSources(storage: Storage, plan: BundlePlan, mtime: Date): Generator<TarSource> {
  const manifestBytes = formatManifest(plan.manifest);
  yield {
    entry: { name: MANIFEST_NAME, size: manifestBytes.length, mtime },
    open: async () => bufferBody(manifestBytes),
  };
  const byKey = new Map(plan.files.map((f) => [f.key, f]));
  for (const mf of plan.manifest.files) {
    const f = byKey.get(mf.key)!;
    // A store that keeps local files is read directly (large reads, no stream per file).
    const path = f.key.startsWith(EXTENSION_PREFIX) ? undefined : storage.localPath?.(f.key);
    yield {
      entry: { name: f.key, size: f.size, mtime },
      open: async () => {
        // Small files (.mod, .info) the store usually holds in memory since planning: checked there.
        if (path !== undefined && f.size <= SMALL_FILE) return checkedBytes(storage, mf, f.crc32);
        if (path !== undefined) return storedBody(mf, path, f.crc32);
        const body = await f.open();
        if (body === undefined)
          throw new StorageError(`export: ${f.key} vanished from the store while exporting`, { path: f.key });
        return iterableBody(body.pipe(new DigestCheck(mf)));
      },
    };
  }
}

/**
 * Writes a bundle to `out` (a file path: written under a temporary name and
 * renamed when complete; or a stream, ended when done).
 */
export async function exportBundle(
  storage: Storage,
  out: string | NodeJS.WritableStream,
  opts: ExportOptions,
): Promise<ExportReport> {
  const plan = await planBundle(storage, opts);
  const mtime = opts.createdAt ?? EPOCH;
  const target =
    typeof out === "string" ? `${out}.partial-${process.pid}-${randomBytes(4).toString("hex")}` : undefined;
  let file: FileSink | undefined;
  let stream: Writable | undefined;
  let piping: Promise<void> | undefined;
  try {
    if (opts.format === "tar.gz") {
      // Level 6 and no file name/time in the gzip header: the same tar always compresses to the same bytes.
      const gzip = createGzip({ level: 6 });
      const sink =
        target === undefined ? (out as NodeJS.WritableStream) : createWriteStream(target, { flags: "wx" });
      stream = gzip;
      piping = pipeline(gzip, sink);
    } else if (target !== undefined) {
      file = await FileSink.open(target);
    } else {
      stream = out as Writable;
      piping = finished(stream);
    }
    piping?.catch(() => undefined);
    const sources = bundleSources(storage, plan, mtime);
    if (file !== undefined) {
      await writeTarFile(file, sources);
    } else {
      const tar = new TarWriter(new StreamSink(stream!));
      try {
        for (const src of sources) await tar.add(src);
        await tar.finish();
      } catch (err) {
        await tar.settle();
        throw err;
      }
    }
    if (stream !== undefined) {
      stream.end();
      await piping;
    }
    if (file !== undefined) {
      const f = file;
      file = undefined;
      await f.close();
    }
    if (target !== undefined) await rename(target, out as string);
  } catch (err) {
    await file?.close().catch(() => undefined);
    if (stream !== undefined && !stream.destroyed) stream.destroy();
    // The file stream behind gzip may still be opening its file: let it close before removing it.
    await piping?.catch(() => undefined);
    if (target !== undefined) await rm(target, { force: true });
    throw err;
  }
  let bytes = 0;
  for (const f of plan.manifest.files) bytes += f.size;
  return {
    manifest: plan.manifest,
    versions: plan.manifest.versions.length,
    files: plan.manifest.files.length,
    bytes,
    missing: plan.selection.missing,
    unreadable: plan.selection.unreadable,
    incomplete: plan.selection.incomplete.map((v) => ({ module: v.module, version: v.version })),
  };
}
