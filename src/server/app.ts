/**
 * The composition root: configuration → storage → sources (each upstream
 * wrapped in verification) → caching core → HTTP server, plus logs, metrics
 * and an orderly shutdown. Everything is wired here and only here.
 */
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ProxyCore } from "../cache/proxy-core.ts";
import { type KnownSums, VerifyingSource } from "../cache/verify.ts";
import { resolveCredentials, rewriteRules, sshSettings } from "../config/direct-settings.ts";
import type { Config } from "../config/options.ts";
import { ChecksumMismatchError, ConfigError } from "../errors.ts";
import { createLogger, type Logger } from "../observability/log.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { createChain, type SourceChain } from "../source/chain.ts";
import { DirectSource } from "../source/direct.ts";
import { parseGoproxyList } from "../source/goproxy-list.ts";
import { ProxySource, type ProxySourceOptions } from "../source/proxy-source.ts";
import type { Source } from "../source/source.ts";
import { StoreSource } from "../source/store-source.ts";
import { readGlobalCredentialConfig } from "../source/vcs/git-credential-config.ts";
import { prepareExtraTrust } from "../source/vcs/tls-trust.ts";
import { DiskStorage } from "../storage/disk.ts";
import type { Storage } from "../storage/storage.ts";
import { openSumdb, sumdbClientLines, sumdbDir } from "../sumdb/from-config.ts";
import type { SumdbService } from "../sumdb/service.ts";
import { createRequestHandler, listen, type Readiness, type RunningServer } from "./http.ts";
import { reportStoreSize } from "./store-size.ts";

export interface AppOptions {
  logger?: Logger;
  /** Use this store instead of opening config.storage (tests). */
  storage?: Storage;
  /** Use this source instead of building the chain from config.upstream (tests). */
  source?: Source;
  knownSums?: KnownSums;
  /** Export process metrics too (default true). */
  processMetrics?: boolean;
}

export interface App {
  readonly config: Config;
  readonly url: string;
  readonly port: number;
  readonly server: RunningServer;
  readonly core: ProxyCore;
  readonly storage: Storage;
  readonly source: Source;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The checksum databases (upstream verification, goark's own), when configured. */
  readonly sumdb: SumdbService | undefined;
  /** The lines a client runs to use this proxy. */
  readonly clientLines: string[];
  /** Graceful stop: no new connections, in-flight work up to the deadline, no temp files left. */
  close(deadlineMs?: number): Promise<void>;
}

async function openStorage(config: Config): Promise<Storage> {
  const loc = config.storage;
  if (loc.kind !== "disk") {
    throw new ConfigError(`storage ${loc.kind}:// is not supported yet; use a directory`);
  }
  return DiskStorage.open({ root: resolve(loc.path), memoryBytes: config.memoryCacheBytes });
}

/**
 * Offline: --offline, or an upstream list that begins with `off` (nothing
 * could ever be fetched). No outbound source is even built then.
 */
export function isOffline(config: Pick<Config, "offline" | "upstream">): boolean {
  return config.offline || parseGoproxyList(config.upstream)[0]?.kind === "off";
}

/** The upstream chain of the configuration, each upstream verified before anything is stored (serve, warm). */
export function buildSource(config: Config, storage: Storage, knownSums: KnownSums | undefined): SourceChain {
  const upstream: ProxySourceOptions = {
    connectTimeoutMs: config.upstreamConnectTimeout,
    headersTimeoutMs: config.upstreamTimeout,
    readTimeoutMs: config.upstreamTimeout,
    retries: config.upstreamRetries,
    maxConcurrent: config.upstreamConcurrency,
  };
  // direct (and private modules): git mirrors beside the artefacts, in a dot-directory the store ignores.
  const vcsDir =
    config.storage.kind === "disk" ? join(resolve(config.storage.path), ".vcs") : join(tmpdir(), "goark-vcs");
  // caFile: extra roots for discovery, and for git a bundle beside the mirrors extending its default one.
  const trust = config.caFile === "" ? undefined : prepareExtraTrust(config.caFile, vcsDir);
  const direct = new DirectSource({
    vcsDir,
    insecure: config.insecure,
    private: config.private,
    rewrites: rewriteRules(config.rewrite),
    credentials: resolveCredentials(config.credentials),
    hostConcurrency: config.gitHostConcurrency,
    networkTimeoutMs: config.gitTimeout,
    discoveryTimeoutMs: config.discoveryTimeout,
    ...(trust === undefined ? {} : { ca: trust.ca }),
    git: {
      ssh: sshSettings(config),
      ...(config.gitCredentialHelpers ? { configEntries: readGlobalCredentialConfig() } : {}),
      ...(trust === undefined ? {} : { caBundleFile: trust.gitBundleFile }),
    },
    // Zips goark builds itself go straight into the store's staging area, checked against known sums.
    stageZip: {
      storage,
      check: async (module, version, h1) => {
        const known = (await knownSums?.lookup(module, version))?.zip;
        if (known !== undefined && known !== h1) {
          throw new ChecksumMismatchError(
            `${module}@${version}: zip built from git has hash ${h1}, but go.sum records ${known}`,
            {
              module,
              version,
            },
          );
        }
      },
    },
  });
  const verified = new VerifyingSource(direct, { storage, ...(knownSums ? { knownSums } : {}) });
  const directSource: Source = {
    name: direct.name,
    list: (m, o) => verified.list(m, o),
    latest: (m, o) => verified.latest(m, o),
    info: (m, q, o) => verified.info(m, q, o),
    mod: (m, v, o) => verified.mod(m, v, o),
    zip: (m, v, o) => direct.zip(m, v, o),
    close: () => verified.close(),
  };
  return createChain(config.upstream, {
    ...(config.private === "" ? {} : { private: config.private }),
    direct: directSource,
    createUpstream: (url) =>
      new VerifyingSource(new ProxySource(url, upstream), { storage, ...(knownSums ? { knownSums } : {}) }),
  });
}

/** The `go env -w` lines that point a client at this proxy (and at goark's own checksum database). */
export function clientLines(
  url: string,
  config: Pick<Config, "private" | "sumdb" | "nosumdb">,
  ownGosumdb?: string,
): string[] {
  return sumdbClientLines(url, config, ownGosumdb);
}

export async function startApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const metrics = createMetrics({ processMetrics: opts.processMetrics ?? true });
  const storage = opts.storage ?? (await openStorage(config));
  const sweep = await storage.sweep();
  if (sweep.tempRemoved > 0) logger.info({ ...sweep }, "start-up sweep removed leftover temporary files");
  const offline = isOffline(config);
  // Not for an injected store (tests): the databases live beside a disk store.
  const sumdb = await openSumdb(config, {
    storage,
    dir: opts.storage === undefined ? sumdbDir(config) : undefined,
    offline,
    logger,
  });
  const knownSums = opts.knownSums ?? sumdb;
  const source: Source =
    opts.source ?? (offline ? new StoreSource(storage) : buildSource(config, storage, knownSums));
  const core = new ProxyCore({
    storage,
    source,
    listTtlMs: config.listTtl,
    notFoundTtlMs: config.notFoundTtl,
    offline,
    prefetchZips: config.prefetchZips,
    logger,
    ...(knownSums ? { knownSums } : {}),
    ...(sumdb?.own ? { onZipStored: (m: string, v: string) => sumdb.stored(m, v) } : {}),
  });
  sumdb?.own?.setFill((m, v) => core.zip(m, v));
  // goark_store_size_bytes / goark_store_objects: at start, then after fills (throttled).
  const storeSize = reportStoreSize(storage, {
    onError: (err) => logger.warn({ err }, "could not read the store's size for the metrics"),
  });

