/**
 * go.sum lines: `<path> <version> h1:<base64>` for a module zip and
 * `<path> <version>/go.mod h1:<base64>` for its go.mod, read as the go
 * command's modfetch.readGoSum reads them and written as WriteGoSum writes them.
 */
import { InvalidPathError, InvalidVersionError, ModFileError } from "../errors.ts";
import { compareGoStrings } from "./go-string.ts";
import { sortModuleVersions } from "./path.ts";

export interface GoSumEntry {
  /** Module path, unescaped. */
  path: string;
  /** Version without the "/go.mod" suffix. */
  version: string;
  /** True for the hash of the .mod file (the "/go.mod" lines). */
  goMod: boolean;
  /** The hash field as written, e.g. "h1:…=". */
  hash: string;
}

/**
 * The hash of a one-file tree holding an empty go.mod. An old go command bug
 * wrote these into go.sum for non-modules; the go command drops them on read.
 */
export const EMPTY_GO_MOD_HASH = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=";

const GO_MOD_SUFFIX = "/go.mod";
/** strings.Fields' separators: Unicode White_Space. */
const FIELD_SEP = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const HAS_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** One go.sum line, without a trailing newline. */
export function formatGoSumLine(path: string, version: string, h1: string, goMod: boolean): string {
  // Each field must stay one field: a blank or newline inside would forge extra lines or fields.
  if (path === "" || HAS_SPACE.test(path)) {
    throw new InvalidPathError(
      `go.sum line: module path ${JSON.stringify(path)} is empty or contains white space`,
      {
        module: path,
      },
    );
  }
  if (version === "" || HAS_SPACE.test(version)) {
    throw new InvalidVersionError(
      `go.sum line: version ${JSON.stringify(version)} is empty or contains white space`,
      {
        module: path,
        version,
      },
    );
  }
  if (h1 === "" || HAS_SPACE.test(h1)) {
    throw new ModFileError(
      `go.sum line for ${path}@${version}: hash ${JSON.stringify(h1)} is empty or contains white space`,
      { module: path, version },
    );
  }
  return `${path} ${version}${goMod ? GO_MOD_SUFFIX : ""} ${h1}`;
}

/**
 * Parses go.sum text as the go command does: blank lines are skipped, every
 * other line must have exactly three fields (else ModFileError
 * "go.sum:LINE: …"), and the empty-go.mod hash of an old bug is dropped.
 * Fields are not otherwise checked, so hashes of future algorithms pass through.
 */
export function parseGoSum(text: string | Uint8Array, file = "go.sum"): GoSumEntry[] {
  const s =
    typeof text === "string"
      ? text
      : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("utf8");
  const out: GoSumEntry[] = [];
  let lineno = 0;
  let off = 0;
  while (off < s.length) {
    lineno++;
    let nl = s.indexOf("\n", off);
    if (nl < 0) nl = s.length;
    const line = s.slice(off, nl);
    off = nl + 1;
    const f = line.split(FIELD_SEP).filter((x) => x !== "");
    if (f.length === 0) continue;
    if (f.length !== 3) {
      throw new ModFileError(
        `${file}:${lineno}: malformed go.sum line: wrong number of fields ${f.length} (want 3: path version hash)`,
        { path: file },
      );
    }
    const [path, v, hash] = f as [string, string, string];
    if (hash === EMPTY_GO_MOD_HASH) continue;
    const goMod = v.endsWith(GO_MOD_SUFFIX);
    out.push({ path, version: goMod ? v.slice(0, -GO_MOD_SUFFIX.length) : v, goMod, hash });
  }
  return out;
}

/**
 * A whole go.sum as the go command writes it: entries in module.Sort order
 * (path, then semver, the /go.mod line after the zip line), several hashes of
 * one entry in string order, duplicates once, every line ending in "\n".
 */
export function formatGoSum(entries: readonly GoSumEntry[]): string {
  const byKey = new Map<string, { path: string; version: string; hashes: Set<string> }>();
  for (const e of entries) {
    const version = e.goMod ? e.version + GO_MOD_SUFFIX : e.version;
    const key = `${e.path} ${version}`;
    let slot = byKey.get(key);
    if (slot === undefined) {
      slot = { path: e.path, version, hashes: new Set() };
      byKey.set(key, slot);
    }
    slot.hashes.add(e.hash);
  }
  let out = "";
  for (const slot of sortModuleVersions([...byKey.values()])) {
    const goMod = slot.version.endsWith(GO_MOD_SUFFIX);
    const version = goMod ? slot.version.slice(0, -GO_MOD_SUFFIX.length) : slot.version;
    for (const h of [...slot.hashes].sort(compareGoStrings)) {
      out += formatGoSumLine(slot.path, version, h, goMod) + "\n";
    }
  }
  return out;
}
