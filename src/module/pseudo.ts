/**
 * Pseudo-versions (golang.org/x/mod/module/pseudo.go): the versions the go
 * command gives untagged commits, in three forms —
 *   (1) vX.0.0-yyyymmddhhmmss-rev              no earlier tag
 *   (2) vX.Y.(Z+1)-0.yyyymmddhhmmss-rev        latest tag vX.Y.Z
 *   (3) vX.Y.Z-pre.0.yyyymmddhhmmss-rev        latest tag vX.Y.Z-pre
 * (forms 2 and 3 may end in +incompatible) — plus the rules that choose the
 * base tag for a commit and check a requested pseudo-version against it.
 */

import { InvalidVersionError } from "../errors.ts";
import { goQuote } from "./go-string.ts";
import { matchPathMajor, pathMajorPrefix } from "./path.ts";
import * as semver from "./semver.ts";

// Only ever run on strings semver.isValid accepted (ASCII, bounded alphabet),
// and "([^+]*\.)?0\." backtracks at most once per dot, so matching is linear in practice.
const PSEUDO_VERSION_RE =
  /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/** The revision field of a zero pseudo-version (also the form of a 12-hex-digit short hash). */
const ZERO_REV = "000000000000";

function invalidPseudo(v: string, problem: string): InvalidVersionError {
  return new InvalidVersionError(`pseudo-version ${goQuote(v)} invalid: ${problem}`, { version: v });
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Go's Format("20060102150405") of t in UTC. */
export function formatPseudoTimestamp(t: Date): string {
  const ms = t.getTime();
  if (Number.isNaN(ms)) throw new InvalidVersionError("pseudo-version time is not a valid date");
  const y = t.getUTCFullYear();
  const year = y < 0 ? "-" + pad(-y, 4) : pad(y, 4);
  return (
    year +
    pad(t.getUTCMonth() + 1, 2) +
    pad(t.getUTCDate(), 2) +
    pad(t.getUTCHours(), 2) +
    pad(t.getUTCMinutes(), 2) +
    pad(t.getUTCSeconds(), 2)
  );
}

/** The decimal string plus one ("9" → "10"). */
function incDecimal(decimal: string): string {
  let i = decimal.length - 1;
  while (i >= 0 && decimal[i] === "9") i--;
  if (i < 0) return "1" + "0".repeat(decimal.length);
  return (
    decimal.slice(0, i) + String.fromCharCode(decimal.charCodeAt(i) + 1) + "0".repeat(decimal.length - 1 - i)
  );
}

/** The decimal string minus one ("10" → "9"), or "" if it is all zeros. */
function decDecimal(decimal: string): string {
  let i = decimal.length - 1;
  while (i >= 0 && decimal[i] === "0") i--;
  if (i < 0) return "";
  const nines = "9".repeat(decimal.length - 1 - i);
  if (i === 0 && decimal[0] === "1" && decimal.length > 1) return nines;
  return decimal.slice(0, i) + String.fromCharCode(decimal.charCodeAt(i) - 1) + nines;
}

/**
 * Builds a pseudo-version. major is the path's major prefix ("v2"; "" means
 * v0), older the latest reachable tag ("" for none), t the commit time, rev
 * the short revision (12 hex digits for git). Like Go, the inputs are not
 * validated: an invalid older counts as no tag.
 */
export function pseudoVersion(major: string, older: string, t: Date, rev: string): string {
  if (major === "") major = "v0";
  const segment = formatPseudoTimestamp(t) + "-" + rev;
  const build = semver.build(older);
  const base = semver.canonical(older);
  if (base === "") return major + ".0.0-" + segment;
  if (semver.prerelease(base) !== "") return base + ".0." + segment + build;
  const i = base.lastIndexOf(".") + 1;
  return base.slice(0, i) + incDecimal(base.slice(i)) + "-0." + segment + build;
}

/** The placeholder pseudo-version with Go's zero time and an all-zero revision. */
export function zeroPseudoVersion(major: string): string {
  return (major === "" ? "v0" : major) + ".0.0-00010101000000-" + ZERO_REV;
}

/** Reports whether v has the syntax of a pseudo-version. */
export function isPseudoVersion(v: string): boolean {
  let dashes = 0;
  for (let i = 0; i < v.length && dashes < 2; i++) if (v.charCodeAt(i) === 0x2d) dashes++;
  return dashes >= 2 && semver.isValid(v) && PSEUDO_VERSION_RE.test(v);
}

/** Reports whether v is exactly zeroPseudoVersion(its major). */
export function isZeroPseudoVersion(v: string): boolean {
  return v === zeroPseudoVersion(semver.major(v));
}

export interface PseudoVersionParts {
  /** "vX.0.0", "vX.Y.(Z+1)-0" or "vX.Y.Z-pre.0". */
  base: string;
  /** The 14-digit yyyymmddhhmmss field. */
  timestamp: string;
  rev: string;
  /** "" or the build suffix such as "+incompatible". */
  build: string;
}

function splitPseudo(v: string): PseudoVersionParts | undefined {
  if (!isPseudoVersion(v)) return undefined;
  const build = semver.build(v);
  let rest = v.slice(0, v.length - build.length);
  const j = rest.lastIndexOf("-");
  const rev = rest.slice(j + 1);
  rest = rest.slice(0, j);
  const i = rest.lastIndexOf("-");
  const dot = rest.lastIndexOf(".");
  if (dot > i) return { base: rest.slice(0, dot), timestamp: rest.slice(dot + 1), rev, build };
  return { base: rest.slice(0, i), timestamp: rest.slice(i + 1), rev, build };
}

/** Splits a pseudo-version into its fields; throws InvalidVersionError if v is not one. */
export function parsePseudoVersion(v: string): PseudoVersionParts {
  const parts = splitPseudo(v);
  if (parts === undefined) throw invalidPseudo(v, "syntax error");
  return parts;
}

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The time a 14-digit timestamp names, or a problem; the ranges are those Go's time.Parse enforces. */
function timestampTime(timestamp: string): Date | string {
  const num = (a: number, b: number) => Number(timestamp.slice(a, b));
  const year = num(0, 4);
  const month = num(4, 6);
  const day = num(6, 8);
  const hour = num(8, 10);
  const minute = num(10, 12);
  const second = num(12, 14);
  const monthDays = month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) {
    return `malformed time ${goQuote(timestamp)}`;
  }
  const t = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  t.setUTCFullYear(year, month - 1, day);
  t.setUTCHours(hour, minute, second, 0);
  return t;
}

