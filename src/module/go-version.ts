/**
 * Go toolchain versions ("1.21.0", "1.21rc1", "1.21", "1.20") as the go
 * command orders them (internal/gover, as of Go's current sources), which is not semver: a
 * language version "1.21" sorts before its prereleases and its first release
 * "1.21.0", and before Go 1.21 a missing patch meant ".0". Also the
 * go command's quick textual reading of a go.mod's or go.work's `go` and
 * `toolchain` lines, done before (and without) parsing the file.
 */

interface GoVersion {
  major: string;
  minor: string;
  patch: string;
  /** "", "alpha", "beta", "rc" — any run of non-digits, compared as text. */
  kind: string;
  pre: string;
}

const ZERO: GoVersion = { major: "", minor: "", patch: "", kind: "", pre: "" };

/** A leading decimal without a superfluous leading zero, and the rest. */
function cutInt(x: string): [string, string] | undefined {
  let i = 0;
  while (i < x.length && x.charCodeAt(i) >= 48 && x.charCodeAt(i) <= 57) i++;
  if (i === 0 || (x[0] === "0" && i !== 1)) return undefined;
  return [x.slice(0, i), x.slice(i)];
}

/** Decimal strings compared as numbers (no overflow: lengths first). */
function cmpInt(x: string, y: string): number {
  if (x === y) return 0;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : 1;
}

function parse(text: string): GoVersion {
  const v: GoVersion = { ...ZERO };
  let cut = cutInt(text);
  if (cut === undefined) return ZERO;
  let x: string;
  [v.major, x] = cut;
  if (x === "") {
    // "1" is 1.0.0.
    v.minor = "0";
    v.patch = "0";
    return v;
  }
  if (x[0] !== ".") return ZERO;
  cut = cutInt(x.slice(1));
  if (cut === undefined) return ZERO;
  [v.minor, x] = cut;
  if (x === "") {
    // Before Go 1.21 a missing patch is ".0"; from 1.21 on, "1.N" is the language version.
    if (cmpInt(v.minor, "21") < 0) v.patch = "0";
    return v;
  }
  if (x[0] === ".") {
    cut = cutInt(x.slice(1));
    if (cut === undefined) return ZERO;
    [v.patch, x] = cut;
    // Current Go also reads prereleases of patch releases (1.24.1rc1).
    if (x !== "" && !parsePreRelease(x, v)) return ZERO;
    return v;
  }
  return parsePreRelease(x, v) ? v : ZERO;
}

/** kind (lower-case letters) and an optional number: "rc1", "beta", "testmod". */
function parsePreRelease(x: string, v: GoVersion): boolean {
  let i = 0;
  while (i < x.length && (x.charCodeAt(i) < 48 || x.charCodeAt(i) > 57)) {
    if (x.charCodeAt(i) < 97 || x.charCodeAt(i) > 122) return false;
    i++;
  }
  if (i === 0) return false;
  v.kind = x.slice(0, i);
  const rest = x.slice(i);
  if (rest === "") return true;
  const cut = cutInt(rest);
  if (cut === undefined || cut[1] !== "") return false;
  v.pre = cut[0];
  return true;
}

/** "" < alpha < beta < rc for language versions; a patch release comes after its prereleases. */
function cmpKind(a: GoVersion, b: GoVersion): number {
  if (a.kind === b.kind) return 0;
  if (a.patch !== "") {
    if (a.kind === "") return 1;
    if (b.kind === "") return -1;
  }
  return a.kind < b.kind ? -1 : 1;
}

function isZero(v: GoVersion): boolean {
  return v.major === "" && v.minor === "" && v.patch === "" && v.kind === "" && v.pre === "";
}

/** Whether text is a Go version (no "go" prefix). */
export function isValidGoVersion(text: string): boolean {
  return !isZero(parse(text));
}

/**
 * -1, 0 or +1 as x is older than, the same as, or newer than y. Malformed
 * versions sort before every valid one and equal to each other.
 */
export function compareGoVersions(x: string, y: string): number {
  const a = parse(x);
  const b = parse(y);
  return (
    cmpInt(a.major, b.major) ||
    cmpInt(a.minor, b.minor) ||
    cmpInt(a.patch, b.patch) ||
    cmpKind(a, b) ||
    cmpInt(a.pre, b.pre)
  );
}

/** The newer of two versions (the first when they compare equal). */
export function maxGoVersion(x: string, y: string): string {
  return compareGoVersions(y, x) > 0 ? y : x;
}

/** Whether v names a language version ("1.21") rather than a release ("1.21.0", "1.21rc1"). */
export function isGoLang(text: string): boolean {
  const v = parse(text);
  return !isZero(v) && v.patch === "" && v.kind === "" && v.pre === "";
}

/** The language version of a release: "1.21.3" → "1.21". */
export function goLang(text: string): string {
  const v = parse(text);
  return v.minor === "" || (v.major === "1" && v.minor === "0") ? v.major : `${v.major}.${v.minor}`;
}

export function isGoPrerelease(text: string): boolean {
  return parse(text).kind !== "";
}

/**
 * The Go version a toolchain name stands for: "go1.21.3" → "1.21.3",
 * "go1.21.3-bigcorp" → "1.21.3" (a suffix after "-", space or tab is
 * dropped); "" when the name is not go-prefixed or the version is malformed.
 */
export function goVersionOfToolchain(name: string): string {
  if (!name.startsWith("go")) return "";
  let v = name.slice(2);
  const cut = v.search(/[ \t-]/);
  if (cut >= 0) v = v.slice(0, cut);
  return isValidGoVersion(v) ? v : "";
}

/**
 * The value of the first line of a go.mod or go.work that starts with key
 * followed by a space or tab, comment removed: the go command reads the `go`
 * and `toolchain` lines this way when it picks a toolchain, without parsing
 * the file (so a file that would not parse still selects one). "" if none.
 */
export function goModLookup(text: string, key: "go" | "toolchain"): string {
  for (const raw of text.split("\n")) {
    const line = goTrimSpace(raw);
    if (!line.startsWith(key)) continue;
    const rest = line.slice(key.length);
    if (rest === "" || (rest[0] !== " " && rest[0] !== "\t")) continue;
    const comment = rest.indexOf("//");
    return goTrimSpace(comment >= 0 ? rest.slice(0, comment) : rest);
  }
  return "";
}

// Go's unicode.IsSpace set; JavaScript's trim() also strips U+FEFF, which Go keeps.
const GO_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, "gu");

function goTrimSpace(s: string): string {
  return s.replace(GO_TRIM, "");
}
