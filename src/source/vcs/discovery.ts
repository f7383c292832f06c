/**
 * `?go-get=1` discovery (cmd/go/internal/vcs/discovery.go and vcs.go): the
 * go-import meta tags of an HTML page, read leniently up to <body> or
 * </head>, `mod` entries first, and the single tag whose root-path prefixes
 * the import path. Fetching is bounded: only the module's own host, a size
 * cap, same-host redirects only, a deadline, https unless the path is
 * insecure, and no private addresses unless the module is private or insecure.
 */
import { type Dispatcher, request } from "undici";
import { GoarkError, NotFoundError, TimeoutError, UpstreamError } from "../../errors.ts";
import { ProxyRouter } from "../proxy-router.ts";
import { guardedLookup, isPrivateAddress, type LookupFn, type ProxyEnv, usesProxy } from "./net-guard.ts";
import { CERTIFICATE_HINT } from "./tls-trust.ts";

export interface MetaImport {
  prefix: string;
  vcs: string;
  repoRoot: string;
  /** [new] Go 1.25: the fourth field, the repository subdirectory holding prefix. */
  subdir: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (all, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X")) {
      const cp = Number.parseInt(name.slice(2), 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
    }
    if (name.startsWith("#")) {
      const cp = Number.parseInt(name.slice(1), 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
    }
    return ENTITIES[name] ?? all; // non-strict XML keeps unknown entities as written
  });
}

function localName(name: string): string {
  const i = name.indexOf(":");
  return (i >= 0 ? name.slice(i + 1) : name).toLowerCase();
}

/** The attributes of a start tag's inside (after the name), lenient like Go's non-strict XML. */
function parseAttrs(s: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const value = m[2] ?? m[3] ?? m[4] ?? m[1] ?? "";
    out.push({ name: m[1] as string, value: decodeEntities(value) });
  }
  return out;
}

function attrValue(attrs: { name: string; value: string }[], name: string): string {
  for (const a of attrs) if (localName(a.name) === name) return a.value;
  return "";
}

/** Go's parseMetaGoImports (PreferMod): mod entries first, then the others they do not supersede. */
export function parseMetaGoImports(html: string): MetaImport[] {
  const imports: MetaImport[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf("<", i);
    if (lt < 0) break;
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    if (html.startsWith("<![CDATA[", lt)) {
      const end = html.indexOf("]]>", lt);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    const gt = findTagEnd(html, lt + 1);
    if (gt < 0) break;
    const inner = html.slice(lt + 1, gt);
    i = gt + 1;
    if (inner.startsWith("!") || inner.startsWith("?")) continue;
    if (inner.startsWith("/")) {
      if (localName(inner.slice(1).trim()) === "head") break;
      continue;
    }
    const nm = /^([^\s/>]+)/.exec(inner);
    if (!nm) continue;
    const tag = localName(nm[1] as string);
    if (tag === "body") break;
    if (tag !== "meta") continue;
    const attrs = parseAttrs(inner.slice((nm[1] as string).length));
    if (attrValue(attrs, "name") !== "go-import") continue;
    const f = attrValue(attrs, "content")
      .split(/[\t\n\v\f\r ]+/)
      .filter((x) => x !== "");
    if (f.length === 3 || f.length === 4) {
      imports.push({
        prefix: f[0] as string,
        vcs: f[1] as string,
        repoRoot: f[2] as string,
        subdir: f[3] ?? "",
      });
    }
  }
  const have = new Set<string>();
  const list: MetaImport[] = [];
  for (const m of imports) {
    if (m.vcs === "mod") {
      have.add(m.prefix);
      list.push(m);
    }
  }
  for (const m of imports) if (m.vcs !== "mod" && !have.has(m.prefix)) list.push(m);
  return list;
}

function findTagEnd(s: string, from: number): number {
  let quote = "";
  for (let j = from; j < s.length; j++) {
    const c = s[j];
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === ">") {
      return j;
    }
  }
  return -1;
}

/** Go's str.HasPathPrefix. */
function hasPathPrefix(s: string, prefix: string): boolean {
  if (s.length === prefix.length) return s === prefix;
  if (prefix === "") return true;
  if (s.length > prefix.length) {
    if (prefix.endsWith("/")) return s.startsWith(prefix);
    return s[prefix.length] === "/" && s.startsWith(prefix);
  }
  return false;
}

