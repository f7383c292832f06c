/**
 * `direct`: modules fetched from their version control repositories, with
 * the answers the go command's own direct mode gives (GOPROXY=direct). A
 * module path is resolved to a repository (rewrite rules, known hosting
 * patterns, `?go-get=1` discovery), the repository is mirrored inside the
 * store, and list/latest/info/mod/zip come from src/source/vcs/code-repo.ts.
 * A `mod` meta tag sends the module to the GOPROXY it names.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { asGoarkError, GoarkError, InvalidVersionError, NotFoundError } from "../errors.ts";
import { checkPath, compilePrefixPatterns } from "../module/path.ts";
import { isPseudoVersion } from "../module/pseudo.ts";
import * as semver from "../module/semver.ts";
import type { Staged, Storage } from "../storage/storage.ts";
import { ConcurrencyLimit } from "./concurrency-limit.ts";
import { ProxySource } from "./proxy-source.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "./source.ts";
import { CodeRepo, type ModuleRevInfo } from "./vcs/code-repo.ts";
import { Credentials, type HostCredential } from "./vcs/credentials.ts";
import {
  type GitEnvironment,
  type GitEnvironmentOptions,
  type GitScheme,
  gitEnvironment,
  insecureTlsConfig,
  redactSecrets,
  runEnvironment,
  runGit,
} from "./vcs/git-command.ts";
import { GitRepo, LAST_USED_FILE, REMOTE_FILE } from "./vcs/git-repo.ts";
import { mirrorLockPath, withMirrorLock } from "./vcs/mirror-lock.ts";
import { assertPublicHost, type LookupFn, type ProxyEnv, proxyEnv, usesProxy } from "./vcs/net-guard.ts";
import { type RepoRoot, type RewriteRule, repoRootForImportPath } from "./vcs/repo-root.ts";

export interface DirectSourceOptions {
  /** Where the bare mirrors live, e.g. `<storage>/.vcs`. */
  vcsDir: string;
  /** GOINSECURE-style patterns: plain http (and git://) allowed, private addresses allowed. */
  insecure?: string;
  /** GOPRIVATE-style patterns: private addresses allowed for discovery and git. */
  private?: string;
  /** Repository URLs for module path prefixes, tried before anything else. */
  rewrites?: RewriteRule[];
  /** Per-host credentials (tokens or user/password). */
  credentials?: HostCredential[];
  /** Environment for proxy variables, HOME (.netrc, ssh keys) and SSH_AUTH_SOCK (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** git's configuration beyond the safe defaults (credential helpers, ...). */
  git?: Omit<GitEnvironmentOptions, "env">;
  /** Network git operations at once per host (default 4). */
  hostConcurrency?: number;
  /** How long remote refs are trusted before asking again (default 5 s). */
  refsMaxAgeMs?: number;
  /** Deadline of each network git operation (default 10 min). */
  networkTimeoutMs?: number;
  /** Deadline of discovery requests (default 30 s). */
  discoveryTimeoutMs?: number;
  /** CA certificates for discovery's https instead of Node's defaults (caFile, src/source/vcs/tls-trust.ts). */
  ca?: readonly string[];
  /** How long a resolved repository root is reused (default 10 min). */
  resolveTtlMs?: number;
  /** Tests: a resolver standing in for DNS in the private-address checks. */
  lookup?: LookupFn;
  /** Largest module (total file size) built into a zip (default and most: x/mod's 500 MiB). */
  maxZipBytes?: number;
  /**
   * Write zips into this store's staging area and answer with the staged
   * file and its h1 (the proxy core commits it as it is); `check` may refuse
   * an h1 (a go.sum line or checksum database that knows better).
   */
  stageZip?: {
    storage: Pick<Storage, "stage">;
    check?: (module: string, version: string, h1: string) => Promise<void>;
  };
}

/** A zip already in the store's staging area, as the proxy core takes it (cache/verify.ts StagedZip). */
export interface StagedDirectZip extends ZipBody {
  staged: Staged;
  h1: string;
  origin: string;
}

