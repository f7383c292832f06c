/**
 * Module paths, import paths and file paths under Go's exact rules
 * (golang.org/x/mod/module), their major-version suffixes, the
 * "!"-for-upper-case escaping used in proxy URLs and cache file names, and
 * GOPRIVATE-style prefix patterns. Error texts follow Go's wording.
 */

import { InvalidPathError, InvalidVersionError } from "../errors.ts";
import { compareGoStrings, goQuote, goQuoteRune, isValidUTF8 } from "./go-string.ts";
import * as semver from "./semver.ts";

const MODULE = 0;
const IMPORT = 1;
const FILE = 2;
type Kind = typeof MODULE | typeof IMPORT | typeof FILE;
const KIND_NAMES = ["module", "import", "file"] as const;

/** ASCII characters allowed in path elements, one table per kind. */
const ASCII_OK: readonly Uint8Array[] = (() => {
  const tables = [new Uint8Array(128), new Uint8Array(128), new Uint8Array(128)];
  const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const extra = ["-._~", "-._~+", "!#$%&()+,-.=@[]^_{}~ "];
  for (let k = 0; k < 3; k++) {
    for (const ch of alnum + extra[k]) tables[k]![ch.charCodeAt(0)] = 1;
  }
  return tables;
})();

/** The first element of a module path is a lower-case LDH domain name. */
function firstElemOK(c: number): boolean {
  return c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a);
}

// Go's unicode.IsLetter. For every code point assigned in Unicode 13 (Go 1.19)
// this agrees exactly (checked over all of them); Node 20 knows newer Unicode,
// so letters assigned since (current Go has 15.0) are accepted here. Erring
// toward the newer, larger set keeps the proxy from refusing files a newer go
// command accepts.
const LETTER = /^\p{L}$/u;

/** Reserved device names on Windows, matched case-insensitively before the first dot. */
const WINDOWS_RESERVED = new Set([
  "CON",
  "PRN",
  "AUX",
  "NUL",
  ...["COM", "LPT"].flatMap((p) => [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => p + n)),
]);

/** Whether s[start:end] is a reserved name. */
function isReservedOnWindows(s: string, start: number, end: number): boolean {
  // The names are 3-4 ASCII characters, and no non-ASCII rune case-folds onto
  // their letters, so ASCII upper-casing matches Go's strings.EqualFold here.
  const n = end - start;
  if (n < 3 || n > 4) return false;
  let up = "";
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    up += String.fromCharCode(c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  }
  return WINDOWS_RESERVED.has(up);
}

/** Why the path element s[start:end] is invalid, or undefined if it is fine. */
function elemProblem(s: string, start: number, end: number, kind: Kind): string | undefined {
  if (start === end) return "empty path element";
  let firstDot = -1;
  let tilde = -1;
  let allDots = true;
  const table = ASCII_OK[kind]!;
  let badChar = -1;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (firstDot < 0) firstDot = i;
      continue;
    }
    allDots = false;
    if (c === 0x7e && firstDot < 0) tilde = i;
    if (badChar >= 0) continue;
    if (c < 0x80) {
      if (table[c] === 0) badChar = c;
      continue;
    }
    const r = s.codePointAt(i)!;
    if (r > 0xffff) i++;
    // Only file names admit non-ASCII, and only letters (Go's unicode.IsLetter).
    // A lone surrogate stands for invalid UTF-8, which Go sees as U+FFFD: not a letter.
    if (kind !== FILE || (r >= 0xd800 && r <= 0xdfff) || !LETTER.test(String.fromCodePoint(r))) badChar = r;
  }
  // Go's order of checks: dots first, then characters, then Windows names.
  if (allDots) return `invalid path element ${goQuote(s.slice(start, end))}`;
  if (kind === MODULE && s.charCodeAt(start) === 0x2e) return "leading dot in path element";
  if (s.charCodeAt(end - 1) === 0x2e) return "trailing dot in path element";
  if (badChar >= 0) return `invalid char ${goQuoteRune(badChar)}`;

  const shortEnd = firstDot < 0 ? end : firstDot;
  if (isReservedOnWindows(s, start, shortEnd)) {
    return `${goQuote(s.slice(start, shortEnd))} disallowed as path element component on Windows`;
  }

  // Windows 8.3 short names (EXAMPL~1) could alias other paths; file names are exempt.
  if (kind !== FILE && tilde >= 0 && tilde < shortEnd - 1) {
    for (let i = tilde + 1; i < shortEnd; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return undefined;
    }
    return "trailing tilde and digits in path element";
  }
  return undefined;
}

