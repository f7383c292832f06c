/**
 * The `@v/list` file of a module, rebuilt from what the store holds, as the
 * go command rebuilds its download cache's list (cmd/go modfetch
 * rewriteVersionList): one line per version whose `.mod` is stored, in semver
 * order. Unlike the go command we leave pseudo-versions out: the list
 * endpoint names tagged versions only (the go client drops pseudo-versions
 * from list answers anyway), and goark's offline list does the same.
 */
import { isPseudoVersion } from "../module/pseudo.ts";
import { sort } from "../module/semver.ts";
import { listKey, parseKey, versionDirKey } from "../storage/keys.ts";
import type { PutMeta, Storage } from "../storage/storage.ts";

/** Origin of list files goark wrote from stored versions (not an upstream's answer). */
export const STORED_LIST_ORIGIN = "goark:stored-versions";

export interface RewriteListOptions {
  /**
   * When the current list is an upstream's answer: true keeps its versions
   * and adds the stored ones (import: never lose what upstream said); false
   * leaves it alone (prune: the upstream still has what we dropped).
   */
  mergeForeign: boolean;
}

export type ListOutcome = "unchanged" | "written" | "removed" | "kept-foreign";

/** Versions whose `.mod` the store holds, canonical and not pseudo, in semver order. */
export async function storedListVersions(storage: Storage, module: string): Promise<string[]> {
  const versions: string[] = [];
  for await (const key of storage.list(versionDirKey(module))) {
    const p = parseKey(key);
    if (p?.kind === "mod" && p.module === module && p.version !== undefined && !isPseudoVersion(p.version)) {
      versions.push(p.version);
    }
  }
  return sort(versions);
}

function parseListLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const v = line.trim().split(/\s+/)[0];
    if (v) out.push(v);
  }
  return out;
}

/** What bringing a module's list in line takes: nothing, removing it, or writing `text` with `meta`. */
export type ListPlan =
  | { outcome: "unchanged" | "kept-foreign" | "removed"; key: string }
  | { outcome: "written"; key: string; text: string; meta: PutMeta };

/**
 * Brings module's list in line with the stored versions. Writes only when
 * the bytes change, so running it twice changes nothing. The list is written
 * with fetchedAt 0: a connected goark treats it as due for refresh and asks
 * its upstream, an offline one serves it.
 */
export async function rewriteVersionList(
  storage: Storage,
  module: string,
  opts: RewriteListOptions,
): Promise<ListOutcome> {
  const plan = await planVersionList(storage, module, opts);
  if (plan.outcome === "removed") await storage.delete(plan.key);
  if (plan.outcome === "written") await storage.putBytes(plan.key, Buffer.from(plan.text), plan.meta);
  return plan.outcome;
}

/** rewriteVersionList's decision, without acting on it (import writes many lists in one batch). */
export async function planVersionList(
  storage: Storage,
  module: string,
  opts: RewriteListOptions,
): Promise<ListPlan> {
  const key = listKey(module);
  const stored = await storedListVersions(storage, module);
  const current = await storage.stat(key);
  const foreign = current !== undefined && current.meta.origin !== STORED_LIST_ORIGIN;
  let versions = stored;
  let currentText: string | undefined;
  if (current !== undefined) currentText = (await storage.getBytes(key))?.toString("utf8");
  if (foreign) {
    if (!opts.mergeForeign) return { outcome: "kept-foreign", key };
    const merged = new Set([...parseListLines(currentText ?? ""), ...stored]);
    versions = sort([...merged]);
  }
  if (versions.length === 0) {
    if (current === undefined || foreign) return { outcome: "unchanged", key };
    return { outcome: "removed", key };
  }
  const text = versions.map((v) => `${v}\n`).join("");
  if (current !== undefined && currentText === text && !foreign) return { outcome: "unchanged", key };
  if (foreign && currentText === text) return { outcome: "unchanged", key };
  return { outcome: "written", key, text, meta: { origin: STORED_LIST_ORIGIN, fetchedAt: 0 } };
}
