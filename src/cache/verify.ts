/**
 * Verification of everything an upstream hands over, before it may be
 * stored: `.info` is JSON naming the canonical version asked for, `.mod`
 * declares the module asked for, a `.zip` passes the untrusted-zip check and
 * matches any go.sum hash already known. VerifyingSource applies these checks
 * per upstream, so a bad answer is an error of that upstream and the chain's
 * `|` falls through to the next one as it does for any failure.
 */
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  asGoarkError,
  ChecksumMismatchError,
  GoarkError,
  InvalidInfoError,
  ModFileError,
  TooLargeError,
  UpstreamError,
} from "../errors.ts";
import { hashGoMod } from "../module/dirhash.ts";
import { modulePathOf } from "../module/modfile.ts";
import { canonicalVersion, check } from "../module/path.ts";
import { MAX_GO_MOD, MAX_ZIP_FILE, verifyZip } from "../module/zip.ts";
import { parseRfc3339 } from "../source/latest-fallback.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "../source/source.ts";
import type { Staged, Storage } from "../storage/storage.ts";

/** go.sum hashes known for a module version, and who vouches for them ("go.sum" when unnamed). */
export interface KnownHashes {
  zip?: string;
  mod?: string;
  /** Named in mismatch errors, e.g. "checksum database sum.golang.org". */
  source?: string;
}

/** go.sum hashes known for a module version (from go.sum files, a checksum database, ...). */
export interface KnownSums {
  lookup(module: string, version: string): Promise<KnownHashes | undefined>;
}

/** A zip already downloaded into the store's staging area and verified. */
export interface StagedZip extends ZipBody {
  staged: Staged;
  h1: string;
  origin: string;
}

export function isStagedZip(z: ZipBody): z is StagedZip {
  return "staged" in z && "h1" in z;
}

// Which source produced a value; objects stay unmodified.
const origins = new WeakMap<object, string>();

/** The name of the upstream that produced a value returned by a VerifyingSource. */
export function originOf(value: object): string | undefined {
  return origins.get(value);
}

function where(module: string, version: string | undefined): string {
  return version === undefined ? module : `${module}@${version}`;
}

/**
 * Checks an `.info` answer. With `version`, Version must be exactly it (the
 * go command's rule for canonical requests); without, Version must be a
 * canonical version valid for the module (a resolved query or @latest).
 * Returns the bytes to store.
 */
export function verifyInfo(module: string, version: string | undefined, info: Info, origin: string): Buffer {
  const at = where(module, version);
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    throw new InvalidInfoError(`${at}: ${origin} answered .info that is not a JSON object`, { module });
  }
  const v = info.Version;
  if (typeof v !== "string" || v === "") {
    throw new InvalidInfoError(`${at}: ${origin} answered .info without a Version`, { module });
  }
  if (version !== undefined && v !== version) {
    throw new InvalidInfoError(
      `${at}: ${origin} returned info for version ${JSON.stringify(v)} instead of requested version`,
      { module, version },
    );
  }
  if (canonicalVersion(v) !== v) {
    throw new InvalidInfoError(`${at}: ${origin} answered non-canonical Version ${JSON.stringify(v)}`, {
      module,
      version: v,
    });
  }
  try {
    check(module, v);
  } catch (err) {
    throw new InvalidInfoError(`${at}: ${origin} answered Version ${v}: ${asGoarkError(err).message}`, {
      module,
      version: v,
      cause: err,
    });
  }
  if (info.Time !== undefined && (typeof info.Time !== "string" || parseRfc3339(info.Time) === undefined)) {
    throw new InvalidInfoError(`${at}: ${origin} answered .info whose Time is not an RFC 3339 time`, {
      module,
      version: v,
    });
  }
  return Buffer.from(JSON.stringify(info));
}

/** Checks a `.mod` answer: size cap, a module line naming the module, the known go.mod hash. Returns its h1. */
export function verifyMod(
  module: string,
  version: string,
  data: Buffer,
  origin: string,
  knownH1?: string,
  knownBy = "go.sum",
): string {
  const at = where(module, version);
  if (data.length > MAX_GO_MOD) {
    throw new TooLargeError(`${at}: go.mod from ${origin} is larger than ${MAX_GO_MOD} bytes`, {
      module,
      version,
    });
  }
  let declared: string | undefined;
  try {
    declared = modulePathOf(data);
  } catch (err) {
    throw new ModFileError(`${at}: go.mod from ${origin}: ${asGoarkError(err).message}`, {
      module,
      version,
      cause: err,
    });
  }
  if (declared === undefined) {
    throw new ModFileError(`${at}: go.mod from ${origin} has no module line`, { module, version });
  }
  if (declared !== module) {
    throw new ModFileError(
      `${at}: go.mod from ${origin} declares its path as ${declared} but was requested as ${module}`,
      { module, version },
    );
  }
  const h1 = hashGoMod(data);
  if (knownH1 !== undefined && knownH1 !== h1) {
    throw new ChecksumMismatchError(
      `${at}: go.mod from ${origin} has hash ${h1}, but ${knownBy} records ${knownH1}`,
      { module, version },
    );
  }
  return h1;
}

/** Passes bytes through, failing once more than `max` went by. */
class ByteCap extends Transform {
  bytes = 0;
  constructor(
    private readonly max: number,
    private readonly describe: () => GoarkError,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) cb(this.describe());
    else cb(null, chunk);
  }
}

export interface StageZipOptions {
  storage: Storage;
  knownSums?: KnownSums;
  maxZipBytes?: number;
  signal?: AbortSignal;
}

