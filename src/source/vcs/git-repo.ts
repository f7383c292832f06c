/**
 * One git repository as the go command sees it (cmd/go/internal/modfetch/
 * codehost/git.go), backed by a bare mirror inside goark's store. The remote's
 * refs come from `git ls-remote`; objects are fetched only when an answer
 * needs them, the way Go fetches: a commit named by a branch, tag or HEAD is
 * first fetched alone and shallow (`--depth=1`), and the whole history (every
 * branch and tag, unshallowed) only when an answer depends on it — the base
 * tag of a pseudo-version, ancestry, a hash no ref names. A mirror that once
 * held everything stays complete: later fetches bring all refs up to date and
 * transfer only the missing objects. One fetch per mirror runs at a time and
 * every network operation takes a slot of a per-host cap.
 *
 * Several processes may share the mirrors (replicas on one volume, `goark
 * warm` or `goark prune` beside `goark serve`): whatever writes a mirror
 * (creating it, fetching, folding packs) holds its lock file as well
 * (mirror-lock.ts), and finds the mirror as the last holder left it. Reads
 * take no lock: objects never change, and git looks for an object again when
 * a repack removed the pack it had in mind; a read that still fails on a
 * vanished pack, or finds the mirror removed or made anew, is tried once more.
 *
 * The answers are those Go gives with a fresh cache: the tags on a commit are
 * the remote's (from ls-remote), never stale local ones.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type GoarkError, InvalidVersionError, NotFoundError, UpstreamError } from "../../errors.ts";
import { decodeGoBytes } from "../../module/go-bytes.ts";
import * as semver from "../../module/semver.ts";
import { ConcurrencyLimit } from "../concurrency-limit.ts";
import { type BlobSource, GitBlobReader } from "./git-blob-reader.ts";
import {
  type GitEnvironment,
  type GitResult,
  type GitScheme,
  gitComplaint,
  redactSecrets,
  runEnvironment,
  runGit,
} from "./git-command.ts";
import { acquireMirrorLock, MirrorBusyError, type MirrorLock, mirrorLockPath } from "./mirror-lock.ts";

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

/** One entry of a commit's tree (`git ls-tree -r -l`), path relative to the directory listed. */
export interface TreeEntry {
  path: string;
  /** Git's octal mode: 100644, 100755, 120000 (symlink), 160000 (submodule). */
  mode: string;
  type: "blob" | "commit";
  oid: string;
  /** Bytes of a blob (0 for a submodule). */
  size: number;
}

export interface TreeListing {
  /** Blobs and submodules under the directory, in git's tree order (the order git archive writes). */
  entries: TreeEntry[];
  /** Whether a .gitattributes file in the directory or above it may change what git archive writes. */
  attributes: boolean;
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
  /** Deadline for each network operation, and the longest wait for another process's lock (default 10 min). */
  networkTimeoutMs?: number;
  /** Deadline for each local operation (default 2 min). */
  localTimeoutMs?: number;
  /** Where temporary files go (default: next to the mirror). */
  tmpDir?: string;
  /** More packs than this (each fetch adds one) are folded into one after a fetch (default 50, git's own). */
  maxPacks?: number;
}

export interface OpOptions {
  signal?: AbortSignal;
}

/** Go's minHashDigits: shorter hex strings are never taken as hash prefixes. */
const MIN_HASH_DIGITS = 7;
const HEX_RE = /^[0-9a-f]+$/;
const FULL_HASH_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const ATTRIBUTES_LINE = "\n* -export-subst -export-ignore\n";
export const LAST_USED_FILE = "goark-last-used";
/** Where the mirror keeps the remote's HEAD (never a branch or tag, so never a version). */
const HEAD_REF = "refs/goark/HEAD";
/** Every branch and tag (pruned), and HEAD: what a complete mirror holds. */
const ALL_REFSPECS = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
/**
 * Every fetch keeps what it receives as one pack (never loose objects): no
 * per-object files to write, and the bytes a fetch moved are the new pack's size.
 */
const FETCH_CONFIG = ["-c", "fetch.unpackLimit=1"];
/** git's complaints when a pack it had in mind went away (a concurrent repack): worth one more try. */
const PACK_TROUBLE =
  /packfile|pack-[0-9a-f]{40,64}|\.(pack|idx)\b|unable to read|failed to read|could not read|cannot read|bad object|No such file or directory/i;
/** cat-file's answer for a path the commit does not have (also what it says when the commit is missing). */
const ABSENT = /does not exist in|exists on disk, but not in/;
/** git refusing to write because one of its lock files is there. */
const LOCK_EXISTS = /Unable to create '[^']*\.lock': File exists/;
/** What #git answers for a command that could not start because the mirror is gone (pruned). */
const GONE_STDERR = "fatal: the mirror was removed";

