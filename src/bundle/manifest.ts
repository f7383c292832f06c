/**
 * The bundle manifest, `goark-manifest.json`, the first entry of every
 * bundle: the format and its version, and for each carried file its key,
 * size and sha256, for each module version its files and go.sum hashes.
 * The entries after it appear exactly in `files` order, then the files of
 * extensions (`goark-ext/<name>/...`, e.g. checksum-database material).
 *
 * Parsing treats the text as hostile: bounded size and counts, every key
 * checked against the store's layout, every field typed, and files and
 * versions cross-checked, so the importer can trust its shape.
 */
import { BadRequestError, InvalidPathError, TooLargeError, UnsupportedError } from "../errors.ts";
import { MAX_GO_MOD, MAX_ZIP_FILE } from "../module/zip.ts";
import { checkKey, infoKey, modKey, parseKey, zipKey } from "../storage/keys.ts";
import type { VersionFileKind } from "../store-ops/inventory.ts";

export const MANIFEST_NAME = "goark-manifest.json";
export const BUNDLE_FORMAT = "goark-bundle";
export const BUNDLE_FORMAT_VERSION = 1;
/** Entry names of extension files start with this, then the extension's name and a slash. */
export const EXTENSION_PREFIX = "goark-ext/";

/** Bounds on what an import accepts, before reading further. */
export const MAX_MANIFEST_BYTES = 256 << 20;
export const MAX_BUNDLE_FILES = 2_000_000;
export const MAX_INFO_BYTES = 1 << 20;
/** Largest extension file (checksum-database tiles are 8 KiB; records small). */
export const MAX_EXTENSION_FILE = 64 << 20;

export interface ManifestFile {
  /** A store key (or, for extension files, `goark-ext/<name>/<path>`): the tar entry's name. */
  key: string;
  size: number;
  /** Lowercase hex SHA-256. */
  sha256: string;
}

export interface ManifestVersion {
  module: string;
  version: string;
  /** Which of the version's files the bundle carries, in commit order (zip, mod, info). */
  files: VersionFileKind[];
  /** go.sum hash of the zip ("h1:..."), when the zip is carried. */
  zipH1?: string;
  /** go.sum hash of the go.mod, when the .mod is carried. */
  modH1?: string;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: typeof BUNDLE_FORMAT_VERSION;
  createdBy: string;
  /** Only when the exporter was given one: bundles carry no clock by default. */
  createdAt?: string;
  /** What the exporter was asked for, for people reading the bundle. */
  selection: string;
  files: ManifestFile[];
  versions: ManifestVersion[];
  /** Sections of extensions by name (the checksum database's one is "sumdb"). */
  extensions: Record<string, unknown>;
}

const SHA256 = /^[0-9a-f]{64}$/;
const H1 = /^h1:[A-Za-z0-9+/]{43}=$/;
const EXT_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const KINDS: readonly VersionFileKind[] = ["zip", "mod", "info"];

export function maxSizeOf(kind: VersionFileKind): number {
  return kind === "zip" ? MAX_ZIP_FILE : kind === "mod" ? MAX_GO_MOD : MAX_INFO_BYTES;
}

export function keyOf(module: string, version: string, kind: VersionFileKind): string {
  return kind === "zip"
    ? zipKey(module, version)
    : kind === "mod"
      ? modKey(module, version)
      : infoKey(module, version);
}

/** The manifest's bytes: fixed key order and one file/version per line, so bundles are deterministic and diffable. */
export function formatManifest(m: BundleManifest): Buffer {
  const head: Record<string, unknown> = {
    format: m.format,
    formatVersion: m.formatVersion,
    createdBy: m.createdBy,
  };
  if (m.createdAt !== undefined) head.createdAt = m.createdAt;
  head.selection = m.selection;
  const files = m.files.map((f) => JSON.stringify({ key: f.key, size: f.size, sha256: f.sha256 }));
  const versions = m.versions.map((v) => {
    const o: Record<string, unknown> = { module: v.module, version: v.version, files: v.files };
    if (v.zipH1 !== undefined) o.zipH1 = v.zipH1;
    if (v.modH1 !== undefined) o.modH1 = v.modH1;
    return JSON.stringify(o);
  });
  const extNames = Object.keys(m.extensions).sort();
  const ext = extNames.map((n) => `${JSON.stringify(n)}:${stableJson(m.extensions[n])}`);
  const headText = JSON.stringify(head).slice(0, -1);
  const text =
    `${headText},\n"files":[\n${files.join(",\n")}\n],\n"versions":[\n${versions.join(",\n")}\n],\n` +
    `"extensions":{${ext.join(",\n")}}}\n`;
  return Buffer.from(text, "utf8");
}

