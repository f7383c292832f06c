/**
 * One git repository as the go command sees it (cmd/go/internal/modfetch/
 * codehost/git.go), backed by a bare mirror inside goark's store. The remote's
 * refs come from `git ls-remote` (as Go reads them); the mirror is fetched
 * only when they differ from what it holds, so a second version of a known
 * repository transfers only the missing objects. One refresh per repository
 * runs at a time and every network operation takes a slot of a per-host cap.
 *
 * Unlike Go, which fetches single refs shallowly and deepens on demand, the
 * mirror always holds every branch and tag with full history; the answers are
 * those Go gives once it has fetched everything, i.e. with a fresh cache.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type GoarkError, InvalidVersionError, NotFoundError, UpstreamError } from "../../errors.ts";
import type { ConcurrencyLimit } from "../concurrency-limit.ts";
import {
  type GitEnvironment,
  type GitResult,
  type GitScheme,
  gitComplaint,
  redactSecrets,
  runEnvironment,
  runGit,
} from "./git-command.ts";

export interface RevInfo {
  /** Full commit hash. */
  name: string;
  /** The first 12 hex digits (Go's ShortenSHA1). */
  short: string;
  /** Committer time, whole seconds, UTC. */
  time: Date;
  /** The rev asked for when it is a tag on the commit, else the full hash. */
  version: string;
  /** Tags decorating the commit, sorted. */
  tags: string[];
}

export interface TreeFile {
  path: string;
  /** Git's octal mode: 100644, 100755, 120000 (symlink). */
  mode: string;
  size: number;
}

export interface Tag {
  name: string;
  hash: string;
}

export interface GitRepoOptions {
  /** The remote URL, without credentials. */
  remote: string;
  /** Where the bare mirror lives. */
  dir: string;
  env: GitEnvironment;
  /** The schemes git may use for this remote (normally just the remote's own). */
  allow: readonly GitScheme[];
  /** Per-remote config, e.g. an Authorization header scoped to the remote URL. */
  config?: readonly [string, string][];
  /** Shared by every repository of the same host. */
  hostLimit?: ConcurrencyLimit;
  /** Refs younger than this are reused without asking the remote (default 5 s). */
  refsMaxAgeMs?: number;
  /** Deadline for each network operation (default 10 min). */
  networkTimeoutMs?: number;
  /** Deadline for each local operation (default 2 min). */
  localTimeoutMs?: number;
  /** Where temporary files go (default: next to the mirror). */
  tmpDir?: string;
}

export interface OpOptions {
  signal?: AbortSignal;
}

/** Go's minHashDigits: shorter hex strings are never taken as hash prefixes. */
const MIN_HASH_DIGITS = 7;
const HEX_RE = /^[0-9a-f]+$/;
const ATTRIBUTES_LINE = "\n* -export-subst -export-ignore\n";
export const LAST_USED_FILE = "goark-last-used";
/** Where the mirror keeps the remote's HEAD (never a branch or tag, so never a version). */
const HEAD_REF = "refs/goark/HEAD";

