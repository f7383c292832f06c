/**
 * A module inside a git repository, answered exactly as the go command's
 * direct mode answers (cmd/go/internal/modfetch/coderepo.go, Go 1.19): which
 * tags are versions of this module (prefixed tags for subdirectory modules,
 * major versions in subdirectories or on branches, +incompatible), which
 * version a branch, tag or hash names (the pseudo-version and its base tag),
 * where the module's go.mod is, and which files its zip holds.
 */
import { rm } from "node:fs/promises";
import { PassThrough, Readable } from "node:stream";
import {
  GoarkError,
  InvalidPathError,
  InvalidVersionError,
  NotFoundError,
  TooLargeError,
} from "../../errors.ts";
import { formatModuleOnly, isRetracted, modulePathOf, parseModFile } from "../../module/modfile.ts";
import { canonicalVersion, matchPathMajor, pathMajorPrefix, splitPathVersion } from "../../module/path.ts";
import {
  formatPseudoTimestamp,
  isPseudoVersion,
  pseudoVersion,
  pseudoVersionBase,
  pseudoVersionRev,
  pseudoVersionTime,
} from "../../module/pseudo.ts";
import * as semver from "../../module/semver.ts";
import {
  type CreatedZip,
  checkedFilesError,
  checkFiles,
  create,
  MAX_GO_MOD,
  MAX_LICENSE,
  MAX_ZIP_FILE,
  type ZipSourceFile,
} from "../../module/zip.ts";
import { openArchive } from "./git-archive-files.ts";
import { BlobPrefetch, type BlobSource } from "./git-blob-reader.ts";
import type { OpOptions, RevInfo, Tag, TreeEntry, TreeListing } from "./git-repo.ts";

/** The repository operations a module needs (GitRepo implements them). */
export interface CodeHost {
  readonly remote: string;
  tags(prefix: string, opts?: OpOptions): Promise<Tag[]>;
  stat(rev: string, opts?: OpOptions): Promise<RevInfo>;
  latest(opts?: OpOptions): Promise<RevInfo>;
  readFile(rev: string, file: string, max: number, opts?: OpOptions): Promise<Buffer | undefined>;
  recentTag(
    rev: string,
    prefix: string,
    allowed: (tag: string) => boolean,
    compare: (a: string, b: string) => number,
    opts?: OpOptions,
  ): Promise<string>;
  descendsFrom(rev: string, tag: string, opts?: OpOptions): Promise<boolean>;
  archive(rev: string, subdir: string, outFile: string, max: number, opts?: OpOptions): Promise<boolean>;
  /** The files under subdir (with sizes, for refusing an oversized module before reading any). */
  listTree?(rev: string, subdir: string, opts?: OpOptions): Promise<TreeListing>;
  /** Reads blobs listTree named; with both, zips are built from the blobs instead of an archive. */
  openBlobs?(opts?: OpOptions): BlobSource;
  tempFile(suffix: string): string;
  /** Brings the remote's refs up to date if they are older than the host allows. */
  refs?(opts?: OpOptions): Promise<unknown>;
  /** Changes whenever the refs are refreshed (answers computed before may be stale). */
  readonly generation?: number;
}

export interface ModuleRevInfo {
  version: string;
  time: Date;
  /** The full commit hash. */
  name: string;
  short: string;
}

/** Go's hasPathPrefix: s is prefix or starts with prefix + "/". */
export function hasPathPrefix(s: string, prefix: string): boolean {
  if (s.length === prefix.length) return s === prefix;
  if (s.length < prefix.length) return false;
  if (prefix !== "" && prefix.endsWith("/")) return s.startsWith(prefix);
  return s[prefix.length] === "/" && s.startsWith(prefix);
}

function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/");
}

export class CodeRepo {
  readonly modPath: string;
  readonly code: CodeHost;
  readonly codeRoot: string;
  readonly codeDir: string;
  readonly pathPrefix: string;
  readonly pathMajor: string;
  readonly pseudoMajor: string;
  /** The largest module (total file size) zip() will build; x/mod's limit unless lowered. */
  maxZipBytes = MAX_ZIP_FILE;

