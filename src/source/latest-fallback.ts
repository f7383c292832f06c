/**
 * What the go command does when a proxy has no `@latest` (404/410): pick the
 * newest line of `list` by its timestamp (the second field, else the time in a
 * pseudo-version; lines with neither are skipped) and ask for its `.info`
 * (modfetch/proxy.go, latestFromList). Pure: the caller fetches.
 */
import { isPseudoVersion, pseudoVersionTime } from "../module/pseudo.ts";
import { isValid } from "../module/semver.ts";
import type { ListEntry } from "./source.ts";

/** An instant with Go's precision: whole seconds since the Unix epoch plus nanoseconds. */
export interface Instant {
  seconds: number;
  nanos: number;
}

// Go's unicode.IsSpace, which strings.Fields splits on (JS \s differs: it has
// U+FEFF and lacks U+0085).
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Splits a `list` body as the go client does: lines on `\n`, each line into whitespace-separated fields. */
export function splitListLines(text: string): string[][] {
  return text.split("\n").map((line) => line.split(GO_SPACE).filter((f) => f !== ""));
}

/** The entries of a `list` body the go client keeps: valid semver first field; the second field as time. */
export function parseListBody(text: string): ListEntry[] {
  const out: ListEntry[] = [];
  for (const fields of splitListLines(text)) {
    const version = fields[0];
    if (version === undefined || !isValid(version)) continue;
    const time = fields[1];
    out.push(time === undefined ? { version } : { version, time });
  }
  return out;
}

/**
 * The version the go command would pick from `list` lines when `@latest` is
 * missing, or undefined when no line carries a usable time ("no commits").
 * Ties keep the first line, as Go only replaces on a strictly later time.
 */
export function latestFromList(entries: readonly ListEntry[]): string | undefined {
  let best: Instant = GO_ZERO_TIME;
  let bestVersion: string | undefined;
  for (const { version, time } of entries) {
    if (!isValid(version)) continue;
    let t: Instant | undefined;
    if (time !== undefined) {
      // An unparsable timestamp counts as Go's zero time, which never wins.
      t = parseRfc3339(time);
    } else if (isPseudoVersion(version)) {
      t = pseudoInstant(version);
    } else {
      continue;
    }
    if (t !== undefined && compareInstants(best, t) < 0) {
      best = t;
      bestVersion = version;
    }
  }
  return bestVersion;
}

/** latestFromList over a raw `list` body. */
export function latestFromListBody(text: string): string | undefined {
  return latestFromList(parseListBody(text));
}

/** Go's zero time.Time (January 1, year 1, UTC), the starting point Go compares against. */
const GO_ZERO_TIME: Instant = { seconds: -62135596800, nanos: 0 };

export function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  if (a.nanos !== b.nanos) return a.nanos < b.nanos ? -1 : 1;
  return 0;
}

function pseudoInstant(version: string): Instant | undefined {
  try {
    const ms = pseudoVersionTime(version).getTime();
    if (Number.isNaN(ms)) return undefined;
    return { seconds: Math.floor(ms / 1000), nanos: 0 };
  } catch {
    // Go ignores the error and keeps the zero time, which never wins.
    return undefined;
  }
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses a timestamp the way Go 1.19's time.Parse(time.RFC3339, s) accepts it:
 * the hour may have one digit, fractional seconds (`.` or `,`) are allowed,
 * the zone is `Z` or ±hh:mm, and fields are range-checked. Undefined when Go
 * would fail.
 */
export function parseRfc3339(s: string): Instant | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac, z, sign, ohs, oms] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = Number(ss);
  if (month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysIn(month, year)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (z === undefined) {
    offset = (Number(ohs) * 3600 + Number(oms) * 60) * (sign === "-" ? -1 : 1);
  }
  // Go keeps at most nine digits of a fraction (it truncates beyond).
  const nanos = frac === undefined ? 0 : Number(frac.slice(0, 9).padEnd(9, "0"));
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  return { seconds, nanos };
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// algorithm); Date.UTC would map years below 100 to the 1900s.
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
