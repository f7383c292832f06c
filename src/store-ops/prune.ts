/**
 * `goark prune`: removes whole module versions, by last use, by age, and
 * down to a size budget (least recently used first), never touching pinned
 * module patterns or versions that given go.mod files require. A version's
 * `.info` goes first, so an interrupted prune leaves a version that is
 * either present or being removed, never a `.info` whose `.mod` is gone;
 * lists goark wrote are brought in line afterwards (an upstream's list is
 * left alone: the upstream still has what was pruned here). Given a mirror
 * directory, git mirrors (direct mode) unused for long enough go too.
 */
import { compilePrefixPatterns } from "../module/path.ts";
import { latestKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import {
  REMOVE_ORDER,
  type StoredVersion,
  scanStore,
  versionFetchedAt,
  versionId,
  versionLastUsed,
  versionSize,
} from "./inventory.ts";
import { type PrunedMirror, pruneMirrorDir } from "./mirrors.ts";
import { type RequiredVersion, type RootModFile, requiredClosure } from "./requirements.ts";
import { rewriteVersionList } from "./version-list.ts";

export interface PruneOptions {
  /** Remove versions neither fetched nor read for this long. */
  unusedForMs?: number;
  /** Remove versions fetched longer ago than this. */
  olderThanMs?: number;
  /** Then remove least recently used versions until the store holds at most this many bytes. */
  maxSizeBytes?: number;
  /** Module path patterns (GOPRIVATE syntax) never pruned. */
  pin?: string[];
  /** go.mod files whose required versions (transitively) are never pruned. */
  keep?: RootModFile[];
  dryRun?: boolean;
  /**
   * Also remove the git mirrors in dir unused for longer than unusedForMs. A
   * mirror serves every module of its repository, so --pin and --keep do not
   * apply to it; a later request fetches it again.
   */
  mirrors?: { dir: string; unusedForMs: number; lockWaitMs?: number };
  /** The clock, for tests. */
  now?: number;
}

export type PruneReason = "unused" | "age" | "size";

export interface PrunedVersion {
  module: string;
  version: string;
  size: number;
  lastUsed: number;
  fetchedAt: number;
  reason: PruneReason;
}

export interface PruneReport {
  dryRun: boolean;
  removed: PrunedVersion[];
  bytesFreed: number;
  /** Bytes of artefacts before and (expected) after. */
  totalBefore: number;
  totalAfter: number;
  /** Versions spared because pinned or required. */
  protectedCount: number;
  /** Set when the budget cannot be met without touching protected versions. */
  budgetShortfall?: number;
  /** --keep go.mod requirements the store does not hold (nothing to protect). */
  keepMissing: RequiredVersion[];
  listsUpdated: number;
  /** Git mirrors removed (or, dry, that would be); bytes of theirs are not in bytesFreed. */
  mirrors: PrunedMirror[];
  mirrorBytesFreed: number;
}

export async function prune(storage: Storage, opts: PruneOptions): Promise<PruneReport> {
  const now = opts.now ?? Date.now();
  const inv = await scanStore(storage);
  const pinned = compilePrefixPatterns((opts.pin ?? []).join(","));
  let keep = new Set<string>();
  let keepMissing: RequiredVersion[] = [];
  if (opts.keep !== undefined && opts.keep.length > 0) {
    const closure = await requiredClosure(storage, opts.keep);
    keep = new Set(closure.found.keys());
    keepMissing = closure.missing;
  }
  const isProtected = (v: StoredVersion) => pinned(v.module) || keep.has(versionId(v.module, v.version));

  let total = 0;
  for (const v of inv.versions) total += versionSize(v);
  for (const f of inv.moduleFiles) total += f.size;
  const totalBefore = total;

  const removed: PrunedVersion[] = [];
  const remaining: StoredVersion[] = [];
  let protectedCount = 0;
  const record = (v: StoredVersion, reason: PruneReason) => {
    const size = versionSize(v);
    removed.push({
      module: v.module,
      version: v.version,
      size,
      lastUsed: versionLastUsed(v),
      fetchedAt: versionFetchedAt(v),
      reason,
    });
    total -= size;
  };
  for (const v of inv.versions) {
    if (isProtected(v)) {
      protectedCount++;
      continue;
    }
    if (opts.unusedForMs !== undefined && now - versionLastUsed(v) > opts.unusedForMs) record(v, "unused");
    else if (opts.olderThanMs !== undefined && now - versionFetchedAt(v) > opts.olderThanMs) record(v, "age");
    else remaining.push(v);
  }
  let budgetShortfall: number | undefined;
  if (opts.maxSizeBytes !== undefined && total > opts.maxSizeBytes) {
    // Least recently used first; ties in module/version order, so runs are repeatable.
    const lru = remaining
      .map((v, i) => ({ v, i, used: versionLastUsed(v) }))
      .sort((a, b) => a.used - b.used || a.i - b.i);
    for (const { v } of lru) {
      if (total <= opts.maxSizeBytes) break;
      record(v, "size");
    }
    if (total > opts.maxSizeBytes) budgetShortfall = total - opts.maxSizeBytes;
  }

  const report: PruneReport = {
    dryRun: opts.dryRun === true,
    removed,
    bytesFreed: totalBefore - total,
    totalBefore,
    totalAfter: total,
    protectedCount,
    keepMissing,
    listsUpdated: 0,
    mirrors: [],
    mirrorBytesFreed: 0,
  };
  if (budgetShortfall !== undefined) report.budgetShortfall = budgetShortfall;
  if (opts.mirrors !== undefined) {
    report.mirrors = await pruneMirrorDir(opts.mirrors.dir, {
      unusedForMs: opts.mirrors.unusedForMs,
      dryRun: opts.dryRun === true,
      now,
      ...(opts.mirrors.lockWaitMs === undefined ? {} : { lockWaitMs: opts.mirrors.lockWaitMs }),
    });
    for (const m of report.mirrors) report.mirrorBytesFreed += m.size;
  }
  if (opts.dryRun) return report;

  const byId = new Map(inv.versions.map((v) => [versionId(v.module, v.version), v]));
  const modules = new Set<string>();
  const removedIds = new Set<string>();
  for (const r of removed) {
    const v = byId.get(versionId(r.module, r.version))!;
    for (const kind of REMOVE_ORDER) {
      const f = v[kind];
      if (f !== undefined) await storage.delete(f.key);
    }
    modules.add(r.module);
    removedIds.add(versionId(r.module, r.version));
  }
  for (const module of [...modules].sort()) {
    const outcome = await rewriteVersionList(storage, module, { mergeForeign: false });
    if (outcome === "written" || outcome === "removed") report.listsUpdated++;
    // An @latest naming a pruned version would send clients to files that are gone.
    const latest = await storage.getBytes(latestKey(module));
    if (latest !== undefined) {
      let named: unknown;
      try {
        named = (JSON.parse(latest.toString("utf8")) as { Version?: unknown }).Version;
      } catch {
        named = undefined;
      }
      if (typeof named === "string" && removedIds.has(versionId(module, named)))
        await storage.delete(latestKey(module));
    }
  }
  return report;
}
