/**
 * Go's dialect of semantic versions (golang.org/x/mod/semver): a mandatory
 * "v" prefix, and the shorthands vMAJOR and vMAJOR.MINOR (nothing after them)
 * standing for vMAJOR.0.0 and vMAJOR.MINOR.0. Pure functions; every one
 * treats an invalid version the way Go does (empty answers, sorts lowest).
 */

import { compareGoStrings } from "./go-string.ts";

interface Parsed {
  major: string;
  minor: string;
  patch: string;
  /** What Canonical appends to a shorthand: ".0.0", ".0" or "". */
  short: string;
  /** "-pre.1" including the dash, or "". */
  prerelease: string;
  /** "+meta" including the plus, or "". */
  build: string;
}

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_DOT = 0x2e;
const CH_DASH = 0x2d;
const CH_PLUS = 0x2b;

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

/** [0-9A-Za-z-], the identifier alphabet of prerelease and build fields. */
function isIdentChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || isDigit(c) || c === CH_DASH;
}

/** End index of a decimal number without leading zeros starting at i, or -1. */
function scanInt(v: string, i: number): number {
  if (i >= v.length || !isDigit(v.charCodeAt(i))) return -1;
  const start = i;
  i++;
  while (i < v.length && isDigit(v.charCodeAt(i))) i++;
  if (v.charCodeAt(start) === CH_0 && i - start !== 1) return -1;
  return i;
}

/** True for an all-digit identifier with a leading zero (forbidden in prereleases). */
function isBadNum(v: string, start: number, end: number): boolean {
  if (end - start <= 1 || v.charCodeAt(start) !== CH_0) return false;
  for (let i = start; i < end; i++) if (!isDigit(v.charCodeAt(i))) return false;
  return true;
}

/** End index of "-ident(.ident)*" starting at i (v[i] is '-'), or -1. */
function scanPrerelease(v: string, i: number): number {
  i++;
  let start = i;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === CH_PLUS) break;
    if (c === CH_DOT) {
      if (start === i || isBadNum(v, start, i)) return -1;
      start = i + 1;
    } else if (!isIdentChar(c)) {
      return -1;
    }
  }
  if (start === i || isBadNum(v, start, i)) return -1;
  return i;
}

/** True if v.slice(i) (v[i] is '+') is "+ident(.ident)*". */
function isBuild(v: string, i: number): boolean {
  i++;
  let start = i;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === CH_DOT) {
      if (start === i) return false;
      start = i + 1;
    } else if (!isIdentChar(c)) {
      return false;
    }
  }
  return start !== i;
}

function parse(v: string): Parsed | undefined {
  if (v.length === 0 || v.charCodeAt(0) !== 0x76 /* v */) return undefined;
  const majEnd = scanInt(v, 1);
  if (majEnd < 0) return undefined;
  const major = v.slice(1, majEnd);
  if (majEnd === v.length) {
    return { major, minor: "0", patch: "0", short: ".0.0", prerelease: "", build: "" };
  }
  if (v.charCodeAt(majEnd) !== CH_DOT) return undefined;
  const minEnd = scanInt(v, majEnd + 1);
  if (minEnd < 0) return undefined;
  const minor = v.slice(majEnd + 1, minEnd);
  if (minEnd === v.length) {
    return { major, minor, patch: "0", short: ".0", prerelease: "", build: "" };
  }
  if (v.charCodeAt(minEnd) !== CH_DOT) return undefined;
  const patEnd = scanInt(v, minEnd + 1);
  if (patEnd < 0) return undefined;
  const patch = v.slice(minEnd + 1, patEnd);
  let i = patEnd;
  let prerelease = "";
  let build = "";
  if (i < v.length && v.charCodeAt(i) === CH_DASH) {
    const end = scanPrerelease(v, i);
    if (end < 0) return undefined;
    prerelease = v.slice(i, end);
    i = end;
  }
  if (i < v.length && v.charCodeAt(i) === CH_PLUS) {
    if (!isBuild(v, i)) return undefined;
    build = v.slice(i);
    i = v.length;
  }
  if (i !== v.length) return undefined;
  return { major, minor, patch, short: "", prerelease, build };
}

