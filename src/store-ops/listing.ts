/**
 * `goark ls` and `goark stats`: what the store holds, per module version
 * (files, size, when fetched, last access, origin) and in total.
 */
import { compilePrefixPatterns } from "../module/path.ts";
import type { Storage } from "../storage/storage.ts";
import {
  isComplete,
  type StoredVersion,
  scanStore,
  type VersionFileKind,
  versionFetchedAt,
  versionFiles,
  versionLastUsed,
  versionSize,
} from "./inventory.ts";

export interface VersionRow {
  module: string;
  version: string;
  /** Which files are stored, in commit order. */
  files: VersionFileKind[];
  size: number;
  /** ms since the epoch. */
  fetchedAt: number;
  lastUsed: number;
  /** The origin of the version's files (several, comma-separated, when they differ). */
  origin: string;
  complete: boolean;
}

function row(v: StoredVersion): VersionRow {
  const files = versionFiles(v);
  return {
    module: v.module,
    version: v.version,
    files: files.map((f) => f.kind),
    size: versionSize(v),
    fetchedAt: versionFetchedAt(v),
    lastUsed: versionLastUsed(v),
    origin: [...new Set(files.map((f) => f.meta.origin))].join(","),
    complete: isComplete(v),
  };
}

/** Stored versions, optionally only of modules matching patterns (GOPRIVATE syntax), in module.Sort order. */
export async function listVersions(storage: Storage, patterns: string[] = []): Promise<VersionRow[]> {
  const filter = patterns.length === 0 ? undefined : compilePrefixPatterns(patterns.join(","));
  const inv = await scanStore(storage, filter === undefined ? {} : { moduleFilter: filter });
  return inv.versions.map(row);
}

export interface StoreStats {
  modules: number;
  versions: number;
  /** Versions with their zip stored (buildable offline). */
  versionsWithZip: number;
  /** Versions lacking a .mod (interrupted writes). */
  incomplete: number;
  files: Record<VersionFileKind | "list" | "latest", { count: number; bytes: number }>;
  totalBytes: number;
  oldestFetch?: number;
  newestFetch?: number;
  /** Keys outside the module layout. */
  foreignKeys: number;
}

export async function storeStats(storage: Storage): Promise<StoreStats> {
  const inv = await scanStore(storage);
  const zero = () => ({ count: 0, bytes: 0 });
  const stats: StoreStats = {
    modules: 0,
    versions: inv.versions.length,
    versionsWithZip: 0,
    incomplete: 0,
    files: { info: zero(), mod: zero(), zip: zero(), list: zero(), latest: zero() },
    totalBytes: 0,
    foreignKeys: inv.foreignKeys.length,
  };
  const modules = new Set<string>();
  for (const v of inv.versions) {
    modules.add(v.module);
    if (v.zip !== undefined) stats.versionsWithZip++;
    if (!isComplete(v)) stats.incomplete++;
    for (const f of versionFiles(v)) {
      stats.files[f.kind].count++;
      stats.files[f.kind].bytes += f.size;
      stats.totalBytes += f.size;
    }
    const at = versionFetchedAt(v);
    if (stats.oldestFetch === undefined || at < stats.oldestFetch) stats.oldestFetch = at;
    if (stats.newestFetch === undefined || at > stats.newestFetch) stats.newestFetch = at;
  }
  for (const f of inv.moduleFiles) {
    modules.add(f.module);
    stats.files[f.kind].count++;
    stats.files[f.kind].bytes += f.size;
    stats.totalBytes += f.size;
  }
  stats.modules = modules.size;
  return stats;
}
