/**
 * What a store holds, grouped per module version: the one walk over the key
 * space that export, prune, verify, ls and stats share. Keys outside the
 * layout (a go download cache's .ziphash/.lock files) are counted, not read.
 */
import { sortModuleVersions } from "../module/path.ts";
import { type ArtefactKind, parseKey } from "../storage/keys.ts";
import type { ArtefactMeta, Storage } from "../storage/storage.ts";

export type VersionFileKind = "info" | "mod" | "zip";

/** Commit order of a version's files: `.info` last, so a version counts as present only once it is whole. */
export const COMMIT_ORDER: readonly VersionFileKind[] = ["zip", "mod", "info"];
/** Removal order: `.info` first, the reverse of COMMIT_ORDER. */
export const REMOVE_ORDER: readonly VersionFileKind[] = ["info", "mod", "zip"];

export interface StoredFile {
  key: string;
  kind: VersionFileKind;
  size: number;
  meta: ArtefactMeta;
}

export interface StoredVersion {
  module: string;
  version: string;
  info?: StoredFile;
  mod?: StoredFile;
  zip?: StoredFile;
}

export interface StoredModuleFile {
  key: string;
  module: string;
  kind: Extract<ArtefactKind, "list" | "latest">;
  size: number;
  meta: ArtefactMeta;
}

export interface Inventory {
  /** Sorted by module path, then semver (module.Sort order). */
  versions: StoredVersion[];
  /** `list` and `@latest` files, by key order. */
  moduleFiles: StoredModuleFile[];
  /** Keys in the store that are not in the layout. */
  foreignKeys: string[];
}

export interface ScanOptions {
  /** Only keys under this prefix (a module's escaped path, say). */
  prefix?: string;
  /** Skip versions whose module this returns false for (saves the stat calls). */
  moduleFilter?: (module: string) => boolean;
}

/** Stats under way at once while scanning. */
const STAT_PARALLEL = 16;

/** Reads the whole store's key space and stats every artefact (one metadata lookup each). */
export async function scanStore(storage: Storage, opts: ScanOptions = {}): Promise<Inventory> {
  const byVersion = new Map<string, StoredVersion>();
  const moduleFiles: StoredModuleFile[] = [];
  const foreignKeys: string[] = [];
  const keys: string[] = [];
  for await (const key of storage.list(opts.prefix ?? "")) keys.push(key);
  keys.sort();
  const wanted: { key: string; parsed: NonNullable<ReturnType<typeof parseKey>> }[] = [];
  for (const key of keys) {
    const parsed = parseKey(key);
    if (parsed === undefined) {
      foreignKeys.push(key);
      continue;
    }
    if (opts.moduleFilter !== undefined && !opts.moduleFilter(parsed.module)) continue;
    wanted.push({ key, parsed });
  }
  // A stat can cost a few file reads (a record, a small artefact): several run at once.
  const stats = new Array<Awaited<ReturnType<Storage["stat"]>>>(wanted.length);
  let next = 0;
  const statter = async (): Promise<void> => {
    while (next < wanted.length) {
      const i = next++;
      stats[i] = await storage.stat(wanted[i]!.key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_PARALLEL, wanted.length) }, statter));
  for (const [i, { key, parsed }] of wanted.entries()) {
    const st = stats[i];
    // Gone since the listing (pruned meanwhile, or removed as corrupt by the store).
    if (st === undefined) continue;
    if (parsed.kind === "list" || parsed.kind === "latest") {
      moduleFiles.push({ key, module: parsed.module, kind: parsed.kind, size: st.size, meta: st.meta });
      continue;
    }
    const version = parsed.version!;
    const id = `${parsed.module}@${version}`;
    let v = byVersion.get(id);
    if (v === undefined) {
      v = { module: parsed.module, version };
      byVersion.set(id, v);
    }
    v[parsed.kind] = { key, kind: parsed.kind, size: st.size, meta: st.meta };
  }
  const versions = [...byVersion.values()].map((v) => ({ ...v, path: v.module }));
  sortModuleVersions(versions);
  return {
    versions: versions.map(({ path: _path, ...v }) => v),
    moduleFiles,
    foreignKeys,
  };
}

/** The version's files in commit order. */
export function versionFiles(v: StoredVersion): StoredFile[] {
  const out: StoredFile[] = [];
  for (const kind of COMMIT_ORDER) {
    const f = v[kind];
    if (f !== undefined) out.push(f);
  }
  return out;
}

export function versionSize(v: StoredVersion): number {
  let n = 0;
  for (const f of versionFiles(v)) n += f.size;
  return n;
}

/** When the version entered the store: its earliest file. */
export function versionFetchedAt(v: StoredVersion): number {
  return Math.min(...versionFiles(v).map((f) => f.meta.fetchedAt));
}

/** When the version last entered the store or was read: its latest file's access or fetch time. */
export function versionLastUsed(v: StoredVersion): number {
  return Math.max(...versionFiles(v).map((f) => Math.max(f.meta.lastAccess ?? 0, f.meta.fetchedAt)));
}

/** The newest fetch time among the version's files (a zip fetched after its .info counts as new). */
export function versionNewestFetch(v: StoredVersion): number {
  return Math.max(...versionFiles(v).map((f) => f.meta.fetchedAt));
}

/**
 * A version is usable once its `.mod` is stored (what the go command needs
 * for the module graph, and what lists are made of); `.info` and `.zip` are
 * optional, as in the go command's download cache after a go.mod-only fetch.
 * A `.zip` or `.info` without `.mod` is the remains of an interrupted write.
 */
export function isComplete(v: StoredVersion): boolean {
  return v.mod !== undefined;
}

export function versionId(module: string, version: string): string {
  return `${module}@${version}`;
}
