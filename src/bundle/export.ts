/**
 * `goark export`: writes the selected module versions of a store as one tar
 * file (optionally gzip-compressed), the manifest first, then every file in
 * manifest order, then extension files. Deterministic: entries sorted, fixed
 * mode/owner/mtime, no clock unless `createdAt` is given, so the same store
 * content and selection give the same bytes. Streams only: zips go from the
 * store into the tar chunk by chunk, each checked against its recorded
 * sha256 on the way, so a store that changed underneath fails the export
 * instead of producing a bundle that no import would accept.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Header, Pack } from "tar-stream";
import tar from "tar-stream";
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
      files.push({ key: f.key, size: f.size, sha256: f.meta.sha256, open: () => storage.openRead(f.key) });
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

type EntryHeader = Partial<Header> & Pick<Header, "name">;

function header(name: string, size: number, mtime: Date): EntryHeader {
  return { name, size, mode: 0o644, uid: 0, gid: 0, uname: "", gname: "", mtime, type: "file" };
}

/** Streams body into a new tar entry, honouring the pack's backpressure. */
async function addEntry(
  pack: Pack,
  h: EntryHeader,
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry(h, (err) => (err ? reject(err) : resolve()));
    (async () => {
      for await (const chunk of body) {
        if (!sink.write(chunk)) await new Promise<void>((r) => sink.once("drain", () => r()));
      }
      sink.end(undefined);
    })().catch((err: unknown) => {
      sink.destroy(err as Error);
      reject(err);
    });
  });
}

async function writeEntries(pack: Pack, plan: BundlePlan, mtime: Date): Promise<void> {
  const manifestBytes = formatManifest(plan.manifest);
  await addEntry(pack, header(MANIFEST_NAME, manifestBytes.length, mtime), [manifestBytes]);
  const byKey = new Map(plan.files.map((f) => [f.key, f]));
  for (const mf of plan.manifest.files) {
    const f = byKey.get(mf.key)!;
    const body = await f.open();
    if (body === undefined)
      throw new StorageError(`export: ${f.key} vanished from the store while exporting`, { path: f.key });
    await addEntry(pack, header(f.key, f.size, mtime), body.pipe(new DigestCheck(mf)));
  }
  pack.finalize();
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
  const pack = tar.pack();
  const target =
    typeof out === "string" ? `${out}.partial-${process.pid}-${randomBytes(4).toString("hex")}` : undefined;
  const sink =
    target === undefined ? (out as NodeJS.WritableStream) : createWriteStream(target, { flags: "wx" });
  const source = Readable.from(pack);
  // Level 6 and no file name/time in the gzip header: the same tar always compresses to the same bytes.
  const piping =
    opts.format === "tar.gz" ? pipeline(source, createGzip({ level: 6 }), sink) : pipeline(source, sink);
  const writing = writeEntries(pack, plan, mtime).catch((err: unknown) => {
    pack.destroy(err as Error);
    throw err;
  });
  try {
    await Promise.all([writing, piping]);
    if (target !== undefined) await rename(target, out as string);
  } catch (err) {
    if (target !== undefined) await rm(target, { force: true });
    // The entry writer's error says what went wrong; the pipeline's is often just "premature close".
    throw await writing.then(
      () => err,
      (e: unknown) => e,
    );
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