/** The rules shared by module, import and file paths. */
function pathProblem(path: string, kind: Kind): string | undefined {
  if (!isValidUTF8(path)) return "invalid UTF-8";
  if (path === "") return "empty string";
  if (kind !== FILE && path.charCodeAt(0) === 0x2d) return "leading dash";
  if (path.includes("//")) return "double slash";
  if (path.charCodeAt(path.length - 1) === 0x2f) return "trailing slash";
  let start = 0;
  for (;;) {
    const slash = path.indexOf("/", start);
    const problem = elemProblem(path, start, slash < 0 ? path.length : slash, kind);
    if (problem !== undefined) return problem;
    if (slash < 0) return undefined;
    start = slash + 1;
  }
}

function modulePathProblem(path: string): string | undefined {
  const problem = pathProblem(path, MODULE);
  if (problem !== undefined) return problem;
  let end = path.indexOf("/");
  if (end < 0) end = path.length;
  if (end === 0) return "leading slash";
  const dot = path.indexOf(".");
  if (dot < 0 || dot >= end) return "missing dot in first path element";
  if (path.charCodeAt(0) === 0x2d) return "leading dash in first path element";
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (!firstElemOK(c)) return `invalid char ${goQuoteRune(path.codePointAt(i)!)} in first path element`;
  }
  if (!splitPathVersion(path).ok) return "invalid version";
  return undefined;
}

function malformed(kind: Kind, path: string, problem: string): InvalidPathError {
  const message = `malformed ${KIND_NAMES[kind]} path ${goQuote(path)}: ${problem}`;
  return new InvalidPathError(message, kind === MODULE ? { module: path } : { path });
}

/**
 * Checks a module path: an import path whose first element is a lower-case
 * domain name with a dot, with no leading dots in any element, and a valid
 * major-version suffix (/vN, N ≥ 2, or gopkg.in's .vN).
 */
export function checkPath(path: string): void {
  const problem = modulePathProblem(path);
  if (problem !== undefined) throw malformed(MODULE, path, problem);
}

/** Checks an import path: ASCII letters, digits and -._~+ in non-empty elements. */
export function checkImportPath(path: string): void {
  const problem = pathProblem(path, IMPORT);
  if (problem !== undefined) throw malformed(IMPORT, path, problem);
}

/**
 * Checks a slash-separated file path (as in module zips): like an import path,
 * but any Unicode letter, space and !#$%&()+,-.=@[]^_{}~ are allowed, as are
 * leading dots and dashes and Windows short-name look-alikes.
 */
export function checkFilePath(path: string): void {
  const problem = pathProblem(path, FILE);
  if (problem !== undefined) throw malformed(FILE, path, problem);
}

/** checkPath without the throw. */
export function isValidModulePath(path: string): boolean {
  return modulePathProblem(path) === undefined;
}

/** checkImportPath without the throw. */
export function isValidImportPath(path: string): boolean {
  return pathProblem(path, IMPORT) === undefined;
}

/** checkFilePath without the throw. */
export function isValidFilePath(path: string): boolean {
  return pathProblem(path, FILE) === undefined;
}

export interface PathVersionSplit {
  /** The path without its major-version suffix. */
  prefix: string;
  /** "", "/vN" (N ≥ 2), or for gopkg.in ".vN" / ".vN-unstable". */
  pathMajor: string;
  /** False when the last element looks like a suffix but breaks the rules (/v1, /v0, /v02, /v1.2). */
  ok: boolean;
}