/** Go's matchGoImport: the one tag whose prefix is a path prefix of importPath (a mod entry wins). */
export function matchGoImport(
  imports: MetaImport[],
  importPath: string,
): MetaImport | { error: string; mismatch: boolean } {
  let match = -1;
  const mismatches: string[] = [];
  for (let i = 0; i < imports.length; i++) {
    const im = imports[i] as MetaImport;
    if (!hasPathPrefix(importPath, im.prefix)) {
      mismatches.push(im.prefix);
      continue;
    }
    if (match >= 0) {
      if ((imports[match] as MetaImport).vcs === "mod" && im.vcs !== "mod") break;
      return { error: `multiple meta tags match import path "${importPath}"`, mismatch: false };
    }
    match = i;
  }
  if (match < 0) {
    return {
      error: mismatches.map((p) => `meta tag ${p} did not match import path ${importPath}`).join(", "),
      mismatch: true,
    };
  }
  return imports[match] as MetaImport;
}

export interface DiscoveryOptions {
  /** Plain http allowed (the path matches the insecure patterns). */
  insecure: boolean;
  /** Private addresses allowed (the path matches the private or insecure patterns). */
  allowPrivate: boolean;
  proxy: ProxyEnv;
  /** Authorization header for a host, if configured (per-host token or ~/.netrc). */
  authFor?: (host: string) => string | undefined;
  /** CA certificates that verify https instead of Node's defaults (caFile: the defaults plus extra ones). */
  ca?: readonly string[];
  timeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  signal?: AbortSignal;
  /** Tests: a resolver standing in for DNS. */
  lookup?: LookupFn;
}

export interface FetchedPage {
  url: string;
  status: number;
  body: string;
}

const dispatchers = new Map<string, Dispatcher>();

/**
 * TLS options of discovery: certificate checks off only for a path matching
 * the insecure patterns (GOINSECURE), both for direct connections and for
 * the origin behind an egress proxy's tunnel; otherwise checked, against ca
 * when one is configured.
 */
export function discoveryTls(
  insecure: boolean,
  ca?: readonly string[],
): { rejectUnauthorized?: false; ca?: string[] } {
  if (insecure) return { rejectUnauthorized: false };
  return ca === undefined ? {} : { ca: [...ca] };
}

/** A number per CA list, so dispatchers are shared per list without hashing the certificates. */
const caIds = new WeakMap<readonly string[], number>();
let lastCaId = 0;

function dispatcherFor(
  proxy: ProxyEnv,
  guarded: boolean,
  lookup: LookupFn | undefined,
  insecure: boolean,
  ca: readonly string[] | undefined,
): Dispatcher {
  let caId = 0;
  if (ca !== undefined && !insecure) {
    caId = caIds.get(ca) ?? ++lastCaId;
    caIds.set(ca, caId);
  }
  const key = JSON.stringify([proxy, guarded, lookup !== undefined, insecure, caId]);
  let d = dispatchers.get(key);
  if (d === undefined || lookup !== undefined) {
    const tls = discoveryTls(insecure, ca);
    d = new ProxyRouter(
      proxy,
      { connect: { ...tls, ...(guarded ? { lookup: guardedLookup(lookup) as never } : {}) } },
      { requestTls: tls },
    );
    if (lookup === undefined) dispatchers.set(key, d);
  }
  return d;
}

/**
 * GETs https://importPath?go-get=1 (then http:// when insecure and https
 * failed, as Go's web.Get does in insecure mode) and returns the page.
 */
export async function fetchGoGetPage(importPath: string, opts: DiscoveryOptions): Promise<FetchedPage> {
  const slash = importPath.indexOf("/");
  const host = slash < 0 ? importPath : importPath.slice(0, slash);
  const path = slash < 0 ? "/" : importPath.slice(slash);
  if (!host.includes(".")) throw new NotFoundError("import path does not begin with hostname");
  const schemes = opts.insecure ? ["https", "http"] : ["https"];
  let lastErr: unknown;
  for (const scheme of schemes) {
    try {
      return await fetchPage(new URL(`${scheme}://${host}${encodePath(path)}?go-get=1`), host, opts);
    } catch (err) {
      // The plain-http attempt (insecure paths only) says more than a refused https connection.
      lastErr = err;
      if (err instanceof GoarkError && err.code === "TOO_LARGE") throw err;
    }
  }
  throw lastErr;
}

