/**
 * The configured upstream checksum database (default sum.golang.org), used
 * twice: to verify every public module version before it is stored (the
 * go.sum hashes of a proven record), and to proxy `/sumdb/<name>/…` for
 * clients. Everything passes through one verifying SumdbClient whose signed
 * head, proven tiles and proven lookups are kept under
 * `<store>/.sumdb/remote/<name>/`, so
 * - nothing unproven is ever cached or served: a tile is handed on only as
 *   the prefix of a tile authenticated against the signed tree, a lookup
 *   only once its record is proven in it;
 * - the latest verified head survives restarts, and a database that forks
 *   its history is detected (the client's consistency check);
 * - what is cached keeps being served when the database is unreachable.
 */
import { BadRequestError, ChecksumMismatchError, GoarkError, NotFoundError, TlogError } from "../errors.ts";
import { escapePath, escapeVersion, unescapePath, unescapeVersion } from "../module/path.ts";
import { SumdbClient, type SumdbClientOps } from "./client.ts";
import type { SumdbFiles } from "./file-store.ts";
import { SumdbRemote } from "./remote.ts";
import { parseTilePath, type Tile } from "./tile.ts";

/** What a /sumdb/ route answers with (errors are thrown as GoarkErrors). */
export interface SumdbResponse {
  body: Uint8Array;
  contentType: string;
  cacheControl: string;
}

export interface SumdbLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

/** The go.sum hashes of a module version, proven by a checksum database. */
export interface ProvenHashes {
  zip: string;
  mod: string;
}

export interface UpstreamSumdbOptions {
  name: string;
  /** Verifier key `name+hash+base64`. */
  key: string;
  /** An explicit URL (GOSUMDB's second field): proxies are not asked then. */
  url?: string;
  /** The upstream list in GOPROXY syntax. */
  upstream: string;
  /** Where the verified head, tiles and lookups are kept. */
  files: SumdbFiles;
  timeoutMs?: number;
  /** How long a fetched /latest is served before asking again. Default 60 s. */
  latestTtlMs?: number;
  /** How long a partial tile is served from the cache. Default 10 min. */
  partialTileTtlMs?: number;
  logger?: SumdbLogger;
  fetch?: typeof fetch;
  now?: () => number;
}

export const TEXT = "text/plain; charset=utf-8";
export const OCTETS = "application/octet-stream";
export const IMMUTABLE = "public, max-age=31536000, immutable";

/** The lookup argument rule of x/mod's sumdb server (PROTOCOL.md 7.1). */
const LOOKUP_ARG = /^[^@]+@v[0-9]+\.[0-9]+\.[0-9]+(-[^@]*)?(\+incompatible)?$/;
const MEMO_CAP = 8192;
/** Tiles are at most 8 KiB, lookups far smaller: a few MiB at most. */
const HOT_CAP = 512;