function isDigitCode(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Go's SplitPathVersion: prefix + pathMajor === path. */
export function splitPathVersion(path: string): PathVersionSplit {
  if (path.startsWith("gopkg.in/")) return splitGopkgIn(path);
  let i = path.length;
  let dot = false;
  while (i > 0) {
    const c = path.charCodeAt(i - 1);
    if (c === 0x2e) dot = true;
    else if (!isDigitCode(c)) break;
    i--;
  }
  if (i <= 1 || i === path.length || path[i - 1] !== "v" || path[i - 2] !== "/") {
    return { prefix: path, pathMajor: "", ok: true };
  }
  const pathMajor = path.slice(i - 2);
  if (dot || pathMajor.length <= 2 || pathMajor[2] === "0" || pathMajor === "/v1") {
    return { prefix: path, pathMajor: "", ok: false };
  }
  return { prefix: path.slice(0, i - 2), pathMajor, ok: true };
}

/** gopkg.in paths must end in .vN (no leading zero except .v0), optionally -unstable. */
function splitGopkgIn(path: string): PathVersionSplit {
  let i = path.length;
  if (path.endsWith("-unstable")) i -= "-unstable".length;
  while (i > 0 && isDigitCode(path.charCodeAt(i - 1))) i--;
  if (i <= 1 || path[i - 1] !== "v" || path[i - 2] !== ".") {
    return { prefix: path, pathMajor: "", ok: false };
  }
  const pathMajor = path.slice(i - 2);
  if (pathMajor.length <= 2 || (pathMajor[2] === "0" && pathMajor !== ".v0")) {
    return { prefix: path, pathMajor: "", ok: false };
  }
  return { prefix: path.slice(0, i - 2), pathMajor, ok: true };
}

/** Why version v does not fit pathMajor, or undefined if it does. */
function pathMajorProblem(v: string, pathMajor: string): string | undefined {
  if (pathMajor.startsWith(".v") && pathMajor.endsWith("-unstable")) {
    pathMajor = pathMajor.slice(0, -"-unstable".length);
  }
  // Old go commands made v0.0.0- pseudo-versions for gopkg.in .v1 paths; those still appear in go.mod files.
  if (v.startsWith("v0.0.0-") && pathMajor === ".v1") return undefined;
  const m = semver.major(v);
  let want = pathMajor;
  if (pathMajor === "") {
    if (m === "v0" || m === "v1" || semver.build(v) === "+incompatible") return undefined;
    want = "v0 or v1";
  } else if (pathMajor[0] === "/" || pathMajor[0] === ".") {
    if (m === pathMajor.slice(1)) return undefined;
    want = pathMajor.slice(1);
  }
  return `should be ${want}, not ${m}`;
}

/** Throws InvalidVersionError unless version v is allowed for a path with suffix pathMajor. */
export function checkPathMajor(v: string, pathMajor: string): void {
  const problem = pathMajorProblem(v, pathMajor);
  if (problem !== undefined) {
    throw new InvalidVersionError(`version ${goQuote(v)} invalid: ${problem}`, { version: v });
  }
}

/** checkPathMajor without the throw (Go's MatchPathMajor). */
export function matchPathMajor(v: string, pathMajor: string): boolean {
  return pathMajorProblem(v, pathMajor) === undefined;
}

/** The major-version tag prefix ("v2") a pathMajor implies; "" allows v0 or v1. */
export function pathMajorPrefix(pathMajor: string): string {
  if (pathMajor === "") return "";
  if (pathMajor[0] !== "/" && pathMajor[0] !== ".") {
    throw new InvalidPathError(`path major suffix ${goQuote(pathMajor)} lacks a separator`);
  }
  if (pathMajor.startsWith(".v") && pathMajor.endsWith("-unstable")) {
    pathMajor = pathMajor.slice(0, -"-unstable".length);
  }
  const m = pathMajor.slice(1);
  if (m !== semver.major(m)) {
    throw new InvalidPathError(`path major suffix ${goQuote(pathMajor)} is not a valid major version`);
  }
  return m;
}

/**
 * Go's module.Check: a valid module path, a valid semantic version, and the
 * two agreeing on the major version.
 */
export function check(path: string, version: string): void {
  checkPath(path);
  if (!semver.isValid(version)) {
    throw new InvalidVersionError(`${path}@${version}: invalid version: not a semantic version`, {
      module: path,
      version,
    });
  }
  const problem = pathMajorProblem(version, splitPathVersion(path).pathMajor);
  if (problem !== undefined) {
    throw new InvalidVersionError(`${path}@${version}: invalid version: ${problem}`, {
      module: path,
      version,
    });
  }
}

/** semver.canonical, but keeping a "+incompatible" suffix. */
export function canonicalVersion(v: string): string {
  const cv = semver.canonical(v);
  return semver.build(v) === "+incompatible" ? cv + "+incompatible" : cv;
}

export interface ModuleVersion {
  path: string;
  version: string;
}

/**
 * Sorts in place by path, then version by semver precedence; a "/suffix"
 * on a version (as in go.sum's "v1.0.0/go.mod") breaks ties by string order.
 */
export function sortModuleVersions<T extends ModuleVersion>(list: T[]): T[] {
  return list.sort((a, b) => {
    if (a.path !== b.path) return compareGoStrings(a.path, b.path);
    let vi = a.version;
    let vj = b.version;
    let fi = "";
    let fj = "";
    const ki = vi.indexOf("/");
    if (ki >= 0) [vi, fi] = [vi.slice(0, ki), vi.slice(ki)];
    const kj = vj.indexOf("/");
    if (kj >= 0) [vj, fj] = [vj.slice(0, kj), vj.slice(kj)];
    if (vi !== vj) {
      // Go's less() is "Compare < 0", so semver-equal but different strings keep their order.
      return semver.compare(vi, vj);
    }
    return compareGoStrings(fi, fj);
  });
}

/** Replaces each upper-case ASCII letter X by "!x"; undefined if s holds "!" or non-ASCII. */
function escapeString(s: string): string | undefined {
  let haveUpper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x21 || c >= 0x80) return undefined;
    if (c >= 0x41 && c <= 0x5a) haveUpper = true;
  }
  if (!haveUpper) return s;
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      parts.push(s.slice(from, i), "!", String.fromCharCode(c + 0x20));
      from = i + 1;
    }
  }
  parts.push(s.slice(from));
  return parts.join("");
}