  /** Go's newCodeRepo: where in the repository rooted at codeRoot the module path lives. */
  constructor(code: CodeHost, codeRoot: string, path: string, subdir = "") {
    if (!hasPathPrefix(path, codeRoot)) {
      throw new NotFoundError(`mismatched repo: found ${codeRoot} for ${path}`, { module: path });
    }
    const split = splitPathVersion(path);
    if (!split.ok) throw new InvalidPathError(`invalid module path "${path}"`, { module: path });
    let pathPrefix = split.prefix;
    if (codeRoot === path) pathPrefix = path;
    let codeDir = "";
    if (codeRoot !== path) {
      if (!hasPathPrefix(pathPrefix, codeRoot)) {
        throw new NotFoundError(`repository rooted at ${codeRoot} cannot contain module ${path}`, {
          module: path,
        });
      }
      codeDir = pathPrefix.slice(codeRoot.length).replace(/^\/+|\/+$/g, "");
    }
    // [new] Go 1.25: a go-import tag's fourth field names the repository directory of codeRoot.
    if (subdir !== "") codeDir = joinPath(subdir.replace(/^\/+|\/+$/g, ""), codeDir);
    this.modPath = path;
    this.code = code;
    this.codeRoot = codeRoot;
    this.codeDir = codeDir;
    this.pathPrefix = pathPrefix;
    this.pathMajor = split.pathMajor;
    this.pseudoMajor = pathMajorPrefix(split.pathMajor);
  }