  const readiness = async (): Promise<Readiness> => {
    try {
      const probe = await storage.stage();
      await probe.dispose();
    } catch (err) {
      return { ok: false, detail: `store not writable: ${(err as Error).message}` };
    }
    if (offline) return { ok: true, detail: "ready (offline: serving the store only)" };
    const upstreams = upstreamHealth(source);
    if (upstreams.length > 0 && upstreams.every((u) => u.state === "open")) {
      return { ok: false, detail: `no upstream reachable: ${upstreams.map((u) => u.name).join(", ")}` };
    }
    return { ok: true, detail: "ready" };
  };

  const handler = createRequestHandler({
    core,
    logger,
    metrics,
    readiness,
    listMaxAgeSeconds: Math.floor(config.listTtl / 1000),
    ...(sumdb ? { sumdb } : {}),
  });
  let server: RunningServer;
  try {
    server = await listen(handler, config.listen.host, config.listen.port);
  } catch (err) {
    await storeSize.close();
    await sumdb?.close();
    await storage.close();
    metrics.close();
    throw new ConfigError(
      `cannot listen on ${config.listen.host || "*"}:${config.listen.port}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  // For a wildcard listen, tell clients a name other machines can use.
  const publicUrl =
    config.listen.host === "" || config.listen.host === "0.0.0.0" || config.listen.host === "::"
      ? `http://${hostname()}:${server.port}`
      : server.url;

  let closing: Promise<void> | undefined;
  const app: App = {
    config,
    url: server.url,
    port: server.port,
    server,
    core,
    storage,
    source,
    logger,
    metrics,
    sumdb,
    clientLines: clientLines(publicUrl, config, sumdb?.clientGosumdb(publicUrl)),
    close(deadlineMs = config.shutdownTimeout) {
      closing ??= (async () => {
        const until = Date.now() + deadlineMs;
        await server.close(deadlineMs);
        await core.close(Math.max(0, until - Date.now()));
        await source.close?.();
        await sumdb?.close();
        await storeSize.close();
        // Whatever an aborted fill left behind goes now, not at the next start.
        await storage.sweep().catch(() => undefined);
        await storage.close();
        metrics.close();
      })();
      return closing;
    },
  };
  return app;
}

/** Health of the upstream proxies in a chain (through their verification wrappers). */
function upstreamHealth(source: Source): { name: string; state: string }[] {
  const entries = (source as Partial<SourceChain>).entries;
  if (entries === undefined) return [];
  const out: { name: string; state: string }[] = [];
  for (const e of entries) {
    if (e.kind !== "proxy") return []; // direct or off present: "reachable" is not ours to judge
    const inner = e.source instanceof VerifyingSource ? e.source.inner : e.source;
    if (inner instanceof ProxySource) out.push({ name: inner.name, state: inner.health.state });
  }
  return out;
}