function sameRefs(a: Map<string, string> | undefined, b: Map<string, string>): boolean {
  if (a === undefined || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}
const NO_FILE = Symbol("no such file");
const FILE_CACHE_ENTRIES = 512;
const FILE_CACHE_ITEM = 64 << 10;
export const REMOTE_FILE = "goark-remote";

export function isAllHex(s: string): boolean {
  return HEX_RE.test(s);
}

function looksLikeHash(rev: string): boolean {
  return rev.length >= MIN_HASH_DIGITS && rev.length <= 40 && isAllHex(rev);
}

/** Refuses revisions git could read as options or that name no ref. */
export function checkRev(rev: string): void {
  if (
    rev === "" ||
    rev.startsWith("-") ||
    /[\0\n\r\s]/.test(rev) ||
    rev.includes("..") ||
    rev.includes(":")
  ) {
    throw new InvalidVersionError(`revision ${JSON.stringify(rev)} is not a usable git revision name`, {
      version: rev,
    });
  }
}

function unknownRevision(rev: string): NotFoundError {
  return new NotFoundError(`unknown revision ${rev}`, { version: rev });
}

export class GitRepo {
  readonly remote: string;
  readonly dir: string;
  readonly #opts: GitRepoOptions;
  readonly #env: NodeJS.ProcessEnv;
  #init: Promise<void> | undefined;
  #refresh: Promise<Map<string, string>> | undefined;
  #refs: Map<string, string> | undefined;
  #refsAt = 0;
  #generation = 0;
  readonly #statCache = new Map<string, RevInfo>();
  readonly #fileCache = new Map<string, Buffer | typeof NO_FILE>();
  /** Bytes of packs and objects the last refresh added (for the benchmark). */
  lastFetchBytes = 0;

  constructor(opts: GitRepoOptions) {
    if (opts.remote.startsWith("-")) {
      throw new UpstreamError(`git remote ${JSON.stringify(opts.remote)} starts with "-"; refused`);
    }
    this.remote = opts.remote;
    this.dir = opts.dir;
    this.#opts = opts;
    this.#env = runEnvironment(opts.env, opts.allow, opts.config);
  }

  // ---- plumbing

  async #git(
    args: string[],
    o: { network?: boolean; maxOutput?: number; stdoutFile?: string; signal?: AbortSignal | undefined },
  ): Promise<GitResult> {
    const run = () =>
      runGit(args, {
        cwd: this.dir,
        env: this.#env,
        timeoutMs: o.network
          ? (this.#opts.networkTimeoutMs ?? 10 * 60_000)
          : (this.#opts.localTimeoutMs ?? 2 * 60_000),
        ...(o.maxOutput === undefined ? {} : { maxOutput: o.maxOutput }),
        ...(o.stdoutFile === undefined ? {} : { stdoutFile: o.stdoutFile }),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
        what: `git ${args[0]} (${redactSecrets(this.remote)})`,
      });
    if (!o.network || this.#opts.hostLimit === undefined) return run();
    const release = await this.#opts.hostLimit.acquire(o.signal);
    try {
      return await run();
    } finally {
      release();
    }
  }

  /** Creates the bare mirror once (in a temporary directory, renamed into place). */
  ensureInit(): Promise<void> {
    this.#init ??= this.#doInit().catch((err: unknown) => {
      this.#init = undefined;
      throw err;
    });
    return this.#init;
  }

  async #doInit(): Promise<void> {
    try {
      await stat(join(this.dir, "objects"));
      return;
    } catch {
      // not there yet
    }
    const parent = dirname(this.dir);
    await mkdir(parent, { recursive: true });
    const tmp = `${this.dir}.init-${randomBytes(6).toString("hex")}`;
    const env = this.#env;
    const must = async (args: string[]) => {
      const r = await runGit(args, { cwd: parent, env, timeoutMs: 60_000, what: `git ${args[0]}` });
      if (r.code !== 0) {
        throw new UpstreamError(
          `creating the mirror for ${redactSecrets(this.remote)}: ${gitComplaint(r.stderr)}`,
        );
      }
    };
    try {
      await must(["init", "--bare", "-q", "--", tmp]);
      await must(["-C", tmp, "remote", "add", "origin", "--", this.remote]);
      await writeFile(join(tmp, REMOTE_FILE), `${redactSecrets(this.remote)}\n`);
      // The go command's guard: export-subst and export-ignore must not change archives.
      await mkdir(join(tmp, "info"), { recursive: true });
      await writeFile(join(tmp, "info", "attributes"), ATTRIBUTES_LINE);
      try {
        await rename(tmp, this.dir);
      } catch (err) {
        // Another process won the race; its mirror is as good as ours.
        await stat(join(this.dir, "objects")).catch(() => {
          throw err;
        });
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Marks the mirror as used now (pruning goes by this time). */
  async touch(): Promise<void> {
    const now = new Date();
    const f = join(this.dir, LAST_USED_FILE);
    try {
      await utimes(f, now, now);
    } catch {
      await writeFile(f, "").catch(() => undefined);
    }
  }

  // ---- refs

  /**
   * The remote's refs (HEAD, refs/heads/*, refs/tags/* with annotated tags
   * peeled to their commits), no older than refsMaxAgeMs; the mirror holds
   * their objects when this returns.
   */
  async refs(opts: OpOptions & { maxAgeMs?: number } = {}): Promise<Map<string, string>> {
    const maxAge = opts.maxAgeMs ?? this.#opts.refsMaxAgeMs ?? 5000;
    if (this.#refs !== undefined && Date.now() - this.#refsAt <= maxAge) return this.#refs;
    this.#refresh ??= this.#doRefresh(opts.signal).finally(() => {
      this.#refresh = undefined;
    });
    return this.#refresh;
  }

  async #doRefresh(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    await this.ensureInit();
    const started = Date.now();
    const before = this.#refs === undefined ? 0 : await this.#objectBytes();
    // One fetch mirrors the remote's heads and tags (pruning deleted ones) and
    // its HEAD; when nothing changed it transfers no objects, like ls-remote.
    const refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
    const fetch = (withHead: boolean) =>
      this.#git(
        [
          "fetch",
          "-q",
          "-f",
          "--prune",
          "--no-tags",
          "--no-write-fetch-head",
          "origin",
          ...(withHead ? [`+HEAD:${HEAD_REF}`] : []),
          ...refspecs,
        ],
        { network: true, signal },
      );
    let f = await fetch(true);
    let hasHead = true;
    if (f.code !== 0 && /couldn't find remote ref HEAD/i.test(f.stderr)) {
      // No HEAD (an empty repository, or one whose HEAD names a missing branch).
      hasHead = false;
      f = await fetch(false);
    }
    if (f.code !== 0) throw this.#remoteError("fetching", f.stderr);
    if (!hasHead) await this.#git(["update-ref", "-d", HEAD_REF], { signal });
    this.lastFetchBytes = Math.max(0, (await this.#objectBytes()) - before);
    const local = await this.#git(
      [
        "for-each-ref",
        "--format=%(objectname) %(*objectname) %(refname)",
        "refs/heads",
        "refs/tags",
        HEAD_REF,
      ],
      { signal, maxOutput: 256 << 20 },
    );
    if (local.code !== 0) throw new UpstreamError(`git for-each-ref failed: ${gitComplaint(local.stderr)}`);
    // Go's loadRefs: HEAD, branches and tags, an annotated tag standing for the commit it points to.
    const refs = new Map<string, string>();
    for (const line of local.stdout.toString("utf8").split("\n")) {
      const [object, peeled, ref] = line.split(" ");
      if (object === undefined || ref === undefined) continue;
      const hash = peeled !== undefined && peeled !== "" ? peeled : object;
      refs.set(ref === HEAD_REF ? "HEAD" : ref, hash);
    }
    if (!sameRefs(this.#refs, refs)) {
      this.#refs = refs;
      this.#generation++;
      this.#statCache.clear();
    }
    this.#refsAt = started;
    await this.touch();
    return this.#refs ?? refs;
  }

  async #objectBytes(): Promise<number> {
    const r = await this.#git(["count-objects", "-v"], {});
    let total = 0;
    for (const line of r.stdout.toString("utf8").split("\n")) {
      const m = /^(size|size-pack): (\d+)$/.exec(line.trim());
      if (m) total += Number(m[2]) * 1024;
    }
    return total;
  }

  #remoteError(doing: string, stderr: string): GoarkError {
    const why = gitComplaint(stderr);
    const where = redactSecrets(this.remote);
    if (/not found|does not exist|HTTP 404|HTTP 410|repository .* not found/i.test(stderr)) {
      return new NotFoundError(`${doing} ${where}: repository not found: ${why}`);
    }
    if (
      /could not read Username|Authentication failed|terminal prompts disabled|Permission denied/i.test(
        stderr,
      )
    ) {
      return new UpstreamError(
        `${doing} ${where}: authentication required or refused (configure a credential for this host): ${why}`,
      );
    }
    return new UpstreamError(`${doing} ${where}: ${why}`);
  }

  /** Tags starting with prefix, sorted by name (Go's Tags). */
  async tags(prefix: string, opts: OpOptions = {}): Promise<Tag[]> {
    const refs = await this.refs(opts);
    const out: Tag[] = [];
    for (const [ref, hash] of refs) {
      if (!ref.startsWith("refs/tags/")) continue;
      const name = ref.slice("refs/tags/".length);
      if (name.startsWith(prefix)) out.push({ name, hash });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ---- revisions

  /** Go's Latest: the commit the remote's HEAD names. */
  async latest(opts: OpOptions = {}): Promise<RevInfo> {
    const refs = await this.refs(opts);
    const head = refs.get("HEAD");
    if (head === undefined || head === "") {
      throw new NotFoundError(`no commits in ${redactSecrets(this.remote)}`);
    }
    return this.stat(head, opts);
  }

  /**
   * Go's stat: a full or abbreviated hash, a tag, a branch or HEAD, resolved
   * against the mirror (refreshed from the remote when the name is not a tag
   * or hash it already holds). NotFoundError when nothing matches.
   */
  async stat(rev: string, opts: OpOptions = {}): Promise<RevInfo> {
    checkRev(rev);
    await this.ensureInit();
    if (looksLikeHash(rev)) {
      const info = await this.#statLocal(rev, rev, opts);
      if (info !== undefined) return info;
    }
    const knownTag = this.#refs?.has(`refs/tags/${rev}`) ?? false;
    if (knownTag || (await this.#localTagExists(rev, opts))) {
      const info = await this.#statLocal(rev, `refs/tags/${rev}`, opts);
      if (info !== undefined) return info;
    }
    const generation = this.#generation;
    try {
      return await this.#statRefs(rev, await this.refs(opts), opts);
    } catch (err) {
      // Not in refs remembered from earlier: ask the remote once more before saying it does not exist.
      if (!(err instanceof NotFoundError) || this.#generation !== generation) throw err;
      return this.#statRefs(rev, await this.refs({ ...opts, maxAgeMs: 0 }), opts);
    }
  }

  /** Go's stat against the remote's refs (the mirror holds their objects). */
  async #statRefs(rev: string, refs: Map<string, string>, opts: OpOptions): Promise<RevInfo> {
    let version = rev;
    let target: string | undefined;
    const tag = refs.get(`refs/tags/${rev}`);
    const branch = refs.get(`refs/heads/${rev}`);
    if (tag) {
      target = `refs/tags/${rev}`;
    } else if (branch) {
      target = branch;
      version = branch;
    } else if (rev === "HEAD" && refs.get("HEAD")) {
      target = refs.get("HEAD");
      version = target ?? rev;
    } else if (looksLikeHash(rev)) {
      let hash = "";
      for (const h of refs.values()) {
        if (!h.startsWith(rev)) continue;
        if (hash !== "" && hash !== h) {
          throw new InvalidVersionError(`ambiguous revision ${rev}`, { version: rev });
        }
        hash = h;
      }
      target = hash !== "" ? hash : rev;
      version = target;
    } else {
      throw unknownRevision(rev);
    }
    const info = await this.#statLocal(version, target ?? rev, opts);
    if (info === undefined) throw unknownRevision(rev);
    return info;
  }

  async #localTagExists(name: string, opts: OpOptions): Promise<boolean> {
    const r = await this.#git(["show-ref", "--verify", "-q", "--", `refs/tags/${name}`], {
      signal: opts.signal,
    });
    return r.code === 0;
  }

  /** Go's statLocal: `git log -n1` of rev, or undefined when the mirror has no such commit. */
  async #statLocal(version: string, rev: string, opts: OpOptions): Promise<RevInfo | undefined> {
    const key = `${version}\0${rev}`;
    const cached = this.#statCache.get(key);
    if (cached) return cached;
    const r = await this.#git(
      ["log", "--no-decorate", "-n1", "--format=format:%H %ct %D", "--end-of-options", rev, "--"],
      { signal: opts.signal, maxOutput: 1 << 20 },
    );
    if (r.code !== 0) return undefined;
    const out = r.stdout.toString("utf8");
    const f = out.split(/\s+/).filter((s) => s !== "");
    if (f.length < 2 || !/^[0-9a-f]{40,64}$/.test(f[0] ?? "") || !/^\d+$/.test(f[1] ?? "")) {
      throw new UpstreamError(`unexpected response from git log: ${JSON.stringify(out.slice(0, 200))}`);
    }
    const hash = f[0] as string;
    const tags: string[] = [];
    for (let i = 2; i < f.length; i++) {
      if (f[i] === "tag:" && i + 1 < f.length) {
        i++;
        const t = f[i] as string;
        tags.push(t.endsWith(",") ? t.slice(0, -1) : t);
      }
    }
    tags.sort();
    const full = hash.startsWith(version) ? hash : version;
    const info: RevInfo = {
      name: hash,
      short: hash.slice(0, 12),
      time: new Date(Number(f[1]) * 1000),
      version: tags.includes(full) ? full : hash,
      tags,
    };
    // Only hashes are immutable; names are cached until the next refresh.
    this.#statCache.set(key, info);
    return info;
  }

  /**
   * Go's ReadFile: the blob at file in commit rev (a full hash), or
   * undefined if there is none. Larger than max: TooLargeError.
   */
  async readFile(rev: string, file: string, max: number, opts: OpOptions = {}): Promise<Buffer | undefined> {
    const info = await this.stat(rev, opts);
    // A file at a commit never changes: small answers (go.mod, LICENSE, absences) are remembered.
    const key = `${info.name}:${file}`;
    const cached = this.#fileCache.get(key);
    if (cached !== undefined && (cached === NO_FILE || cached.length <= max)) {
      return cached === NO_FILE ? undefined : cached;
    }
    const r = await this.#git(["cat-file", "blob", key], { signal: opts.signal, maxOutput: max });
    const data = r.code === 0 ? r.stdout : undefined;
    if (data === undefined || data.length <= FILE_CACHE_ITEM) {
      if (this.#fileCache.size >= FILE_CACHE_ENTRIES) {
        const oldest = this.#fileCache.keys().next().value;
        if (oldest !== undefined) this.#fileCache.delete(oldest);
      }
      this.#fileCache.set(key, data ?? NO_FILE);
    }
    return data;
  }

  /**
   * Go's RecentTag: the highest tag (with prefix, passing allowed) merged
   * into rev, compared as semver after the prefix; "" if none.
   */
  async recentTag(
    rev: string,
    prefix: string,
    allowed: (tag: string) => boolean,
    compare: (a: string, b: string) => number,
    opts: OpOptions = {},
  ): Promise<string> {
    const info = await this.stat(rev, opts);
    const r = await this.#git(
      ["for-each-ref", "--format", "%(refname)", "--merged", info.name, "refs/tags"],
      {
        signal: opts.signal,
        maxOutput: 256 << 20,
      },
    );
    if (r.code !== 0) throw new UpstreamError(`git for-each-ref failed: ${gitComplaint(r.stderr)}`);
    let highest = "";
    for (let line of r.stdout.toString("utf8").split("\n")) {
      line = line.trim();
      if (!line.startsWith("refs/tags/")) continue;
      const tag = line.slice("refs/tags/".length);
      if (!tag.startsWith(prefix) || !allowed(tag)) continue;
      const semtag = tag.slice(prefix.length);
      if (compare(semtag, highest) > 0) highest = semtag;
    }
    return highest === "" ? "" : prefix + highest;
  }

  /** Go's DescendsFrom: whether tag is an ancestor of rev. */
  async descendsFrom(rev: string, tag: string, opts: OpOptions = {}): Promise<boolean> {
    checkRev(tag);
    const info = await this.stat(rev, opts);
    const r = await this.#git(
      ["merge-base", "--is-ancestor", "--end-of-options", `refs/tags/${tag}`, info.name],
      {
        signal: opts.signal,
      },
    );
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new UpstreamError(`git merge-base failed: ${gitComplaint(r.stderr)}`);
  }

  /**
   * The blobs under dir ("" for all) at rev with their sizes and modes
   * (`git ls-tree -r -l`), paths relative to dir. Lets the zip size limit be
   * checked before anything is archived.
   */
  async treeFiles(rev: string, dir: string, opts: OpOptions = {}): Promise<TreeFile[]> {
    const info = await this.stat(rev, opts);
    const args = ["ls-tree", "-r", "-l", "-z", "--full-tree", info.name];
    if (dir !== "") args.push("--", dir);
    const r = await this.#git(args, { signal: opts.signal, maxOutput: 512 << 20 });
    if (r.code !== 0)
      throw new UpstreamError(`git ls-tree of ${info.name} failed: ${gitComplaint(r.stderr)}`);
    const prefix = dir === "" ? "" : `${dir.replace(/\/+$/, "")}/`;
    const out: TreeFile[] = [];
    for (const rec of r.stdout.toString("utf8").split("\0")) {
      // "<mode> <type> <object> <size>\t<path>"
      const tab = rec.indexOf("\t");
      if (tab < 0) continue;
      const [mode, type, , size] = rec.slice(0, tab).split(/ +/);
      const path = rec.slice(tab + 1);
      if (type !== "blob" || !path.startsWith(prefix)) continue;
      out.push({ path: path.slice(prefix.length), mode: mode ?? "", size: Number(size) });
    }
    return out;
  }

  /**
   * Go's ReadZip: `git archive` of rev (limited to subdir) as a zip written
   * to outFile, at most max bytes. False when subdir matches no files.
   */
  async archive(
    rev: string,
    subdir: string,
    outFile: string,
    max: number,
    opts: OpOptions = {},
  ): Promise<boolean> {
    const info = await this.stat(rev, opts);
    await this.#ensureAttributes();
    const args = [
      "-c",
      "core.autocrlf=input",
      "-c",
      "core.eol=lf",
      "archive",
      "--format=zip",
      // Stored, not deflated: the archive is read once, here; the module zip is compressed anyway.
      "-0",
      "--prefix=prefix/",
      info.name,
    ];
    if (subdir !== "") args.push("--", subdir);
    const r = await this.#git(args, { signal: opts.signal, maxOutput: max, stdoutFile: outFile });
    if (r.code === 0) return true;
    if (r.stderr.includes("did not match any files")) return false;
    throw new UpstreamError(`git archive of ${info.name} failed: ${gitComplaint(r.stderr)}`);
  }

  async #ensureAttributes(): Promise<void> {
    const p = join(this.dir, "info", "attributes");
    let have = "";
    try {
      have = await readFile(p, "utf8");
    } catch {
      // absent
    }
    if (!have.endsWith(ATTRIBUTES_LINE)) {
      await mkdir(join(this.dir, "info"), { recursive: true });
      await writeFile(p, have + ATTRIBUTES_LINE);
    }
  }

  /** A fresh temporary file name beside the mirror. */
  tempFile(suffix: string): string {
    const dir = this.#opts.tmpDir ?? dirname(this.dir);
    return join(dir, `.tmp-${process.pid}-${randomBytes(8).toString("hex")}${suffix}`);
  }

  get generation(): number {
    return this.#generation;
  }
}
