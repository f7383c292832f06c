/**
 * What `goark warm` is asked to fill the store for, read from its arguments:
 * go.mod files (with the go.sum beside them), go.work workspaces (every used
 * module is a main module; go.work's replacements come first), go.sum files,
 * project directories, and `module@version` / `module@latest` queries.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { KnownHashes, KnownSums } from "../cache/verify.ts";
import {
  BadRequestError,
  ChecksumMismatchError,
  GoarkError,
  ModFileError,
  NotFoundError,
} from "../errors.ts";
import { goModLookup } from "../module/go-version.ts";
import { parseGoSum } from "../module/gosum.ts";
import { type ModFile, type ModPathVersion, parseModFile } from "../module/modfile.ts";
import { checkPath } from "../module/path.ts";

/** A replace directive of a main module (or go.work), with the directory its relative paths start from. */
export interface Replacement {
  old: ModPathVersion;
  new: ModPathVersion;
  /** Directory of the file that holds the directive (for directory replacements). */
  baseDir?: string;
  /** The file, for reports. */
  from: string;
}

export interface MainModule {
  /** Shown in reports ("./go.mod"). */
  name: string;
  mf: ModFile;
}

export interface GoSumInput {
  name: string;
  entries: { path: string; version: string; goMod: boolean; hash: string }[];
}

export interface WarmTarget {
  module: string;
  /** A version, `latest`, a branch or a commit. */
  query: string;
}

/**
 * A file the go command reads its `go` and `toolchain` lines from when it
 * picks a toolchain: a go.work, or a go.mod outside a workspace.
 */
export interface ToolchainSource {
  /** The go.work or go.mod, for reports. */
  name: string;
  /** Raw values of its first `go` and `toolchain` lines ("" when absent). */
  go: string;
  toolchain: string;
  /** The main modules (MainModule.name) it covers: their graphs decide a switch for a too-new dependency. */
  mains: string[];
  /** A go.work (its modules' own go lines count as needs), not a go.mod. */
  workspace: boolean;
}

export interface WarmPlan {
  mains: MainModule[];
  toolchainSources: ToolchainSource[];
  /** go.work replacements first (they win), then each main module's. */
  replace: Replacement[];
  exclude: { path: string; version: string }[];
  sums: GoSumInput[];
  targets: WarmTarget[];
}

export function emptyPlan(): WarmPlan {
  return { mains: [], toolchainSources: [], replace: [], exclude: [], sums: [], targets: [] };
}

async function exists(path: string): Promise<"file" | "dir" | undefined> {
  try {
    const st = await stat(path);
    return st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new NotFoundError(`warm: cannot read ${path}: ${(err as Error).message}`, { path, cause: err });
  }
}

/**
 * Adds a main module's go.mod (and the go.sum beside it, when there is one).
 * Outside a workspace its go and toolchain lines pick the toolchain.
 */
export async function addGoMod(
  plan: WarmPlan,
  file: string,
  withSum = true,
  inWorkspace = false,
): Promise<void> {
  const text = await readText(file);
  const mf = parseModFile(text, file);
  plan.mains.push({ name: file, mf });
  if (!inWorkspace) {
    plan.toolchainSources.push({
      name: file,
      go: goModLookup(text, "go"),
      toolchain: goModLookup(text, "toolchain"),
      mains: [file],
      workspace: false,
    });
  }
  const baseDir = dirname(resolve(file));
  for (const r of mf.replace) plan.replace.push({ old: r.old, new: r.new, baseDir, from: file });
  plan.exclude.push(...mf.exclude);
  if (withSum) {
    const sum = join(dirname(file), "go.sum");
    if ((await exists(sum)) === "file") await addGoSum(plan, sum);
  }
}

export async function addGoSum(plan: WarmPlan, file: string): Promise<void> {
  plan.sums.push({ name: file, entries: parseGoSum(await readText(file), file) });
}

/** Directives of a go.work file that warm needs. */
export interface GoWork {
  use: string[];
  replace: { old: ModPathVersion; new: ModPathVersion }[];
}

/**
 * Reads a go.work file: `use` directories and `replace` directives (its go
 * and toolchain lines are read by addGoWork, the way the go command does).
 * Replace lines have go.mod's syntax, so they are handed to the go.mod
 * parser; `use` takes one path each, quoted or not.
 */
export function parseGoWork(text: string, file = "go.work"): GoWork {
  const use: string[] = [];
  const replaceLines: string[] = [];
  let block: "use" | "replace" | "other" | undefined;
  const lines = text.split("\n");
  const fail = (n: number, msg: string): never => {
    throw new ModFileError(`${file}:${n}: ${msg}`, { path: file });
  };
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = stripComment(raw).trim();
    if (line === "") return;
    if (block !== undefined) {
      if (line === ")") {
        block = undefined;
        return;
      }
      if (block === "use") use.push(unquote(line, () => fail(n, `invalid use path ${line}`)));
      else if (block === "replace") replaceLines.push(`replace ${line}`);
      return;
    }
    const m = /^([a-z]+)\b\s*(.*)$/.exec(line);
    if (m === null) fail(n, `unknown directive: ${line}`);
    const [, verb, rest] = m as unknown as [string, string, string];
    if (rest === "(") {
      block = verb === "use" ? "use" : verb === "replace" ? "replace" : "other";
      return;
    }
    if (verb === "use") use.push(unquote(rest, () => fail(n, `invalid use path ${rest}`)));
    else if (verb === "replace") replaceLines.push(`replace ${rest}`);
    else if (!["go", "toolchain", "godebug"].includes(verb)) fail(n, `unknown directive: ${verb}`);
  });
  if (block !== undefined) fail(lines.length, "unexpected end of file in block");
  let replace: GoWork["replace"] = [];
  if (replaceLines.length > 0) {
    const synthetic = `module goark.invalid/workspace\n${replaceLines.join("\n")}\n`;
    replace = parseModFile(synthetic, file).replace;
  }
  return { use, replace };
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "`") {
      quote = c;
    } else if (c === "/" && line[i + 1] === "/") {
      return line.slice(0, i);
    }
  }
  return line;
}

