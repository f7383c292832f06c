/**
 * The walk behind `goark warm`: every module version the go command could
 * read while building and testing the given projects, fetched into the store.
 *
 * - From each main module's requirements, the whole requirement graph:
 *   every module@version reachable, not only those minimal version selection
 *   keeps (graph pruning and lazy loading read a subset of these go.mod
 *   files, so the full graph is a superset of `go mod download` and of every
 *   go.mod the go command reads). Each gets its .info, .mod and zip.
 * - The main modules' replace and exclude directives apply to the whole
 *   graph, as in Go (a dependency's own are ignored): an excluded version's
 *   requirement is dropped (Go 1.16+), a module replacement is fetched in
 *   place of the original, a directory replacement is not fetched but its
 *   go.mod, when readable, still contributes requirements.
 * - Every version named in a go.sum: its zip, or only its go.mod when the
 *   file has just the `/go.mod` line.
 * - `module@query` targets: resolved, then walked like a requirement.
 * - Go toolchains (src/module/toolchain.ts), for each configured platform:
 *   the one a project's go.work or go.mod `go`/`toolchain` lines select, and
 *   the one the go command switches to when a module in a project's graph
 *   (or a target's) needs a newer Go than that: picked from the upstream's
 *   `golang.org/toolchain` list by Go's rule. Fetched like any module (.info,
 *   .mod, zip, verified); only versions newer than Go 1.21.0 (the first go
 *   command that switches) are fetched.
 */
import { readFile } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { asGoarkError } from "../errors.ts";
import { compareGoVersions, isGoLang, isValidGoVersion, maxGoVersion } from "../module/go-version.ts";
import { type ModFile, parseModFile } from "../module/modfile.ts";
import { canonicalVersion, check, sortModuleVersions } from "../module/path.ts";
import {
  downloadedBySomeClient,
  FIRST_SWITCHING_GO,
  goVersionsOfList,
  newerToolchain,
  type Platform,
  selectToolchain,
  TOOLCHAIN_MODULE,
  toolchainModuleVersion,
  toolchainNameOfModuleVersion,
} from "../module/toolchain.ts";
import { ConcurrencyLimit } from "../source/concurrency-limit.ts";
import type { WarmFetcher } from "./fetcher.ts";
import type { Replacement, WarmPlan } from "./inputs.ts";

export type WarmStep = "resolve" | "mod" | "zip" | "gomod" | "replace" | "toolchain";

export interface WarmFailure {
  module: string;
  /** The version, or the query that could not be resolved. */
  version: string;
  step: WarmStep;
  error: string;
  /** Who needed it: a file name or "module@version". */
  requiredBy: string;
}

export interface WarmedVersion {
  module: string;
  version: string;
  /** Why it was warmed: the first requirer. */
  requiredBy: string;
  zip: boolean;
}

export interface WarmedToolchain {
  /** The toolchain name ("go1.22.0"). */
  name: string;
  /** GOOS/GOARCH. */
  platform: string;
  /** Its golang.org/toolchain module version. */
  version: string;
  /** The go.work or go.mod (or target) that needs it, and why. */
  requiredBy: string;
}

export interface WarmReport {
  /** Distinct module paths with at least one version warmed. */
  modules: number;
  /** Module versions whose go.mod is now stored. */
  versions: number;
  zips: number;
  /** Bytes of every warmed .mod and zip, stored before or now. */
  bytes: number;
  /** Bytes of what was not stored before. */
  newBytes: number;
  /** Artefacts downloaded now (the rest were stored already). */
  fetched: number;
  warmed: WarmedVersion[];
  /** Go toolchains now stored (each also counted in warmed, versions, zips and bytes). */
  toolchains: WarmedToolchain[];
  failures: WarmFailure[];
}

export interface WarmProgress {
  /** Artefacts finished (fetched, found stored, or failed). */
  done: number;
  /** Artefacts known so far (grows as the graph is discovered). */
  total: number;
  bytes: number;
  failures: number;
  /** The artefact just finished. */
  last?: { module: string; version: string; step: WarmStep; ok: boolean };
}

export interface WarmOptions {
  /** Fetches in flight at once. Default 8. */
  jobs?: number;
  /** Platforms whose Go toolchains are fetched; none when absent or empty. */
  toolchainPlatforms?: readonly Platform[];
  onProgress?: (p: WarmProgress) => void;
}

type Target = { module: string; version: string } | { dir: string } | null;

