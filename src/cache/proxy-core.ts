/**
 * The caching core: wraps a Source (normally the upstream chain) with a
 * Storage. Storage first; on a miss one fetch per artefact (single-flight),
 * verification, commit, and then every caller is served the stored bytes.
 *
 * Policy:
 * - .info/.mod/.zip of a version are immutable once stored. Filling either
 *   .info or .mod stores both; filling a .zip stores .info and .mod too, so
 *   the store never holds half a version.
 * - list and @latest are refreshed after listTtlMs; when the refresh fails
 *   (any error, a 404 included: goark keeps what it has seen) the stored
 *   answer is served and marked stale.
 * - Upstream "not found" answers are remembered for notFoundTtlMs, so the go
 *   command's prefix probes (golang.org/x/net/html → golang.org/x → ...) cost
 *   one upstream request per path and TTL.
 * - Each fill runs with its own deadline, independent of the client that
 *   triggered it, and is aborted on shutdown after the drain deadline.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { asGoarkError, DisabledError, type GoarkError, isNotExist, StorageError } from "../errors.ts";
import { isPseudoVersion } from "../module/pseudo.ts";
import { compare, isPrerelease } from "../module/semver.ts";
import {
  type CacheResult,
  publishCacheResult,
  publishFillEnd,
  publishFillStart,
  publishSingleFlightJoin,
  type UpstreamRoute,
} from "../observability/events.ts";
import type { Info, ListEntry, Source } from "../source/source.ts";
import { offlineMissMessage, StoreSource } from "../source/store-source.ts";
import { infoKey, latestKey, listKey, modKey, parseKey, versionDirKey, zipKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import { SingleFlight } from "./single-flight.ts";
import {
  isStagedZip,
  isStorableVersion,
  type KnownSums,
  originOf,
  type StagedZip,
  stageAndVerifyZip,
  verifyInfo,
  verifyMod,
} from "./verify.ts";

export type CacheStatus = Exclude<CacheResult, "negative">;

/** What the HTTP layer serves: a stored artefact, read back from the store. */
export interface Artefact {
  key: string;
  kind: UpstreamRoute;
  size: number;
  /** Hex SHA-256 of the bytes (the ETag's source). */
  sha256: string;
  /** Versioned .info/.mod/.zip never change. */
  immutable: boolean;
  cache: CacheStatus;
  /** The bytes of small artefacts (everything but .zip). */
  bytes?: Buffer;
  /** For stale answers: why the fresh one could not be had. */
  staleReason?: string;
  /** Where the stored bytes came from (the upstream that answered a miss). */
  origin?: string;
}

export interface CoreLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ProxyCoreOptions {
  storage: Storage;
  /** The upstream chain, each upstream wrapped in a VerifyingSource (plain sources are verified here). */
  source: Source;
  /** Refresh list/@latest after this long. Default 60 s. */
  listTtlMs?: number;
  /** Remember upstream not-found answers this long. Default 60 s. */
  notFoundTtlMs?: number;
  /** After a failed refresh, serve the stale answer this long before trying again. Default 5 s. */
  refreshBackoffMs?: number;
  /** How long a client waits for a list/@latest refresh before the stored answer is served. Default 3 s. */
  staleGraceMs?: number;
  /** Deadline of one fill (a zip download included). Default 20 min. */
  fillTimeoutMs?: number;
  /**
   * Never ask the source; serve only what is stored, with list/@latest (and
   * commit-hash queries) computed from the stored versions (StoreSource).
   */
  offline?: boolean;
  /** After storing a version's .info/.mod, fetch its zip in the background. */
  prefetchZips?: boolean;
  knownSums?: KnownSums;
  /**
   * Told once a version's zip was stored by a fill (its .mod is stored by
   * then): goark's checksum database records it. Failures are logged, not
   * passed to the client (the lookup route records the version again on demand).
   */
  onZipStored?: (module: string, version: string) => Promise<unknown>;
  maxZipBytes?: number;
  logger?: CoreLogger;
  now?: () => number;
}

