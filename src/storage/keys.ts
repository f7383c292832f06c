/**
 * The one key layout of every store: the go command's download-cache layout
 * ($GOMODCACHE/cache/download), so a disk store is itself a valid
 * `GOPROXY=file://` tree and an existing download cache can be imported as is.
 *
 *   <escaped-module>/@v/list
 *   <escaped-module>/@v/<escaped-version>.info | .mod | .zip
 *   <escaped-module>/@latest            goark's cached @latest answer
 *
 * `.info`, `.mod` and `.zip` of a version are immutable once stored; `list`
 * and `@latest` are replaced as upstream answers change.
 *
 * checkKey is the guard every backend runs before touching anything: a key is
 * a relative, slash-separated path of lowercase-safe elements, so no key, be it
 * hostile or buggy, can name a file outside the store's root.
 */
import { InvalidPathError, InvalidVersionError } from "../errors.ts";
import { escapePath, escapeVersion, unescapePath, unescapeVersion } from "../module/path.ts";
import { canonical, isValid } from "../module/semver.ts";

export type ArtefactKind = "list" | "latest" | "info" | "mod" | "zip";

export interface ParsedKey {
  /** The decoded module path. */
  module: string;
  kind: ArtefactKind;
  /** The decoded version, for info/mod/zip. */
  version?: string;
}

/** Suffix a backend may use for the metadata record beside an artefact; no key's file name ends with it. */
export const META_SUFFIX = ".meta";

/** Longest key element: leaves room for META_SUFFIX under the usual 255-byte file-name limit. */
export const MAX_KEY_ELEMENT = 240;
export const MAX_KEY_LENGTH = 4096;

// Escaped module paths and versions only ever use these bytes (upper case is
// escaped as "!x"); "@" appears in "@v"/"@latest" and in sumdb lookup paths.
// No "%", so URL-encoded tricks ("%2e%2e") never reach a file system.
const KEY_CHARS = /^[a-z0-9._~!+@-]+$/;

function reject(key: string, rule: string): never {
  throw new InvalidPathError(`invalid storage key ${JSON.stringify(key)}: ${rule}`, { path: key });
}

function checkElements(key: string, elems: string[]): void {
  for (const elem of elems) {
    if (elem === "") reject(key, "empty path element (leading, trailing or double slash)");
    // Covers "." and ".." too; dot-names are reserved for the store's own files (.tmp).
    if (elem.startsWith(".")) reject(key, "path element begins with a dot");
    if (elem.length > MAX_KEY_ELEMENT) reject(key, `path element longer than ${MAX_KEY_ELEMENT} bytes`);
    if (!KEY_CHARS.test(elem)) {
      reject(key, "only lowercase ASCII letters, digits and -._~!+@ are allowed (escape upper case)");
    }
  }
}

/**
 * Throws InvalidPathError unless key is safe for every backend: relative,
 * no empty/dot elements (so no "..", no absolute path), no backslash, NUL,
 * "%" or upper case, and not ending in META_SUFFIX.
 */
export function checkKey(key: string): void {
  if (key === "") reject(key, "empty key");
  if (key.length > MAX_KEY_LENGTH) reject(key, `longer than ${MAX_KEY_LENGTH} bytes`);
  const elems = key.split("/");
  checkElements(key, elems);
  if (key.endsWith(META_SUFFIX)) reject(key, `names ending in ${META_SUFFIX} are reserved for metadata`);
}

/** Like checkKey, for a list prefix: "" (everything), or a key's leading part, optionally ending in "/". */
export function checkKeyPrefix(prefix: string): void {
  if (prefix === "") return;
  if (prefix.length > MAX_KEY_LENGTH) reject(prefix, `longer than ${MAX_KEY_LENGTH} bytes`);
  const body = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  checkElements(prefix, body.split("/"));
}

/** Throws InvalidVersionError unless v is a canonical version (keeping "+incompatible"), the only kind stored. */
function checkStoredVersion(module: string, v: string): void {
  const c = isValid(v) ? canonical(v) : "";
  if (c === "" || (v !== c && v !== c + "+incompatible")) {
    throw new InvalidVersionError(
      `${module}@${v}: only canonical versions are stored (queries and non-canonical forms are resolved first)`,
      { module, version: v },
    );
  }
}

/** `<escaped-module>/@v/` — the directory of a module's versioned artefacts and list. */
export function versionDirKey(module: string): string {
  return escapePath(module) + "/@v/";
}

export function listKey(module: string): string {
  return versionDirKey(module) + "list";
}

export function latestKey(module: string): string {
  return escapePath(module) + "/@latest";
}

export function versionKey(module: string, version: string, kind: "info" | "mod" | "zip"): string {
  checkStoredVersion(module, version);
  return versionDirKey(module) + escapeVersion(version) + "." + kind;
}

export function infoKey(module: string, version: string): string {
  return versionKey(module, version, "info");
}

export function modKey(module: string, version: string): string {
  return versionKey(module, version, "mod");
}

export function zipKey(module: string, version: string): string {
  return versionKey(module, version, "zip");
}

/**
 * The module, kind and version a key stands for, or undefined when the key is
 * not in the layout (e.g. `.ziphash`/`.lock` files of an imported go download
 * cache, or a malformed escape).
 */
export function parseKey(key: string): ParsedKey | undefined {
  try {
    if (key.endsWith("/@latest")) {
      return { module: unescapePath(key.slice(0, -"/@latest".length)), kind: "latest" };
    }
    const at = key.lastIndexOf("/@v/");
    if (at <= 0) return undefined;
    const module = unescapePath(key.slice(0, at));
    const file = key.slice(at + "/@v/".length);
    if (file === "list") return { module, kind: "list" };
    const dot = file.lastIndexOf(".");
    if (dot <= 0) return undefined;
    const ext = file.slice(dot + 1);
    if (ext !== "info" && ext !== "mod" && ext !== "zip") return undefined;
    const version = unescapeVersion(file.slice(0, dot));
    checkStoredVersion(module, version);
    return { module, kind: ext, version };
  } catch {
    // Unescape errors mean "not a layout key"; callers only need the verdict.
    return undefined;
  }
}

/** Versioned .info/.mod/.zip never change once stored; everything else may be replaced. */
export function isImmutableKey(key: string): boolean {
  const at = key.lastIndexOf("/@v/");
  if (at <= 0) return false;
  const file = key.slice(at + "/@v/".length);
  if (file.includes("/")) return false;
  return file.endsWith(".info") || file.endsWith(".mod") || file.endsWith(".zip");
}