/** The commit time inside pseudo-version v (UTC); throws if v is not one or the time is impossible. */
export function pseudoVersionTime(v: string): Date {
  const t = timestampTime(parsePseudoVersion(v).timestamp);
  if (typeof t === "string") throw invalidPseudo(v, t);
  return t;
}

/** The revision field of pseudo-version v; throws if v is not one. */
export function pseudoVersionRev(v: string): string {
  return parsePseudoVersion(v).rev;
}

/** The base tag of a parsed pseudo-version, or a problem. */
function baseOf({ base, build }: PseudoVersionParts): string | { problem: string } {
  const pre = semver.prerelease(base);
  if (pre === "") {
    // No base tag, yet +incompatible claims a tag of an incompatible major: contradictory.
    if (build !== "") return { problem: `lacks base version, but has build metadata ${goQuote(build)}` };
    return "";
  }
  if (pre === "-0") {
    const release = base.slice(0, base.length - pre.length);
    const i = release.lastIndexOf(".");
    const patch = decDecimal(release.slice(i + 1));
    if (patch === "") return { problem: `version before ${release} would have negative patch number` };
    return release.slice(0, i + 1) + patch + build;
  }
  // Form (3): base is "vX.Y.Z-pre.0".
  return base.slice(0, -".0".length) + build;
}

/**
 * The tag pseudo-version v was derived from ("" for form 1), keeping a
 * build suffix such as +incompatible; throws for non-pseudo-versions and the
 * impossible shapes vX.0.0-T-rev+build and vX.Y.0-0.T-rev.
 */
export function pseudoVersionBase(v: string): string {
  const base = baseOf(parsePseudoVersion(v));
  if (typeof base !== "string") throw invalidPseudo(v, base.problem);
  return base;
}

// ---- Choosing and checking the pseudo-version of a commit (modfetch's coderepo rules) ----

export interface TagVersion {
  /** The canonical version the tag names, or "" if it names none usable. */
  version: string;
  /** True if the tag (after the prefix) is exactly that canonical version. */
  canonical: boolean;
}

/**
 * The version a repository tag names for a module whose tags carry
 * tagPrefix ("" or "sub/dir/"). Tags that look like pseudo-versions, and
 * shorthand tags like v1 or v1.2, name nothing; v1.2.3+meta names v1.2.3
 * but is not canonical. An explicit "+incompatible" on a tag is not kept.
 */
export function tagToVersion(tag: string, tagPrefix = ""): TagVersion {
  if (!tag.startsWith(tagPrefix)) return { version: "", canonical: false };
  const trimmed = tag.slice(tagPrefix.length);
  // Go tests the whole tag here, prefix included.
  if (isPseudoVersion(tag)) return { version: "", canonical: false };
  const v = semver.canonical(trimmed);
  if (v === "" || !trimmed.startsWith(v)) return { version: "", canonical: false };
  return { version: v, canonical: v === trimmed };
}

export interface CommitVersionRules {
  /** The module path's major suffix ("", "/v2", ".v1", ...). */
  pathMajor: string;
  /** "" or the module's directory in the repository plus "/". */
  tagPrefix?: string;
  /** Versions retracted by the module's latest go.mod; they are never chosen. */
  isRetracted?: (version: string) => boolean;
  /**
   * Whether version (of a major the path does not allow) may be used as
   * +incompatible: only for unsuffixed paths at the repository root with no
   * go.mod (nor vN/go.mod). Defaults to never.
   */
  canUseIncompatible?: (version: string) => boolean;
}

