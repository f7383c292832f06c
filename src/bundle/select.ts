/**
 * Which stored module versions an export carries: everything, the modules
 * matching GOPRIVATE-style patterns, or what go.mod files require
 * (transitively, over the go.mod files in the store); optionally only what
 * is new since a time or since an older bundle.
 */
import { compilePrefixPatterns } from "../module/path.ts";
import type { Storage } from "../storage/storage.ts";
import {
  isComplete,
  type StoredVersion,
  scanStore,
  versionFiles,
  versionId,
  versionNewestFetch,
} from "../store-ops/inventory.ts";
import { type RequiredVersion, type RootModFile, requiredClosure } from "../store-ops/requirements.ts";
import type { BundleManifest } from "./manifest.ts";

export type BundleSelection =
  | { kind: "all" }
  /** Module path patterns in GOPRIVATE syntax (comma-separated globs matching path prefixes). */
  | { kind: "modules"; patterns: string[] }
  | { kind: "gomod"; files: RootModFile[] };

export interface SelectOptions {
  select: BundleSelection;
  /** Only versions with a file fetched at or after this time. */
  since?: Date;
  /** Only versions with a file that the old bundle did not carry (same key and sha256). */
  sinceManifest?: BundleManifest;
}

export interface Selection {
  versions: StoredVersion[];
  /** go.mod selection: required versions the store lacks. */
  missing: RequiredVersion[];
  /** go.mod selection: stored go.mod files that do not parse. */
  unreadable: { module: string; version: string; error: string }[];
  /** Versions left out because the store holds only part of them (no .mod). */
  incomplete: StoredVersion[];
  /** A line describing the selection, for the manifest. */
  description: string;
}

export function describeSelection(opts: SelectOptions): string {
  const s = opts.select;
  let d =
    s.kind === "all"
      ? "all"
      : s.kind === "modules"
        ? `modules ${s.patterns.join(",")}`
        : `go.mod ${s.files.map((f) => f.name).join(" ")}`;
  if (opts.since !== undefined) d += ` since ${opts.since.toISOString()}`;
  if (opts.sinceManifest !== undefined) d += ` since-bundle (${opts.sinceManifest.files.length} files)`;
  return d;
}

export async function selectVersions(storage: Storage, opts: SelectOptions): Promise<Selection> {
  const sel = opts.select;
  let filter: ((module: string) => boolean) | undefined;
  if (sel.kind === "modules") filter = compilePrefixPatterns(sel.patterns.join(","));
  const inv = await scanStore(storage, filter === undefined ? {} : { moduleFilter: filter });
  const out: Selection = {
    versions: [],
    missing: [],
    unreadable: [],
    incomplete: [],
    description: describeSelection(opts),
  };
  let wanted: Set<string> | undefined;
  if (sel.kind === "gomod") {
    const closure = await requiredClosure(storage, sel.files);
    wanted = new Set(closure.found.keys());
    out.missing = closure.missing;
    out.unreadable = closure.unreadable;
  }
  const old = new Map<string, string>();
  for (const f of opts.sinceManifest?.files ?? []) old.set(f.key, f.sha256);
  const since = opts.since?.getTime();
  for (const v of inv.versions) {
    if (wanted !== undefined && !wanted.has(versionId(v.module, v.version))) continue;
    if (!isComplete(v)) {
      out.incomplete.push(v);
      continue;
    }
    if (since !== undefined && versionNewestFetch(v) < since) continue;
    if (opts.sinceManifest !== undefined && versionFiles(v).every((f) => old.get(f.key) === f.meta.sha256))
      continue;
    out.versions.push(v);
  }
  return out;
}