/** Inverse of escapeString; undefined for non-ASCII, upper case, or "!" not before a-z. */
function unescapeString(escaped: string): string | undefined {
  let bangs = 0;
  for (let i = 0; i < escaped.length; i++) {
    const c = escaped.charCodeAt(i);
    if (c >= 0x80 || (c >= 0x41 && c <= 0x5a)) return undefined;
    if (c === 0x21) {
      const next = escaped.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0x61 && next <= 0x7a)) return undefined;
      bangs++;
      i++;
    }
  }
  if (bangs === 0) return escaped;
  const parts: string[] = [];
  let from = 0;
  for (let i = escaped.indexOf("!"); i >= 0; i = escaped.indexOf("!", from)) {
    parts.push(escaped.slice(from, i), String.fromCharCode(escaped.charCodeAt(i + 1) - 0x20));
    from = i + 2;
  }
  parts.push(escaped.slice(from));
  return parts.join("");
}

const INCONSISTENT = "internal error: inconsistency in EscapePath";

/** The case-escaped form of a module path, for URLs and file names. Validates the path first. */
export function escapePath(path: string): string {
  checkPath(path);
  const escaped = escapeString(path);
  // checkPath admits only ASCII without "!", so this cannot happen; kept as Go keeps it.
  if (escaped === undefined)
    throw new InvalidPathError(`${INCONSISTENT}: ${goQuote(path)}`, { module: path });
  return escaped;
}

/**
 * The case-escaped form of a version. Any valid file-name element without
 * "!" is accepted (branch names too); non-ASCII letters are refused as Go does.
 */
export function escapeVersion(v: string): string {
  if (elemProblem(v, 0, v.length, FILE) !== undefined || v.includes("!")) {
    throw new InvalidVersionError(`version ${goQuote(v)} invalid: disallowed version string`, { version: v });
  }
  const escaped = escapeString(v);
  if (escaped === undefined) throw new InvalidVersionError(`${INCONSISTENT}: ${goQuote(v)}`, { version: v });
  return escaped;
}

/** The module path an escaped path stands for; throws if the escaping or the path is invalid. */
export function unescapePath(escaped: string): string {
  const path = unescapeString(escaped);
  if (path === undefined) {
    throw new InvalidPathError(`invalid escaped module path ${goQuote(escaped)}`, { module: escaped });
  }
  const problem = modulePathProblem(path);
  if (problem !== undefined) {
    throw new InvalidPathError(
      `invalid escaped module path ${goQuote(escaped)}: malformed module path ${goQuote(path)}: ${problem}`,
      { module: path },
    );
  }
  return path;
}