/** The `.info` JSON's Time: RFC 3339 in UTC, no fractional seconds (as Go marshals it). */
export function formatInfoTime(t: Date): string {
  return t.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Where a direct answer came from, as the go command (1.20+) records it in `.info`. */
export interface InfoOrigin {
  VCS: "git";
  URL: string;
  Subdir?: string;
  Hash: string;
  Ref?: string;
}

/**
 * The `.info` of a revision with its Origin, fields in the go command's
 * order (VCS, URL, Subdir, Hash, Ref). Ref names the tag a release came
 * from, or HEAD for the default branch's head; other pseudo-versions carry
 * none (Go then adds TagPrefix/TagSum, which goark does not compute).
 */
export function directInfo(r: ModuleRevInfo, repo: CodeRepo, ref?: string): Info {
  let tagRef = ref;
  if (tagRef === undefined && !isPseudoVersion(r.version)) {
    const prefix = repo.codeDir === "" ? "" : `${repo.codeDir}/`;
    tagRef = `refs/tags/${prefix}${r.version.replace(/\+incompatible$/, "")}`;
  }
  const origin: InfoOrigin = {
    VCS: "git",
    URL: redactSecrets(repo.code.remote),
    ...(repo.codeDir === "" ? {} : { Subdir: repo.codeDir }),
    Hash: r.name,
    ...(tagRef === undefined ? {} : { Ref: tagRef }),
  };
  return { Version: r.version, Time: formatInfoTime(r.time), Origin: origin };
}

interface Resolved {
  root: RepoRoot;
  at: number;
}

export class DirectSource implements Source {
  readonly name = "direct";
  readonly #opts: DirectSourceOptions;
  readonly #env: NodeJS.ProcessEnv;
  readonly #git: GitEnvironment;
  readonly #proxy: ProxyEnv;
  readonly #credentials: Credentials;
  readonly #isInsecure: (path: string) => boolean;
  readonly #isPrivate: (path: string) => boolean;
  readonly #resolved = new Map<string, Resolved>();
  readonly #resolving = new Map<string, Promise<RepoRoot>>();
  readonly #repos = new Map<string, Promise<GitRepo>>();
  readonly #publicHosts = new Map<string, number>();
  readonly #codeRepos = new Map<string, CodeRepo>();
  readonly #proxies = new Map<string, ProxySource>();
  readonly #hostLimits = new Map<string, ConcurrencyLimit>();

  constructor(opts: DirectSourceOptions) {
    this.#opts = opts;
    this.#env = opts.env ?? process.env;
    this.#git = gitEnvironment({ ...opts.git, env: this.#env });
    this.#proxy = proxyEnv(this.#env);
    this.#credentials = new Credentials(opts.credentials ?? [], this.#env);
    this.#isInsecure = compilePrefixPatterns(opts.insecure ?? "");
    this.#isPrivate = compilePrefixPatterns(opts.private ?? "");
  }

  // ---- Source

  async list(module: string, opts?: FetchOptions): Promise<ListEntry[]> {
    return this.#run(module, undefined, opts, async (repo, o) => {
      if (repo instanceof ProxySource) return repo.list(module, o);
      const versions = await repo.versions("", o);
      return versions.map((version) => ({ version }));
    });
  }

  /**
   * `@latest` as the go command resolves it in direct mode: the highest
   * release, else the highest prerelease (retracted versions left out, and
   * +incompatible ones once a compatible version has a go.mod), else the
   * version of the default branch's head.
   */
  async latest(module: string, opts?: FetchOptions): Promise<Info> {
    return this.#run(module, "latest", opts, async (repo, o) => {
      if (repo instanceof ProxySource) return repo.latest(module, o);
      const versions = await repo.versions("", o);
      const retracted = versions.length > 0 ? await repo.retractions(o) : () => false;
      let allowed = versions.filter((v) => !retracted(v));
      const lastCompatible = [...allowed].reverse().find((v) => !v.endsWith("+incompatible"));
      if (lastCompatible !== undefined && allowed.some((v) => v.endsWith("+incompatible"))) {
        const mod = await repo.findDir(lastCompatible, o).catch(() => undefined);
        if (mod?.gomod !== undefined) allowed = allowed.filter((v) => !v.endsWith("+incompatible"));
      }
      const releases = allowed.filter((v) => semver.prerelease(v) === "");
      const pick = releases[releases.length - 1] ?? allowed[allowed.length - 1];
      if (pick !== undefined) return directInfo(await repo.stat(pick, o), repo);
      return directInfo(await repo.latest(o), repo, "HEAD");
    });
  }

  async info(module: string, query: string, opts?: FetchOptions): Promise<Info> {
    return this.#run(module, query, opts, async (repo, o) => {
      if (repo instanceof ProxySource) return repo.info(module, query, o);
      return directInfo(await repo.stat(query, o), repo);
    });
  }

  async mod(module: string, version: string, opts?: FetchOptions): Promise<Buffer> {
    return this.#run(module, version, opts, async (repo, o) => {
      if (repo instanceof ProxySource) return repo.mod(module, version, o);
      await this.#exactly(repo, module, version, o);
      return repo.goMod(version, o);
    });
  }

  /**
   * The zip, built here: streamed, or (with the stageZip option) written
   * straight into the store's staging area with its h1, so nobody has to
   * download and re-verify what goark itself made under the zip rules.
   */
  async zip(module: string, version: string, opts?: FetchOptions): Promise<ZipBody> {
    return this.#run(module, version, opts, async (repo, o) => {
      if (repo instanceof ProxySource) return repo.zip(module, version, o);
      await this.#exactly(repo, module, version, o);
      const stageZip = this.#opts.stageZip;
      if (stageZip === undefined) {
        const { body } = await repo.zip(version, o);
        return { body };
      }
      const staged = await stageZip.storage.stage();
      try {
        const out = staged.createWriteStream();
        const finished = new Promise<void>((ok, fail) => {
          out.once("finish", ok);
          out.once("error", fail);
        });
        const made = await repo.zipTo(version, out, o);
        await finished;
        await stageZip.check?.(module, version, made.h1);
        const size = (await stat(staged.path)).size;
        const zip: StagedDirectZip = {
          body: Readable.from([]),
          size,
          staged,
          h1: made.h1,
          origin: this.name,
        };
        return zip;
      } catch (err) {
        await staged.dispose();
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#proxies.values()].map((p) => p.close()));
  }

  // ---- plumbing

  /** Checks that version names itself (a tag, or a valid pseudo-version), as Go's download does via Stat. */
  async #exactly(repo: CodeRepo, module: string, version: string, o: FetchOptions): Promise<void> {
    const info = await repo.stat(version, o);
    if (info.version !== version) {
      throw new InvalidVersionError(`${module}@${version}: invalid version: resolves to ${info.version}`, {
        module,
        version,
      });
    }
  }

  async #run<T>(
    module: string,
    version: string | undefined,
    opts: FetchOptions | undefined,
    op: (repo: CodeRepo | ProxySource, o: FetchOptions) => Promise<T>,
  ): Promise<T> {
    try {
      checkPath(module);
      if (version !== undefined && (version.startsWith("-") || version === "")) {
        throw new InvalidVersionError(`${module}@${version}: invalid version: must not start with "-"`, {
          module,
          version,
        });
      }
      const repo = await this.codeRepo(module, opts);
      return await op(repo, opts ?? {});
    } catch (err) {
      const e = asGoarkError(err);
      if (e.message.startsWith(module)) throw e;
      // Keep the kind; name the module (and version) the way Go prefixes its errors.
      const where = version === undefined ? module : `${module}@${version}`;
      throw new GoarkError(e.code, `${where}: ${redactSecrets(e.message)}`, {
        module,
        ...(version === undefined ? {} : { version }),
        cause: err,
      });
    }
  }

  /** The repository root of module (cached for resolveTtlMs; one resolution per path at a time). */
  async resolve(module: string, opts?: FetchOptions): Promise<RepoRoot> {
    const ttl = this.#opts.resolveTtlMs ?? 10 * 60_000;
    const hit = this.#resolved.get(module);
    if (hit && Date.now() - hit.at <= ttl) return hit.root;
    let p = this.#resolving.get(module);
    if (p === undefined) {
      const insecure = this.#isInsecure(module);
      const allowPrivate = insecure || this.#isPrivate(module);
      p = repoRootForImportPath(module, {
        rewrites: this.#opts.rewrites ?? [],
        insecure,
        allowPrivate,
        proxy: this.#proxy,
        authFor: (host) => this.#credentials.authorization(host),
        timeoutMs: this.#opts.discoveryTimeoutMs ?? 30_000,
        ...(this.#opts.ca ? { ca: this.#opts.ca } : {}),
        ...(opts?.signal ? { signal: opts.signal } : {}),
        ...(this.#opts.lookup ? { lookup: this.#opts.lookup } : {}),
        ping: (url) => this.#ping(url, module),
      }).finally(() => this.#resolving.delete(module));
      this.#resolving.set(module, p);
    }
    const root = await p;
    this.#resolved.set(module, { root, at: Date.now() });
    return root;
  }

  /** The CodeRepo (or, for a `mod` meta tag, the proxy) that answers for module. */
  async codeRepo(module: string, opts?: FetchOptions): Promise<CodeRepo | ProxySource> {
    const rr = await this.resolve(module, opts);
    if (rr.vcs === "mod") return this.#modProxy(rr, module);
    const repo = await this.#gitRepo(rr, module);
    // One CodeRepo per module, so its answers (cached per refresh of the refs) are reused.
    const cached = this.#codeRepos.get(module);
    if (cached !== undefined && cached.code === repo && cached.codeRoot === rr.root) return cached;
    const code = new CodeRepo(repo, rr.root, module, rr.subdir);
    if (this.#opts.maxZipBytes !== undefined) {
      code.maxZipBytes = Math.min(code.maxZipBytes, this.#opts.maxZipBytes);
    }
    if (this.#codeRepos.size >= 10_000) this.#codeRepos.clear();
    this.#codeRepos.set(module, code);
    return code;
  }

  /** The GOPROXY a `mod` meta tag names, under the same rules as a git remote (scheme, private addresses). */
  async #modProxy(rr: RepoRoot, module: string): Promise<ProxySource> {
    const u = new URL(rr.repo);
    if (u.protocol !== "https:" && !(u.protocol === "http:" && this.#isInsecure(module))) {
      throw new NotFoundError(
        `${rr.root}: mod proxy ${redactSecrets(rr.repo)} must use https (or match the insecure patterns)`,
      );
    }
    if (!(this.#isPrivate(module) || this.#isInsecure(module)) && !usesProxy(u, this.#proxy)) {
      await this.#checkPublicHost(u.hostname);
    }
    let p = this.#proxies.get(rr.repo);
    if (p === undefined) {
      p = new ProxySource(rr.repo);
      this.#proxies.set(rr.repo, p);
    }
    return p;
  }

  /** Which schemes git may use for remote, or a refusal. */
  #schemesFor(remote: string, rr: RepoRoot, module: string): GitScheme[] {
    let scheme: string;
    try {
      scheme = new URL(remote).protocol.replace(/:$/, "");
    } catch {
      throw new NotFoundError(`${rr.root}: repository URL ${redactSecrets(remote)} is not a URL`);
    }
    const insecure = this.#isInsecure(module);
    switch (scheme) {
      case "https":
        return ["https"];
      case "ssh":
      case "git+ssh":
        return ["ssh"];
      case "http":
        if (insecure) return ["http"];
        break;
      case "git":
        if (insecure) return ["git"];
        break;
      case "file":
        if (rr.rewritten) return ["file"];
        break;
    }
    throw new NotFoundError(
      `${rr.root}: repository URL scheme "${scheme}" is not allowed${scheme === "http" || scheme === "git" ? " (the module does not match the insecure patterns)" : ""}`,
    );
  }

  async #gitRepo(rr: RepoRoot, module: string): Promise<GitRepo> {
    const remote = rr.repo;
    const allow = this.#schemesFor(remote, rr, module);
    const url = new URL(remote);
    if (url.password !== "") {
      throw new NotFoundError(
        `${rr.root}: repository URL must not carry a password; configure a credential instead`,
      );
    }
    // Checked per module, not per mirror: a public module must not reach a private host another module may.
    if (allow[0] !== "file" && !(this.#isPrivate(module) || this.#isInsecure(module))) {
      const probe = new URL(`${url.protocol === "https:" ? "https" : "http"}://${url.host}/`);
      if (allow[0] === "ssh" || !usesProxy(probe, this.#proxy)) await this.#checkPublicHost(url.hostname);
    }
    let repo = this.#repos.get(remote);
    if (repo === undefined) {
      // Registered before any await, so concurrent callers share one mirror (and its single-flight fetch).
      repo = this.#newGitRepo(remote, url, allow, this.#isInsecure(module));
      this.#repos.set(remote, repo);
      repo.catch(() => this.#repos.delete(remote));
    }
    return repo;
  }

  async #newGitRepo(remote: string, url: URL, allow: GitScheme[], insecure: boolean): Promise<GitRepo> {
    let limit = this.#hostLimits.get(url.host);
    if (limit === undefined) {
      limit = new ConcurrencyLimit(this.#opts.hostConcurrency ?? 4);
      this.#hostLimits.set(url.host, limit);
    }
    const id = createHash("sha256").update(remote).digest("hex");
    const repo = new GitRepo({
      remote,
      dir: join(this.#opts.vcsDir, id),
      env: this.#git,
      allow,
      config: [...this.#credentials.gitConfigFor(remote), ...insecureTlsConfig(remote, insecure)],
      hostLimit: limit,
      tmpDir: join(this.#opts.vcsDir, ".tmp"),
      ...(this.#opts.refsMaxAgeMs === undefined ? {} : { refsMaxAgeMs: this.#opts.refsMaxAgeMs }),
      ...(this.#opts.networkTimeoutMs === undefined ? {} : { networkTimeoutMs: this.#opts.networkTimeoutMs }),
    });
    await mkdir(join(this.#opts.vcsDir, ".tmp"), { recursive: true });
    return repo;
  }

  /** assertPublicHost, remembered for a minute per host. */
  async #checkPublicHost(host: string): Promise<void> {
    const at = this.#publicHosts.get(host);
    if (at !== undefined && Date.now() - at < 60_000) return;
    await assertPublicHost(host, this.#opts.lookup);
    this.#publicHosts.set(host, Date.now());
  }

  /** `git ls-remote URL` succeeds (Go's Ping, for `.git`-qualified paths). */
  async #ping(url: string, module: string): Promise<boolean> {
    const scheme = url.slice(0, url.indexOf(":"));
    const allow: GitScheme[] = scheme === "git+ssh" || scheme === "ssh" ? ["ssh"] : [scheme as GitScheme];
    if ((scheme === "http" || scheme === "git") && !this.#isInsecure(module)) return false;
    try {
      await mkdir(this.#opts.vcsDir, { recursive: true });
      const r = await runGit(["ls-remote", "-q", url], {
        cwd: this.#opts.vcsDir,
        env: runEnvironment(this.#git, allow, [
          ...this.#credentials.gitConfigFor(url),
          ...insecureTlsConfig(url, this.#isInsecure(module)),
        ]),
        timeoutMs: 60_000,
        maxOutput: 64 << 20,
        what: "git ls-remote",
      });
      return r.code === 0;
    } catch {
      return false;
    }
  }
}

/** A mirror directory and when it was last used (its last-used mark, else the directory's mtime). */
export interface MirrorUse {
  dir: string;
  lastUsed: number;
}

/** The mirrors under vcsDir not used for longer than maxAgeMs. */
export async function unusedMirrors(
  vcsDir: string,
  maxAgeMs: number,
  now = Date.now(),
): Promise<MirrorUse[]> {
  let names: string[];
  try {
    names = await readdir(vcsDir);
  } catch {
    return [];
  }
  const out: MirrorUse[] = [];
  for (const name of names.sort()) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    const dir = join(vcsDir, name);
    const last = await mirrorLastUsed(dir);
    if (last !== undefined && now - last > maxAgeMs) out.push({ dir, lastUsed: last });
  }
  return out;
}

/** When the mirror at dir was last used (its last-used mark, else the directory's mtime); undefined if it is gone. */
export async function mirrorLastUsed(dir: string): Promise<number | undefined> {
  try {
    return (await stat(join(dir, LAST_USED_FILE))).mtimeMs;
  } catch {
    try {
      return (await stat(dir)).mtimeMs;
    } catch {
      return undefined;
    }
  }
}

export interface RemoveMirrorOptions {
  /** The longest wait for a process that is writing the mirror (default 10 min, gitTimeout's default). */
  waitMs?: number;
  /** Asked again once the mirror is locked: false leaves it (it was used meanwhile). */
  stillUnused?: () => Promise<boolean>;
}

/**
 * Removes one mirror, holding its lock (so no process is fetching into it;
 * one that is, is waited for): renamed aside first (a name no mirror has),
 * so a git process never sees it half deleted, then deleted. False when it
 * was left (gone already, or used meanwhile).
 */
export async function removeMirror(dir: string, opts: RemoveMirrorOptions = {}): Promise<boolean> {
  const remote = await readFile(join(dir, REMOTE_FILE), "utf8").then(
    (t) => t.trim() || dir,
    () => dir,
  );
  const aside = `${dir}.pruned-${process.pid}-${Date.now()}`;
  const moved = await withMirrorLock(
    mirrorLockPath(dir),
    { waitMs: opts.waitMs ?? 10 * 60_000, mirrorDir: dir, what: remote },
    async () => {
      if (opts.stillUnused !== undefined && !(await opts.stillUnused())) return false;
      try {
        await rename(dir, aside);
        return true;
      } catch {
        return false; // already gone
      }
    },
  );
  if (moved) await rm(aside, { recursive: true, force: true });
  return moved;
}

/** Removes mirrors not used for maxAgeMs (asking again under each one's lock); returns how many went. */
export async function pruneMirrors(
  vcsDir: string,
  maxAgeMs: number,
  now = Date.now(),
  waitMs?: number,
): Promise<number> {
  let n = 0;
  for (const m of await unusedMirrors(vcsDir, maxAgeMs, now)) {
    const stillUnused = async () => {
      const last = await mirrorLastUsed(m.dir);
      return last !== undefined && Date.now() - last > maxAgeMs;
    };
    if (await removeMirror(m.dir, { stillUnused, ...(waitMs === undefined ? {} : { waitMs }) })) n++;
  }
  return n;
}