/**
 * What the mirror holds: nothing yet; single commits fetched shallow; or
 * every branch and tag with their full history (as of the last full fetch).
 */
type MirrorState = "empty" | "shallow" | "complete";

interface RunOptions {
  network?: boolean;
  maxOutput?: number;
  stdoutFile?: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
  /** Writes the mirror: only under the lock; a failure may leave git's lock files, which go. */
  write?: boolean;
}

function sameRefs(a: Map<string, string> | undefined, b: Map<string, string>): boolean {
  if (a === undefined || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}
const NO_FILE = Symbol("no such file");
const FILE_CACHE_ENTRIES = 512;
const FILE_CACHE_ITEM = 64 << 10;
export const REMOTE_FILE = "goark-remote";
/** Present once a full fetch has brought every branch and tag with their history. */
const COMPLETE_FILE = "goark-complete";

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

/** Go's loadRefs over `git ls-remote` output: HEAD, branches, tags (annotated ones peeled). */
export function parseLsRemote(out: string): Map<string, string> {
  const refs = new Map<string, string>();
  const peeled = new Map<string, string>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 2) continue;
    const [hash, ref] = f as [string, string];
    if (!FULL_HASH_RE.test(hash)) continue;
    if (ref !== "HEAD" && !ref.startsWith("refs/heads/") && !ref.startsWith("refs/tags/")) continue;
    if (ref.endsWith("^{}")) peeled.set(ref.slice(0, -3), hash);
    else refs.set(ref, hash);
  }
  for (const [ref, hash] of peeled) refs.set(ref, hash);
  return refs;
}

/** A value for git's config file, quoted. */
function configValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The refspec that fetches ref into the mirror under the same name (HEAD under HEAD_REF). */
function refspecFor(ref: string): string {
  return ref === "HEAD" ? `+HEAD:${HEAD_REF}` : `+${ref}:${ref}`;
}