function encodePath(p: string): string {
  return p
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/%7E/g, "~"))
    .join("/");
}

/** fetchPage under a hard deadline: undici does not abort a CONNECT to a proxy that never answers. */
function fetchPage(start: URL, host: string, opts: DiscoveryOptions): Promise<FetchedPage> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ctl = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, ctl.signal]) : ctl.signal;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TimeoutError(`${redact(start)}: no answer within ${Math.round(timeoutMs / 1000)}s`);
      ctl.abort(err);
      reject(err);
    }, timeoutMs);
  });
  return Promise.race([fetchPageUnbounded(start, host, { ...opts, signal }), deadline]).finally(() =>
    clearTimeout(timer),
  );
}

async function fetchPageUnbounded(start: URL, host: string, opts: DiscoveryOptions): Promise<FetchedPage> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxBytes = opts.maxBytes ?? 1 << 20;
  const maxRedirects = opts.maxRedirects ?? 10;
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
    : AbortSignal.timeout(timeoutMs);
  let url = start;
  for (let hop = 0; ; hop++) {
    const proxied = usesProxy(url, opts.proxy);
    const literal = url.hostname.replace(/^\[|\]$/g, "");
    if (!opts.allowPrivate && !proxied && /^[\d.]+$|:/.test(literal) && isPrivateAddress(literal)) {
      throw new UpstreamError(`${url.host} is a private or reserved address; refused`);
    }
    const headers: Record<string, string> = { "user-agent": "goark (go-get discovery)" };
    const auth = opts.authFor?.(url.hostname);
    if (auth !== undefined && url.protocol === "https:") headers.authorization = auth;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: "GET",
        headers,
        signal,
        dispatcher: dispatcherFor(opts.proxy, !opts.allowPrivate, opts.lookup, opts.insecure, opts.ca),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      const e = err as Error & { cause?: unknown };
      const inner = e.cause instanceof GoarkError ? e.cause : err instanceof GoarkError ? err : undefined;
      if (inner) throw inner;
      if (isCertificateError(err)) {
        throw new UpstreamError(
          `${redact(url)}: TLS certificate not trusted: ${e.message} (${CERTIFICATE_HINT})`,
          { cause: err },
        );
      }
      throw new UpstreamError(`${redact(url)}: ${e.message}`, { cause: err });
    }
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location !== undefined) {
      await res.body.dump();
      if (hop >= maxRedirects)
        throw new UpstreamError(`${redact(url)}: stopped after ${maxRedirects} redirects`);
      const next = new URL(String(res.headers.location), url);
      if (next.hostname !== host) {
        throw new UpstreamError(`${redact(url)}: redirect to another host (${next.host}) refused`);
      }
      if (url.protocol === "https:" && next.protocol !== "https:") {
        throw new UpstreamError(`${redact(url)}: redirect from https to ${next.protocol} refused`);
      }
      if (next.protocol !== "https:" && !(next.protocol === "http:" && opts.insecure)) {
        throw new UpstreamError(`${redact(url)}: redirect to ${next.protocol} refused`);
      }
      url = next;
      continue;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of res.body) {
      n += (chunk as Buffer).length;
      if (n > maxBytes) {
        res.body.destroy();
        throw new UpstreamError(`${redact(url)}: go-get page larger than ${maxBytes} bytes; refused`);
      }
      chunks.push(chunk as Buffer);
    }
    return { url: redact(url), status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") };
  }
}

/** Node's TLS verification failures: an unknown issuer, a self-signed or expired certificate, the wrong name. */
function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === "string" &&
    /CERT|SELF_SIGNED|ISSUER|LEAF_SIGNATURE|ALTNAME|CHAIN/.test(code) &&
    !code.startsWith("UND_ERR")
  );
}

function redact(u: URL): string {
  const c = new URL(u.href);
  c.username = "";
  c.password = "";
  return c.href;
}