/** The version an escaped version stands for; throws if the escaping or the result is invalid. */
export function unescapeVersion(escaped: string): string {
  const v = unescapeString(escaped);
  if (v === undefined) {
    throw new InvalidVersionError(`invalid escaped version ${goQuote(escaped)}`, { version: escaped });
  }
  const problem = elemProblem(v, 0, v.length, FILE);
  if (problem !== undefined) {
    throw new InvalidVersionError(`invalid escaped version ${goQuote(v)}: ${problem}`, { version: v });
  }
  return v;
}

// ---- GOPRIVATE-style prefix patterns (Go's path.Match on UTF-8 bytes) ----

const encoder = new TextEncoder();
const STAR = 0x2a;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const RUNE_ERROR = 0xfffd;

/** Go's utf8.DecodeRune on b[i:]: [rune, width]; invalid bytes decode as U+FFFD, width 1. */
function decodeRune(b: Uint8Array, i: number, end: number): [number, number] {
  const c0 = b[i]!;
  if (c0 < 0x80) return [c0, 1];
  let need: number;
  let r: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    need = 1;
    r = c0 & 0x1f;
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    need = 2;
    r = c0 & 0x0f;
    if (c0 === 0xe0) lo = 0xa0;
    else if (c0 === 0xed) hi = 0x9f;
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    need = 3;
    r = c0 & 0x07;
    if (c0 === 0xf0) lo = 0x90;
    else if (c0 === 0xf4) hi = 0x8f;
  } else {
    return [RUNE_ERROR, 1];
  }
  if (i + need >= end) return [RUNE_ERROR, 1];
  for (let k = 1; k <= need; k++) {
    const c = b[i + k]!;
    if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return [RUNE_ERROR, 1];
    r = (r << 6) | (c & 0x3f);
  }
  return [r, need + 1];
}

class BadPattern {}
const BAD = new BadPattern();

/** Splits off the next "*"-led chunk: [star, chunkStart, chunkEnd]; chunkEnd is where the rest starts. */
function scanChunk(p: Uint8Array, i: number, end: number): [boolean, number, number] {
  let star = false;
  while (i < end && p[i] === STAR) {
    i++;
    star = true;
  }
  const start = i;
  let inRange = false;
  for (; i < end; i++) {
    const c = p[i];
    if (c === BACKSLASH) {
      if (i + 1 < end) i++;
    } else if (c === LBRACK) inRange = true;
    else if (c === RBRACK) inRange = false;
    else if (c === STAR && !inRange) break;
  }
  return [star, start, i];
}

/** Reads one possibly escaped class character at p[i]; returns [rune, next] or BAD. */
function getEsc(p: Uint8Array, i: number, end: number): [number, number] | BadPattern {
  if (i >= end || p[i] === 0x2d || p[i] === RBRACK) return BAD;
  if (p[i] === BACKSLASH) {
    i++;
    if (i >= end) return BAD;
  }
  const [r, n] = decodeRune(p, i, end);
  if (r === RUNE_ERROR && n === 1) return BAD;
  if (i + n >= end) return BAD;
  return [r, i + n];
}

/**
 * Matches chunk p[cs:ce] at the start of s[si:]; returns the index after the
 * match, -1 for no match, or BAD when the chunk is malformed. Like Go, keeps
 * checking the chunk's syntax after a mismatch.
 */
