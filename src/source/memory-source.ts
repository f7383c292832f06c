/**
 * A Map-backed Source for tests of the layers above: versions, queries and
 * failures are put in by hand, and every call is recorded.
 */
import { Readable } from "node:stream";
import { type GoarkError, NotFoundError } from "../errors.ts";
import type { UpstreamRoute } from "../observability/events.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "./source.ts";

export interface MemoryVersion {
  /** Extra or overriding .info fields; Version defaults to the version. */
  info?: Partial<Info>;
  /** go.mod bytes; defaults to `module <path>\n`. */
  mod?: string | Uint8Array;
  /** Zip bytes; absent means the zip is not found. */
  zip?: Uint8Array;
  /** Left out of `list` (pseudo-versions are never listed). Default false. */
  unlisted?: boolean;
}

export interface MemoryCall {
  route: UpstreamRoute;
  module: string;
  version?: string;
}

interface ModuleEntry {
  versions: Map<string, MemoryVersion>;
  queries: Map<string, string>;
  latest?: Info;
}

export class MemorySource implements Source {
  readonly name: string;
  readonly calls: MemoryCall[] = [];
  readonly #modules = new Map<string, ModuleEntry>();
  readonly #failures = new Map<string, GoarkError>();

  constructor(name = "memory") {
    this.name = name;
  }

  /** Adds (or replaces) a version. */
  addVersion(module: string, version: string, v: MemoryVersion = {}): this {
    this.#entry(module).versions.set(version, v);
    return this;
  }

  /** Makes `info(module, query)` answer with the .info of `version` (branches, `v1.2`, hashes). */
  addQuery(module: string, query: string, version: string): this {
    this.#entry(module).queries.set(query, version);
    return this;
  }

  /** Sets the `@latest` answer; without one latest() is not found. */
  setLatest(module: string, info: Info): this {
    this.#entry(module).latest = info;
    return this;
  }

  /** Makes every call for `module` (or only one route) fail with `err`. */
  fail(module: string, err: GoarkError, route?: UpstreamRoute): this {
    this.#failures.set(`${route ?? "*"} ${module}`, err);
    return this;
  }

  /** Removes failures set with fail(). */
  heal(module: string, route?: UpstreamRoute): this {
    this.#failures.delete(`${route ?? "*"} ${module}`);
    return this;
  }

  async list(module: string, opts?: FetchOptions): Promise<ListEntry[]> {
    const m = this.#begin("list", module, undefined, opts);
    const out: ListEntry[] = [];
    for (const [version, v] of m?.versions ?? []) {
      if (v.unlisted) continue;
      const time = v.info?.Time;
      out.push(typeof time === "string" ? { version, time } : { version });
    }
    if (m === undefined) throw new NotFoundError(`${module}: not found in ${this.name}`, { module });
    return out;
  }

  async latest(module: string, opts?: FetchOptions): Promise<Info> {
    const m = this.#begin("latest", module, undefined, opts);
    if (m?.latest === undefined) {
      throw new NotFoundError(`${module}@latest: not found in ${this.name}`, { module });
    }
    return { ...m.latest };
  }

  async info(module: string, query: string, opts?: FetchOptions): Promise<Info> {
    const m = this.#begin("info", module, query, opts);
    const version = m?.queries.get(query) ?? query;
    const v = m?.versions.get(version);
    if (v === undefined) {
      throw new NotFoundError(`${module}@${query}: not found in ${this.name}`, { module, version: query });
    }
    return { Version: version, ...v.info } as Info;
  }

  async mod(module: string, version: string, opts?: FetchOptions): Promise<Buffer> {
    const v = this.#begin("mod", module, version, opts)?.versions.get(version);
    if (v === undefined) {
      throw new NotFoundError(`${module}@${version}: go.mod not found in ${this.name}`, { module, version });
    }
    return Buffer.from(v.mod ?? `module ${module}\n`);
  }

  async zip(module: string, version: string, opts?: FetchOptions): Promise<ZipBody> {
    const zip = this.#begin("zip", module, version, opts)?.versions.get(version)?.zip;
    if (zip === undefined) {
      throw new NotFoundError(`${module}@${version}: zip not found in ${this.name}`, { module, version });
    }
    const bytes = Buffer.from(zip);
    return { body: Readable.from([bytes]), size: bytes.length };
  }

  #entry(module: string): ModuleEntry {
    let m = this.#modules.get(module);
    if (m === undefined) {
      m = { versions: new Map(), queries: new Map() };
      this.#modules.set(module, m);
    }
    return m;
  }

  #begin(
    route: UpstreamRoute,
    module: string,
    version: string | undefined,
    opts: FetchOptions | undefined,
  ): ModuleEntry | undefined {
    this.calls.push(version === undefined ? { route, module } : { route, module, version });
    opts?.signal?.throwIfAborted();
    const failure = this.#failures.get(`${route} ${module}`) ?? this.#failures.get(`* ${module}`);
    if (failure !== undefined) throw failure;
    return this.#modules.get(module);
  }
}