function allowed(v: string, rules: CommitVersionRules): boolean {
  if (v === "") return false;
  if (!matchPathMajor(v, rules.pathMajor) && !(rules.canUseIncompatible?.(v) ?? false)) return false;
  return !(rules.isRetracted?.(v) ?? false);
}

/**
 * The base for a new pseudo-version: among the tags merged into the commit
 * (git for-each-ref --merged), the highest allowed one, as a canonical
 * version; "" when none qualifies (form 1).
 */
export function pseudoVersionBaseFromTags(ancestorTags: Iterable<string>, rules: CommitVersionRules): string {
  const prefix = rules.tagPrefix ?? "";
  let highest = "";
  for (const tag of ancestorTags) {
    if (!tag.startsWith(prefix)) continue;
    if (!allowed(tagToVersion(tag, prefix).version, rules)) continue;
    const semtag = tag.slice(prefix.length);
    if (semver.compare(semtag, highest) > 0) highest = semtag;
  }
  return highest === "" ? "" : tagToVersion(prefix + highest, prefix).version;
}

/**
 * The version the go command assigns to a commit: its highest allowed
 * canonical tag if it has one, else a pseudo-version on the latest allowed
 * ancestor tag, with +incompatible added when that base's major needs it.
 */
export function commitVersion(
  commit: { time: Date; short: string; tags: Iterable<string>; ancestorTags: Iterable<string> },
  rules: CommitVersionRules,
): string {
  const prefix = rules.tagPrefix ?? "";
  let highestCanonical = "";
  for (const tag of commit.tags) {
    const { version, canonical } = tagToVersion(tag, prefix);
    if (canonical && semver.compare(highestCanonical, version) < 0 && allowed(version, rules)) {
      highestCanonical = version;
    }
  }
  let v = highestCanonical;
  if (v === "") {
    const base = pseudoVersionBaseFromTags(commit.ancestorTags, rules);
    v = pseudoVersion(pathMajorPrefix(rules.pathMajor), base, commit.time, commit.short);
  }
  if (!matchPathMajor(v, rules.pathMajor)) v += "+incompatible";
  return v;
}

/**
 * Checks a requested pseudo-version against the commit it names, as far as
 * that needs no repository walk: the revision and time must be exactly the
 * commit's, a base must not be a canonical tag on the commit itself, and
 * with no base an unsuffixed path must use v0. Returns the base ("" if none),
 * which the caller must still find as a tag that is an ancestor of the commit.
 */
export function checkPseudoVersionCommit(
  modulePath: string,
  version: string,
  commit: { time: Date; short: string; tags: Iterable<string> },
  rules: { pathMajor: string; tagPrefix?: string },
): string {
  const problem = pseudoCommitProblem(version, commit, rules);
  if (typeof problem === "string") return problem;
  throw new InvalidVersionError(`${modulePath}@${version}: invalid pseudo-version: ${problem.problem}`, {
    module: modulePath,
    version,
  });
}

function pseudoCommitProblem(
  version: string,
  commit: { time: Date; short: string; tags: Iterable<string> },
  rules: { pathMajor: string; tagPrefix?: string },
): string | { problem: string } {
  const parts = splitPseudo(version);
  if (parts === undefined) return { problem: "syntax error" };
  const { rev } = parts;
  const short = commit.short;
  if (rev !== short) {
    if (rev.startsWith(short)) return { problem: `revision is longer than canonical (expected ${short})` };
    if (short.startsWith(rev)) return { problem: `revision is shorter than canonical (expected ${short})` };
    return { problem: `does not match short name of revision (expected ${short})` };
  }
  const t = timestampTime(parts.timestamp);
  if (typeof t === "string") return { problem: t };
  if (t.getTime() !== Math.floor(commit.time.getTime() / 1000) * 1000) {
    return {
      problem: `does not match version-control timestamp (expected ${formatPseudoTimestamp(commit.time)})`,
    };
  }
  const trimmed = version.endsWith("+incompatible") ? version.slice(0, -"+incompatible".length) : version;
  const trimmedParts = splitPseudo(trimmed);
  if (trimmedParts === undefined) return { problem: "syntax error" };
  const base = baseOf(trimmedParts);
  if (typeof base !== "string") return base;
  if (base === "") {
    if (rules.pathMajor === "" && semver.major(version) === "v1") {
      return { problem: "major version without preceding tag must be v0, not v1" };
    }
    return "";
  }
  const prefix = rules.tagPrefix ?? "";
  for (const tag of commit.tags) {
    const versionOnly = tag.startsWith(prefix) ? tag.slice(prefix.length) : tag;
    if (versionOnly === base) {
      return {
        problem: `tag (${tag}) found on revision ${rev} is already canonical, so should not be replaced with a pseudo-version derived from that tag`,
      };
    }
  }
  return base;
}