  #err(version: string, message: string, notFound = false): GoarkError {
    const text = `${this.modPath}@${version}: invalid version: ${message}`;
    return notFound
      ? new NotFoundError(text, { module: this.modPath, version })
      : new InvalidVersionError(text, { module: this.modPath, version });
  }

  /** Wraps a host error for a revision in the module's words, keeping its kind. */
  #revErr(rev: string, err: unknown): unknown {
    if (err instanceof GoarkError && (err.code === "NOT_FOUND" || err.code === "INVALID_VERSION")) {
      return this.#err(rev, err.message, err.code === "NOT_FOUND");
    }
    return err;
  }

  // ---- versions

  /** Go's Versions(prefix): canonical tagged versions, sorted, +incompatible ones appended when allowed. */
  async versions(prefix = "", opts: OpOptions = {}): Promise<string[]> {
    if (this.modPath.startsWith("gopkg.in/") && this.modPath.endsWith("-unstable")) return [];
    const p = this.codeDir !== "" ? `${this.codeDir}/${prefix}` : prefix;
    const tags = await this.code.tags(p, opts);
    const list: string[] = [];
    const incompatible: string[] = [];
    for (const tag of tags) {
      if (!tag.name.startsWith(p)) continue;
      const v = this.codeDir !== "" ? tag.name.slice(this.codeDir.length + 1) : tag.name;
      if (v === "" || v !== semver.canonical(v)) continue;
      if (isPseudoVersion(v)) continue;
      if (!matchPathMajor(v, this.pathMajor)) {
        if (this.codeDir === "" && this.pathMajor === "" && semver.compare(semver.major(v), "v1") > 0) {
          incompatible.push(v);
        }
        continue;
      }
      list.push(v);
    }
    semver.sort(list);
    semver.sort(incompatible);
    return this.#appendIncompatible(list, incompatible, opts);
  }

  async #hasGoMod(version: string, opts: OpOptions): Promise<boolean> {
    const rev = this.#revToRev(version);
    try {
      return (await this.code.readFile(rev, "go.mod", MAX_GO_MOD, opts)) !== undefined;
    } catch (err) {
      // An unknown revision reads as "no file", as Go's ReadFile reports it.
      if (err instanceof GoarkError && err.code === "NOT_FOUND") return false;
      throw err;
    }
  }

  async #appendIncompatible(list: string[], incompatible: string[], opts: OpOptions): Promise<string[]> {
    if (incompatible.length === 0 || this.pathMajor !== "") return list;
    const last = list[list.length - 1];
    // The latest compatible version has a go.mod: the author means v0/v1; no +incompatible (go.dev/issue/34189).
    if (last !== undefined && (await this.#hasGoMod(last, opts))) return list;
    const out = [...list];
    let lastMajor = "";
    let lastMajorHasGoMod = false;
    for (let i = 0; i < incompatible.length; i++) {
      const v = incompatible[i] as string;
      const major = semver.major(v);
      if (major !== lastMajor) {
        let j = i;
        while (j + 1 < incompatible.length && semver.major(incompatible[j + 1] as string) === major) j++;
        lastMajor = major;
        lastMajorHasGoMod = await this.#hasGoMod(incompatible[j] as string, opts);
      }
      if (lastMajorHasGoMod) continue;
      out.push(`${v}+incompatible`);
    }
    return out;
  }

  // ---- stat

  readonly #statCache = new Map<string, { generation: number; answer: Promise<ModuleRevInfo> }>();

  /**
   * Go's Stat: the module version a query (tag, branch, hash, version)
   * names. Answers are reused until the repository's refs are next refreshed.
   */
  async stat(rev: string, opts: OpOptions = {}): Promise<ModuleRevInfo> {
    // Branches, HEAD and hash prefixes move: bring the refs up to date (within their max age) first.
    const fixed = /^[0-9a-f]{40}$/.test(rev) || (semver.isValid(rev) && canonicalVersion(rev) === rev);
    if (!fixed) await this.code.refs?.(opts);
    const generation = this.code.generation;
    if (generation === undefined) return this.#stat(rev, opts);
    const hit = this.#statCache.get(rev);
    if (hit !== undefined && hit.generation === generation) return hit.answer;
    const answer = this.#stat(rev, opts);
    this.#statCache.set(rev, { generation, answer });
    answer.catch(() => {
      if (this.#statCache.get(rev)?.answer === answer) this.#statCache.delete(rev);
    });
    return answer;
  }

  async #stat(rev: string, opts: OpOptions): Promise<ModuleRevInfo> {
    if (rev === "latest") return this.latest(opts);
    const codeRev = this.#revToRev(rev);
    let info: RevInfo;
    try {
      info = await this.code.stat(codeRev, opts);
    } catch (err) {
      throw this.#revErr(rev, err);
    }
    return this.#convert(info, rev, opts);
  }

  /** Go's Latest: the version of the commit the remote HEAD names. */
  async latest(opts: OpOptions = {}): Promise<ModuleRevInfo> {
    const info = await this.code.latest(opts);
    return this.#convert(info, "", opts);
  }

  #revToRev(rev: string): string {
    if (semver.isValid(rev)) {
      if (isPseudoVersion(rev)) return pseudoVersionRev(rev);
      let r = rev;
      if (semver.build(r) === "+incompatible") r = r.slice(0, -"+incompatible".length);
      return this.codeDir === "" ? r : `${this.codeDir}/${r}`;
    }
    return rev;
  }

  #tagPrefix(): string {
    return this.codeDir !== "" ? `${this.codeDir}/` : "";
  }

  /** Go's coderepo tagToVersion for this module's tag prefix. */
  #tagToVersion(tag: string): { v: string; canonical: boolean } {
    const prefix = this.#tagPrefix();
    if (!tag.startsWith(prefix)) return { v: "", canonical: false };
    const trimmed = tag.slice(prefix.length);
    if (isPseudoVersion(tag)) return { v: "", canonical: false };
    const v = semver.canonical(trimmed);
    if (v === "" || !trimmed.startsWith(v)) return { v: "", canonical: false };
    return { v, canonical: v === trimmed };
  }

  async #convert(info: RevInfo, statVers: string, opts: OpOptions): Promise<ModuleRevInfo> {
    const incompatibleOk = new Map<string, boolean>();
    const canUseIncompatible = async (v: string): Promise<boolean> => {
      if (this.codeDir !== "" || this.pathMajor !== "") return false;
      let ok = incompatibleOk.get("");
      if (ok === undefined) {
        ok = (await this.code.readFile(info.name, "go.mod", MAX_GO_MOD, opts)) === undefined;
        incompatibleOk.set("", ok);
      }
      if (!ok) return false;
      // go.dev/issue/51324: vN/go.mod means vN tags are for the vN module, unless +incompatible was asked for.
      if (v !== "" && !statVers.endsWith("+incompatible")) {
        const major = semver.major(v);
        ok = incompatibleOk.get(major);
        if (ok === undefined) {
          ok = (await this.code.readFile(info.name, `${major}/go.mod`, MAX_GO_MOD, opts)) === undefined;
          incompatibleOk.set(major, ok);
        }
        if (!ok) return false;
      }
      return true;
    };

    const checkCanonical = async (vIn: string): Promise<ModuleRevInfo> => {
      let v = vIn;
      try {
        await this.findDir(v, opts);
      } catch (err) {
        // Go reports every findDir failure as "not exist"; goark keeps failures of the
        // remote, time limits and size limits as what they are, so they are never cached as 404s.
        if (err instanceof GoarkError && err.code !== "NOT_FOUND" && err.code !== "INVALID_VERSION")
          throw err;
        const msg = err instanceof Error ? err.message : String(err);
        throw this.#err(v, msg, true);
      }
      if (v === statVers.replace(/\+incompatible$/, "")) v = statVers;
      const base = v.replace(/\+incompatible$/, "");
      let errIncompatible: GoarkError | undefined;
      if (!matchPathMajor(base, this.pathMajor)) {
        if (await canUseIncompatible(base)) {
          v = `${base}+incompatible`;
        } else if (this.pathMajor !== "") {
          errIncompatible = this.#err(
            v,
            "module path includes a major version suffix, so major version must match",
          );
        } else {
          errIncompatible = this.#err(
            v,
            `module contains a go.mod file, so module path must match major version ("${joinPath(this.pathPrefix, semver.major(v))}")`,
          );
        }
      } else if (v.endsWith("+incompatible")) {
        errIncompatible = this.#err(
          v,
          `+incompatible suffix not allowed: major version ${semver.major(v)} is compatible`,
        );
      }
      if (statVers !== "" && statVers === canonicalVersion(statVers)) {
        const statBase = statVers.replace(/\+incompatible$/, "");
        if (statBase !== base) {
          throw new NotFoundError(
            `${this.modPath}@${statVers}: invalid version: resolves to version ${v} (${statBase} is not a tag)`,
            { module: this.modPath, version: statVers },
          );
        }
      }
      if (errIncompatible) throw errIncompatible;
      return { version: v, time: info.time, name: info.name, short: info.short };
    };

    if (isPseudoVersion(statVers)) {
      await this.#validatePseudoVersion(info, statVers, opts);
      return checkCanonical(statVers);
    }

    // Only needed when the revision's own tag does not settle the answer: computed then, once.
    let retracted: ((v: string) => boolean) | undefined;
    const retractions = async (): Promise<(v: string) => boolean> => {
      retracted ??= await this.retractions(opts);
      return retracted;
    };

    const fromVcs = this.#tagToVersion(info.version);
    if (fromVcs.canonical) {
      try {
        return await checkCanonical(fromVcs.v);
      } catch {
        // fall through to the tags on the revision
      }
    }

    let highestCanonical = "";
    let pseudoBase = "";
    for (const pathTag of info.tags) {
      const { v, canonical } = this.#tagToVersion(pathTag);
      if (statVers !== "" && semver.compare(v, statVers) === 0) {
        if (canonical) return checkCanonical(v);
        pseudoBase = v;
      }
      if (canonical && semver.compare(highestCanonical, v) < 0 && !(await retractions())(v)) {
        if (matchPathMajor(v, this.pathMajor) || (await canUseIncompatible(v))) highestCanonical = v;
      }
    }
    if (highestCanonical !== "") return checkCanonical(highestCanonical);

    if (pseudoBase === "") {
      // RecentTag's filter must be synchronous; decide +incompatible per major first.
      const majors = new Map<string, boolean>();
      const tags = await this.code.tags(this.#tagPrefix(), opts);
      for (const t of tags) {
        const { v } = this.#tagToVersion(t.name);
        if (v === "" || matchPathMajor(v, this.pathMajor)) continue;
        const m = semver.major(v);
        if (!majors.has(m)) majors.set(m, await canUseIncompatible(v));
      }
      const isRetractedFn = await retractions();
      const allowed = (tag: string): boolean => {
        const { v } = this.#tagToVersion(tag);
        if (v === "") return false;
        if (!matchPathMajor(v, this.pathMajor) && !(majors.get(semver.major(v)) ?? false)) return false;
        return !isRetractedFn(v);
      };
      const tag = await this.code.recentTag(info.name, this.#tagPrefix(), allowed, semver.compare, opts);
      if (tag !== "") pseudoBase = this.#tagToVersion(tag).v;
    }
    return checkCanonical(pseudoVersion(this.pseudoMajor, pseudoBase, info.time, info.short));
  }

  async #validatePseudoVersion(info: RevInfo, version: string, opts: OpOptions): Promise<void> {
    const fail = (msg: string) => this.#err(version, msg);
    const rev = pseudoVersionRev(version);
    if (rev !== info.short) {
      if (rev.startsWith(info.short))
        throw fail(`revision is longer than canonical (expected ${info.short})`);
      if (info.short.startsWith(rev))
        throw fail(`revision is shorter than canonical (expected ${info.short})`);
      throw fail(`does not match short name of revision (expected ${info.short})`);
    }
    let t: Date;
    try {
      t = pseudoVersionTime(version);
    } catch (err) {
      throw fail(err instanceof Error ? err.message : String(err));
    }
    if (t.getTime() !== Math.floor(info.time.getTime() / 1000) * 1000) {
      throw fail(`does not match version-control timestamp (expected ${formatPseudoTimestamp(info.time)})`);
    }
    const tagPrefix = this.#tagPrefix();
    let base: string;
    try {
      base = pseudoVersionBase(version.replace(/\+incompatible$/, ""));
    } catch (err) {
      throw fail(err instanceof Error ? err.message : String(err));
    }
    if (base === "") {
      if (this.pseudoMajor === "" && semver.major(version) === "v1") {
        throw fail("major version without preceding tag must be v0, not v1");
      }
      return;
    }
    for (const tag of info.tags) {
      if (tag.startsWith(tagPrefix) && tag.slice(tagPrefix.length) === base) {
        throw fail(
          `tag (${tag}) found on revision ${rev} is already canonical, so should not be replaced with a pseudo-version derived from that tag`,
        );
      }
    }
    const tags = await this.code.tags(tagPrefix + base, opts);
    let lastTag = "";
    let ancestorFound = false;
    for (const tag of tags) {
      const versionOnly = tag.name.startsWith(tagPrefix) ? tag.name.slice(tagPrefix.length) : tag.name;
      if (semver.compare(versionOnly, base) === 0) {
        lastTag = tag.name;
        ancestorFound = await this.code.descendsFrom(info.name, tag.name, opts);
        if (ancestorFound) break;
      }
    }
    if (lastTag === "") throw fail(`preceding tag (${base}) not found`);
    if (!ancestorFound) throw fail(`revision ${rev} is not a descendent of preceding tag (${lastTag})`);
  }

  // ---- retractions

  async #retractedVersions(opts: OpOptions): Promise<(v: string) => boolean> {
    let versions = await this.versions("", opts);
    const inc = versions.findIndex((v) => v.endsWith("+incompatible"));
    if (inc >= 0) versions = versions.slice(0, inc);
    if (versions.length === 0) return () => false;
    let highest = "";
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i] as string;
      if (semver.prerelease(v) === "") {
        highest = v;
        break;
      }
    }
    if (highest === "") highest = versions[versions.length - 1] as string;
    const data = await this.goMod(highest, opts);
    const mf = parseModFile(data, "go.mod", { lax: true });
    return (v: string) => isRetracted(mf, v);
  }

  /** The retraction test of the module's latest go.mod (none if it cannot be read). */
  retractions(opts: OpOptions = {}): Promise<(v: string) => boolean> {
    return this.#retractedVersions(opts).catch(() => (_v: string) => false);
  }

  // ---- go.mod and zip

  /**
   * Go's findDir: the revision and directory holding the module at version,
   * and its go.mod bytes (undefined when the module has none there).
   */
  async findDir(
    version: string,
    opts: OpOptions = {},
  ): Promise<{ rev: string; dir: string; gomod?: Buffer }> {
    if (!semver.isValid(version)) throw this.#err(version, "syntax error");
    const rev = this.#revToRev(version);
    const read = async (file: string): Promise<Buffer | undefined> => {
      try {
        return await this.code.readFile(rev, file, MAX_GO_MOD, opts);
      } catch (err) {
        if (err instanceof GoarkError && err.code === "NOT_FOUND") return undefined;
        throw err;
      }
    };
    const file1 = joinPath(this.codeDir, "go.mod");
    const gomod1 = await read(file1);
    const mpath1 = gomod1 === undefined ? "" : (modulePathOf(gomod1) ?? "");
    const found1 =
      gomod1 !== undefined &&
      (isMajor(mpath1, this.pathMajor) || this.#canReplaceMismatchedVersionDueToBug(mpath1));

    let file2 = "";
    if (this.pathMajor !== "" && this.codeRoot !== this.modPath && !this.pathMajor.startsWith(".")) {
      const dir2 = joinPath(this.codeDir, this.pathMajor.slice(1));
      file2 = joinPath(dir2, "go.mod");
      const gomod2 = await read(file2);
      const mpath2 = gomod2 === undefined ? "" : (modulePathOf(gomod2) ?? "");
      const found2 = gomod2 !== undefined && isMajor(mpath2, this.pathMajor);
      if (found1 && found2) {
        throw new NotFoundError(
          `${this.pathPrefix}/${file1} and ...${this.pathMajor}/go.mod both have ...${this.pathMajor} module paths at revision ${rev}`,
        );
      }
      if (found2) return { rev, dir: dir2, gomod: gomod2 as Buffer };
      if (gomod2 !== undefined) {
        if (mpath2 === "")
          throw new NotFoundError(`${this.codeRoot}/${file2} is missing module path at revision ${rev}`);
        throw new NotFoundError(
          `${this.codeRoot}/${file2} has non-...${this.pathMajor} module path "${mpath2}" at revision ${rev}`,
        );
      }
    }
    if (found1) return { rev, dir: this.codeDir, gomod: gomod1 as Buffer };
    if (gomod1 !== undefined) {
      const suffix = file2 !== "" ? ` (and ...${this.pathMajor}/go.mod does not exist)` : "";
      if (mpath1 === "")
        throw new NotFoundError(`${file1} is missing module path${suffix} at revision ${rev}`);
      if (this.pathMajor !== "") {
        throw new NotFoundError(
          `${file1} has non-...${this.pathMajor} module path "${mpath1}"${suffix} at revision ${rev}`,
        );
      }
      if (!splitPathVersion(mpath1).ok) {
        throw new NotFoundError(`${file1} has malformed module path "${mpath1}"${suffix} at revision ${rev}`);
      }
      throw new NotFoundError(
        `${file1} has post-${semver.major(version)} module path "${mpath1}"${suffix} at revision ${rev}`,
      );
    }
    if (this.codeDir === "" && (this.pathMajor === "" || this.pathMajor.startsWith("."))) {
      return { rev, dir: "" };
    }
    if (file2 !== "") {
      throw new NotFoundError(
        `missing ${this.pathPrefix}/go.mod and ...${this.pathMajor}/go.mod at revision ${rev}`,
      );
    }
    throw new NotFoundError(`missing ${this.pathPrefix}/go.mod at revision ${rev}`);
  }

  #canReplaceMismatchedVersionDueToBug(mpath: string): boolean {
    return this.pathMajor === "" && mpath.startsWith("gopkg.in/");
  }

  /**
   * Refuses a module whose files are already over the size limit in the
   * repository (sizes from the tree, before anything is read: an archive can
   * only make files larger, never smaller), with the zip rules' own error.
   */
  async #checkTreeSize(version: string, files: ZipSourceFile[]): Promise<void> {
    const checked = await checkFiles(files);
    const sizes = new Map(files.map((f, i) => [f.path, i]));
    let total = 0;
    const tree = await Promise.all(files.map((f) => f.lstat()));
    for (const p of checked.valid) total += tree[sizes.get(p) ?? -1]?.size ?? 0;
    if (checked.sizeError !== undefined || total > this.maxZipBytes) {
      throw new TooLargeError(
        `create zip for ${this.modPath}@${version}: module source tree too large (${total} bytes in files; max size is ${this.maxZipBytes} bytes)`,
        { module: this.modPath, version },
      );
    }
  }

  #checkCanonicalArg(version: string): void {
    if (version !== canonicalVersion(version)) {
      throw new InvalidVersionError(`${this.modPath}@${version}: version ${version} is not canonical`, {
        module: this.modPath,
        version,
      });
    }
  }

  /** Go's GoMod: the module's go.mod at a canonical version, or the synthesized `module PATH\n`. */
  async goMod(version: string, opts: OpOptions = {}): Promise<Buffer> {
    this.#checkCanonicalArg(version);
    if (isPseudoVersion(version)) await this.stat(version, opts);
    let found: { rev: string; dir: string; gomod?: Buffer };
    try {
      found = await this.findDir(version, opts);
    } catch (err) {
      throw this.#revErr(version, err);
    }
    if (found.gomod !== undefined) return found.gomod;
    const data = await this.code
      .readFile(found.rev, joinPath(found.dir, "go.mod"), MAX_GO_MOD, opts)
      .catch(() => undefined);
    return data ?? Buffer.from(formatModuleOnly(this.modPath));
  }

  /**
   * Go's Zip: the module zip of a canonical version written to out, built
   * from the files `git archive` of the module's directory would hold (read
   * as blobs, or from the archive itself when attributes could change them),
   * plus the repository's root LICENSE for a subdirectory module without
   * one, under x/mod's zip rules.
   * The files are checked before the first byte is written, so a refusal
   * (too large, invalid names) is an error of this call, not of the stream.
   */
  async zip(version: string, opts: OpOptions = {}): Promise<{ body: Readable; done: Promise<CreatedZip> }> {
    const body = new PassThrough();
    const { done } = await this.#buildZip(version, body, opts);
    done.catch((err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))));
    return { body, done };
  }

  /** zip() into out, resolving when the whole zip is written; returns its h1 and what was left out. */
  async zipTo(version: string, out: NodeJS.WritableStream, opts: OpOptions = {}): Promise<CreatedZip> {
    return (await this.#buildZip(version, out, opts)).done;
  }

  /** Checks everything, then starts writing; `done` settles when the zip is complete. */
  async #buildZip(
    version: string,
    out: NodeJS.WritableStream,
    opts: OpOptions,
  ): Promise<{ done: Promise<CreatedZip> }> {
    this.#checkCanonicalArg(version);
    if (isPseudoVersion(version)) await this.stat(version, opts);
    let found: { rev: string; dir: string; gomod?: Buffer };
    try {
      found = await this.findDir(version, opts);
    } catch (err) {
      throw this.#revErr(version, err);
    }
    // The go.mod findDir read is that blob: no need to read it again.
    const gomod = found.gomod;
    const known = (e: TreeEntry) =>
      e.path === "go.mod" && gomod !== undefined && gomod.length === e.size ? gomod : undefined;
    // The blob reader starts while the tree is listed; unused (and closed) if the archive is needed.
    const reader = this.code.listTree !== undefined ? this.code.openBlobs?.(opts) : undefined;
    let listing: TreeListing | undefined;
    try {
      listing = await this.code.listTree?.(found.rev, found.dir, opts);
    } catch (err) {
      reader?.close();
      throw err;
    }
    if (listing === undefined || listing.attributes) reader?.close();
    if (listing !== undefined) {
      const blobEntries = listing.entries.filter((e) => e.type === "blob");
      try {
        // (git archive fails the same way, only when a directory was asked for.)
        if (listing.entries.length === 0 && found.dir !== "") throw this.#noFiles(version, found);
        await this.#checkTreeSize(
          version,
          blobEntries.map((e) => treeFileSource(e, undefined, undefined, known(e))),
        );
      } catch (err) {
        reader?.close();
        throw err;
      }
      // Without attributes files, git archive writes the blobs as they are: read them directly.
      if (!listing.attributes && reader !== undefined) {
        const blobs = reader;
        try {
          // Once the files to write are known, their blobs are read ahead in the order the zip takes them.
          let prefetch: BlobPrefetch | undefined;
          const planned = new Map<string, number>();
          const files = blobEntries.map((e) =>
            treeFileSource(
              e,
              blobs,
              () => {
                const i = planned.get(e.path);
                return prefetch !== undefined && i !== undefined ? prefetch.read(i) : blobs.read(e.oid);
              },
              known(e),
            ),
          );
          const plan = (valid: string[]) => {
            const byPath = new Map(blobEntries.map((e) => [e.path, e]));
            const order: { oid: string; size: number }[] = [];
            for (const p of valid) {
              const e = byPath.get(p);
              if (e === undefined || known(e) !== undefined) continue;
              planned.set(p, order.length);
              order.push({ oid: e.oid, size: e.size });
            }
            prefetch = new BlobPrefetch(blobs, order);
          };
          return await this.#startZip(version, found, files, out, () => blobs.close(), opts, plan);
        } catch (err) {
          blobs.close();
          throw err;
        }
      }
    }
    return this.#zipFromArchive(version, found, out, opts);
  }

  #noFiles(version: string, found: { rev: string; dir: string }): NotFoundError {
    return new NotFoundError(`${this.modPath}@${version}: no files in ${found.dir} at revision ${found.rev}`);
  }

  /** The zip from `git archive` (when attributes may change the files), read back. */
  async #zipFromArchive(
    version: string,
    found: { rev: string; dir: string },
    out: NodeJS.WritableStream,
    opts: OpOptions,
  ): Promise<{ done: Promise<CreatedZip> }> {
    const tmp = this.code.tempFile(".zip");
    let archiveOpen: Awaited<ReturnType<typeof openArchive>> | undefined;
    const cleanup = async () => {
      archiveOpen?.close();
      await rm(tmp, { force: true });
    };
    try {
      const ok = await this.code.archive(found.rev, found.dir, tmp, MAX_ZIP_FILE, opts);
      if (!ok) throw this.#noFiles(version, found);
      archiveOpen = await openArchive(tmp, found.dir);
      return await this.#startZip(version, found, archiveOpen.files, out, cleanup, opts);
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /**
   * Adds the repository's LICENSE to a subdirectory module without one,
   * checks the files, then starts writing; cleanup runs when writing ends
   * (the caller cleans up if this throws).
   */
  async #startZip(
    version: string,
    found: { rev: string; dir: string },
    files: ZipSourceFile[],
    out: NodeJS.WritableStream,
    cleanup: () => unknown,
    opts: OpOptions,
    onChecked?: (valid: string[]) => void,
  ): Promise<{ done: Promise<CreatedZip> }> {
    if (found.dir !== "" && !files.some((f) => f.path === "LICENSE")) {
      const data = await this.code.readFile(found.rev, "LICENSE", MAX_LICENSE, opts).catch(() => undefined);
      if (data !== undefined) files.push(dataFile("LICENSE", data));
    }
    const checked = await checkFiles(files);
    const bad = checkedFilesError(checked, `create zip for ${this.modPath}@${version}`);
    if (bad) throw bad;
    onChecked?.(checked.valid);
    const done = create(out, this.modPath, version, files).finally(cleanup);
    done.catch(() => undefined);
    return { done };
  }
}

