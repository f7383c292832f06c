/**
 * Builds the checksum databases of a configuration (serve): the upstream
 * database from --sumdb (unless off) and goark's own database, both kept
 * under `<store>/.sumdb/`, plus the lines that tell an operator and a client
 * what was set up.
 */
import { join, resolve } from "node:path";
import { parseSumDb } from "../config/go-env-syntax.ts";
import type { Config } from "../config/options.ts";
import { ConfigError, DisabledError } from "../errors.ts";
import type { Storage } from "../storage/storage.ts";
import { SUMDB_DIR } from "./own-db.ts";
import { SumdbService } from "./service.ts";
import type { SumdbLogger } from "./upstream-db.ts";

/** `<store>/.sumdb` of a disk store, else undefined. */
export function sumdbDir(config: Pick<Config, "storage">): string | undefined {
  return config.storage.kind === "disk" ? join(resolve(config.storage.path), SUMDB_DIR) : undefined;
}

export interface OpenSumdbOptions {
  storage: Storage;
  /** Keep databases in this directory; undefined: none on disk (no own database). */
  dir: string | undefined;
  offline: boolean;
  logger?: SumdbLogger;
  fetch?: typeof fetch;
}

/** The service for config, or undefined when there is nothing to serve or verify with. */
export async function openSumdb(config: Config, opts: OpenSumdbOptions): Promise<SumdbService | undefined> {
  const setting = parseSumDb(config.sumdb);
  if (typeof setting === "string") throw new ConfigError(`sumdb: ${setting}`);
  if (setting.off) {
    opts.logger?.warn(
      {},
      "checksum verification is off (--sumdb off): modules are stored without checking them against a checksum database",
    );
  }
  if (opts.dir === undefined) {
    if (!setting.off) {
      opts.logger?.warn(
        { sumdb: setting.name },
        "checksum verification needs a disk store; modules are stored unverified",
      );
    }
    return undefined;
  }
  const explicitUrl = config.sumdb.trim().split(/\s+/).length > 1;
  // Offline: what is kept is served, nothing is ever fetched.
  const offlineFetch: typeof fetch = async (input) => {
    throw new DisabledError(`offline: not fetching ${String(input)}`);
  };
  const fetcher = opts.offline ? offlineFetch : opts.fetch;
  const service = await SumdbService.open({
    setting,
    explicitUrl,
    upstream: config.upstream,
    private: config.private,
    nosumdb: config.nosumdb,
    dir: opts.dir,
    ownName: config.sumdbName,
    storage: opts.storage,
    timeoutMs: config.upstreamTimeout,
    latestTtlMs: config.listTtl,
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(fetcher === undefined ? {} : { fetch: fetcher }),
  });
  if (service.upstream !== undefined) {
    opts.logger?.info(
      { sumdb: service.upstream.name, nosumdb: config.nosumdb, private: config.private },
      "verifying modules against the checksum database before storing them",
    );
  }
  if (service.own !== undefined) {
    opts.logger?.info(
      { sumdb: service.own.name, verifierKey: service.own.verifierKey, readOnly: service.own.readOnly },
      "serving goark's own checksum database",
    );
  }
  return service;
}

/**
 * The `go env` lines for a client of goark at url: GOPROXY, and with goark's
 * own database its GOSUMDB (which vouches for every module goark serves,
 * private ones included, so no GONOSUMDB/GOPRIVATE is needed); without it,
 * the public database's exemptions as before.
 */
export function sumdbClientLines(
  url: string,
  config: Pick<Config, "private" | "sumdb" | "nosumdb">,
  ownGosumdb: string | undefined,
): string[] {
  const lines = [`go env -w GOPROXY=${url}`];
  if (ownGosumdb !== undefined) {
    lines.push(`go env -w GOSUMDB="${ownGosumdb}"`);
    lines.push("go env -u GONOSUMDB GOPRIVATE GONOPROXY");
  } else {
    const nosum = [config.private, config.nosumdb].filter((s) => s !== "").join(",");
    if (nosum !== "") lines.push(`go env -w GONOSUMDB=${nosum}`);
    if (config.sumdb === "off") lines.push("go env -w GOSUMDB=off");
  }
  if (config.sumdb === "off") {
    lines.push("# checksum verification is off (--sumdb off): goark stores modules unverified");
  }
  return lines;
}
