/**
 * The offline source: answers the five questions from the store alone, never
 * the network. `list` and `@latest` are computed from the stored versions
 * with the go command's rules (modload/query.go), so a store filled by
 * `goark warm` or `goark import` answers them as an upstream would:
 *
 * - list: the stored canonical tagged versions (pseudo-versions are never
 *   listed), retracted ones included — the client filters those itself.
 * - latest: the highest release, else the highest prerelease, among the
 *   tagged versions not retracted by the go.mod of the latest version found
 *   while ignoring retractions; `+incompatible` versions are passed over once
 *   the highest compatible version has a real go.mod; with no tagged version
 *   left, the newest pseudo-version.
 *
 * A miss is a NotFoundError whose message says the module is not in the
 * offline store and how to bring it there.
 */
import type { Readable } from "node:stream";
import { GoarkError, NotFoundError } from "../errors.ts";
import { formatModuleOnly, isRetracted, parseModFile } from "../module/modfile.ts";
import { isPseudoVersion, pseudoVersionRev, pseudoVersionTime } from "../module/pseudo.ts";
import { compare, isPrerelease, isValid } from "../module/semver.ts";
import { infoKey, modKey, parseKey, versionDirKey, zipKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "./source.ts";

/** The one-line reason a module or version is missing offline, with the way to add it. */
export function offlineMissMessage(module: string, version?: string): string {
  const at = version === undefined ? module : `${module}@${version}`;
  const warm = version === undefined ? `${module}@latest` : at;
  return (
    `${at}: not in the offline store; to add it, run \`goark warm ${warm}\` (or warm a go.mod needing it) ` +
    "on a connected machine, then `goark export` there and `goark import` here"
  );
}

export function offlineMiss(module: string, version?: string): NotFoundError {
  return new NotFoundError(offlineMissMessage(module, version), {
    module,
    ...(version === undefined ? {} : { version }),
  });
}

/** Stored versions of one module, by what the store holds of each. */
export interface StoredVersions {
  /** Canonical versions with a stored `.mod` (what the graph and the list are made of). */
  withMod: string[];
  /** Canonical versions with a stored `.info`. */
  withInfo: string[];
}

export async function storedVersions(storage: Storage, module: string): Promise<StoredVersions> {
  const withMod: string[] = [];
  const withInfo: string[] = [];
  for await (const key of storage.list(versionDirKey(module))) {
    const p = parseKey(key);
    if (p === undefined || p.module !== module || p.version === undefined) continue;
    if (p.kind === "mod") withMod.push(p.version);
    else if (p.kind === "info") withInfo.push(p.version);
  }
  return { withMod, withInfo };
}

/**
 * The versions `list` names: stored tagged versions, in semver order. A
 * version counts as stored when its `.mod` is (as the go command rebuilds its
 * download cache's list from .mod files).
 */
export function listedVersions(stored: StoredVersions): string[] {
  return [...new Set(stored.withMod)].filter((v) => !isPseudoVersion(v)).sort(compare);
}

/** Everything latestVersion needs to know about one version's go.mod. */
export interface GoModFacts {
  /** The go.mod bytes, or undefined when not stored. */
  read(version: string): Promise<Buffer | undefined>;
}

/**
 * Go's "latest" over the candidate versions (tagged, ascending): highest
 * release, else highest prerelease, skipping `+incompatible` versions once the
 * highest compatible candidate before them has a real go.mod (filterVersions).
 */
async function highestAllowed(
  module: string,
  ascending: string[],
  allowed: (v: string) => boolean,
  mods: GoModFacts,
): Promise<string | undefined> {
  const releases: string[] = [];
  const prereleases: string[] = [];
  let lastCompatible: string | undefined;
  for (const v of ascending) {
    if (!allowed(v)) continue;
    if (v.endsWith("+incompatible")) {
      if (lastCompatible !== undefined) {
        const data = await mods.read(lastCompatible);
        // A synthesized `module PATH` go.mod means "no go.mod": +incompatible stays in play.
        if (data !== undefined && data.toString("utf8") !== formatModuleOnly(module)) break;
      }
    } else {
      lastCompatible = v;
    }
    (isPrerelease(v) ? prereleases : releases).push(v);
  }
  return releases.at(-1) ?? prereleases.at(-1);
}

/** The retractions in module@version's go.mod; none when it is missing or unreadable. */
async function retractionsOf(module: string, version: string, mods: GoModFacts) {
  const data = await mods.read(version);
  if (data === undefined) return [];
  try {
    return parseModFile(data, `${module}@${version}/go.mod`, { lax: true }).retract;
  } catch {
    // The go command ignores a go.mod it cannot read when checking retractions.
    return [];
  }
}

/**
 * The version `@latest` resolves to among `versions` (tagged and pseudo, any
 * order), or undefined when there is none. Pure apart from reading go.mod files.
 */
export async function latestVersion(
  module: string,
  versions: readonly string[],
  mods: GoModFacts,
): Promise<string | undefined> {
  const valid = [...new Set(versions)].filter(isValid);
  const tagged = valid.filter((v) => !isPseudoVersion(v)).sort(compare);
  const ignoringRetractions = await highestAllowed(module, tagged, () => true, mods);
  if (ignoringRetractions !== undefined) {
    const retract = await retractionsOf(module, ignoringRetractions, mods);
    const pick = await highestAllowed(module, tagged, (v) => !isRetracted({ retract }, v), mods);
    if (pick !== undefined) return pick;
  }
  // No usable tag: the newest pseudo-version (by its commit time), as the
  // go command picks from list times when a proxy has no @latest.
  const pseudos = valid.filter(isPseudoVersion);
  pseudos.sort((a, b) => pseudoVersionTime(a).getTime() - pseudoVersionTime(b).getTime() || compare(a, b));
  return pseudos.at(-1) ?? ignoringRetractions;
}

const HEX_QUERY = /^[0-9a-f]{12,40}$/;

export class StoreSource implements Source {
  readonly name = "store";
  readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  async list(module: string, _opts?: FetchOptions): Promise<ListEntry[]> {
    const stored = await storedVersions(this.storage, module);
    if (stored.withMod.length === 0 && stored.withInfo.length === 0) throw offlineMiss(module);
    return listedVersions(stored).map((version) => ({ version }));
  }

  /** The `.info` bytes of the version `@latest` resolves to, as stored. */
  async latestInfoBytes(module: string): Promise<Buffer> {
    const stored = await storedVersions(this.storage, module);
    // Only versions whose .info is stored can be answered.
    const infos = new Set(stored.withInfo);
    const candidates = [...new Set([...stored.withMod, ...stored.withInfo])].filter((v) => infos.has(v));
    const v = await latestVersion(module, candidates, this.#mods(module));
    if (v === undefined) throw offlineMiss(module);
    const bytes = await this.storage.getBytes(infoKey(module, v));
    if (bytes === undefined) throw offlineMiss(module);
    return bytes;
  }

  async latest(module: string, _opts?: FetchOptions): Promise<Info> {
    return parseInfo(module, await this.latestInfoBytes(module));
  }

  /**
   * A stored canonical version, or a commit-hash query naming exactly one
   * stored pseudo-version (the only queries the store can resolve).
   */
  async resolve(module: string, query: string): Promise<string> {
    const key = storedKey(module, query, "info");
    if (key !== undefined) {
      if (await this.storage.stat(key)) return query;
      throw offlineMiss(module, query);
    }
    if (HEX_QUERY.test(query)) {
      const stored = await storedVersions(this.storage, module);
      const hits = stored.withInfo.filter((v) => {
        if (!isPseudoVersion(v)) return false;
        const rev = pseudoVersionRev(v);
        return query.startsWith(rev) || rev.startsWith(query);
      });
      if (hits.length === 1) return hits[0]!;
    }
    throw offlineMiss(module, query);
  }

  async info(module: string, query: string, _opts?: FetchOptions): Promise<Info> {
    const version = await this.resolve(module, query);
    const bytes = await this.storage.getBytes(infoKey(module, version));
    if (bytes === undefined) throw offlineMiss(module, query);
    return parseInfo(module, bytes);
  }

  async mod(module: string, version: string, _opts?: FetchOptions): Promise<Buffer> {
    const key = storedKey(module, version, "mod");
    const bytes = key === undefined ? undefined : await this.storage.getBytes(key);
    if (bytes === undefined) throw offlineMiss(module, version);
    return bytes;
  }

  async zip(module: string, version: string, _opts?: FetchOptions): Promise<ZipBody> {
    const key = storedKey(module, version, "zip");
    const st = key === undefined ? undefined : await this.storage.stat(key);
    const body: Readable | undefined = key === undefined ? undefined : await this.storage.openRead(key);
    if (st === undefined || body === undefined) throw offlineMiss(module, version);
    return { body, size: st.size };
  }

  #mods(module: string): GoModFacts {
    return { read: (v) => this.storage.getBytes(modKey(module, v)) };
  }
}

/** The key of a stored artefact, or undefined when `version` is not a form the store keeps. */
function storedKey(module: string, version: string, kind: "info" | "mod" | "zip"): string | undefined {
  try {
    return kind === "info"
      ? infoKey(module, version)
      : kind === "mod"
        ? modKey(module, version)
        : zipKey(module, version);
  } catch (err) {
    if (err instanceof GoarkError) return undefined;
    throw err;
  }
}

function parseInfo(module: string, bytes: Buffer): Info {
  try {
    return JSON.parse(bytes.toString("utf8")) as Info;
  } catch (err) {
    throw new NotFoundError(`${module}: stored .info is not valid JSON`, { module, cause: err });
  }
}
