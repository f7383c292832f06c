/**
 * Which repository holds a module path (cmd/go/internal/vcs's
 * RepoRootForImportPath in module mode), with goark's additions first:
 *   1. the operator's rewrite rules (`git.corp.example/*` →
 *      `ssh://git@git.internal:2222/*`), for hosts without meta tags;
 *   2. the hosting patterns Go knows without a network round trip
 *      (github.com, bitbucket.org, …) and the `.git`-qualified form
 *      (`host/path/repo.git/sub`), whose scheme is found by `git ls-remote`;
 *   3. `?go-get=1` discovery, with the longest-prefix rule, `mod` entries and
 *      the root-path re-check.
 * Every failure is a NotFoundError (Go: "unrecognized import path"), except
 * an unsupported VCS, which says so.
 */
import { GoarkError, NotFoundError, UnsupportedError, UpstreamError } from "../../errors.ts";
import { matchGlob } from "../../module/path.ts";
import {
  type DiscoveryOptions,
  fetchGoGetPage,
  type MetaImport,
  matchGoImport,
  parseMetaGoImports,
} from "./discovery.ts";

export interface RepoRoot {
  /** The import path of the repository root. */
  root: string;
  /** "git", or "mod" for a GOPROXY base URL from a meta tag. */
  vcs: string;
  /** The repository (or proxy) URL, with scheme. */
  repo: string;
  /** [new] A subdirectory of the repository corresponding to root (4-field meta tag). */
  subdir: string;
  /** From an operator rewrite rule (which may name file:// or other schemes). */
  rewritten: boolean;
}

export interface RewriteRule {
  /** A module path prefix; elements may be globs (`*` matches one element). */
  from: string;
  /** The repository URL; each `*` is replaced by the element a wildcard element of `from` matched, in order. */
  to: string;
}

interface StaticPath {
  pathPrefix: string;
  re: RegExp;
  vcs: string;
  repo: string;
  noVcsSuffix?: boolean;
  schemeless?: boolean;
}

const ELEM = "[A-Za-z0-9_.\\-]+";
const STATIC_PATHS: StaticPath[] = [
  {
    pathPrefix: "github.com",
    re: new RegExp(`^(?<root>github\\.com/${ELEM}/${ELEM})(/${ELEM})*$`),
    vcs: "git",
    repo: "https://{root}",
    noVcsSuffix: true,
  },
  {
    pathPrefix: "bitbucket.org",
    re: new RegExp(`^(?<root>bitbucket\\.org/(?<bitname>${ELEM}/${ELEM}))(/${ELEM})*$`),
    vcs: "git",
    repo: "https://{root}",
    noVcsSuffix: true,
  },
  {
    pathPrefix: "hub.jazz.net/git",
    re: new RegExp(`^(?<root>hub\\.jazz\\.net/git/[a-z0-9]+/${ELEM})(/${ELEM})*$`),
    vcs: "git",
    repo: "https://{root}",
    noVcsSuffix: true,
  },
  {
    pathPrefix: "git.apache.org",
    re: new RegExp(`^(?<root>git\\.apache\\.org/[a-z0-9_.\\-]+\\.git)(/${ELEM})*$`),
    vcs: "git",
    repo: "https://{root}",
  },
  {
    pathPrefix: "git.openstack.org",
    re: new RegExp(`^(?<root>git\\.openstack\\.org/${ELEM}/${ELEM})(\\.git)?(/${ELEM})*$`),
    vcs: "git",
    repo: "https://{root}",
  },
  {
    pathPrefix: "chiselapp.com",
    re: /^(?<root>chiselapp\.com\/user\/[A-Za-z0-9]+\/repository\/[A-Za-z0-9_.-]+)$/,
    vcs: "fossil",
    repo: "https://{root}",
  },
  {
    pathPrefix: "",
    re: /(?<root>(?<repo>([a-z0-9.-]+\.)+[a-z0-9.-]+(:[0-9]+)?(\/~?[A-Za-z0-9_.-]+)+?)\.(?<vcs>bzr|fossil|git|hg|svn))(\/~?[A-Za-z0-9_.-]+)*$/,
    vcs: "{vcs}",
    repo: "{repo}",
    schemeless: true,
  },
];

