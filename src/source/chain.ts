/**
 * Sources composed with the go command's GOPROXY rules (modfetch.TryProxies):
 * after `,` the next source is tried only when the answer was "not found"
 * (404/410), after `|` on any error; `off` refuses; private modules never
 * reach a proxy entry. When all fail, the most useful error is reported:
 * direct (or noproxy) errors first, then proxy errors other than not-found,
 * then the last not-found.
 */
import {
  asGoarkError,
  ConfigError,
  DisabledError,
  type GoarkError,
  isNotExist,
  NotFoundError,
  UpstreamError,
} from "../errors.ts";
import { matchPrefixPatterns } from "../module/path.ts";
import { type ChainAnswerEvent, publishChainAnswer, type UpstreamRoute } from "../observability/events.ts";
import type { ConcurrencyLimit } from "./concurrency-limit.ts";
import { DirectPlaceholderSource } from "./direct-placeholder.ts";
import { type ProxySpecKind, parseGoproxyList } from "./goproxy-list.ts";
import { ProxySource, type ProxySourceOptions } from "./proxy-source.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "./source.ts";

export interface ChainEntry {
  kind: ProxySpecKind;
  /** For `noproxy` this is the direct source; for `off`, anything (it is never asked). */
  source: Source;
  /** `|` after the entry: fall through on any error, not only on not-found. */
  fallBackOnError: boolean;
}

export interface ChainOptions {
  /** GONOPROXY/GOPRIVATE-style patterns: matching modules go only to the direct source. */
  private?: string;
  /** Called once per settled lookup, with the source that answered (or the error code). */
  onAnswer?: (answer: ChainAnswerEvent) => void;
}

/** A value and the name of the source that produced it. */
export interface Answered<T> {
  value: T;
  source: string;
}

export const OFF_MESSAGE = "module lookup disabled by GOPROXY=off";
export const PRIVATE_MESSAGE = "private module: not sent to upstream proxies";

export class SourceChain implements Source {
  readonly name: string;
  readonly entries: readonly ChainEntry[];
  readonly #private: string;
  readonly #onAnswer: ((answer: ChainAnswerEvent) => void) | undefined;

  constructor(entries: ChainEntry[], opts: ChainOptions = {}) {
    if (entries.length === 0) {
      throw new ConfigError(
        "the upstream chain has no entries; configure at least one upstream, direct or off",
      );
    }
    this.entries = entries;
    this.#private = opts.private ?? "";
    this.#onAnswer = opts.onAnswer;
    this.name = entries
      .map(
        (e, i) =>
          (e.kind === "off" ? "off" : e.kind === "noproxy" ? "noproxy" : e.source.name) +
          sepAfter(entries, i),
      )
      .join("");
  }

  list(module: string, opts?: FetchOptions): Promise<ListEntry[]> {
    return this.lookup("list", module, undefined, (s) => s.list(module, opts), opts).then((a) => a.value);
  }

  latest(module: string, opts?: FetchOptions): Promise<Info> {
    return this.lookup("latest", module, undefined, (s) => s.latest(module, opts), opts).then((a) => a.value);
  }

  info(module: string, query: string, opts?: FetchOptions): Promise<Info> {
    return this.lookup("info", module, query, (s) => s.info(module, query, opts), opts).then((a) => a.value);
  }

  mod(module: string, version: string, opts?: FetchOptions): Promise<Buffer> {
    return this.lookup("mod", module, version, (s) => s.mod(module, version, opts), opts).then(
      (a) => a.value,
    );
  }

  zip(module: string, version: string, opts?: FetchOptions): Promise<ZipBody> {
    return this.lookup("zip", module, version, (s) => s.zip(module, version, opts), opts).then(
      (a) => a.value,
    );
  }