/** Parses `lookup/<escaped path>@<escaped version>` into the module and version. */
export function parseLookupPath(rest: string): { module: string; version: string } {
  const arg = rest.slice("lookup/".length);
  if (!LOOKUP_ARG.test(arg)) {
    throw new BadRequestError(`bad request: /lookup/${arg.slice(0, 200)}: want <module>@<version>`);
  }
  const at = arg.lastIndexOf("@");
  try {
    return { module: unescapePath(arg.slice(0, at)), version: unescapeVersion(arg.slice(at + 1)) };
  } catch (err) {
    throw new BadRequestError(`bad request: /lookup/${arg.slice(0, 200)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Parses a tile path; a malformed one is "no such tile" for the client. */
export function parseTileRoute(rest: string): Tile {
  try {
    return parseTilePath(rest);
  } catch (err) {
    if (err instanceof TlogError)
      throw new NotFoundError(`not found: /${rest.slice(0, 200)}: ${err.message}`);
    throw err;
  }
}

export function lookupCacheKey(module: string, version: string): string {
  return `lookup/${escapePath(module)}@${escapeVersion(version)}`;
}

export class UpstreamSumdb {
  readonly name: string;
  readonly client: SumdbClient;
  readonly remote: SumdbRemote;
  readonly #files: SumdbFiles;
  readonly #latestTtl: number;
  readonly #partialTtl: number;
  readonly #log: SumdbLogger | undefined;
  readonly #now: () => number;
  #lastRefresh = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;
  /** Proven hashes of recent versions (a fill asks for .mod and .zip separately). */
  readonly #memo = new Map<string, ProvenHashes>();
  /** Recently used proven tiles and lookups (the files behind them are the cache that survives). */
  readonly #hot = new Map<string, { data: Uint8Array; at: number }>();
  /** Proven data kept earlier (memory, then files). */
  readonly #readCache: (key: string) => Promise<Uint8Array | undefined>;

  constructor(opts: UpstreamSumdbOptions) {
    this.name = opts.name;
    this.#files = opts.files;
    this.#latestTtl = opts.latestTtlMs ?? 60_000;
    this.#partialTtl = opts.partialTileTtlMs ?? 10 * 60_000;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.remote = new SumdbRemote({
      name: opts.name,
      upstream: opts.upstream,
      ...(opts.url === undefined ? {} : { url: opts.url }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    });
    const files = this.#files;
    const ops: SumdbClientOps = {
      readRemote: (path, signal) => this.remote.read(path, signal),
      loadLatest: () => files.getBytes("latest"),
      saveLatest: async (note) => {
        await files.putBytes("latest", note);
      },
      readCache: async (key) => {
        const hot = this.#hot.get(key);
        if (hot !== undefined) {
          if (this.#fresh(key, hot.at)) return hot.data;
          this.#hot.delete(key);
          return undefined;
        }
        if (key.includes(".p/")) {
          const at = await files.mtime(key);
          if (at === undefined || !this.#fresh(key, at)) return undefined;
        }
        const data = await files.getBytes(key);
        if (data !== undefined) this.#remember(key, data, this.#now());
        return data;
      },
      // Proven tiles and lookups can be fetched again: atomic, not fsync-ed.
      writeCache: async (key, data) => {
        this.#remember(key, data, this.#now());
        await files.write(key, data, false);
      },
      securityError: (message) => this.#log?.error({ sumdb: this.name }, message),
    };
    this.client = new SumdbClient({ verifierKey: opts.key, ops });
    this.#readCache = ops.readCache!;
  }

  /** Partial tiles are superseded as the log grows: kept only briefly. */
  #fresh(key: string, at: number): boolean {
    return !key.includes(".p/") || this.#now() - at <= this.#partialTtl;
  }

  #remember(key: string, data: Uint8Array, at: number): void {
    this.#hot.delete(key);
    this.#hot.set(key, { data, at });
    if (this.#hot.size > HOT_CAP) this.#hot.delete(this.#hot.keys().next().value!);
  }

  /**
   * The proven go.sum hashes of module@version. A version the database does
   * not know is refused like a mismatch: goark stores nothing it cannot vouch for.
   */
  async hashes(module: string, version: string, signal?: AbortSignal): Promise<ProvenHashes> {
    const id = `${module}@${version}`;
    const memo = this.#memo.get(id);
    if (memo !== undefined) return memo;
    let zipLines: string[];
    let modLines: string[];
    try {
      [zipLines, modLines] = await Promise.all([
        this.client.lookup(module, version, signal),
        this.client.lookup(module, `${version}/go.mod`, signal),
      ]);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new ChecksumMismatchError(
          `${id}: checksum database ${this.name} has no record of it (${err.message}); ` +
            "goark stores nothing the database cannot vouch for (add private modules to --private or --nosumdb)",
          { module, version, cause: err },
        );
      }
      throw err;
    }
    const zip = onlyHash(zipLines, module, version);
    const mod = onlyHash(modLines, module, `${version}/go.mod`);
    if (zip === undefined || mod === undefined) {
      throw new ChecksumMismatchError(
        `${id}: checksum database ${this.name} has no ${zip === undefined ? "zip" : "go.mod"} hash for it`,
        { module, version },
      );
    }
    const out = { zip, mod };
    if (this.#memo.size >= MEMO_CAP) this.#memo.delete(this.#memo.keys().next().value!);
    this.#memo.set(id, out);
    return out;
  }

  /**
   * Answers `/sumdb/<name>/<rest>` for clients. `refuse` names why a module
   * must not be looked up (private), checked before anyone is contacted.
   */
  async serve(
    rest: string,
    refuse: (module: string) => string | undefined,
    signal?: AbortSignal,
  ): Promise<SumdbResponse> {
    if (rest === "supported") return { body: new Uint8Array(), contentType: TEXT, cacheControl: "no-cache" };
    if (rest === "latest") return this.#latest(signal);
    if (rest.startsWith("lookup/")) {
      const { module, version } = parseLookupPath(rest);
      const reason = refuse(module);
      if (reason !== undefined) {
        throw new NotFoundError(`${module}@${version}: ${reason}`, { module, version });
      }
      const key = lookupCacheKey(module, version);
      let body = await this.#readCache(key);
      if (body === undefined) {
        await this.client.lookup(module, version, signal);
        body = await this.#readCache(key);
      }
      if (body === undefined) {
        throw new GoarkError("INTERNAL", `${module}@${version}: the proven lookup was not kept`, {
          module,
          version,
        });
      }
      return { body, contentType: TEXT, cacheControl: "public, max-age=3600" };
    }
    if (rest.startsWith("tile/")) {
      const t = parseTileRoute(rest);
      // Only proven tiles are ever cached: a hit is served as is.
      const body = (await this.#readCache(rest)) ?? (await this.client.tile(t, signal));
      const full = t.w === 2 ** t.h;
      return { body, contentType: OCTETS, cacheControl: full ? IMMUTABLE : "no-cache" };
    }
    throw new NotFoundError(
      `not found: /sumdb/${this.name}/${rest.slice(0, 200)}: unknown checksum-database path`,
    );
  }

  /** The latest verified note: refreshed after the TTL, the kept one when the database is unreachable. */
  async #latest(signal?: AbortSignal): Promise<SumdbResponse> {
    if (this.#now() - this.#lastRefresh >= this.#latestTtl) {
      this.#refreshing ??= this.client
        .refresh(signal)
        .then(() => {
          this.#lastRefresh = this.#now();
        })
        .finally(() => {
          this.#refreshing = undefined;
        });
      try {
        await this.#refreshing;
      } catch (err) {
        const kept = await this.client.latestNote();
        // A fork or a bad signature is never papered over with the kept head.
        if (
          kept.length === 0 ||
          !(err instanceof GoarkError) ||
          err.code === "INVALID_TLOG" ||
          err.code === "INVALID_NOTE"
        ) {
          throw err;
        }
        this.#log?.warn(
          { sumdb: this.name, err: err.message },
          "checksum database unreachable; serving the kept tree head",
        );
        return { body: kept, contentType: TEXT, cacheControl: "no-cache" };
      }
    }
    return {
      body: await this.client.latestNote(),
      contentType: TEXT,
      cacheControl: `public, max-age=${Math.floor(this.#latestTtl / 1000)}`,
    };
  }
}

/** The one hash the database gives for `path vers`, or undefined. */
function onlyHash(lines: readonly string[], path: string, vers: string): string | undefined {
  const prefix = `${path} ${vers} `;
  return lines.find((l) => l.startsWith(prefix))?.slice(prefix.length);
}