/**
 * Streams a zip body into a staged file of the store, then runs the
 * untrusted-zip check (which also computes h1) and compares h1 with any known
 * go.sum hash. Memory stays flat whatever the zip's size. On failure the
 * staged file is removed and a typed error names the upstream.
 */
export async function stageAndVerifyZip(
  module: string,
  version: string,
  zip: ZipBody,
  origin: string,
  opts: StageZipOptions,
): Promise<StagedZip> {
  const at = where(module, version);
  const max = opts.maxZipBytes ?? MAX_ZIP_FILE;
  // pipeline reports the body's errors; this keeps one that arrives after the
  // pipeline settled (an upstream connection torn down late) from crashing the process.
  zip.body.on("error", () => {});
  if (zip.size !== undefined && zip.size > max) {
    zip.body.destroy();
    throw new TooLargeError(`${at}: zip from ${origin} is ${zip.size} bytes, over the ${max}-byte limit`, {
      module,
      version,
    });
  }
  const staged = await opts.storage.stage();
  try {
    const cap = new ByteCap(
      max,
      () => new TooLargeError(`${at}: zip from ${origin} is over the ${max}-byte limit`, { module, version }),
    );
    try {
      await pipeline(zip.body, cap, staged.createWriteStream(), opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      if (err instanceof GoarkError && err.code === "TOO_LARGE") throw err;
      // Keep the kind (TIMEOUT stays 504), say what was being downloaded.
      const code = err instanceof GoarkError ? err.code : "UPSTREAM";
      throw new GoarkError(code, `${at}: downloading zip from ${origin} failed: ${describeCause(err)}`, {
        module,
        version,
        cause: err,
      });
    }
    if (zip.size !== undefined && cap.bytes !== zip.size) {
      throw new UpstreamError(
        `${at}: zip from ${origin} is truncated: got ${cap.bytes} of ${zip.size} announced bytes`,
        { module, version },
      );
    }
    let h1: string;
    try {
      ({ h1 } = await verifyZip(module, version, staged.path, { maxSize: max }));
    } catch (err) {
      const e = asGoarkError(err);
      // Keep the kind (INVALID_ZIP, TOO_LARGE), add who sent it.
      throw new GoarkError(e.code, `${at}: zip from ${origin} rejected: ${e.message}`, {
        module,
        version,
        cause: err,
      });
    }
    const sums = await opts.knownSums?.lookup(module, version);
    const known = sums?.zip;
    if (known !== undefined && known !== h1) {
      throw new ChecksumMismatchError(
        `${at}: zip from ${origin} has hash ${h1}, but ${sums?.source ?? "go.sum"} records ${known}`,
        { module, version },
      );
    }
    return { body: emptyBody(), size: cap.bytes, staged, h1, origin };
  } catch (err) {
    await staged.dispose();
    throw err;
  }
}

function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

function emptyBody(): ZipBody["body"] {
  return Readable.from([]);
}

export interface VerifyingSourceOptions {
  storage: Storage;
  knownSums?: KnownSums;
  maxZipBytes?: number;
}

/**
 * Wraps one upstream: every answer is checked before it leaves, and zips
 * arrive already staged and verified (StagedZip). Failures are errors of
 * this upstream, so the chain treats them like any other.
 */
export class VerifyingSource implements Source {
  readonly name: string;
  readonly inner: Source;
  readonly #opts: VerifyingSourceOptions;

  constructor(inner: Source, opts: VerifyingSourceOptions) {
    this.inner = inner;
    this.name = inner.name;
    this.#opts = opts;
  }

  list(module: string, opts?: FetchOptions): Promise<ListEntry[]> {
    return this.inner.list(module, opts);
  }

  async latest(module: string, opts?: FetchOptions): Promise<Info> {
    const info = await this.inner.latest(module, opts);
    verifyInfo(module, undefined, info, this.name);
    origins.set(info, this.name);
    return info;
  }

  async info(module: string, query: string, opts?: FetchOptions): Promise<Info> {
    const info = await this.inner.info(module, query, opts);
    verifyInfo(module, isStorableVersion(module, query) ? query : undefined, info, this.name);
    origins.set(info, this.name);
    return info;
  }

  async mod(module: string, version: string, opts?: FetchOptions): Promise<Buffer> {
    // The checksum-database lookup runs while the go.mod downloads.
    const pending = this.#opts.knownSums?.lookup(module, version);
    pending?.catch(() => undefined);
    const data = await this.inner.mod(module, version, opts);
    const known = await pending;
    verifyMod(module, version, data, this.name, known?.mod, known?.source);
    origins.set(data, this.name);
    return data;
  }

  async zip(module: string, version: string, opts?: FetchOptions): Promise<ZipBody> {
    const body = await this.inner.zip(module, version, opts);
    const stageOpts: StageZipOptions = { storage: this.#opts.storage };
    if (this.#opts.knownSums) stageOpts.knownSums = this.#opts.knownSums;
    if (this.#opts.maxZipBytes !== undefined) stageOpts.maxZipBytes = this.#opts.maxZipBytes;
    if (opts?.signal) stageOpts.signal = opts.signal;
    const verified = await stageAndVerifyZip(module, version, body, this.name, stageOpts);
    origins.set(verified, this.name);
    return verified;
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

/** True when `v` is a version whose artefacts are stored (canonical and fitting the path), not a query. */
export function isStorableVersion(module: string, v: string): boolean {
  if (canonicalVersion(v) !== v) return false;
  try {
    check(module, v);
    return true;
  } catch {
    return false;
  }
}