/** JSON with object keys sorted, so extension sections are byte-stable too. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

function bad(where: string, rule: string): never {
  throw new BadRequestError(`bundle manifest: ${where}: ${rule}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks an extension file's entry name: `goark-ext/<name>/<key-like path>`. */
export function checkExtensionEntry(name: string): { extension: string; path: string } {
  if (!name.startsWith(EXTENSION_PREFIX)) {
    throw new InvalidPathError(
      `bundle entry ${JSON.stringify(name)}: extension files must start with ${EXTENSION_PREFIX}`,
      { path: name },
    );
  }
  const rest = name.slice(EXTENSION_PREFIX.length);
  const slash = rest.indexOf("/");
  const extension = slash < 0 ? "" : rest.slice(0, slash);
  if (!EXT_NAME.test(extension)) {
    throw new InvalidPathError(
      `bundle entry ${JSON.stringify(name)}: extension name must be lowercase letters, digits and -`,
      { path: name },
    );
  }
  const path = rest.slice(slash + 1);
  // The same safety rules as store keys: no traversal, no dot-names, a small alphabet.
  checkKey(path);
  return { extension, path };
}

/** Parses and validates a manifest (see the file header). Throws BadRequestError/UnsupportedError/TooLargeError/InvalidPathError. */
export function parseManifest(data: Buffer): BundleManifest {
  if (data.length > MAX_MANIFEST_BYTES) {
    throw new TooLargeError(
      `bundle manifest is ${data.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw new BadRequestError(`bundle manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) bad("top level", "must be a JSON object");
  if (raw.format !== BUNDLE_FORMAT) {
    throw new UnsupportedError(
      `not a goark bundle: manifest format is ${JSON.stringify(raw.format)}, want ${JSON.stringify(BUNDLE_FORMAT)}`,
    );
  }
  if (raw.formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw new UnsupportedError(
      `goark bundle format version ${JSON.stringify(raw.formatVersion)} is not supported (this goark reads version ${BUNDLE_FORMAT_VERSION})`,
    );
  }
  if (typeof raw.createdBy !== "string") bad("createdBy", "must be a string");
  if (raw.createdAt !== undefined && typeof raw.createdAt !== "string") bad("createdAt", "must be a string");
  const selection = raw.selection === undefined ? "" : raw.selection;
  if (typeof selection !== "string") bad("selection", "must be a string");
  if (!Array.isArray(raw.files)) bad("files", "must be an array");
  if (!Array.isArray(raw.versions)) bad("versions", "must be an array");
  if (raw.files.length > MAX_BUNDLE_FILES) {
    throw new TooLargeError(
      `bundle manifest lists ${raw.files.length} files, over the limit of ${MAX_BUNDLE_FILES}`,
    );
  }
  const extensions = raw.extensions === undefined ? {} : raw.extensions;
  if (!isObject(extensions)) bad("extensions", "must be an object");
  for (const name of Object.keys(extensions)) {
    if (!EXT_NAME.test(name))
      bad(`extension ${JSON.stringify(name)}`, "name must be lowercase letters, digits and -");
  }

  const files: ManifestFile[] = [];
  const fileByKey = new Map<string, ManifestFile>();
  let seenExtension = false;
  for (const [i, f] of raw.files.entries()) {
    const where = `files[${i}]`;
    if (!isObject(f)) bad(where, "must be an object");
    const { key, size, sha256 } = f;
    if (typeof key !== "string") bad(where, "key must be a string");
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
      bad(`${where} ${key}`, "size must be a non-negative integer");
    if (typeof sha256 !== "string" || !SHA256.test(sha256))
      bad(`${where} ${key}`, "sha256 must be 64 lowercase hex digits");
    if (fileByKey.has(key)) bad(`${where} ${key}`, "listed twice");
    if (key.startsWith(EXTENSION_PREFIX)) {
      const { extension } = checkExtensionEntry(key);
      if (!(extension in extensions))
        bad(`${where} ${key}`, `extension ${extension} has no manifest section`);
      if (size > MAX_EXTENSION_FILE) {
        throw new TooLargeError(
          `bundle manifest: ${key} is ${size} bytes, over the ${MAX_EXTENSION_FILE}-byte limit for extension files`,
        );
      }
      seenExtension = true;
    } else {
      if (seenExtension) bad(`${where} ${key}`, "module files must come before extension files");
      checkKey(key);
      const p = parseKey(key);
      if (p === undefined || p.version === undefined)
        bad(`${where} ${key}`, "not a module version's .info, .mod or .zip in the store layout");
      const kind = p.kind as VersionFileKind;
      if (size > maxSizeOf(kind)) {
        throw new TooLargeError(
          `bundle manifest: ${key} is ${size} bytes, over the ${maxSizeOf(kind)}-byte limit for .${kind} files`,
          {
            module: p.module,
            version: p.version,
          },
        );
      }
    }
    const file = { key, size, sha256 };
    files.push(file);
    fileByKey.set(key, file);
  }

  const versions: ManifestVersion[] = [];
  const claimed = new Set<string>();
  let fileIndex = 0;
  for (const [i, v] of raw.versions.entries()) {
    const where = `versions[${i}]`;
    if (!isObject(v)) bad(where, "must be an object");
    const { module, version, zipH1, modH1 } = v;
    if (typeof module !== "string" || typeof version !== "string")
      bad(where, "module and version must be strings");
    const at = `${where} ${module}@${version}`;
    if (!Array.isArray(v.files) || v.files.length === 0 || v.files.length > 3)
      bad(at, "files must list 1 to 3 of zip, mod, info");
    const kinds = v.files as unknown[];
    // Commit order is part of the format: the importer relies on .info coming last.
    const expected = KINDS.filter((k) => kinds.includes(k));
    if (expected.length !== kinds.length || expected.some((k, j) => kinds[j] !== k))
      bad(at, "files must be distinct kinds in the order zip, mod, info");
    let keys: string[];
    try {
      keys = expected.map((k) => keyOf(module, version, k));
    } catch (err) {
      bad(at, (err as Error).message);
    }
    // Files of one version are contiguous and in the version's order, so the importer can stream.
    for (const key of keys) {
      const f = files[fileIndex];
      if (f === undefined || f.key !== key) bad(at, `files must list ${key} at position ${fileIndex}`);
      claimed.add(key);
      fileIndex++;
    }
    if (expected.includes("zip") !== (zipH1 !== undefined))
      bad(at, "zipH1 must be given exactly when the zip is carried");
    if (expected.includes("mod") !== (modH1 !== undefined))
      bad(at, "modH1 must be given exactly when the .mod is carried");
    if (zipH1 !== undefined && (typeof zipH1 !== "string" || !H1.test(zipH1)))
      bad(at, "zipH1 must be an h1: hash");
    if (modH1 !== undefined && (typeof modH1 !== "string" || !H1.test(modH1)))
      bad(at, "modH1 must be an h1: hash");
    const mv: ManifestVersion = { module, version, files: expected };
    if (zipH1 !== undefined) mv.zipH1 = zipH1 as string;
    if (modH1 !== undefined) mv.modH1 = modH1 as string;
    versions.push(mv);
  }
  for (const f of files) {
    if (!f.key.startsWith(EXTENSION_PREFIX) && !claimed.has(f.key))
      bad(f.key, "file belongs to no listed version");
  }
  const m: BundleManifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    createdBy: raw.createdBy,
    selection,
    files,
    versions,
    extensions,
  };
  if (typeof raw.createdAt === "string") m.createdAt = raw.createdAt;
  return m;
}