function matchChunk(p: Uint8Array, cs: number, ce: number, s: Uint8Array, si: number): number | BadPattern {
  let failed = false;
  const send = s.length;
  let c = cs;
  while (c < ce) {
    if (!failed && si >= send) failed = true;
    const pc = p[c]!;
    if (pc === LBRACK) {
      let r = 0;
      if (!failed) {
        const [rr, n] = decodeRune(s, si, send);
        r = rr;
        si += n;
      }
      c++;
      let negated = false;
      if (c < ce && p[c] === 0x5e) {
        negated = true;
        c++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (c < ce && p[c] === RBRACK && nrange > 0) {
          c++;
          break;
        }
        const lo = getEsc(p, c, ce);
        if (lo instanceof BadPattern) return BAD;
        c = lo[1];
        let hi = lo[0];
        if (p[c] === 0x2d) {
          const h = getEsc(p, c + 1, ce);
          if (h instanceof BadPattern) return BAD;
          hi = h[0];
          c = h[1];
        }
        if (lo[0] <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (pc === 0x3f) {
      if (!failed) {
        if (s[si] === SLASH) failed = true;
        si += decodeRune(s, si, send)[1];
      }
      c++;
    } else {
      if (pc === BACKSLASH) {
        c++;
        if (c >= ce) return BAD;
      }
      if (!failed) {
        if (p[c] !== s[si]) failed = true;
        si++;
      }
      c++;
    }
  }
  return failed ? -1 : si;
}

/** Go's path.Match on UTF-8 bytes; a malformed pattern matches nothing. */
function pathMatch(p: Uint8Array, name: Uint8Array): boolean {
  let pi = 0;
  const pend = p.length;
  let ni = 0;
  const nend = name.length;
  pattern: while (pi < pend) {
    const [star, cs, ce] = scanChunk(p, pi, pend);
    pi = ce;
    if (star && cs === ce) {
      // A trailing "*" matches the rest unless it holds a "/".
      return name.indexOf(SLASH, ni) < 0;
    }
    const t = matchChunk(p, cs, ce, name, ni);
    if (typeof t === "number" && t >= 0 && (t === nend || pi < pend)) {
      ni = t;
      continue;
    }
    if (t instanceof BadPattern) return false;
    if (star) {
      for (let i = ni; i < nend && name[i] !== SLASH; i++) {
        const t2 = matchChunk(p, cs, ce, name, i + 1);
        if (typeof t2 === "number" && t2 >= 0) {
          if (pi === pend && t2 < nend) continue;
          ni = t2;
          continue pattern;
        }
        if (t2 instanceof BadPattern) return false;
      }
    }
    return false;
  }
  return ni === nend;
}

let scratch = new Uint8Array(256);

/** target as UTF-8 in a reused buffer (valid until the next call), sparing an allocation per match. */
function utf8Scratch(target: string): Uint8Array {
  if (scratch.length < target.length * 3) scratch = new Uint8Array(target.length * 3);
  const { written } = encoder.encodeInto(target, scratch);
  return scratch.subarray(0, written);
}

/** Go's path.Match(pattern, name), with a malformed pattern matching nothing. */
export function matchGlob(pattern: string, name: string): boolean {
  return pathMatch(encoder.encode(pattern), encoder.encode(name));
}

/**
 * A reusable matcher for a comma-separated glob list in GOPRIVATE /
 * GONOSUMDB / GOINSECURE syntax (Go's module.MatchPrefixPatterns): a glob of
 * N+1 slash-separated elements is path.Match-ed against the first N+1
 * elements of the target. Empty and malformed globs and trailing slashes are ignored.
 */
export function compilePrefixPatterns(globs: string): (target: string) => boolean {
  const compiled: { glob: Uint8Array; slashes: number }[] = [];
  for (let glob of globs.split(",")) {
    if (glob.endsWith("/")) glob = glob.slice(0, -1);
    if (glob === "") continue;
    const bytes = encoder.encode(glob);
    let slashes = 0;
    for (const b of bytes) if (b === SLASH) slashes++;
    compiled.push({ glob: bytes, slashes });
  }
  return (target: string): boolean => {
    if (compiled.length === 0) return false;
    const t = utf8Scratch(target);
    for (const { glob, slashes } of compiled) {
      let n = slashes;
      let end = t.length;
      for (let i = 0; i < t.length; i++) {
        if (t[i] === SLASH) {
          if (n === 0) {
            end = i;
            break;
          }
          n--;
        }
      }
      if (n > 0) continue; // target has fewer elements than the glob
      if (pathMatch(glob, end === t.length ? t : t.subarray(0, end))) return true;
    }
    return false;
  };
}

/** Reports whether some path prefix of target matches a glob in the comma-separated list. */
export function matchPrefixPatterns(globs: string, target: string): boolean {
  return compilePrefixPatterns(globs)(target);
}