const NEGATIVE_CAP = 20_000;

interface Negative {
  err: GoarkError;
  until: number;
}

export class ProxyCore {
  readonly storage: Storage;
  readonly source: Source;
  readonly #listTtl: number;
  readonly #notFoundTtl: number;
  readonly #backoff: number;
  readonly #staleGrace: number;
  readonly #fillTimeout: number;
  readonly #offline: boolean;
  /** Offline answers for list, @latest and queries, computed from the store. */
  readonly #store: StoreSource;
  readonly #prefetch: boolean;
  readonly #knownSums: KnownSums | undefined;
  readonly #onZipStored: ProxyCoreOptions["onZipStored"];
  readonly #maxZip: number | undefined;
  readonly #log: CoreLogger | undefined;
  readonly #now: () => number;
  readonly #flights = new SingleFlight<unknown>();
  readonly #negative = new Map<string, Negative>();
  readonly #refreshAfter = new Map<string, number>();
  readonly #running = new Set<Promise<unknown>>();
  readonly #shutdown = new AbortController();

  constructor(opts: ProxyCoreOptions) {
    this.storage = opts.storage;
    this.source = opts.source;
    this.#listTtl = opts.listTtlMs ?? 60_000;
    this.#notFoundTtl = opts.notFoundTtlMs ?? 60_000;
    this.#backoff = opts.refreshBackoffMs ?? 5_000;
    this.#staleGrace = opts.staleGraceMs ?? 3_000;
    this.#fillTimeout = opts.fillTimeoutMs ?? 20 * 60_000;
    this.#offline = opts.offline ?? false;
    this.#store = new StoreSource(opts.storage);
    this.#prefetch = opts.prefetchZips ?? false;
    this.#knownSums = opts.knownSums;
    this.#onZipStored = opts.onZipStored;
    this.#maxZip = opts.maxZipBytes;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Fills in flight (for the in-flight gauge). */
  get inFlight(): number {
    return this.#flights.size;
  }

  // ------------------------------------------------------------ versioned

  /** `.info` for a canonical version, or for a query (branch, commit, `v1.2`) resolved by the source. */
  async info(module: string, query: string): Promise<Artefact> {
    if (isStorableVersion(module, query)) return this.#versioned(module, query, "info");
    return this.#query(module, query);
  }

  async mod(module: string, version: string): Promise<Artefact> {
    return this.#versioned(module, version, "mod");
  }

  /** The zip's metadata; open its bytes with openZip(artefact.key). */
  async zip(module: string, version: string): Promise<Artefact> {
    return this.#versioned(module, version, "zip");
  }

  /**
   * A stream of a stored zip, read in chunks of `chunkSize` when the store
   * keeps it as a local file; undefined if it vanished (pruned) since it was found.
   */
  async openZip(key: string, chunkSize?: number): Promise<Readable | undefined> {
    const file = chunkSize === undefined ? undefined : this.storage.localPath?.(key);
    if (file === undefined) return this.storage.openRead(key);
    // fs.createReadStream on a path reads with callbacks, cheaper per chunk
    // than a FileHandle stream; open errors (pruned meanwhile) surface on the stream.
    return createReadStream(file, { highWaterMark: chunkSize });
  }

  async #versioned(module: string, version: string, kind: "info" | "mod" | "zip"): Promise<Artefact> {
    const key =
      kind === "info"
        ? infoKey(module, version)
        : kind === "mod"
          ? modKey(module, version)
          : zipKey(module, version);
    const hit = await this.#read(key, kind, "hit", module, version);
    if (hit !== undefined) return hit;
    const negKey = `v\0${module}@${version}`;
    this.#checkNegative(negKey, kind, module, version);
    if (this.#offline) throw offlineMiss(module, version);
    try {
      if (kind === "zip") await this.#fillZip(module, version);
      else await this.#fillMeta(module, version);
    } catch (err) {
      throw this.#remember(negKey, err);
    }
    return this.#mustRead(key, kind, "miss", module, version);
  }

  async #query(module: string, query: string): Promise<Artefact> {
    if (this.#offline) return this.#offlineQuery(module, query);
    const negKey = `q\0${module}@${query}`;
    this.#checkNegative(negKey, "info", module, query);
    let version: string;
    try {
      version = await this.#fill("info", module, query, async () => {
        const info = await this.source.info(module, query, { signal: this.#fillSignal() });
        verifyInfo(module, undefined, info, originOf(info) ?? this.source.name);
        await this.#fillMeta(module, info.Version, info);
        return info.Version;
      });
    } catch (err) {
      throw this.#remember(negKey, err);
    }
    return this.#mustRead(infoKey(module, version), "info", "miss", module, version);
  }

  /** Stores .info and .mod of a version (whichever is missing). `infoHint` is an already verified answer. */
  #fillMeta(module: string, version: string, infoHint?: Info): Promise<void> {
    return this.#fill("mod", module, version, () => this.#doFillMeta(module, version, infoHint));
  }

