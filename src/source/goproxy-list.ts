/**
 * Parsing of an upstream list in GOPROXY syntax, with the go command's rules
 * (cmd/go/internal/modfetch/proxy.go, proxyList): entries split on `,` or `|`,
 * trimmed, empty ones skipped; `off` and `direct` end the list; bare host-like
 * entries get `https://`; only http, https and file URLs are accepted.
 */
import { ConfigError } from "../errors.ts";

export const DEFAULT_GOPROXY = "https://proxy.golang.org,direct";

export type ProxySpecKind = "proxy" | "direct" | "off" | "noproxy";

export interface ProxySpec {
  kind: ProxySpecKind;
  /** The proxy URL (scheme added when Go would add it); the keyword for the other kinds. */
  url: string;
  /**
   * True when the entry was followed by `|`: the next entry is tried after any
   * error. Otherwise (`,` or last) only after a not-found (404/410) answer.
   */
  fallBackOnError: boolean;
}

export interface ParseGoproxyOptions {
  /**
   * GONOPROXY-style patterns (goark's --private). When non-empty and the list
   * is not exactly "direct", Go puts a hidden `noproxy` entry first: matching
   * modules are fetched directly and every proxy entry refuses them.
   */
  noproxy?: string;
}

/** Parses a GOPROXY string; throws ConfigError naming the offending entry. */
export function parseGoproxyList(goproxy: string, opts: ParseGoproxyOptions = {}): ProxySpec[] {
  const list: ProxySpec[] = [];
  // Go compares the raw string, so " direct " still gets the noproxy entry.
  if (opts.noproxy !== undefined && opts.noproxy !== "" && goproxy !== "direct") {
    list.push({ kind: "noproxy", url: "noproxy", fallBackOnError: false });
  }

  let rest = goproxy;
  while (rest !== "") {
    let entry: string;
    let fallBackOnError = false;
    const i = rest.search(/[,|]/);
    if (i >= 0) {
      entry = rest.slice(0, i);
      fallBackOnError = rest[i] === "|";
      rest = rest.slice(i + 1);
    } else {
      entry = rest;
      rest = "";
    }
    entry = entry.trim();
    if (entry === "") continue;
    if (entry === "off" || entry === "direct") {
      // Both are final: Go ignores whatever follows them.
      list.push({ kind: entry, url: entry, fallBackOnError: false });
      break;
    }
    list.push({ kind: "proxy", url: normalizeProxyUrl(entry), fallBackOnError });
  }

  if (list.length === 0 || (list.length === 1 && list[0]?.kind === "noproxy")) {
    throw new ConfigError(
      `GOPROXY list ${JSON.stringify(goproxy)} contains no entries; give at least one proxy URL, "direct" or "off"`,
    );
  }
  return list;
}

/**
 * Adds `https://` where Go does (the entry contains `.`, `:` or `/`, does not
 * contain `:/`, and is not an absolute path), then validates the URL as
 * Go's newProxyRepo does.
 */
function normalizeProxyUrl(entry: string): string {
  let raw = entry;
  if (/[.:/]/.test(raw) && !raw.includes(":/") && !raw.startsWith("/")) {
    raw = `https://${raw}`;
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new ConfigError(
      `GOPROXY entry ${JSON.stringify(entry)} has no URL scheme; use an https://, http:// or file:// URL, "direct" or "off"`,
    );
  }
  if (scheme !== "http" && scheme !== "https" && scheme !== "file") {
    throw new ConfigError(
      `GOPROXY entry ${JSON.stringify(entry)} has scheme "${scheme}"; proxy URLs must use https, http or file`,
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new ConfigError(`GOPROXY entry ${JSON.stringify(entry)} is not a valid URL`, { cause: err });
  }
  if (scheme === "file") {
    // Go accepts only scheme and path for file:// proxies.
    if (
      url.host !== "" ||
      url.search !== "" ||
      url.hash !== "" ||
      url.username !== "" ||
      url.password !== ""
    ) {
      throw new ConfigError(
        `GOPROXY entry ${JSON.stringify(entry)} has non-path elements; a file:// proxy URL is file:///absolute/dir`,
      );
    }
  }
  return raw;
}

/** The URL with any password replaced, as Go's url.Redacted does, for names and messages. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  if (url.password === "") return raw;
  url.password = "xxxxx";
  return url.toString();
}
