/**
 * The module versions a set of go.mod files needs, found by walking
 * requirements through the go.mod files the store holds. Every required
 * version is taken (not only those minimal version selection would pick), so
 * the result is a superset of what `go mod download` fetches and nothing the
 * go command reads while building the module graph is left out. Replacements
 * in the root go.mod files apply (as only the main module's do in Go);
 * directory replacements name no module version and are skipped.
 *
 * Go toolchains count as requirements too (src/module/toolchain.ts): the one
 * a root's go/toolchain lines select, and the one a go command would switch
 * to for a module of the closure that needs a newer Go, picked from the
 * toolchains stored as an offline client would pick from their list. Every
 * stored platform of such a toolchain is taken.
 */
import { asGoarkError } from "../errors.ts";
import { compareGoVersions, isValidGoVersion, maxGoVersion } from "../module/go-version.ts";
import { type ModFile, parseModFile } from "../module/modfile.ts";
import { canonicalVersion, check } from "../module/path.ts";
import {
  downloadedBySomeClient,
  FIRST_SWITCHING_GO,
  goVersionsOfList,
  newerToolchain,
  selectToolchainOf,
  TOOLCHAIN_MODULE,
  toolchainNameOfModuleVersion,
} from "../module/toolchain.ts";
import { modKey, parseKey, versionDirKey } from "../storage/keys.ts";
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
  let need: string | undefined;
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
    if (mf.go !== undefined && isValidGoVersion(mf.go))
      need = need === undefined ? mf.go : maxGoVersion(need, mf.go);
    for (const r of mf.require) enqueue(r.path, r.version, versionId(rv.module, rv.version));
  }
  await addToolchains(storage, roots, need, result);
  return result;
}

/** Adds the stored toolchains the roots select, or switch to for a module needing Go `need`. */
async function addToolchains(
  storage: Storage,
  roots: RootModFile[],
  need: string | undefined,
  result: RequirementClosure,
): Promise<void> {
  const stored: string[] = [];
  const seen = new Set<string>();
  for await (const key of storage.list(versionDirKey(TOOLCHAIN_MODULE))) {
    const k = parseKey(key);
    if (k?.version !== undefined && k.module === TOOLCHAIN_MODULE && !seen.has(k.version)) {
      seen.add(k.version);
      stored.push(k.version);
    }
  }
  if (stored.length === 0) return;
  const take = (name: string, requiredBy: string) => {
    for (const v of stored) {
      const id = versionId(TOOLCHAIN_MODULE, v);
      if (toolchainNameOfModuleVersion(v) === name && !result.found.has(id)) {
        result.found.set(id, { module: TOOLCHAIN_MODULE, version: v, requiredBy });
      }
    }
  };
  // Below this no go command switches for a dependency; the lowest root's choice bounds it.
  let floor: string | undefined;
  for (const root of roots) {
    const text = typeof root.data === "string" ? root.data : Buffer.from(root.data).toString("utf8");
    const choice = selectToolchainOf(text);
    let rootFloor = FIRST_SWITCHING_GO;
    if (choice.kind === "switch") {
      rootFloor = maxGoVersion(rootFloor, choice.version);
      if (downloadedBySomeClient(choice.version))
        take(choice.name, `${root.name} (toolchain ${choice.name})`);
    }
    floor = floor === undefined || compareGoVersions(rootFloor, floor) < 0 ? rootFloor : floor;
  }
  if (need !== undefined && floor !== undefined && compareGoVersions(need, floor) > 0) {
    const pick = newerToolchain(need, goVersionsOfList(stored));
    if (pick !== undefined) take(pick, `a module needs go >= ${need}`);
  }
}