/** Resolves requirements through the main modules' replace directives. */
export function replacerOf(
  replacements: readonly Replacement[],
): (module: string, version: string) => Target {
  // Grouped by file in order (go.work first): within a file an exact
  // `path version =>` beats a `path =>`; an earlier file beats a later one.
  const groups = new Map<string, Replacement[]>();
  for (const r of replacements) {
    const g = groups.get(r.from) ?? [];
    g.push(r);
    groups.set(r.from, g);
  }
  return (module, version) => {
    for (const g of groups.values()) {
      const hit =
        g.find((r) => r.old.path === module && r.old.version === version) ??
        g.find((r) => r.old.path === module && r.old.version === undefined);
      if (hit === undefined) continue;
      if (hit.new.version === undefined) return { dir: resolvePath(hit.baseDir ?? ".", hit.new.path) };
      return { module: hit.new.path, version: hit.new.version };
    }
    return { module, version };
  };
}

export async function warmGraph(
  plan: WarmPlan,
  fetcher: WarmFetcher,
  opts: WarmOptions = {},
): Promise<WarmReport> {
  const limit = new ConcurrencyLimit(opts.jobs ?? 8);
  const replace = replacerOf(plan.replace);
  const excluded = new Set(plan.exclude.map((e) => `${e.path}@${canonicalVersion(e.version)}`));
  const mainPaths = new Set(plan.mains.map((m) => m.mf.module?.path).filter((p) => p !== undefined));

  const report: WarmReport = {
    modules: 0,
    versions: 0,
    zips: 0,
    bytes: 0,
    newBytes: 0,
    fetched: 0,
    warmed: [],
    toolchains: [],
    failures: [],
  };
  const progress: WarmProgress = { done: 0, total: 0, bytes: 0, failures: 0 };
  const warmed = new Map<string, WarmedVersion>();
  const mods = new Map<string, Promise<Buffer | undefined>>();
  const zips = new Map<string, Promise<void>>();
  const walked = new Set<string>();
  const dirsRead = new Set<string>();
  const pending = new Set<Promise<unknown>>();
  const zipStored = new Set<string>();
  // The requirement graph as walked (node → nodes it requires) and each node's go line,
  // to find the newest Go a project's graph needs. Nodes: a main's file name, "module@version",
  // "dir:<path>" for a directory replacement, "target:<arg>" for a command-line target.
  const edges = new Map<string, Set<string>>();
  const goLines = new Map<string, string>();
  const edge = (from: string, to: string) => {
    const set = edges.get(from) ?? new Set<string>();
    set.add(to);
    edges.set(from, set);
  };

  const track = (p: Promise<unknown>) => {
    pending.add(p);
    p.finally(() => pending.delete(p)).catch(() => undefined);
  };
  const fail = (f: WarmFailure) => {
    report.failures.push(f);
    progress.failures++;
  };
  const finish = (module: string, version: string, step: WarmStep, ok: boolean) => {
    progress.done++;
    progress.last = { module, version, step, ok };
    opts.onProgress?.({ ...progress });
  };
  const counted = async <T>(
    module: string,
    version: string,
    step: WarmStep,
    requiredBy: string,
    fn: () => Promise<T>,
  ): Promise<T | undefined> => {
    progress.total++;
    opts.onProgress?.({ ...progress });
    const release = await limit.acquire();
    try {
      const out = await fn();
      finish(module, version, step, true);
      return out;
    } catch (err) {
      fail({ module, version, step, error: asGoarkError(err).message, requiredBy });
      finish(module, version, step, false);
      return undefined;
    } finally {
      release();
    }
  };

  const note = (module: string, version: string, requiredBy: string, zip: boolean) => {
    const id = `${module}@${version}`;
    const w = warmed.get(id);
    if (w === undefined) warmed.set(id, { module, version, requiredBy, zip });
    else if (zip) w.zip = true;
  };

  const ensureMod = (module: string, version: string, requiredBy: string): Promise<Buffer | undefined> => {
    const id = `${module}@${version}`;
    let p = mods.get(id);
    if (p === undefined) {
      p = counted(module, version, "mod", requiredBy, async () => {
        const r = await fetcher.mod(module, version);
        account(r.size, r.cached);
        return r.data;
      });
      mods.set(id, p);
    }
    return p;
  };

  const ensureZip = (module: string, version: string, requiredBy: string): void => {
    const id = `${module}@${version}`;
    if (zips.has(id)) return;
    const p = (async () => {
      // The zip comes after its .mod: a version whose go.mod is missing has no zip either.
      if ((await ensureMod(module, version, requiredBy)) === undefined) return;
      const ok = await counted(module, version, "zip", requiredBy, async () => {
        const r = await fetcher.zip(module, version);
        account(r.size, r.cached);
        return true;
      });
      if (ok) {
        report.zips++;
        zipStored.add(id);
      }
    })();
    zips.set(id, p);
    track(p);
  };

  const account = (size: number, cached: boolean) => {
    report.bytes += size;
    progress.bytes += size;
    if (!cached) {
      report.newBytes += size;
      report.fetched++;
    }
  };

  /** Reads a go.mod's requirements and follows each; node is its place in the graph (default requiredBy). */
  const follow = (mf: ModFile, requiredBy: string, node = requiredBy) => {
    if (mf.go !== undefined && isValidGoVersion(mf.go)) goLines.set(node, mf.go);
    for (const r of mf.require) requireEdge(r.path, r.version, requiredBy, node);
  };

  /** One requirement edge of the graph, after exclude and replace. */
  const requireEdge = (module: string, rawVersion: string, requiredBy: string, node: string) => {
    if (mainPaths.has(module)) return; // a workspace module: satisfied by the workspace
    const version = canonicalVersion(rawVersion);
    if (excluded.has(`${module}@${version}`)) return;
    const target = replace(module, version);
    if (target === null) return;
    if ("dir" in target) {
      edge(node, `dir:${target.dir}`);
      readReplacementDir(module, target.dir, requiredBy);
      return;
    }
    edge(node, `${target.module}@${target.version}`);
    visit(target.module, target.version, requiredBy, true);
  };

  /** Fetches a version's go.mod (and zip when asked) and, once, walks its requirements. */
  const visit = (module: string, version: string, requiredBy: string, zip: boolean) => {
    try {
      check(module, version);
    } catch (err) {
      fail({ module, version, step: "mod", error: asGoarkError(err).message, requiredBy });
      return;
    }
    note(module, version, requiredBy, zip);
    if (zip) ensureZip(module, version, requiredBy);
    const id = `${module}@${version}`;
    if (walked.has(id)) return;
    walked.add(id);
    track(
      (async () => {
        const data = await ensureMod(module, version, requiredBy);
        if (data === undefined) return;
        let mf: ModFile;
        try {
          // Dependencies' go.mod files are read the lax way, as the go command does.
          mf = parseModFile(data, `${id}/go.mod`, { lax: true });
        } catch (err) {
          fail({ module, version, step: "gomod", error: asGoarkError(err).message, requiredBy });
          return;
        }
        follow(mf, id);
      })(),
    );
  };

  const readReplacementDir = (module: string, dir: string, requiredBy: string) => {
    if (dirsRead.has(dir)) return;
    dirsRead.add(dir);
    track(
      (async () => {
        let data: Buffer;
        try {
          data = await readFile(join(dir, "go.mod"));
        } catch {
          return; // a directory replacement elsewhere: nothing to fetch for it
        }
        try {
          follow(parseModFile(data, join(dir, "go.mod"), { lax: true }), `${module} => ${dir}`, `dir:${dir}`);
        } catch (err) {
          fail({
            module,
            version: "(directory)",
            step: "replace",
            error: asGoarkError(err).message,
            requiredBy,
          });
        }
      })(),
    );
  };

  for (const main of plan.mains) follow(main.mf, main.name);
  for (const sum of plan.sums) {
    const withZip = new Set(sum.entries.filter((e) => !e.goMod).map((e) => `${e.path}@${e.version}`));
    for (const e of sum.entries) {
      const id = `${e.path}@${e.version}`;
      if (e.goMod && withZip.has(id)) continue;
      try {
        check(e.path, e.version);
      } catch (err) {
        fail({
          module: e.path,
          version: e.version,
          step: "mod",
          error: asGoarkError(err).message,
          requiredBy: sum.name,
        });
        continue;
      }
      note(e.path, e.version, sum.name, !e.goMod);
      if (e.goMod) void ensureMod(e.path, e.version, sum.name).then(() => undefined);
      else ensureZip(e.path, e.version, sum.name);
      const p = mods.get(id);
      if (p !== undefined) track(p);
    }
  }
  for (const t of plan.targets) {
    track(
      (async () => {
        const version = await counted(t.module, t.query, "resolve", "command line", () =>
          fetcher.resolve(t.module, t.query),
        );
        if (version === undefined) return;
        edge(`target:${t.module}@${t.query}`, `${t.module}@${version}`);
        visit(t.module, version, `${t.module}@${t.query}`, true);
      })(),
    );
  }

  // Toolchains: those the projects' go/toolchain lines select, now; those a too-new
  // dependency would switch to, once the graphs are known.
  const platforms = opts.toolchainPlatforms ?? [];
  const toolchainsAsked = new Map<string, WarmedToolchain>();
  const fetchToolchain = (name: string, requiredBy: string) => {
    for (const p of platforms) {
      const version = toolchainModuleVersion(name, p);
      const id = `${TOOLCHAIN_MODULE}@${version}`;
      if (toolchainsAsked.has(id)) continue;
      toolchainsAsked.set(id, { name, platform: `${p.goos}/${p.goarch}`, version, requiredBy });
      visit(TOOLCHAIN_MODULE, version, requiredBy, true);
    }
  };
  /** Below this Go version a project's clients need no switch for a dependency: what its lines select, or 1.21.0. */
  const floors = new Map<string, { name: string; roots: string[]; floor: string; rootsGo: boolean }>();
  if (platforms.length > 0) {
    for (const src of plan.toolchainSources) {
      const choice = selectToolchain(src.go, src.toolchain);
      if (choice.kind === "invalid") {
        fail({
          module: TOOLCHAIN_MODULE,
          version: src.toolchain || src.go,
          step: "toolchain",
          error: choice.error,
          requiredBy: src.name,
        });
        continue;
      }
      let floor = FIRST_SWITCHING_GO;
      if (choice.kind === "switch") {
        floor = maxGoVersion(floor, choice.version);
        if (downloadedBySomeClient(choice.version)) {
          const why = choice.from === "toolchain" ? `toolchain ${src.toolchain}` : `go ${src.go}`;
          fetchToolchain(choice.name, `${src.name} (${why})`);
        }
      }
      // A go.mod's own go line is Select's business (done above, or off with toolchain default);
      // a workspace's modules' go lines are not, and a switch covers them.
      floors.set(src.name, { name: src.name, roots: src.mains, floor, rootsGo: src.workspace });
    }
  }

  while (pending.size > 0) await Promise.allSettled([...pending]);

  if (platforms.length > 0) {
    for (const t of plan.targets) {
      const node = `target:${t.module}@${t.query}`;
      if (edges.has(node)) {
        floors.set(node, {
          name: `${t.module}@${t.query}`,
          roots: [node],
          floor: FIRST_SWITCHING_GO,
          rootsGo: true,
        });
      }
    }
    let available: Promise<string[] | undefined> | undefined;
    for (const { name, roots, floor, rootsGo } of floors.values()) {
      const need = newestGoNeeded(roots, edges, goLines, rootsGo);
      if (need === undefined || compareGoVersions(need, floor) <= 0) continue;
      available ??= counted(TOOLCHAIN_MODULE, "list", "toolchain", name, async () =>
        goVersionsOfList(await fetcher.list(TOOLCHAIN_MODULE)),
      );
      const list = await available;
      if (list === undefined) continue; // the list failure is reported once
      const pick = newerToolchain(need, list);
      if (pick === undefined) {
        fail({
          module: TOOLCHAIN_MODULE,
          version: `go${need}`,
          step: "toolchain",
          error: `no toolchain release for go >= ${need} in the ${TOOLCHAIN_MODULE} list`,
          requiredBy: name,
        });
        continue;
      }
      fetchToolchain(pick, `${name} (a module needs go >= ${need})`);
    }
    while (pending.size > 0) await Promise.allSettled([...pending]);
  }

  for (const [id, t] of toolchainsAsked) if (zipStored.has(id)) report.toolchains.push(t);
  for (const f of report.failures) {
    // As the go command explains it: "go1.22" is a language, its releases are go1.22.N.
    const name = f.module === TOOLCHAIN_MODULE ? toolchainNameOfModuleVersion(f.version) : undefined;
    const v = name?.startsWith("go") ? name.slice(2).split(/[-\s]/)[0]! : "";
    if (isGoLang(v) && compareGoVersions(v, "1.21") >= 0) {
      f.error += ` (${name} is a language version but not a toolchain version: ${name}.x)`;
    }
  }

  const stored: WarmedVersion[] = [];
  for (const w of warmed.values()) {
    const data = await mods.get(`${w.module}@${w.version}`);
    if (data !== undefined) stored.push(w);
  }
  const sorted = stored.map((w) => ({ ...w, path: w.module }));
  sortModuleVersions(sorted);
  report.warmed = sorted.map(({ path: _p, ...w }) => w);
  report.versions = report.warmed.length;
  report.modules = new Set(report.warmed.map((w) => w.module)).size;
  report.failures.sort(
    (a, b) =>
      a.module.localeCompare(b.module) || a.version.localeCompare(b.version) || a.step.localeCompare(b.step),
  );
  return report;
}

/** The newest valid go line among the nodes reachable from roots (the roots' own only with rootsGo). */
function newestGoNeeded(
  roots: readonly string[],
  edges: ReadonlyMap<string, ReadonlySet<string>>,
  goLines: ReadonlyMap<string, string>,
  rootsGo: boolean,
): string | undefined {
  let need: string | undefined;
  const seen = new Set<string>(roots);
  const queue = [...roots];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    const go = i < roots.length && !rootsGo ? undefined : goLines.get(node);
    if (go !== undefined) need = need === undefined ? go : maxGoVersion(need, go);
    for (const next of edges.get(node) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return need;
}
