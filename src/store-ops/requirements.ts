/**
 * The module versions a set of go.mod files needs, found by walking
 * requirements through the go.mod files the store holds. Every required
 * version is taken (not only those minimal version selection would pick), so
 * the result is a superset of what `go mod download` fetches and nothing the
 * go command reads while building the module graph is left out. Replacements
 * in the root go.mod files apply (as only the main module's do in Go);
 * directory replacements name no module version and are skipped.
 */
import { asGoarkError } from "../errors.ts";
import { type ModFile, parseModFile } from "../module/modfile.ts";
import { canonicalVersion, check } from "../module/path.ts";
import { modKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import { versionId } from "./inventory.ts";

export interface RequiredVersion {
  module: string;
  version: string;
  /** Who required it first: a root go.mod's file name or "module@version". */
  requiredBy: string;
}

export interface RequirementClosure {
  /** Keyed by "module@version". */
  found: Map<string, RequiredVersion>;
  /** Required versions whose go.mod the store lacks (their own requirements stay unknown). */
  missing: RequiredVersion[];
  /** Stored go.mod files that could not be parsed (their requirements stay unknown). */
  unreadable: { module: string; version: string; error: string }[];
}

export interface RootModFile {
  /** Shown in reports ("./go.mod"). */
  name: string;
  data: string | Uint8Array;
}

/** Most versions the walk visits: a bound against hostile or absurd graphs. */
const MAX_VISITED = 1_000_000;

type Replacer = (module: string, version: string) => { module: string; version: string } | undefined | null;

function replacerOf(mfs: ModFile[]): Replacer {
  const exact = new Map<string, { path: string; version?: string }>();
  const any = new Map<string, { path: string; version?: string }>();
  for (const mf of mfs) {
    for (const r of mf.replace) {
      if (r.old.version !== undefined) exact.set(versionId(r.old.path, r.old.version), r.new);
      else any.set(r.old.path, r.new);
    }
  }
  // undefined: not replaced; null: replaced by a directory (nothing to fetch).
  return (module, version) => {
    const to = exact.get(versionId(module, version)) ?? any.get(module);
    if (to === undefined) return undefined;
    if (to.version === undefined) return null;
    return { module: to.path, version: to.version };
  };
}

/** Walks requirements from the root go.mod files over the go.mod files in storage. */
export async function requiredClosure(storage: Storage, roots: RootModFile[]): Promise<RequirementClosure> {
  const parsedRoots = roots.map((r) => ({ name: r.name, mf: parseModFile(r.data, r.name) }));
  const replace = replacerOf(parsedRoots.map((r) => r.mf));
  const result: RequirementClosure = { found: new Map(), missing: [], unreadable: [] };
  const seen = new Set<string>();
  const queue: RequiredVersion[] = [];
  const enqueue = (module: string, rawVersion: string, requiredBy: string) => {
    const version = canonicalVersion(rawVersion);
    const repl = replace(module, version);
    if (repl === null) return;
    const target = repl ?? { module, version };
    try {
      check(target.module, target.version);
    } catch {
      return; // not a fetchable module version (Go would reject the go.mod); nothing to carry
    }
    const id = versionId(target.module, target.version);
    if (seen.has(id) || seen.size >= MAX_VISITED) return;
    seen.add(id);
    queue.push({ ...target, requiredBy });
  };
  for (const { name, mf } of parsedRoots) for (const r of mf.require) enqueue(r.path, r.version, name);
  for (const { mf } of parsedRoots) {
    // A replacement target with a version is fetched even when the require names another version.
    for (const r of mf.replace) {
      if (r.new.version !== undefined && mf.require.some((q) => q.path === r.old.path)) {
        enqueue(r.new.path, r.new.version, "replace");
      }
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const rv = queue[i]!;
    const data = await storage.getBytes(modKey(rv.module, rv.version));
    if (data === undefined) {
      result.missing.push(rv);
      continue;
    }
    result.found.set(versionId(rv.module, rv.version), rv);
    let mf: ModFile;
    try {
      // Dependencies' go.mod files are read the lax way, as the go command does.
      mf = parseModFile(data, `${rv.module}@${rv.version}/go.mod`, { lax: true });
    } catch (err) {
      result.unreadable.push({ module: rv.module, version: rv.version, error: asGoarkError(err).message });
      continue;
    }
    for (const r of mf.require) enqueue(r.path, r.version, versionId(rv.module, rv.version));
  }
  return result;
}