  async #doFillMeta(module: string, version: string, infoHint?: Info): Promise<void> {
    const iKey = infoKey(module, version);
    const mKey = modKey(module, version);
    const [haveInfo, haveMod] = await Promise.all([this.storage.stat(iKey), this.storage.stat(mKey)]);
    if (haveInfo && haveMod) return;
    // One failing fetch cancels the other.
    const both = new AbortController();
    const signal = AbortSignal.any([this.#fillSignal(), both.signal]);
    const cancelOnError = <T>(p: Promise<T>): Promise<T> =>
      p.catch((err: unknown) => {
        both.abort(err);
        throw err;
      });
    const [info, mod] = await Promise.all([
      cancelOnError(
        (async (): Promise<Info | undefined> => {
          if (haveInfo) return undefined;
          if (infoHint !== undefined && infoHint.Version === version) return infoHint;
          return this.source.info(module, version, { signal });
        })(),
      ),
      cancelOnError(
        (async (): Promise<Buffer | undefined> =>
          haveMod ? undefined : this.source.mod(module, version, { signal }))(),
      ),
    ]);
    // Verify both before committing either, so a bad half never lands alone.
    const known = this.#knownSums ? await this.#knownSums.lookup(module, version) : undefined;
    const infoOrigin = info === undefined ? "" : (originOf(info) ?? this.source.name);
    const infoBytes = info === undefined ? undefined : verifyInfo(module, version, info, infoOrigin);
    if (mod !== undefined) {
      const origin = originOf(mod) ?? this.source.name;
      const h1 = verifyMod(module, version, mod, origin, known?.mod, known?.source);
      await this.#commitBytes(mKey, mod, { origin, h1 });
    }
    if (infoBytes !== undefined) await this.#commitBytes(iKey, infoBytes, { origin: infoOrigin });
    if (this.#prefetch) {
      // Best effort: the zip is fetched on demand anyway if this fails.
      this.#fillZip(module, version).catch((err: unknown) => {
        this.#log?.warn({ module, version, err: asGoarkError(err).message }, "zip prefetch failed");
      });
    }
  }

  /** Commits small immutable bytes; an existing, different .info is kept (Time may differ by upstream). */
  async #commitBytes(key: string, data: Buffer, meta: { origin: string; h1?: string }): Promise<void> {
    try {
      await this.storage.putBytes(key, data, meta);
    } catch (err) {
      const e = asGoarkError(err);
      if (e.code === "CHECKSUM_MISMATCH" && key.endsWith(".info")) return;
      throw e;
    }
  }

  #fillZip(module: string, version: string): Promise<void> {
    return this.#fill("zip", module, version, () => this.#doFillZip(module, version));
  }

  async #doFillZip(module: string, version: string): Promise<void> {
    const key = zipKey(module, version);
    await this.#fillMeta(module, version);
    if (await this.storage.stat(key)) return;
    let staged: StagedZip | undefined;
    try {
      const signal = this.#fillSignal();
      const body = await this.source.zip(module, version, { signal });
      if (isStagedZip(body)) {
        staged = body;
      } else {
        staged = await stageAndVerifyZip(module, version, body, originOf(body) ?? this.source.name, {
          storage: this.storage,
          signal,
          ...(this.#knownSums ? { knownSums: this.#knownSums } : {}),
          ...(this.#maxZip !== undefined ? { maxZipBytes: this.#maxZip } : {}),
        });
      }
      await this.storage.commitStaged(key, staged.staged, { origin: staged.origin, h1: staged.h1 });
      await this.#onZipStored?.(module, version).catch((err: unknown) => {
        this.#log?.warn(
          { module, version, err: asGoarkError(err).message },
          "recording the stored zip failed",
        );
      });
    } catch (err) {
      const e = asGoarkError(err);
      this.#log?.warn({ module, version, route: "zip", code: e.code, err: e.message }, "zip fill failed");
      throw e;
    } finally {
      await staged?.staged.dispose();
    }
  }

  // ------------------------------------------------------------ list, latest

  async list(module: string): Promise<Artefact> {
    return this.#refreshable(module, "list", listKey(module), async (signal) => {
      const entries = await this.source.list(module, { signal });
      return { bytes: formatList(entries), origin: this.source.name };
    });
  }

  async latest(module: string): Promise<Artefact> {
    return this.#refreshable(module, "latest", latestKey(module), async (signal) => {
      const info = await this.source.latest(module, { signal });
      const origin = originOf(info) ?? this.source.name;
      return { bytes: verifyInfo(module, undefined, info, origin), origin };
    });
  }

  async #refreshable(
    module: string,
    kind: "list" | "latest",
    key: string,
    fetch: (signal: AbortSignal) => Promise<{ bytes: Buffer; origin: string }>,
  ): Promise<Artefact> {
    if (this.#offline) return this.#offlineAnswer(module, kind);
    const stored = await this.storage.stat(key);
    const now = this.#now();
    if (stored !== undefined) {
      const fresh = now - stored.meta.fetchedAt < this.#listTtl;
      if (fresh) return this.#mustRead(key, kind, "hit", module);
      const backoffUntil = this.#refreshAfter.get(key);
      if (backoffUntil !== undefined && now < backoffUntil) {
        return this.#mustRead(key, kind, "stale", module, undefined, "upstream failed moments ago");
      }
    }
    const negKey = `${kind}\0${module}`;
    if (stored === undefined) this.#checkNegative(negKey, kind, module);
    const refresh = this.#fill(kind, module, undefined, async () => {
      const { bytes, origin } = await fetch(this.#fillSignal());
      await this.storage.putBytes(key, bytes, { origin, fetchedAt: this.#now() });
      this.#refreshAfter.delete(key);
    });
    let failure: GoarkError | undefined;
    if (stored !== undefined && this.#staleGrace > 0) {
      // A slow upstream must not stall builds: after the grace period the
      // stored answer goes out and the refresh finishes in the background.
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise<"slow">((r) => {
        timer = setTimeout(() => r("slow"), this.#staleGrace);
      });
      const outcome = await Promise.race([refresh.then(() => "ok" as const, asGoarkError), slow]);
      clearTimeout(timer);
      if (outcome === "slow") {
        refresh.catch(() => this.#refreshAfter.set(key, this.#now() + this.#backoff));
        return this.#mustRead(
          key,
          kind,
          "stale",
          module,
          undefined,
          "upstream slow; refreshing in the background",
        );
      }
      if (outcome !== "ok") failure = outcome;
    } else {
      failure = await refresh.then(() => undefined, asGoarkError);
    }
    if (failure !== undefined) {
      if (stored !== undefined) {
        this.#refreshAfter.set(key, this.#now() + this.#backoff);
        return this.#mustRead(key, kind, "stale", module, undefined, failure.message);
      }
      if (isNotExist(failure)) throw this.#remember(negKey, failure);
      return this.#fromStoreOnly(module, kind, failure);
    }
    return this.#mustRead(key, kind, "miss", module);
  }

  /**
   * With no stored list/@latest and no upstream answer, build one from the
   * versions in the store (so a store filled by version downloads still
   * answers list and latest offline); otherwise rethrow `err`.
   */
  async #fromStoreOnly(module: string, kind: "list" | "latest", err: GoarkError): Promise<Artefact> {
    const versions: string[] = [];
    for await (const key of this.storage.list(versionDirKey(module))) {
      const parsed = parseKey(key);
      if (parsed?.kind === "info" && parsed.module === module && parsed.version)
        versions.push(parsed.version);
    }
    if (versions.length === 0) throw err;
    const tagged = versions.filter((v) => !isPseudoVersion(v)).sort(compare);
    let bytes: Buffer;
    if (kind === "list") {
      bytes = Buffer.from(tagged.map((v) => `${v}\n`).join(""));
    } else {
      const pick = pickLatest(tagged) ?? [...versions].sort(compare).at(-1)!;
      const info = await this.storage.getBytes(infoKey(module, pick));
      if (info === undefined) throw err;
      bytes = info;
    }
    publishCacheResult({ route: kind, result: "stale", module });
    return {
      key: kind === "list" ? listKey(module) : latestKey(module),
      kind,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      immutable: false,
      cache: "stale",
      bytes,
      staleReason: `answered from stored versions: ${err.message}`,
    };
  }

  // ------------------------------------------------------------ offline

  /**
   * list/@latest while offline: computed from the stored versions with the go
   * command's rules (a list or @latest fetched earlier may name versions the
   * store lacks, so it is not what an offline client should see).
   */
  async #offlineAnswer(module: string, kind: "list" | "latest"): Promise<Artefact> {
    const bytes = await offlineRefusal(module, undefined, async () =>
      kind === "list" ? formatList(await this.#store.list(module)) : this.#store.latestInfoBytes(module),
    );
    // "stale": not an upstream's answer, so clients are told not to cache it.
    publishCacheResult({ route: kind, result: "stale", module });
    return {
      key: kind === "list" ? listKey(module) : latestKey(module),
      kind,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      immutable: false,
      cache: "stale",
      bytes,
      staleReason: "offline: computed from the stored versions",
      origin: this.#store.name,
    };
  }

  /** A non-canonical `.info` query while offline: a commit hash of a stored pseudo-version, else a miss. */
  async #offlineQuery(module: string, query: string): Promise<Artefact> {
    const version = await offlineRefusal(module, query, () => this.#store.resolve(module, query));
    return this.#mustRead(infoKey(module, version), "info", "hit", module, version);
  }

  // ------------------------------------------------------------ helpers

  async #read(
    key: string,
    kind: UpstreamRoute,
    cache: CacheStatus,
    module: string,
    version?: string,
    staleReason?: string,
  ): Promise<Artefact | undefined> {
    const st = await this.storage.stat(key);
    if (st === undefined) return undefined;
    let bytes: Buffer | undefined;
    if (kind !== "zip") {
      bytes = await this.storage.getBytes(key);
      if (bytes === undefined) return undefined;
    }
    this.storage.touch(key);
    publishCacheResult(
      version === undefined
        ? { route: kind, result: cache, module }
        : { route: kind, result: cache, module, version },
    );
    const art: Artefact = {
      key,
      kind,
      size: st.size,
      sha256: st.meta.sha256,
      immutable: kind === "info" || kind === "mod" || kind === "zip",
      cache,
      origin: st.meta.origin,
    };
    if (bytes !== undefined) art.bytes = bytes;
    if (staleReason !== undefined) art.staleReason = staleReason;
    return art;
  }

  async #mustRead(
    key: string,
    kind: UpstreamRoute,
    cache: CacheStatus,
    module: string,
    version?: string,
    staleReason?: string,
  ): Promise<Artefact> {
    const art = await this.#read(key, kind, cache, module, version, staleReason);
    if (art === undefined) {
      throw new StorageError(`${key}: the stored artefact cannot be read back`, {
        module,
        ...(version === undefined ? {} : { version }),
      });
    }
    return art;
  }

  #checkNegative(key: string, route: UpstreamRoute, module: string, version?: string): void {
    const neg = this.#negative.get(key);
    if (neg === undefined) return;
    if (this.#now() < neg.until) {
      publishCacheResult(
        version === undefined
          ? { route, result: "negative", module }
          : { route, result: "negative", module, version },
      );
      throw neg.err;
    }
    this.#negative.delete(key);
  }

  /** Remembers not-found answers; returns the error as a GoarkError to rethrow. */
  #remember(key: string, caught: unknown): GoarkError {
    const err = asGoarkError(caught);
    if (isNotExist(err) && this.#notFoundTtl > 0) {
      if (this.#negative.size >= NEGATIVE_CAP) {
        const oldest = this.#negative.keys().next().value;
        if (oldest !== undefined) this.#negative.delete(oldest);
      }
      this.#negative.set(key, { err, until: this.#now() + this.#notFoundTtl });
    }
    return err;
  }

  #fillSignal(): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(this.#fillTimeout), this.#shutdown.signal]);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#running.add(p);
    const done = () => this.#running.delete(p);
    p.then(done, done);
    return p;
  }

  /** Runs a fill under single-flight, publishing start/end (and joins) for metrics. */
  #fill<T>(
    route: UpstreamRoute,
    module: string,
    version: string | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    const key = `${route}\0${module}${version === undefined ? "" : `@${version}`}`;
    const ev = version === undefined ? { route, module } : { route, module, version };
    const { promise, shared } = this.#flights.run(key, () => {
      const started = this.#now();
      publishFillStart(ev);
      const p = this.#track(fn());
      p.then(
        () => publishFillEnd({ ...ev, durationMs: this.#now() - started }),
        (err) => publishFillEnd({ ...ev, durationMs: this.#now() - started, error: asGoarkError(err).code }),
      );
      return p;
    });
    if (shared) publishSingleFlightJoin(ev);
    return promise as Promise<T>;
  }

  /**
   * Lets running fills finish for up to `deadlineMs`, then aborts the rest
   * (their staged files are removed as they unwind).
   */
  async close(deadlineMs = 10_000): Promise<void> {
    const all = Promise.allSettled([...this.#running]);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((r) => {
      timer = setTimeout(r, deadlineMs);
    });
    await Promise.race([all, expired]);
    clearTimeout(timer);
    this.#shutdown.abort(new DisabledError("goark is shutting down"));
    await Promise.allSettled([...this.#running]);
  }
}

/** A store miss while offline, as the DisabledError the core answers every offline miss with. */
function offlineMiss(module: string, version?: string): DisabledError {
  return new DisabledError(offlineMissMessage(module, version), {
    module,
    ...(version === undefined ? {} : { version }),
  });
}

async function offlineRefusal<T>(
  module: string,
  version: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isNotExist(err)) throw offlineMiss(module, version);
    throw err;
  }
}

/** One `version[ time]` line per entry, as the GOPROXY list format allows. */
export function formatList(entries: readonly ListEntry[]): Buffer {
  return Buffer.from(entries.map((e) => (e.time ? `${e.version} ${e.time}\n` : `${e.version}\n`)).join(""));
}

/** Highest release, else highest prerelease (modload's "latest" preference); undefined for none. */
function pickLatest(sortedTagged: string[]): string | undefined {
  const releases = sortedTagged.filter((v) => !isPrerelease(v));
  return releases.at(-1) ?? sortedTagged.at(-1);
}
