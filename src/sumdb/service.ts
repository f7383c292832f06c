/**
 * The checksum databases of one goark: the configured upstream database
 * (verification before store, and proxying) and goark's own log, behind one
 * object the composition root wires in:
 * - as KnownSums, the hashes a fetched version must have: the own log's
 *   record when it holds one (what clients were already given), else the
 *   upstream database's proven record — unless the module is private or
 *   matches --nosumdb, or verification is off;
 * - `stored(module, version)` records a newly stored version in the own log;
 * - `serve(path)` answers `/sumdb/<name>/…` for both databases.
 */
import { join } from "node:path";
import type { KnownHashes, KnownSums } from "../cache/verify.ts";
import type { SumDbSetting } from "../config/go-env-syntax.ts";
import { ConfigError, NotFoundError } from "../errors.ts";
import { compilePrefixPatterns } from "../module/path.ts";
import type { Storage } from "../storage/storage.ts";
import { SumdbFiles } from "./file-store.ts";
import { OwnSumdb } from "./own-db.ts";
import { type SumdbLogger, type SumdbResponse, UpstreamSumdb } from "./upstream-db.ts";

export interface SumdbServiceOptions {
  /** The parsed --sumdb setting. */
  setting: SumDbSetting;
  /** True when the setting named an explicit URL (proxies are then not asked). */
  explicitUrl: boolean;
  /** --upstream (GOPROXY syntax). */
  upstream: string;
  /** --private and --nosumdb patterns. */
  private: string;
  nosumdb: string;
  /** `<store>/.sumdb`; without it there is no own database and no on-disk cache. */
  dir?: string;
  /** Name of goark's own database ("" = the stored key's, or goark.<host>). */
  ownName?: string;
  storage: Storage;
  timeoutMs?: number;
  latestTtlMs?: number;
  logger?: SumdbLogger;
  fetch?: typeof fetch;
}

export class SumdbService implements KnownSums {
  readonly upstream: UpstreamSumdb | undefined;
  readonly own: OwnSumdb | undefined;
  readonly #isPrivate: (module: string) => boolean;
  readonly #isNoSum: (module: string) => boolean;
  readonly #log: SumdbLogger | undefined;
  readonly #pending = new Set<Promise<void>>();

  private constructor(
    opts: SumdbServiceOptions,
    upstream: UpstreamSumdb | undefined,
    own: OwnSumdb | undefined,
  ) {
    this.upstream = upstream;
    this.own = own;
    this.#isPrivate = compilePrefixPatterns(opts.private);
    this.#isNoSum = compilePrefixPatterns(opts.nosumdb);
    this.#log = opts.logger;
  }

  static async open(opts: SumdbServiceOptions): Promise<SumdbService> {
    let upstream: UpstreamSumdb | undefined;
    const s = opts.setting;
    if (!s.off) {
      if (opts.dir === undefined) {
        throw new ConfigError(
          "checksum verification needs a disk store (for its kept tree head); use --sumdb off otherwise",
        );
      }
      upstream = new UpstreamSumdb({
        name: s.name,
        key: s.key,
        ...(opts.explicitUrl ? { url: s.url } : {}),
        upstream: opts.upstream,
        files: new SumdbFiles(join(opts.dir, "remote", s.name)),
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        ...(opts.latestTtlMs === undefined ? {} : { latestTtlMs: opts.latestTtlMs }),
        ...(opts.logger === undefined ? {} : { logger: opts.logger }),
        ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      });
    }
    let own: OwnSumdb | undefined;
    if (opts.dir !== undefined) {
      own = await OwnSumdb.open({
        dir: opts.dir,
        name: opts.ownName ?? "",
        storage: opts.storage,
        ...(opts.logger === undefined ? {} : { logger: opts.logger }),
      });
      if (upstream !== undefined && own.name === upstream.name) {
        await own.close();
        throw new ConfigError(
          `goark's own checksum database cannot share the name ${own.name} with the upstream database`,
        );
      }
    }
    return new SumdbService(opts, upstream, own);
  }

  /** Why module must not be checked against the upstream database, or undefined. */
  exempt(module: string): string | undefined {
    if (this.#isPrivate(module))
      return "private module (--private): not looked up in the public checksum database";
    if (this.#isNoSum(module)) return "matches --nosumdb: not looked up in the checksum database";
    return undefined;
  }

  /** KnownSums: the hashes a fetched version must have, if anyone vouches for them. */
  async lookup(module: string, version: string): Promise<KnownHashes | undefined> {
    const own = await this.own?.hashes(module, version);
    if (own !== undefined) return { ...own, source: `goark's checksum database ${this.own!.name}` };
    if (this.upstream === undefined || this.exempt(module) !== undefined) return undefined;
    const proven = await this.upstream.hashes(module, version);
    return { ...proven, source: `checksum database ${this.upstream.name}` };
  }

  /**
   * Records a newly stored version in the own log, in the background (the
   * client need not wait for the signed head; a lookup of a version not yet
   * recorded records it on demand). close() waits for what is pending.
   */
  async stored(module: string, version: string): Promise<void> {
    const own = this.own;
    if (own === undefined || own.readOnly !== undefined) return;
    const p = own.record(module, version).then(
      () => undefined,
      (err: unknown) => {
        this.#log?.warn(
          { module, version, err: (err as Error).message },
          "recording a stored version in goark's checksum database failed",
        );
      },
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Answers `/sumdb/<path>` (path without the leading `/sumdb/`). */
  serve(path: string, signal?: AbortSignal): Promise<SumdbResponse> {
    const own = this.own;
    if (own !== undefined && path.startsWith(`${own.name}/`)) {
      return own.serve(path.slice(own.name.length + 1));
    }
    const up = this.upstream;
    if (up !== undefined && path.startsWith(`${up.name}/`)) {
      return up.serve(path.slice(up.name.length + 1), (m) => this.exempt(m), signal);
    }
    const names = [own?.name, up?.name].filter((n) => n !== undefined);
    return Promise.reject(
      new NotFoundError(
        `not found: /sumdb/${path.slice(0, 200)}: goark serves ${names.length > 0 ? `the checksum databases ${names.join(" and ")}` : "no checksum database"}`,
      ),
    );
  }

  /** The GOSUMDB value that points a client at goark's own database. */
  clientGosumdb(baseUrl: string): string | undefined {
    return this.own === undefined ? undefined : `${this.own.verifierKey} ${baseUrl}/sumdb/${this.own.name}`;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pending]);
    await this.own?.close();
  }
}
