/**
 * Where `goark warm` gets module versions from: the local store through the
 * same caching core and upstream chain as `goark serve` (so everything is
 * verified before it is stored), or a remote goark over HTTP (its own core
 * fills its own store; warm only reads the answers and throws them away).
 */
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Artefact, ProxyCore } from "../cache/proxy-core.ts";
import type { KnownSums } from "../cache/verify.ts";
import {
  BadRequestError,
  ChecksumMismatchError,
  GoarkError,
  GoneError,
  InvalidInfoError,
  NotFoundError,
  UpstreamError,
} from "../errors.ts";
import { hashGoMod } from "../module/dirhash.ts";
import { canonicalVersion, check, escapePath, escapeVersion } from "../module/path.ts";
import { isValid } from "../module/semver.ts";
import { parseListBody } from "../source/latest-fallback.ts";
import { outboundFetch } from "../source/outbound-http.ts";
import { latestVersion } from "../source/store-source.ts";

export interface Fetched {
  /** Bytes of the artefact. */
  size: number;
  /** True when it was stored already (nothing was downloaded for it). */
  cached: boolean;
}

export interface WarmFetcher {
  /** Where the artefacts go, for the report ("disk:/var/lib/goark", "http://host:3000"). */
  readonly name: string;
  /** The canonical version a query (latest, a version, a branch, a commit) stands for. */
  resolve(module: string, query: string): Promise<string>;
  /** The module's version list (`@v/list`), as the go command reads it. */
  list(module: string): Promise<string[]>;
  /** Makes sure .info and .mod are stored; returns the go.mod bytes. */
  mod(module: string, version: string): Promise<Fetched & { data: Buffer }>;
  /** Makes sure the zip (and with it .info and .mod) is stored. */
  zip(module: string, version: string): Promise<Fetched>;
}

/**
 * Go's `latest` query for a module, given its list and go.mod reader:
 * the highest non-retracted release (else prerelease) of the list; when the
 * list has none, the `@latest` answer.
 */
async function resolveLatest(
  module: string,
  listed: string[],
  readMod: (version: string) => Promise<Buffer | undefined>,
  atLatest: () => Promise<string>,
): Promise<string> {
  const tagged = listed.filter(isValid);
  if (tagged.length > 0) {
    const pick = await latestVersion(module, tagged, { read: readMod });
    if (pick !== undefined) return pick;
  }
  return atLatest();
}

function canonicalQuery(module: string, query: string): string | undefined {
  if (!isValid(query)) return undefined;
  const v = canonicalVersion(query);
  // Only a fully spelled canonical version is taken as is; `v1.2` is a query.
  if (v !== query) return undefined;
  check(module, v);
  return v;
}

/**
 * Warms the local store through the caching core (the serve path,
 * verification included). With knownSums (the project's go.sum), what was
 * stored before is checked against it too: the core checks only what it
 * downloads.
 */
export class CoreFetcher implements WarmFetcher {
  readonly name: string;
  readonly #core: ProxyCore;
  readonly #known: KnownSums | undefined;

  constructor(core: ProxyCore, opts: { knownSums?: KnownSums } = {}) {
    this.#core = core;
    this.name = core.storage.name;
    this.#known = opts.knownSums;
  }