/** A tag that looks like a module version (worth fetching before the refs are known). */
function looksLikeVersionTag(rev: string): boolean {
  return semver.isValid(rev.slice(rev.lastIndexOf("/") + 1));
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
  #state: MirrorState = "empty";
  /** Cleared when a shallow fetch is refused (dumb HTTP, old servers): full fetches from then on. */
  #shallowOk = true;
  /** The refs generation the last full fetch brought the mirror's branches and tags up to. */
  #syncedGeneration = -1;
  /** Counts fetches, so a waiter can tell that someone else fetched while it waited. */
  #fetchSeq = 0;
  #repack: Promise<void> | undefined;
  /** One fetch at a time in this mirror (within this process; the lock file is for other processes). */
  readonly #fetchLock = new ConcurrencyLimit(1);
  /** The lock file while this process holds it. */
  #held: MirrorLock | undefined;
  /** The mirror directory's inode as last seen: another one means it was removed and made anew. */
  #ino: number | undefined;
  readonly #statCache = new Map<string, RevInfo>();
  readonly #fileCache = new Map<string, Buffer | typeof NO_FILE>();
  /** Bytes of packs all fetches into this mirror have added (for tests and the benchmark). */
  fetchedBytes = 0;

  constructor(opts: GitRepoOptions) {
    if (opts.remote.startsWith("-")) {
      throw new UpstreamError(`git remote ${JSON.stringify(opts.remote)} starts with "-"; refused`);
    }
    this.remote = opts.remote;
    this.dir = opts.dir;
    this.#opts = opts;
    // No attributes from outside the repository (system or user files): zips depend on the commit only.
    this.#env = {
      ...runEnvironment(opts.env, opts.allow, [...(opts.config ?? []), ["core.attributesFile", "/dev/null"]]),
      GIT_ATTR_NOSYSTEM: "1",
    };
  }

  // ---- plumbing

  async #git(args: string[], o: RunOptions): Promise<GitResult> {
    let sub = 0;
    while (args[sub] === "-c") sub += 2;
    const held = o.write ? this.#held : undefined;
    const run = () =>
      runGit(args, {
        cwd: this.dir,
        env: this.#env,
        timeoutMs:
          o.timeoutMs ??
          (o.network
            ? (this.#opts.networkTimeoutMs ?? 10 * 60_000)
            : (this.#opts.localTimeoutMs ?? 2 * 60_000)),
        ...(o.maxOutput === undefined ? {} : { maxOutput: o.maxOutput }),
        ...(o.stdoutFile === undefined ? {} : { stdoutFile: o.stdoutFile }),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
        ...(held === undefined ? {} : { onSpawn: (pid: number) => void held.setGit(pid) }),
        what: `git ${args[sub] ?? ""} (${redactSecrets(this.remote)})`,
      });
    const limited = async () => {
      if (!o.network || this.#opts.hostLimit === undefined) return run();
      const release = await this.#opts.hostLimit.acquire(o.signal);
      try {
        return await run();
      } finally {
        release();
      }
    };
    let ok = false;
    try {
      let r = await limited();
      if (held !== undefined && r.code !== 0 && LOCK_EXISTS.test(r.stderr)) {
        // Left by a git killed while writing (nobody else writes under this lock): cleared, then once more.
        await this.#clearGitLeftovers();
        r = await limited();
      }
      ok = r.code === 0;
      return r;
    } catch (err) {
      // git cannot start in a directory that is gone: the mirror was removed (pruned) meanwhile.
      if (!(await this.#exists(this.dir))) {
        this.#gone();
        return { code: 128, stdout: Buffer.alloc(0), stderr: GONE_STDERR };
      }
      throw err;
    } finally {
      if (held !== undefined) {
        await held.setGit(undefined);
        // A git that failed (or was killed on its deadline) may leave its lock files behind.
        if (!ok) await this.#clearGitLeftovers();
      }
    }
  }

  /** A read: once more if git complains about a pack that went away (a concurrent repack). */
  async #read(args: string[], o: RunOptions): Promise<GitResult> {
    const r = await this.#git(args, o);
    if (r.code === 0 || !PACK_TROUBLE.test(r.stderr)) return r;
    return this.#git(args, o);
  }

  /**
   * Reads something of commit rev: stat, then run. When the answer is not
   * settled, or is a failure while the mirror was removed or made anew
   * meanwhile, the commit is looked up (and fetched) again and run once more.
   */
  async #readCommit(
    rev: string,
    opts: OpOptions,
    run: (info: RevInfo) => Promise<GitResult>,
    settled: (r: GitResult) => boolean,
  ): Promise<[RevInfo, GitResult]> {
    let info = await this.stat(rev, opts);
    let r = await run(info);
    if (r.code === 0 || (settled(r) && (await this.#sameMirror()))) return [info, r];
    if (!(await this.#sameMirror())) this.#gone();
    info = await this.stat(rev, opts);
    r = await run(info);
    return [info, r];
  }

  /** Whether the mirror on disk is the one this object last saw (not removed, not made anew). */
  async #sameMirror(): Promise<boolean> {
    const ino = await stat(this.dir).then(
      (st) => st.ino,
      () => undefined,
    );
    return ino !== undefined && (this.#ino === undefined || ino === this.#ino);
  }

  /** Forgets what the mirror held: it was removed (or replaced) by another process. */
  #gone(): void {
    this.#state = "empty";
    this.#syncedGeneration = -1;
    this.#statCache.clear();
    this.#init = undefined;
    this.#ino = undefined;
  }

  /**
   * Removes what a git killed in the middle of writing leaves behind (its
   * lock files, temporary packs); only while holding the lock, when no other
   * git writes this mirror.
   */
  async #clearGitLeftovers(): Promise<void> {
    const list = (sub: string, recursive = false) =>
      readdir(join(this.dir, sub), { recursive }).then(
        (names) => names.map((n) => join(sub, n)),
        () => [] as string[],
      );
    const junk = [
      ...(await list(".")).filter((n) => n.endsWith(".lock")),
      ...(await list("refs", true)).filter((n) => n.endsWith(".lock")),
      ...(await list(join("objects", "pack"))).filter((n) => /\/(tmp_|\.tmp-)[^/]*$/.test(n)),
      ...(await list("objects")).filter((n) => /\/incoming-[^/]*$/.test(n)),
    ];
    for (const n of junk)
      await rm(join(this.dir, n), { recursive: true, force: true }).catch(() => undefined);
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
    if (await this.#exists(join(this.dir, "objects"))) {
      this.#ino = (await stat(this.dir)).ino;
      this.#state = await this.#existingState();
      return;
    }
    // Created under the lock (#syncWithDisk), so never while another process removes it.
    await this.#locked(undefined, async () => undefined);
  }

  /** Under the lock: the mirror as the last holder left it, created if it is not there (any more). */
  async #syncWithDisk(): Promise<void> {
    if (!(await this.#exists(join(this.dir, "objects")))) {
      if (this.#ino !== undefined || this.#state !== "empty") this.#gone();
      // Something without objects is no mirror (a crash of a process that took no lock): it goes.
      if (await this.#exists(this.dir)) {
        const aside = `${this.dir}.broken-${process.pid}-${randomBytes(4).toString("hex")}`;
        await rename(this.dir, aside);
        await rm(aside, { recursive: true, force: true });
      }
      await this.#create();
      return;
    }
    const ino = (await stat(this.dir)).ino;
    if (this.#ino !== undefined && ino !== this.#ino) this.#gone();
    this.#ino = ino;
    this.#state = await this.#existingState();
  }

  /** Creates the bare mirror (in a temporary directory, renamed into place). */
  async #create(): Promise<void> {
    if (/[\0-\x1f\x7f]/.test(this.remote)) {
      throw new UpstreamError(
        `git remote ${JSON.stringify(redactSecrets(this.remote))} has control characters; refused`,
      );
    }
    const parent = dirname(this.dir);
    await mkdir(parent, { recursive: true });
    const tmp = `${this.dir}.init-${randomBytes(6).toString("hex")}`;
    try {
      // What `git init --bare` and `git remote add` would write, without two processes to start.
      await mkdir(tmp);
      await Promise.all(
        ["objects/info", "objects/pack", "refs/heads", "refs/tags", "info"].map((d) =>
          mkdir(join(tmp, d), { recursive: true }),
        ),
      );
      await Promise.all([
        writeFile(join(tmp, "HEAD"), "ref: refs/heads/main\n"),
        writeFile(
          join(tmp, "config"),
          "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n" +
            `[remote "origin"]\n\turl = ${configValue(this.remote)}\n`,
        ),
        writeFile(join(tmp, REMOTE_FILE), `${redactSecrets(this.remote)}\n`),
        // The go command's guard: export-subst and export-ignore must not change archives.
        writeFile(join(tmp, "info", "attributes"), ATTRIBUTES_LINE),
      ]);
      try {
        await rename(tmp, this.dir);
        this.#state = "empty";
      } catch (err) {
        // Another process (one that takes no lock) won the race; its mirror is as good as ours.
        if (!(await this.#exists(join(this.dir, "objects")))) throw err;
        this.#state = await this.#existingState();
      }
      this.#ino = (await stat(this.dir)).ino;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }

  /** A mirror found on disk: shallow if git says so, complete if it holds anything, else empty. */
  async #existingState(): Promise<MirrorState> {
    if (await this.#exists(join(this.dir, "shallow"))) return "shallow";
    if (await this.#exists(join(this.dir, COMPLETE_FILE))) return "complete";
    // Objects without the mark: single commits (a root commit leaves no shallow file), or a mirror
    // from before the mark; either way the next full fetch makes it complete.
    const objects = await readdir(join(this.dir, "objects")).catch(() => [] as string[]);
    if (objects.some((n) => n.length === 2)) return "shallow";
    const packs = await readdir(join(this.dir, "objects", "pack")).catch(() => [] as string[]);
    return packs.some((n) => n.endsWith(".pack")) ? "shallow" : "empty";
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
   * peeled to their commits), from `git ls-remote`, no older than
   * refsMaxAgeMs. The mirror need not hold their objects.
   */
  async refs(opts: OpOptions & { maxAgeMs?: number } = {}): Promise<Map<string, string>> {
    if (this.#refsFresh(opts.maxAgeMs) && this.#refs !== undefined) return this.#refs;
    this.#refresh ??= this.#doRefresh(opts.signal).finally(() => {
      this.#refresh = undefined;
    });
    return this.#refresh;
  }

  #refsFresh(maxAgeMs?: number): boolean {
    const maxAge = maxAgeMs ?? this.#opts.refsMaxAgeMs ?? 5000;
    return this.#refs !== undefined && Date.now() - this.#refsAt <= maxAge;
  }

  async #doRefresh(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    await this.ensureInit();
    const started = Date.now();
    let r = await this.#git(["ls-remote", "-q", "origin"], { network: true, signal, maxOutput: 256 << 20 });
    if (r.stderr === GONE_STDERR) {
      await this.ensureInit();
      r = await this.#git(["ls-remote", "-q", "origin"], { network: true, signal, maxOutput: 256 << 20 });
    }
    if (r.code !== 0) throw this.#remoteError("reading the refs of", r.stderr);
    const refs = parseLsRemote(r.stdout.toString("utf8"));
    if (!sameRefs(this.#refs, refs)) {
      this.#refs = refs;
      this.#generation++;
      this.#statCache.clear();
    }
    this.#refsAt = started;
    await this.touch();
    return this.#refs ?? refs;
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

  // ---- fetching

  /**
   * Runs fn holding the mirror's fetch lock: this process's, then the lock
   * file other processes honour (waited for as long as a network operation
   * may take), with the mirror as the last holder left it.
   */
  async #locked<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const network = this.#opts.networkTimeoutMs ?? 10 * 60_000;
    const since = Date.now();
    // The bound covers the whole wait: this process's turn, then other processes'.
    const bound = new AbortController();
    const timer = setTimeout(
      () =>
        bound.abort(
          new MirrorBusyError(
            `git mirror of ${redactSecrets(this.remote)} is busy: this process is fetching into it; gave up after ${Math.round(network / 1000)}s`,
          ),
        ),
      network,
    );
    let release: () => void;
    try {
      release = await this.#fetchLock.acquire(
        signal === undefined ? bound.signal : AbortSignal.any([signal, bound.signal]),
      );
    } finally {
      clearTimeout(timer);
    }
    try {
      await mkdir(dirname(this.dir), { recursive: true });
      const lock = await acquireMirrorLock(mirrorLockPath(this.dir), {
        waitMs: network,
        since,
        // A holder refreshes its lock every few seconds: silence this long means it is gone.
        staleMs: Math.max(network, this.#opts.localTimeoutMs ?? 2 * 60_000) + 60_000,
        mirrorDir: this.dir,
        what: redactSecrets(this.remote),
        ...(signal === undefined ? {} : { signal }),
      });
      this.#held = lock;
      try {
        if (lock.tookOver) await this.#clearGitLeftovers();
        await this.#syncWithDisk();
        return await fn();
      } finally {
        this.#held = undefined;
        await lock.release();
      }
    } finally {
      release();
    }
  }

  async #packs(): Promise<Set<string>> {
    const names = await readdir(join(this.dir, "objects", "pack")).catch(() => [] as string[]);
    return new Set(names.filter((n) => n.endsWith(".pack")));
  }

  /** Adds the sizes of packs not in before to fetchedBytes; too many packs get folded into one. */
  async #countNewPacks(before: Set<string>): Promise<void> {
    const packs = await this.#packs();
    for (const name of packs) {
      if (before.has(name)) continue;
      this.fetchedBytes += await stat(join(this.dir, "objects", "pack", name)).then(
        (s) => s.size,
        () => 0,
      );
    }
    if (packs.size > (this.#opts.maxPacks ?? 50)) this.#repackSoon();
  }

  /**
   * Every lookup searches each pack, so once fetches have left too many, one
   * `git repack -a -d` folds them together: in the background, after the
   * fetch that found them (under the fetch lock, so no fetch runs meanwhile;
   * readers keep working, as with git's own gc).
   */
  #repackSoon(): void {
    if (this.#repack !== undefined) return;
    this.#repack = (async () => {
      // Let the fetch that noticed release the lock first.
      await new Promise((r) => setImmediate(r));
      await this.#locked(undefined, async () => {
        if ((await this.#packs()).size <= (this.#opts.maxPacks ?? 50)) return;
        // A big repository takes a while: as long as a fetch may.
        await this.#git(["repack", "-a", "-d", "-q"], {
          timeoutMs: this.#opts.networkTimeoutMs ?? 10 * 60_000,
          write: true,
        });
      });
    })()
      .catch(() => undefined)
      .finally(() => {
        this.#repack = undefined;
      });
  }

  /** The repack in progress, if any (tests wait for it). */
  get repacking(): Promise<void> | undefined {
    return this.#repack;
  }

  /** Fetches ref's commit alone, shallow. False when the remote refused (the caller then fetches everything). */
  async #fetchShallowLocked(ref: string, signal: AbortSignal | undefined): Promise<boolean> {
    const before = await this.#packs();
    const r = await this.#git(
      [
        ...FETCH_CONFIG,
        "fetch",
        "-q",
        "-f",
        "--depth=1",
        "--no-tags",
        "--no-write-fetch-head",
        "origin",
        refspecFor(ref),
      ],
      { network: true, signal, write: true },
    );
    this.#fetchSeq++;
    if (r.code !== 0) {
      // Dumb HTTP and some servers cannot fetch shallow at all: do not ask again.
      if (/shallow/i.test(r.stderr)) this.#shallowOk = false;
      return false;
    }
    if (this.#state === "empty") this.#state = "shallow";
    await this.#countNewPacks(before);
    return true;
  }

  /**
   * Fetches every branch and tag (pruning deleted ones) and HEAD, with their
   * whole history (Go's fetchRefsLocked): the mirror is complete afterwards.
   */
  async #fetchAllLocked(signal: AbortSignal | undefined): Promise<void> {
    const generation = this.#generation;
    const before = await this.#packs();
    const fetch = (withHead: boolean, extra: string[]) =>
      this.#git(
        [
          ...FETCH_CONFIG,
          "fetch",
          "-q",
          "-f",
          ...extra,
          "--prune",
          "--no-tags",
          "--no-write-fetch-head",
          "origin",
          ...(withHead ? [`+HEAD:${HEAD_REF}`] : []),
          ...ALL_REFSPECS,
        ],
        { network: true, signal, write: true },
      );
    const run = async (extra: string[]) => {
      let f = await fetch(true, extra);
      let hasHead = true;
      if (f.code !== 0 && /couldn't find remote ref HEAD/i.test(f.stderr)) {
        // No HEAD (an empty repository, or one whose HEAD names a missing branch).
        hasHead = false;
        f = await fetch(false, extra);
      }
      if (f.code !== 0) throw this.#remoteError("fetching", f.stderr);
      if (!hasHead) await this.#git(["update-ref", "-d", HEAD_REF], { signal, write: true });
    };
    try {
      await run([]);
      // As Go does: new refs first, then the history, in two fetches (one trips up older gits).
      if (await this.#exists(join(this.dir, "shallow"))) await run(["--unshallow"]);
      // Other processes (and this one, later) read the state from the mirror.
      await writeFile(join(this.dir, COMPLETE_FILE), "");
    } finally {
      this.#fetchSeq++;
      await this.#countNewPacks(before);
    }
    this.#state = "complete";
    this.#syncedGeneration = generation;
  }

  /**
   * Fetches so that the commit ref names can be found: that ref alone and
   * shallow while the mirror is not complete (and the remote allows it),
   * else everything. Nothing if another fetch ran since seq (the caller looks
   * again first). Returns what it did.
   */
  async #fetchFor(
    ref: string | undefined,
    seq: number,
    signal: AbortSignal | undefined,
  ): Promise<"skipped" | "shallow" | "full"> {
    return this.#locked(signal, async () => {
      if (this.#fetchSeq !== seq) return "skipped";
      if (ref !== undefined && this.#state !== "complete" && this.#shallowOk) {
        if (await this.#fetchShallowLocked(ref, signal)) return "shallow";
      }
      await this.#fetchAllLocked(signal);
      return "full";
    });
  }

  /** Every branch and tag with full history, as of the current refs (for ancestry questions). */
  async #ensureHistory(opts: OpOptions): Promise<void> {
    await this.refs(opts);
    const synced = () => this.#state === "complete" && this.#syncedGeneration === this.#generation;
    if (synced()) return;
    await this.#locked(opts.signal, async () => {
      if (!synced()) await this.#fetchAllLocked(opts.signal);
    });
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
   * against the remote's refs and fetched into the mirror if it is not there
   * yet. NotFoundError when nothing matches.
   */
  async stat(rev: string, opts: OpOptions = {}): Promise<RevInfo> {
    checkRev(rev);
    await this.ensureInit();
    if (looksLikeHash(rev) && this.#state !== "empty") {
      // The tags on the commit come from the remote's refs.
      if (this.#refs === undefined) await this.refs(opts);
      const info = await this.#statLocal(rev, rev, opts);
      if (info !== undefined) return info;
    }
    if (this.#state !== "empty") {
      // A tag the mirror holds (tags are taken not to move, as Go does), unless the refs say otherwise.
      const known = this.#refs?.get(`refs/tags/${rev}`);
      if (this.#refs === undefined || known !== undefined) {
        const info = await this.#statLocal(rev, known ?? `refs/tags/${rev}`, opts);
        if (info !== undefined && (known === undefined || info.name === known)) return info;
      }
    }
    // While the refs are being read, fetch the tag a version names: it is almost always there.
    const fetchEarly = (): Promise<MirrorBusyError | undefined> | undefined => {
      if (this.#state === "complete" || !this.#shallowOk || looksLikeHash(rev) || !looksLikeVersionTag(rev)) {
        return undefined;
      }
      const seq = this.#fetchSeq;
      return this.#locked(opts.signal, async () => {
        if (this.#fetchSeq === seq && this.#state !== "complete") {
          await this.#fetchShallowLocked(`refs/tags/${rev}`, opts.signal);
        }
      }).then(
        () => undefined,
        // Waiting once for another process's lock is enough: the request fails with that.
        (err: unknown) => (err instanceof MirrorBusyError ? err : undefined),
      );
    };
    let early = this.#refsFresh() ? undefined : fetchEarly();
    const generation = this.#generation;
    try {
      return await this.#statRefs(rev, await this.refs(opts), opts, early);
    } catch (err) {
      // Not in refs remembered from earlier: ask the remote once more before saying it does not exist.
      if (!(err instanceof NotFoundError) || this.#generation !== generation) throw err;
      early ??= fetchEarly();
      return this.#statRefs(rev, await this.refs({ ...opts, maxAgeMs: 0 }), opts, early);
    } finally {
      await early;
    }
  }

  /** Go's stat against the remote's refs: which commit rev names, fetched if the mirror lacks it. */
  async #statRefs(
    rev: string,
    refs: Map<string, string>,
    opts: OpOptions,
    early: Promise<MirrorBusyError | undefined> | undefined,
  ): Promise<RevInfo> {
    let version = rev;
    let ref: string | undefined;
    let hash: string | undefined;
    const tag = refs.get(`refs/tags/${rev}`);
    const branch = refs.get(`refs/heads/${rev}`);
    if (tag) {
      ref = `refs/tags/${rev}`;
      hash = tag;
    } else if (branch) {
      ref = `refs/heads/${rev}`;
      hash = branch;
      version = branch;
    } else if (rev === "HEAD" && refs.get("HEAD")) {
      ref = "HEAD";
      hash = refs.get("HEAD");
      version = hash ?? rev;
    } else if (looksLikeHash(rev)) {
      for (const [k, h] of refs) {
        if (!h.startsWith(rev)) continue;
        if (hash !== undefined && hash !== h) {
          throw new InvalidVersionError(`ambiguous revision ${rev}`, { version: rev });
        }
        hash = h;
        // Fetch by a branch or tag name rather than HEAD (which may move); ties go to the smallest name.
        const better = ref === undefined || (ref === "HEAD" ? k !== "HEAD" : k !== "HEAD" && k < ref);
        if (better) ref = k;
      }
      if (hash === undefined && rev.length === 40) hash = rev;
      version = hash ?? rev;
    } else {
      throw unknownRevision(rev);
    }
    const busy = await early;
    if (busy !== undefined) throw busy;
    // A commit no ref names is looked for in the whole history, never fetched by hash
    // (that could import commits the remote does not publish, such as rejected pull requests).
    if (ref === undefined) await this.#ensureHistory(opts);
    const local = hash ?? rev;
    let tried: "none" | "shallow" | "full" = ref === undefined ? "full" : "none";
    for (let round = 0; round < 5; round++) {
      const seq = this.#fetchSeq;
      if (round > 0 || this.#state !== "empty") {
        const info = await this.#statLocal(version, local, opts);
        if (info !== undefined && (hash === undefined || info.name === hash)) return info;
      }
      if (tried === "full") break;
      const did = await this.#fetchFor(tried === "shallow" ? undefined : ref, seq, opts.signal);
      if (did !== "skipped") tried = did;
    }
    throw unknownRevision(rev);
  }

  /** The tags on commit hash: the remote's, or (before the refs are known) the mirror's. */
  #tagsOf(hash: string, local: string[]): string[] {
    if (this.#refs === undefined) return [...local].sort();
    const tags: string[] = [];
    for (const [ref, h] of this.#refs) {
      if (h === hash && ref.startsWith("refs/tags/")) tags.push(ref.slice("refs/tags/".length));
    }
    return tags.sort();
  }

  /** Go's statLocal: `git log -n1` of rev, or undefined when the mirror has no such commit. */
  async #statLocal(version: string, rev: string, opts: OpOptions): Promise<RevInfo | undefined> {
    const key = `${version}\0${rev}`;
    const cached = this.#statCache.get(key);
    if (cached) return cached;
    const r = await this.#read(
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
    const decorations: string[] = [];
    for (let i = 2; i < f.length; i++) {
      if (f[i] === "tag:" && i + 1 < f.length) {
        i++;
        const t = f[i] as string;
        decorations.push(t.endsWith(",") ? t.slice(0, -1) : t);
      }
    }
    const tags = this.#tagsOf(hash, decorations);
    const full = hash.startsWith(version) ? hash : version;
    const info: RevInfo = {
      name: hash,
      short: hash.slice(0, 12),
      time: new Date(Number(f[1]) * 1000),
      version: tags.includes(full) ? full : hash,
      tags,
    };
    // Answers are kept until the refs change (then the tags may differ).
    this.#statCache.set(key, info);
    return info;
  }

  /**
   * Go's ReadFile: the blob at file in commit rev (a full hash), or
   * undefined if there is none. Larger than max: TooLargeError.
   */
  async readFile(rev: string, file: string, max: number, opts: OpOptions = {}): Promise<Buffer | undefined> {
    const first = await this.stat(rev, opts);
    // A file at a commit never changes: small answers (go.mod, LICENSE, absences) are remembered.
    const cached = this.#fileCache.get(`${first.name}:${file}`);
    if (cached !== undefined && (cached === NO_FILE || cached.length <= max)) {
      return cached === NO_FILE ? undefined : cached;
    }
    const [info, r] = await this.#readCommit(
      first.name,
      opts,
      (i) => this.#read(["cat-file", "blob", `${i.name}:${file}`], { signal: opts.signal, maxOutput: max }),
      (res) => ABSENT.test(res.stderr),
    );
    if (r.code !== 0 && !ABSENT.test(r.stderr)) {
      throw new UpstreamError(`git cat-file of ${info.name}:${file} failed: ${gitComplaint(r.stderr)}`);
    }
    const key = `${info.name}:${file}`;
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
   * into rev, compared as semver after the prefix; "" if none. Needs the
   * whole history, unless the remote has no plausible tag at all.
   */
  async recentTag(
    rev: string,
    prefix: string,
    allowed: (tag: string) => boolean,
    compare: (a: string, b: string) => number,
    opts: OpOptions = {},
  ): Promise<string> {
    const info = await this.stat(rev, opts);
    const refs = await this.refs(opts);
    let plausible = false;
    for (const ref of refs.keys()) {
      if (ref.startsWith(`refs/tags/${prefix}v`)) {
        plausible = true;
        break;
      }
    }
    if (!plausible) return "";
    await this.#ensureHistory(opts);
    const r = await this.#read(
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

  /** Go's DescendsFrom: whether tag is an ancestor of rev (with the whole history at hand). */
  async descendsFrom(rev: string, tag: string, opts: OpOptions = {}): Promise<boolean> {
    checkRev(tag);
    const info = await this.stat(rev, opts);
    await this.#ensureHistory(opts);
    const r = await this.#read(
      ["merge-base", "--is-ancestor", "--end-of-options", `refs/tags/${tag}`, info.name],
      {
        signal: opts.signal,
      },
    );
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new UpstreamError(`git merge-base failed: ${gitComplaint(r.stderr)}`);
  }

  // ---- files

  /**
   * The blobs and submodules under dir ("" for all) at rev (`git ls-tree -r
   * -l`), paths relative to dir, and whether a .gitattributes file in dir, below
   * it or above it could make `git archive` write something else than the
   * blobs (line endings, $Id$, encodings). Paths are Go strings (go-bytes.ts).
   */
  async listTree(rev: string, dir: string, opts: OpOptions = {}): Promise<TreeListing> {
    const d = dir.replace(/^\/+|\/+$/g, "");
    const paths: string[] = [];
    if (d !== "") {
      const above: string[] = [".gitattributes"];
      const parts = d.split("/");
      for (let i = 1; i < parts.length; i++) above.push(`${parts.slice(0, i).join("/")}/.gitattributes`);
      paths.push("--", d, ...above);
    }
    const [info, r] = await this.#readCommit(
      rev,
      opts,
      (i) =>
        this.#read(["ls-tree", "-r", "-l", "-z", "--full-tree", i.name, ...paths], {
          signal: opts.signal,
          maxOutput: 512 << 20,
        }),
      () => false,
    );
    if (r.code !== 0) {
      throw new UpstreamError(`git ls-tree of ${info.name} failed: ${gitComplaint(r.stderr)}`);
    }
    const prefix = d === "" ? "" : `${d}/`;
    const entries: TreeEntry[] = [];
    let attributes = false;
    const out = r.stdout;
    for (let at = 0; at < out.length; ) {
      let end = out.indexOf(0, at);
      if (end < 0) end = out.length;
      const tab = out.indexOf(9, at);
      const rec = at;
      at = end + 1;
      if (tab < 0 || tab > end) continue;
      // "<mode> <type> <object> <size>\t<path>"
      const [mode, type, oid, size] = out.toString("latin1", rec, tab).split(/ +/);
      const path = decodeGoBytes(out.subarray(tab + 1, end));
      const base = path.slice(path.lastIndexOf("/") + 1);
      if (base === ".gitattributes") attributes = true;
      if (!path.startsWith(prefix)) continue;
      if ((type !== "blob" && type !== "commit") || mode === undefined || oid === undefined) continue;
      entries.push({
        path: path.slice(prefix.length),
        mode,
        type,
        oid,
        size: type === "blob" ? Number(size) : 0,
      });
    }
    return { entries, attributes };
  }

  /** A reader of this mirror's blobs (one `git cat-file --batch`); close it when done. */
  openBlobs(opts: OpOptions = {}): BlobSource {
    return new GitBlobReader({
      cwd: this.dir,
      env: this.#env,
      timeoutMs: this.#opts.localTimeoutMs ?? 2 * 60_000,
      signal: opts.signal,
      what: `git cat-file (${redactSecrets(this.remote)})`,
    });
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
    const noMatch = (r: GitResult) => r.stderr.includes("did not match any files");
    const [info, r] = await this.#readCommit(
      rev,
      opts,
      async (i) => {
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
          i.name,
        ];
        if (subdir !== "") args.push("--", subdir);
        return this.#read(args, { signal: opts.signal, maxOutput: max, stdoutFile: outFile });
      },
      noMatch,
    );
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
      // Never mkdir -p: a mirror removed meanwhile must not come back as a bare directory.
      await mkdir(join(this.dir, "info")).catch(() => undefined);
      await writeFile(p, have + ATTRIBUTES_LINE).catch(() => undefined);
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