/**
 * A tree entry as a zip candidate: its bytes are data when known, else from
 * blobs (read whole by read), else (for size checks only) none.
 */
function treeFileSource(
  e: TreeEntry,
  blobs?: BlobSource,
  read?: () => Promise<Buffer>,
  data?: Buffer,
): ZipSourceFile {
  const info = {
    // What git archive's zip says of the entry: a regular file or a symlink (submodules are left out).
    isFile: e.type === "blob" && e.mode.startsWith("100"),
    isSymlink: e.type === "blob" && e.mode === "120000",
    size: e.size,
  };
  if (data !== undefined) {
    return {
      path: e.path,
      lstat: () => Promise.resolve(info),
      open: () => Readable.from([data]),
      readUpTo: () => Promise.resolve(data),
    };
  }
  if (blobs === undefined) {
    return { path: e.path, lstat: () => Promise.resolve(info), open: () => Readable.from([]) };
  }
  return {
    path: e.path,
    lstat: () => Promise.resolve(info),
    open: () => blobs.stream(e.oid),
    readUpTo: read ?? (() => blobs.read(e.oid)),
  };
}

function dataFile(path: string, data: Buffer): ZipSourceFile {
  return {
    path,
    lstat: () => Promise.resolve({ isFile: true, isSymlink: false, size: data.length }),
    open: () => Readable.from([data]),
  };
}

/** Go's isMajor: whether the versions mpath allows fit pathMajor. */
export function isMajor(mpath: string, pathMajor: string): boolean {
  if (mpath === "") return false;
  const split = splitPathVersion(mpath);
  if (!split.ok) return false;
  if (pathMajor === "") {
    let p: string;
    try {
      p = pathMajorPrefix(split.pathMajor);
    } catch {
      return false;
    }
    return p === "" || p === "v0" || p === "v1";
  }
  if (split.pathMajor === "") return false;
  return pathMajor.slice(1) === split.pathMajor.slice(1);
}