function unquote(token: string, fail: () => never): string {
  const t = token.trim();
  if (t.startsWith('"')) {
    try {
      return JSON.parse(t) as string;
    } catch {
      fail();
    }
  }
  if (t.startsWith("`")) {
    if (!t.endsWith("`") || t.length < 2) fail();
    return t.slice(1, -1);
  }
  if (/\s/.test(t) || t === "") fail();
  return t;
}

/** Adds a workspace: each used module is a main module; go.work's replacements take precedence. */
export async function addGoWork(plan: WarmPlan, file: string): Promise<void> {
  const text = await readText(file);
  const work = parseGoWork(text, file);
  const baseDir = dirname(resolve(file));
  // go.work replacements win over the modules' own, so they go first.
  plan.replace.unshift(...work.replace.map((r) => ({ old: r.old, new: r.new, baseDir, from: file })));
  const mains: string[] = [];
  for (const dir of work.use) {
    const gomod = join(baseDir, dir, "go.mod");
    await addGoMod(plan, gomod, true, true);
    mains.push(gomod);
  }
  // In a workspace the go command reads go.work's lines, not the modules' go.mod files.
  plan.toolchainSources.push({
    name: file,
    go: goModLookup(text, "go"),
    toolchain: goModLookup(text, "toolchain"),
    mains,
    workspace: true,
  });
  const workSum = join(dirname(file), "go.work.sum");
  if ((await exists(workSum)) === "file") await addGoSum(plan, workSum);
}

/** Adds one command-line argument to the plan. */
export async function addArgument(plan: WarmPlan, arg: string): Promise<void> {
  const kind = await exists(arg);
  if (kind === "dir") {
    if ((await exists(join(arg, "go.work"))) === "file") return addGoWork(plan, join(arg, "go.work"));
    if ((await exists(join(arg, "go.mod"))) === "file") return addGoMod(plan, join(arg, "go.mod"));
    if ((await exists(join(arg, "go.sum"))) === "file") return addGoSum(plan, join(arg, "go.sum"));
    throw new BadRequestError(`warm: ${arg}: a directory without go.work, go.mod or go.sum`);
  }
  if (kind === "file") {
    const name = basename(arg);
    if (name.endsWith(".work")) return addGoWork(plan, arg);
    if (name.endsWith(".sum")) return addGoSum(plan, arg);
    return addGoMod(plan, arg);
  }
  const at = arg.lastIndexOf("@");
  const module = at > 0 ? arg.slice(0, at) : arg;
  const query = at > 0 ? arg.slice(at + 1) : "latest";
  try {
    checkPath(module);
  } catch (err) {
    const why = err instanceof GoarkError ? err.message : String(err);
    throw new BadRequestError(
      `warm: ${JSON.stringify(arg)} is not a file, a directory, or module@version (${why})`,
    );
  }
  if (query === "") throw new BadRequestError(`warm: ${JSON.stringify(arg)}: empty version after @`);
  plan.targets.push({ module, query });
}

export async function planFromArguments(args: readonly string[]): Promise<WarmPlan> {
  const plan = emptyPlan();
  for (const arg of args) await addArgument(plan, arg);
  return plan;
}

/**
 * The hashes the plan's go.sum files record, as the KnownSums the caching
 * core checks every download against (the first file naming a hash wins).
 */
export function knownSumsOf(plan: WarmPlan): KnownSums & { size: number } {
  const known = new Map<string, KnownHashes>();
  for (const sum of plan.sums) {
    for (const e of sum.entries) {
      // Only h1 is computed here; lines of other algorithms are left to the go command.
      if (!e.hash.startsWith("h1:")) continue;
      const id = `${e.path}@${e.version}`;
      const k = known.get(id) ?? { source: sum.name };
      if (e.goMod) k.mod ??= e.hash;
      else k.zip ??= e.hash;
      known.set(id, k);
    }
  }
  return {
    size: known.size,
    lookup: async (module, version) => known.get(`${module}@${version}`),
  };
}

/**
 * Asks both: `first` (the projects' go.sum) and `second` (the checksum
 * databases). The database is asked even when go.sum knows both hashes, so
 * that every public version warm stores is proven there too: that proof is
 * what an export carries across an air gap, and an import without it
 * rejects the version. Where both know a hash, they must agree.
 */
export function knownSumsChain(first: KnownSums, second: KnownSums | undefined): KnownSums {
  if (second === undefined) return first;
  return {
    async lookup(module, version) {
      const [a, b] = await Promise.all([first.lookup(module, version), second.lookup(module, version)]);
      if (a === undefined) return b;
      if (b === undefined) return a;
      for (const kind of ["zip", "mod"] as const) {
        const x = a[kind];
        const y = b[kind];
        if (x !== undefined && y !== undefined && x !== y) {
          throw new ChecksumMismatchError(
            `${module}@${version}: ${a.source ?? "go.sum"} records ${kind === "mod" ? "go.mod" : "zip"} hash ${x}, ` +
              `but ${b.source ?? "the checksum database"} records ${y}`,
            { module, version },
          );
        }
      }
      return { ...b, ...a, zip: a.zip ?? b.zip, mod: a.mod ?? b.mod };
    },
  };
}