  /**
   * Runs `op` against each entry in turn with the GOPROXY fall-through rules
   * and returns the first answer with the name of the source that gave it.
   */
  async lookup<T>(
    route: UpstreamRoute,
    module: string,
    version: string | undefined,
    op: (source: Source) => Promise<T>,
    opts?: FetchOptions,
  ): Promise<Answered<T>> {
    const isPrivate = this.#private !== "" && matchPrefixPatterns(this.#private, module);
    const tried: ChainAnswerEvent["tried"] = [];
    let best: GoarkError | undefined;
    let bestRank = NOT_EXIST_RANK;
    const where = version === undefined ? module : `${module}@${version}`;

    for (const entry of this.entries) {
      const signal = opts?.signal;
      if (signal?.aborted) {
        const reason: unknown = signal.reason;
        best = asGoarkError(
          reason instanceof Error
            ? reason
            : new UpstreamError(`${where}: lookup cancelled`, { cause: reason }),
        );
        break;
      }
      const label = entry.kind === "off" ? "off" : entry.source.name;
      let err: GoarkError;
      let skipped = false; // Go's errUseProxy: noproxy declining a public module.
      try {
        if (entry.kind === "off") {
          throw isPrivate ? privateRefusal(where, module, version) : offRefusal(where, module, version);
        }
        if (entry.kind === "proxy" && isPrivate) throw privateRefusal(where, module, version);
        if (entry.kind === "noproxy" && !isPrivate) {
          skipped = true;
          throw new NotFoundError(`${where}: path does not match the private module patterns`, {
            module,
            ...(version === undefined ? {} : { version }),
          });
        }
        const value = await op(entry.source);
        tried.push({ source: label });
        this.#report({ route, module, version, source: entry.source.name, tried });
        return { value, source: entry.source.name };
      } catch (caught) {
        err = asGoarkError(caught);
      }
      if (!skipped) tried.push({ source: label, error: err.code });
      // GOPROXY=off and the private refusals are not-exist errors in Go.
      const notExist = isNotExist(err) || entry.kind === "off";
      if (entry.kind === "direct" || (entry.kind === "noproxy" && !skipped)) {
        best = err;
        bestRank = DIRECT_RANK;
      } else if (bestRank <= PROXY_RANK && !notExist) {
        best = err;
        bestRank = PROXY_RANK;
      } else if (bestRank === NOT_EXIST_RANK) {
        best = err;
      }
      if (!entry.fallBackOnError && !notExist) break;
    }

    const reported = best ?? new NotFoundError(`${where}: not found`, { module });
    this.#report({ route, module, version, tried, error: reported.code });
    throw reported;
  }

  /** Closes every source that holds resources. */
  async close(): Promise<void> {
    const sources = new Set(this.entries.map((e) => e.source));
    await Promise.all([...sources].map((s) => s.close?.()));
  }

  #report(a: {
    route: UpstreamRoute;
    module: string;
    version: string | undefined;
    source?: string;
    tried: ChainAnswerEvent["tried"];
    error?: string;
  }): void {
    const event: ChainAnswerEvent = {
      route: a.route,
      module: a.module,
      ...(a.version === undefined ? {} : { version: a.version }),
      ...(a.source === undefined ? {} : { source: a.source }),
      tried: a.tried,
      ...(a.error === undefined ? {} : { error: a.error }),
    };
    publishChainAnswer(event);
    this.#onAnswer?.(event);
  }
}

const NOT_EXIST_RANK = 0;
const PROXY_RANK = 1;
const DIRECT_RANK = 2;

function sepAfter(entries: readonly ChainEntry[], i: number): string {
  if (i === entries.length - 1) return "";
  return entries[i]?.fallBackOnError ? "|" : ",";
}

function offRefusal(where: string, module: string, version: string | undefined): DisabledError {
  return new DisabledError(`${where}: ${OFF_MESSAGE}`, {
    module,
    ...(version === undefined ? {} : { version }),
  });
}

function privateRefusal(where: string, module: string, version: string | undefined): NotFoundError {
  return new NotFoundError(`${where}: ${PRIVATE_MESSAGE} (it matches the private patterns)`, {
    module,
    ...(version === undefined ? {} : { version }),
  });
}

export interface CreateChainOptions extends ChainOptions {
  /** Options for every upstream proxy (timeouts, retries, breaker, limits). */
  upstream?: ProxySourceOptions;
  /** A cap on upstream fetches shared by all upstreams; overrides upstream.limit. */
  limit?: ConcurrencyLimit;
  /** The `direct` source; by default the placeholder that explains it is not available yet. */
  direct?: Source;
  /** Builds the source for one proxy URL; by default a ProxySource. */
  createUpstream?: (url: string) => Source;
}

/** Parses a GOPROXY string (with `private` as GONOPROXY) and builds the chain. */
export function createChain(goproxy: string, opts: CreateChainOptions = {}): SourceChain {
  const specs = parseGoproxyList(goproxy, opts.private === undefined ? {} : { noproxy: opts.private });
  const direct = opts.direct ?? new DirectPlaceholderSource();
  const upstreamOpts: ProxySourceOptions =
    opts.limit === undefined ? { ...opts.upstream } : { ...opts.upstream, limit: opts.limit };
  const createUpstream = opts.createUpstream ?? ((url: string) => new ProxySource(url, upstreamOpts));
  const entries = specs.map((spec): ChainEntry => {
    const source = spec.kind === "proxy" ? createUpstream(spec.url) : direct;
    return { kind: spec.kind, source, fallBackOnError: spec.fallBackOnError };
  });
  const chainOpts: ChainOptions = {};
  if (opts.private !== undefined) chainOpts.private = opts.private;
  if (opts.onAnswer !== undefined) chainOpts.onAnswer = opts.onAnswer;
  return new SourceChain(entries, chainOpts);
}