/** Reports whether v is a valid Go semantic version. */
export function isValid(v: string): boolean {
  return parse(v) !== undefined;
}

/** v with missing .MINOR/.PATCH filled in and build metadata dropped; "" if invalid. */
export function canonical(v: string): string {
  const p = parse(v);
  if (p === undefined) return "";
  if (p.build !== "") return v.slice(0, v.length - p.build.length);
  return p.short !== "" ? v + p.short : v;
}

/** "v2" for "v2.1.0"; "" if invalid. */
export function major(v: string): string {
  const p = parse(v);
  return p === undefined ? "" : v.slice(0, 1 + p.major.length);
}

/** "v2.1" for "v2.1.0" (and "v2.0" for "v2"); "" if invalid. */
export function majorMinor(v: string): string {
  const p = parse(v);
  if (p === undefined) return "";
  const i = 1 + p.major.length;
  if (i < v.length) return v.slice(0, i + 1 + p.minor.length);
  return v.slice(0, i) + "." + p.minor;
}

/** "-pre" for "v2.1.0-pre+meta"; "" if none or invalid. */
export function prerelease(v: string): string {
  return parse(v)?.prerelease ?? "";
}

/** "+meta" for "v2.1.0+meta"; "" if none or invalid. */
export function build(v: string): string {
  return parse(v)?.build ?? "";
}

/** True if v is valid and has a prerelease part. */
export function isPrerelease(v: string): boolean {
  return prerelease(v) !== "";
}

function compareInt(x: string, y: string): number {
  if (x === y) return 0;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : 1;
}

function isNum(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** SemVer 2.0 precedence of two prerelease suffixes (each "" or "-a.b"). */
function comparePrerelease(x: string, y: string): number {
  if (x === y) return 0;
  if (x === "") return 1;
  if (y === "") return -1;
  // Both start with '-'; the identifiers follow, separated by dots.
  const xs = x.slice(1).split(".");
  const ys = y.slice(1).split(".");
  const n = Math.min(xs.length, ys.length);
  for (let k = 0; k < n; k++) {
    const dx = xs[k]!;
    const dy = ys[k]!;
    if (dx === dy) continue;
    const nx = isNum(dx);
    const ny = isNum(dy);
    if (nx !== ny) return nx ? -1 : 1;
    if (nx && dx.length !== dy.length) return dx.length < dy.length ? -1 : 1;
    return dx < dy ? -1 : 1;
  }
  if (xs.length === ys.length) return 0;
  return xs.length < ys.length ? -1 : 1;
}

/**
 * -1, 0 or +1 by semantic version precedence. Build metadata is ignored;
 * invalid versions sort below valid ones and equal to each other.
 */
export function compare(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (pa === undefined) return pb === undefined ? 0 : -1;
  if (pb === undefined) return 1;
  return (
    compareInt(pa.major, pb.major) ||
    compareInt(pa.minor, pb.minor) ||
    compareInt(pa.patch, pb.patch) ||
    comparePrerelease(pa.prerelease, pb.prerelease)
  );
}

/** The canonical form of whichever of a, b is greater (b on ties). */
export function max(a: string, b: string): string {
  const ca = canonical(a);
  const cb = canonical(b);
  return compare(ca, cb) > 0 ? ca : cb;
}

/** Orders by precedence, ties broken by Go string (UTF-8 byte) order. */
export function byVersion(a: string, b: string): number {
  const c = compare(a, b);
  if (c !== 0) return c;
  return compareGoStrings(a, b);
}

/** Sorts list in place (semver.Sort order) and returns it. */
export function sort(list: string[]): string[] {
  return list.sort(byVersion);
}