const AFTER_DYNAMIC: StaticPath[] = [
  {
    pathPrefix: "launchpad.net",
    re: /^(?<root>launchpad\.net\/((?<project>[A-Za-z0-9_.-]+)(?<series>\/[A-Za-z0-9_.-]+)?|~[A-Za-z0-9_.-]+\/(\+junk|[A-Za-z0-9_.-]+)\/[A-Za-z0-9_.-]+))(\/[A-Za-z0-9_.-]+)*$/,
    vcs: "bzr",
    repo: "https://{root}",
  },
];

const KNOWN_VCS = new Set(["git", "hg", "svn", "bzr", "fossil"]);

function hasPathPrefix(s: string, prefix: string): boolean {
  if (prefix === "") return true;
  return s === prefix || s.startsWith(`${prefix}/`);
}

function expand(match: Record<string, string>, s: string): string {
  return s.replace(/\{([a-z]+)\}/g, (all, k: string) => match[k] ?? all);
}

/** A rewrite rule's answer for path, if it matches. */
export function applyRewrite(rules: readonly RewriteRule[], path: string): RepoRoot | undefined {
  const elems = path.split("/");
  for (const rule of rules) {
    const pat = rule.from.replace(/\/+$/, "").split("/");
    if (pat.length > elems.length) continue;
    const captured: string[] = [];
    let ok = true;
    for (let i = 0; i < pat.length; i++) {
      const p = pat[i] as string;
      const e = elems[i] as string;
      if (!matchGlob(p, e)) {
        ok = false;
        break;
      }
      if (/[*?[\\]/.test(p)) captured.push(e);
    }
    if (!ok) continue;
    let k = 0;
    const repo = rule.to.replace(/\*/g, () => captured[k++] ?? "");
    return { root: elems.slice(0, pat.length).join("/"), vcs: "git", repo, subdir: "", rewritten: true };
  }
  return undefined;
}

export interface ResolveOptions extends DiscoveryOptions {
  rewrites: readonly RewriteRule[];
  /** Tries `git ls-remote` on a candidate URL; true if it answers (for `.git`-qualified paths). */
  ping: (url: string) => Promise<boolean>;
}

/** Resolves importPath to its repository, as Go's RepoRootForImportPath(PreferMod) does. */
export async function repoRootForImportPath(importPath: string, opts: ResolveOptions): Promise<RepoRoot> {
  const rewritten = applyRewrite(opts.rewrites, importPath);
  if (rewritten) return rewritten;
  let result: RepoRoot | undefined;
  let error: GoarkError | undefined;
  try {
    result = await fromStaticPaths(importPath, STATIC_PATHS, opts);
  } catch (err) {
    if (err !== UNKNOWN_SITE) throw err;
    try {
      result = await repoRootForImportDynamic(importPath, opts);
    } catch (e) {
      error =
        e instanceof GoarkError && e.code === "UNSUPPORTED"
          ? e
          : new NotFoundError(`unrecognized import path "${importPath}": ${(e as Error).message}`, {
              cause: e,
            });
    }
  }
  if (result === undefined) {
    try {
      return await fromStaticPaths(importPath, AFTER_DYNAMIC, opts);
    } catch {
      throw error ?? new NotFoundError(`unrecognized import path "${importPath}"`);
    }
  }
  return result;
}

const UNKNOWN_SITE = new NotFoundError("dynamic lookup required to find mapping");

async function fromStaticPaths(
  importPath: string,
  paths: StaticPath[],
  opts: ResolveOptions,
): Promise<RepoRoot> {
  for (const prefix of ["http:", "https:"]) {
    if (importPath.startsWith(prefix)) throw new NotFoundError(`"${prefix}//" not allowed in import path`);
  }
  for (const srv of paths) {
    if (!hasPathPrefix(importPath, srv.pathPrefix)) continue;
    const m = srv.re.exec(importPath);
    if (!m) {
      if (srv.pathPrefix !== "")
        throw new NotFoundError(`invalid ${srv.pathPrefix} import path "${importPath}"`);
      continue;
    }
    const match: Record<string, string> = { prefix: `${srv.pathPrefix}/`, import: importPath };
    for (const [k, v] of Object.entries(m.groups ?? {}))
      if (v !== undefined && match[k] === undefined) match[k] = v;
    const vcs = expand(match, srv.vcs);
    const repo = expand(match, srv.repo);
    if (srv.noVcsSuffix) {
      for (const s of KNOWN_VCS) {
        if (repo.endsWith(`.${s}`))
          throw new NotFoundError(`invalid version control suffix in ${match.prefix} path`);
      }
    }
    if (vcs !== "git") throw unsupportedVcs(vcs, match.root ?? importPath);
    const root = match.root ?? importPath;
    if (!srv.schemeless) return { root, vcs, repo, subdir: "", rewritten: false };
    // Go pings each scheme (git, https, http, git+ssh, ssh), skipping insecure ones unless allowed.
    const schemes = opts.insecure ? ["git", "https", "http", "git+ssh", "ssh"] : ["https", "git+ssh", "ssh"];
    let scheme = schemes[0] as string;
    for (const s of schemes) {
      if (await opts.ping(`${s}://${repo}`)) {
        scheme = s;
        break;
      }
    }
    return { root, vcs, repo: `${scheme}://${repo}`, subdir: "", rewritten: false };
  }
  throw UNKNOWN_SITE;
}

export function unsupportedVcs(vcs: string, root: string): UnsupportedError {
  return new UnsupportedError(
    `${root}: unsupported VCS "${vcs}": goark fetches only git repositories (use an upstream proxy for this module)`,
  );
}

async function metaImportsFor(
  importPath: string,
  opts: ResolveOptions,
): Promise<{ url: string; imports: MetaImport[] }> {
  const page = await fetchGoGetPage(importPath, opts);
  const imports = parseMetaGoImports(page.body);
  if (imports.length === 0 && (page.status < 200 || page.status > 299)) {
    throw new UpstreamError(`reading ${page.url}: ${page.status}`);
  }
  return { url: page.url, imports };
}

async function repoRootForImportDynamic(importPath: string, opts: ResolveOptions): Promise<RepoRoot> {
  const { url, imports } = await metaImportsFor(importPath, opts);
  const mmi = matchGoImport(imports, importPath);
  if ("error" in mmi) {
    if (mmi.mismatch) throw new NotFoundError(`parse ${url}: no go-import meta tags (${mmi.error})`);
    throw new NotFoundError(`parse ${url}: ${mmi.error}`);
  }
  if (mmi.prefix !== importPath) {
    // A non-authoritative answer: the root path's own page must say the same.
    let second: { url: string; imports: MetaImport[] };
    try {
      second = await metaImportsFor(mmi.prefix, opts);
    } catch (err) {
      throw new NotFoundError(`fetching ${mmi.prefix}: ${(err as Error).message}`, { cause: err });
    }
    const m2 = matchGoImport(second.imports, importPath);
    if (
      "error" in m2 ||
      m2.prefix !== mmi.prefix ||
      m2.vcs !== mmi.vcs ||
      m2.repoRoot !== mmi.repoRoot ||
      m2.subdir !== mmi.subdir
    ) {
      throw new NotFoundError(`${url} and ${second.url} disagree about go-import for ${mmi.prefix}`);
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(mmi.repoRoot);
  } catch {
    throw new NotFoundError(`${url}: invalid repo root "${mmi.repoRoot}": no scheme`);
  }
  if (parsed.protocol === "file:")
    throw new NotFoundError(`${url}: invalid repo root "${mmi.repoRoot}": file scheme disallowed`);
  if (mmi.vcs !== "mod" && !KNOWN_VCS.has(mmi.vcs))
    throw new NotFoundError(`${url}: unknown vcs "${mmi.vcs}"`);
  if (mmi.vcs !== "mod" && mmi.vcs !== "git") throw unsupportedVcs(mmi.vcs, mmi.prefix);
  return { root: mmi.prefix, vcs: mmi.vcs, repo: mmi.repoRoot, subdir: mmi.subdir, rewritten: false };
}