  /** Compares a stored artefact's h1 with the known one; a mismatch is a ChecksumMismatchError. */
  async #checkStored(module: string, version: string, art: Artefact, kind: "mod" | "zip"): Promise<void> {
    if (this.#known === undefined || art.cache !== "hit") return;
    const known = await this.#known.lookup(module, version);
    const want = kind === "mod" ? known?.mod : known?.zip;
    if (want === undefined) return;
    let have = (await this.#core.storage.stat(art.key))?.meta.h1;
    if (have === undefined && kind === "mod" && art.bytes !== undefined) have = hashGoMod(art.bytes);
    if (have !== undefined && have !== want) {
      throw new ChecksumMismatchError(
        `${module}@${version}: the stored ${kind === "mod" ? "go.mod" : "zip"} has hash ${have}, but ${known?.source ?? "go.sum"} records ${want}`,
        { module, version },
      );
    }
  }

  async resolve(module: string, query: string): Promise<string> {
    const canonical = canonicalQuery(module, query);
    if (canonical !== undefined) return canonical;
    if (query === "latest") {
      let listed: string[] = [];
      try {
        const list = await this.#core.list(module);
        listed = parseListBody(list.bytes?.toString("utf8") ?? "").map((e) => e.version);
      } catch (err) {
        if (!(err instanceof GoarkError) || (err.code !== "NOT_FOUND" && err.code !== "GONE")) throw err;
      }
      return resolveLatest(
        module,
        listed,
        async (v) => (await this.#core.mod(module, v)).bytes,
        async () => infoVersion(module, (await this.#core.latest(module)).bytes),
      );
    }
    return infoVersion(module, (await this.#core.info(module, query)).bytes);
  }

  async list(module: string): Promise<string[]> {
    const list = await this.#core.list(module);
    return parseListBody(list.bytes?.toString("utf8") ?? "").map((e) => e.version);
  }

  async mod(module: string, version: string): Promise<Fetched & { data: Buffer }> {
    const art = await this.#core.mod(module, version);
    await this.#checkStored(module, version, art, "mod");
    return { size: art.size, cached: art.cache === "hit", data: art.bytes ?? Buffer.alloc(0) };
  }

  async zip(module: string, version: string): Promise<Fetched> {
    const art = await this.#core.zip(module, version);
    await this.#checkStored(module, version, art, "zip");
    return { size: art.size, cached: art.cache === "hit" };
  }
}

function infoVersion(module: string, bytes: Buffer | undefined): string {
  let version: unknown;
  try {
    version = (JSON.parse(bytes?.toString("utf8") ?? "") as { Version?: unknown }).Version;
  } catch {
    version = undefined;
  }
  if (typeof version !== "string" || canonicalVersion(version) !== version) {
    throw new InvalidInfoError(`${module}: the .info answer names no canonical Version`, { module });
  }
  return version;
}

/**
 * Warms a remote goark by asking it, over HTTP, for everything the go
 * command would: the remote fetches, verifies and stores; zips are read and
 * discarded here.
 */
export class HttpFetcher implements WarmFetcher {
  readonly name: string;
  readonly #base: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch (err) {
      throw new BadRequestError(`--server ${JSON.stringify(baseUrl)}: not a URL`, { cause: err });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new BadRequestError(`--server ${JSON.stringify(baseUrl)}: only http and https URLs are served`);
    }
    this.#base = url.href.replace(/\/+$/, "");
    this.name = this.#base;
    this.#timeoutMs = opts.timeoutMs ?? 20 * 60_000;
  }

  async #get(module: string, path: string, version?: string): Promise<Response> {
    const url = `${this.#base}/${escapePath(module)}/${path}`;
    let res: Response;
    try {
      res = await outboundFetch(url, { signal: AbortSignal.timeout(this.#timeoutMs), redirect: "follow" });
    } catch (err) {
      throw new UpstreamError(`${url}: ${(err as Error).message}`, {
        module,
        ...(version === undefined ? {} : { version }),
        cause: err,
      });
    }
    if (res.status === 200) return res;
    const reason = (await res.text().catch(() => "")).trim().split("\n")[0] ?? "";
    const details = { module, ...(version === undefined ? {} : { version }) };
    const message = `${url}: ${res.status} ${res.statusText}${reason ? `: ${reason}` : ""}`;
    if (res.status === 404) throw new NotFoundError(message, details);
    if (res.status === 410) throw new GoneError(message, details);
    throw new UpstreamError(message, details);
  }

  async #bytes(module: string, path: string, version?: string): Promise<Buffer> {
    const res = await this.#get(module, path, version);
    return Buffer.from(await res.arrayBuffer());
  }

  async resolve(module: string, query: string): Promise<string> {
    const canonical = canonicalQuery(module, query);
    if (canonical !== undefined) return canonical;
    if (query === "latest") {
      let listed: string[] = [];
      try {
        listed = parseListBody((await this.#bytes(module, "@v/list")).toString("utf8")).map((e) => e.version);
      } catch (err) {
        if (!(err instanceof GoarkError) || (err.code !== "NOT_FOUND" && err.code !== "GONE")) throw err;
      }
      return resolveLatest(
        module,
        listed,
        async (v) => (await this.mod(module, v)).data,
        async () => infoVersion(module, await this.#bytes(module, "@latest")),
      );
    }
    return infoVersion(module, await this.#bytes(module, `@v/${escapeVersion(query)}.info`));
  }

  async list(module: string): Promise<string[]> {
    return parseListBody((await this.#bytes(module, "@v/list")).toString("utf8")).map((e) => e.version);
  }

  async mod(module: string, version: string): Promise<Fetched & { data: Buffer }> {
    const res = await this.#get(module, `@v/${escapeVersion(version)}.mod`, version);
    const cached = res.headers.get("x-goark-cache") === "hit";
    const data = Buffer.from(await res.arrayBuffer());
    return { size: data.length, cached, data };
  }

  async zip(module: string, version: string): Promise<Fetched> {
    const res = await this.#get(module, `@v/${escapeVersion(version)}.zip`, version);
    const cached = res.headers.get("x-goark-cache") === "hit";
    let size = 0;
    if (res.body !== null) {
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          cb();
        },
      });
      try {
        await pipeline(res.body, sink);
      } catch (err) {
        throw new UpstreamError(`${this.#base}: ${module}@${version}.zip: ${(err as Error).message}`, {
          module,
          version,
          cause: err,
        });
      }
    }
    return { size, cached };
  }
}
