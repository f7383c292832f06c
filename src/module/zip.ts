/**
 * Module zip files (golang.org/x/mod/zip): which files of a tree go into a
 * module zip and why the others stay out; creating one (deflate, streamed,
 * hashed while compressed); checking one; and, for zips from untrusted
 * upstreams, verifyZip: every check in one streamed pass that also yields h1.
 * Messages for files follow x/mod's wording so results compare with Go's.
 */

import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { GoarkError, InvalidVersionError, StorageError, TooLargeError, ZipError } from "../errors.ts";
import { type FileSum, hash1FromSums } from "./dirhash.ts";
import { decodeGoBytes } from "./go-bytes.ts";
import { goQuote } from "./go-string.ts";
import { parseModFile } from "./modfile.ts";
import { canonicalVersion, check, checkFilePath } from "./path.ts";
import {
  closeZip,
  digestEntries,
  type OpenZip,
  openZip,
  readCentralDirectory,
  readEntryContents,
  type ZipBytes,
  type ZipEntry,
} from "./zip-reader.ts";
import { diskReader, type WriterFile, writeModuleZip } from "./zip-writer.ts";

export type { ZipBytes } from "./zip-reader.ts";

/** Largest module zip, and largest total of its uncompressed files (Go's MaxZipFile). */
export const MAX_ZIP_FILE = 500 << 20;
/** Largest root go.mod in a module zip. */
export const MAX_GO_MOD = 16 << 20;
/** Largest root LICENSE in a module zip. */
export const MAX_LICENSE = 16 << 20;

/** A file left out of a module zip (omitted) or refused (invalid), and why. */
export interface FileError {
  path: string;
  err: string;
}

/** What a check found: files to include, files left out on purpose, files that make the zip invalid. */
export interface CheckedFiles {
  valid: string[];
  omitted: FileError[];
  invalid: FileError[];
  /** Set when the files together (or the zip itself) exceed the size limit. */
  sizeError?: string;
}

/** What create and createFromDir report: the check, plus the h1 of the zip written. */
export type CreatedZip = CheckedFiles & { h1: string };

export interface ZipSourceFileInfo {
  isFile: boolean;
  isSymlink: boolean;
  /** Directories are listed only by callers that want collision checks on them. */
  isDir?: boolean;
  size: number;
}

/** A file to put in a module zip: a clean slash-separated path relative to the module root. */
export interface ZipSourceFile {
  path: string;
  lstat(): Promise<ZipSourceFileInfo>;
  open(): NodeJS.ReadableStream;
  /** Optional fast path: at most max bytes of the file in one buffer (used for small files). */
  readUpTo?(max: number): Promise<Buffer>;
}

/** filesFromDir's answer: candidate files, and what the walk already left out (VCS dirs, nested modules...). */
export interface DirListing {
  files: ZipSourceFile[];
  omitted: FileError[];
}

export interface VerifyZipOptions {
  /** Largest zip file and largest total uncompressed size (default MAX_ZIP_FILE). */
  maxSize?: number;
  /** Most entries accepted (default 200,000; x/mod has no bound, the go command's largest modules hold ~30k). */
  maxEntries?: number;
  /**
   * Largest ratio of declared uncompressed to compressed size of one entry.
   * The default, 1100, sits just above what deflate can reach (about 1032:1),
   * so it only catches headers that lie, before any byte is inflated.
   */
  maxRatio?: number;
}

export interface VerifiedZip {
  h1: string;
  checked: CheckedFiles;
}

const MSG = {
  pathNotClean: "file path is not clean",
  pathNotRelative: "file path is not relative",
  goModCase: "go.mod files must have lowercase names",
  goModSize: `go.mod file too large (max size is ${MAX_GO_MOD} bytes)`,
  licenseSize: `LICENSE file too large (max size is ${MAX_LICENSE} bytes)`,
  goModNotRoot: "go.mod file not in module root directory",
  vcs: "directory is a version control repository",
  vendored: "file is in vendor directory",
  submoduleFile: "file is in another module",
  submoduleDir: "directory is in another module",
  hgArchival: "file is inserted by 'hg archive' and is always omitted",
  symlink: "file is a symbolic link",
  notRegular: "not a regular file",
} as const;

const DEFAULT_MAX_ENTRIES = 200_000;
const DEFAULT_MAX_RATIO = 1100;
/** Go's archive/zip compresses at flate level 5; zlib's level 5 is the same trade-off. */
const _DEFLATE_LEVEL = 5;
/** A fixed time for every entry, so that the same files give the same zip bytes. */
const _ZIP_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const READ_CHUNK = 1 << 20;

// ---------------------------------------------------------------------------
// Go's string and path helpers

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(seg);
  }
  const joined = (rooted ? "/" : "") + out.join("/");
  return joined === "" ? (rooted ? "/" : ".") : joined;
}

function splitDir(p: string): { dir: string; base: string } {
  const i = p.lastIndexOf("/");
  return { dir: p.slice(0, i + 1), base: p.slice(i + 1) };
}

/** Go's path.Dir for clean relative paths. */
function parentDir(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : p.slice(0, i);
}

/** Past the last code point that has a case (Adlam ends at U+1E943). */
const CASED_LIMIT = 0x1e944;
let foldMins: Map<number, number> | undefined;

/**
 * Two characters equal under Unicode simple case folding: with the u and i
 * flags a backreference compares CaseFolding.txt simple (C+S) foldings, the
 * relation unicode.SimpleFold cycles through.
 */
const SAME_SIMPLE_FOLD = /^(.)\1$/isu;

/** Characters that some case mapping or folding changes: the only ones in nontrivial orbits. */
const CASE_CHANGING = /[\p{Changes_When_Casemapped}\p{Changes_When_Casefolded}]/gu;

/** Every code point from "A" to CASED_LIMIT (surrogates excepted) in one string, built as UTF-16 units. */
function allCasedCandidates(): string {
  const units = new Uint16Array(0xd800 - 0x41 + (0x10000 - 0xe000) + 2 * (CASED_LIMIT - 0x10000));
  let n = 0;
  for (let c = 0x41; c < 0x10000; c++) if (c < 0xd800 || c > 0xdfff) units[n++] = c;
  for (let r = 0x10000; r < CASED_LIMIT; r++) {
    units[n++] = 0xd800 + ((r - 0x10000) >> 10);
    units[n++] = 0xdc00 + ((r - 0x10000) & 0x3ff);
  }
  return new TextDecoder("utf-16le").decode(units.subarray(0, n));
}

/**
 * For every code point whose simple-folding orbit has a smaller member, that
 * smallest member. Orbits are found by joining each code point to its
 * one-character case mappings, keeping only the pairs that really fold
 * together (ı and I map to each other but do not fold). Built once, on the
 * first name that needs it.
 */
function foldTable(): Map<number, number> {
  if (foldMins) return foldMins;
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    return r;
  };
  for (const s of allCasedCandidates().match(CASE_CHANGING) ?? []) {
    const r = s.codePointAt(0)!;
    for (const t of [s.toLowerCase(), s.toUpperCase()]) {
      const cp = t.codePointAt(0)!;
      if (cp === r || t.length !== (cp > 0xffff ? 2 : 1) || !SAME_SIMPLE_FOLD.test(s + t)) continue;
      const a = find(r);
      const b = find(cp);
      const lo = Math.min(a, b);
      parent.set(lo, lo);
      if (a !== b) parent.set(Math.max(a, b), lo);
    }
  }
  // Joining always keeps the smaller root, so each root is its orbit's minimum.
  const mins = new Map<number, number>();
  for (const x of parent.keys()) {
    const root = find(x);
    if (root !== x) mins.set(x, root);
  }
  foldMins = mins;
  return mins;
}

/** The smallest code point in r's orbit, with A-Z taken as a-z (x/mod's strToFold per rune). */
function foldRune(r: number): number {
  let min = foldTable().get(r) ?? r;
  if (min >= 0x41 && min <= 0x5a) min += 0x20;
  return min;
}

/** A key equal for two strings exactly when Go's strings.EqualFold says they are equal. */
export function strToFold(s: string): string {
  let ascii = true;
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  // An ASCII letter's orbit is smallest at its upper-case form, which maps to lower case: A-Z → a-z,
  // nothing else changes (and the table, costly to build, is not needed).
  if (ascii) return upper ? s.toLowerCase() : s;
  let out = "";
  for (const ch of s) out += String.fromCodePoint(foldRune(ch.codePointAt(0)!));
  return out;
}

function equalFold(a: string, b: string): boolean {
  return a === b || strToFold(a) === strToFold(b);
}

/**
 * The go version of a root go.mod as x/mod reads it for the vendor rule:
 * modfile.ParseLax, and no version at all if the file does not parse.
 */
function goVersionOf(data: Buffer): string | undefined {
  try {
    return parseModFile(data, "go.mod", { lax: true }).go;
  } catch {
    return undefined;
  }
}

/**
 * Whether a go.mod go version is at least 1.minor, compared as go/version
 * compares language versions (1.24rc1 and 1.24.3 count as 1.24; a missing or
 * malformed version counts as older than any).
 */
function goAtLeast(v: string | undefined, minor: number): boolean {
  if (v === undefined) return false;
  const m = /^(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:(?:rc|beta)(?:0|[1-9]\d*))?$/.exec(v);
  if (!m) return false;
  const major = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  return major > 1 || (major === 1 && min >= minor);
}

/**
 * Whether a file belongs to a vendored package and is left out of the zip.
 * [new] Current x/mod makes this depend on the root go.mod's go version, so
 * that old modules keep their checksums:
 * - before 1.24: any `vendor/` directory's subdirectories are vendored, with
 *   the historic offset bug for nested ones (golang.org/issue/37397: it also
 *   drops pkg/vendor/vendor.go), and vendor/modules.txt is kept;
 * - 1.24: vendor/modules.txt is dropped too (golang.org/issue/63395) and
 *   nested vendor directories are tested at the right offset;
 * - 1.25 and later: only the root vendor directory is vendoring; a nested
 *   directory named vendor is an ordinary package.
 * (golang/mod zip/vendor_test.go, newest table.)
 */
export function isVendoredPackage(name: string, goVersion: string | undefined): boolean {
  const from124 = goAtLeast(goVersion, 24);
  if (from124 && name === "vendor/modules.txt") return true;
  let i: number;
  if (name.startsWith("vendor/")) {
    i = "vendor/".length;
  } else {
    const j = name.indexOf("/vendor/");
    if (j < 0) return false;
    if (goAtLeast(goVersion, 25)) return false;
    i = from124 ? j + "/vendor/".length : "/vendor/".length;
  }
  return name.slice(i).includes("/");
}

/** Finds case-insensitive collisions, and paths used both as file and as directory. */
class CollisionChecker {
  private readonly seen = new Map<string, { path: string; isDir: boolean }>();

  check(p: string, isDir: boolean): string | undefined {
    for (;;) {
      const fold = strToFold(p);
      const other = this.seen.get(fold);
      if (other) {
        if (p !== other.path)
          return `case-insensitive file name collision: ${goQuote(other.path)} and ${goQuote(p)}`;
        if (isDir !== other.isDir) return `entry ${goQuote(p)} is both a file and a directory`;
        if (!isDir) return `multiple entries for file ${goQuote(p)}`;
        // A directory seen again: its parents were checked the first time.
        return undefined;
      }
      this.seen.set(fold, { path: p, isDir });
      const parent = parentDir(p);
      if (parent === ".") return undefined;
      p = parent;
      isDir = true;
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function checkVersionAndModule(modulePath: string, version: string): void {
  const canon = canonicalVersion(version);
  if (canon !== version) {
    throw new InvalidVersionError(
      `version ${goQuote(version)} is not canonical (should be ${goQuote(canon)})`,
      { module: modulePath, version },
    );
  }
  check(modulePath, version);
}

/** Go's CheckedFiles.Err(): the size error, else the invalid files, else nothing. */
export function checkedFilesError(cf: CheckedFiles, context = ""): ZipError | undefined {
  const lead = context === "" ? "" : context + ": ";
  if (cf.sizeError !== undefined) return new ZipError(lead + cf.sizeError);
  if (cf.invalid.length > 0) {
    const list = cf.invalid.map((e) => `${e.path}: ${e.err}`).join("; ");
    return new ZipError(lead + list, { path: cf.invalid[0]!.path });
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Checking lists of files and directories

interface FilesCheck {
  cf: CheckedFiles;
  validFiles: ZipSourceFile[];
  validSizes: number[];
}

async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    n += b.length;
    if (n > limit) {
      (stream as { destroy?: () => void }).destroy?.();
      return undefined;
    }
    parts.push(b);
  }
  return Buffer.concat(parts);
}

async function checkFileList(files: ZipSourceFile[]): Promise<FilesCheck> {
  const cf: CheckedFiles = { valid: [], omitted: [], invalid: [] };
  const validFiles: ZipSourceFile[] = [];
  const validSizes: number[] = [];
  const reported = new Set<string>();
  const addError = (path: string, omitted: boolean, err: string): void => {
    if (reported.has(path)) return;
    reported.add(path);
    (omitted ? cf.omitted : cf.invalid).push({ path, err });
  };

  // Directories holding a go.mod (any case) are other modules; the root go.mod gives the go version.
  const haveGoMod = new Set<string>();
  let goVersion: string | undefined;
  for (const f of files) {
    const { dir, base } = splitDir(f.path);
    if (!equalFold(base, "go.mod")) continue;
    let info: ZipSourceFileInfo;
    try {
      info = await f.lstat();
    } catch (err) {
      addError(f.path, false, errText(err));
      continue;
    }
    if (!info.isFile) continue;
    haveGoMod.add(dir);
    if (f.path === "go.mod") {
      try {
        // A go.mod above the limit is refused below; its version does not matter.
        const data = await readAll(f.open(), MAX_GO_MOD);
        if (data) goVersion = goVersionOf(data);
      } catch {
        // Unreadable: Go ignores it here too (and fails later when copying it).
      }
    }
  }
  const inSubmodule = (p: string): boolean => {
    for (let i = p.lastIndexOf("/"); i >= 0; i = p.lastIndexOf("/", i - 1)) {
      if (haveGoMod.has(p.slice(0, i + 1))) return true;
      if (i === 0) break;
    }
    return false;
  };

  const collisions = new CollisionChecker();
  let room = MAX_ZIP_FILE;
  for (const f of files) {
    const p = f.path;
    if (p !== cleanPath(p)) {
      addError(p, false, MSG.pathNotClean);
      continue;
    }
    if (p.startsWith("/")) {
      addError(p, false, MSG.pathNotRelative);
      continue;
    }
    if (isVendoredPackage(p, goVersion)) {
      addError(p, true, MSG.vendored);
      continue;
    }
    if (inSubmodule(p)) {
      addError(p, true, MSG.submoduleFile);
      continue;
    }
    if (p === ".hg_archival.txt") {
      addError(p, true, MSG.hgArchival);
      continue;
    }
    try {
      checkFilePath(p);
    } catch (err) {
      addError(p, false, errText(err));
      continue;
    }
    if (p.toLowerCase() === "go.mod" && p !== "go.mod") {
      addError(p, false, MSG.goModCase);
      continue;
    }
    let info: ZipSourceFileInfo;
    try {
      info = await f.lstat();
    } catch (err) {
      addError(p, false, errText(err));
      continue;
    }
    const collision = collisions.check(p, info.isDir === true);
    if (collision !== undefined) {
      addError(p, false, collision);
      continue;
    }
    if (info.isSymlink) {
      addError(p, true, MSG.symlink);
      continue;
    }
    if (!info.isFile) {
      addError(p, true, MSG.notRegular);
      continue;
    }
    const size = info.size;
    if (size >= 0 && size <= room) room -= size;
    else cf.sizeError ??= `module source tree too large (max size is ${MAX_ZIP_FILE} bytes)`;
    if (p === "go.mod" && size > MAX_GO_MOD) {
      addError(p, false, MSG.goModSize);
      continue;
    }
    if (p === "LICENSE" && size > MAX_LICENSE) {
      addError(p, false, MSG.licenseSize);
      continue;
    }
    cf.valid.push(p);
    validFiles.push(f);
    validSizes.push(size);
  }
  return { cf, validFiles, validSizes };
}

/**
 * Sorts files into valid, omitted and invalid by x/mod's rules (Go's
 * CheckFiles). Opens only a root go.mod (for its go version). Never throws
 * for a file's problem: see checkedFilesError.
 */
export async function checkFiles(files: ZipSourceFile[]): Promise<CheckedFiles> {
  return (await checkFileList(files)).cf;
}

function fsError(what: string, path: string, err: unknown): StorageError {
  return new StorageError(`${what} ${path}: ${errText(err)}`, { path, cause: err });
}

/** A file on disk, named by a slash path relative to the walk's root. */
function diskFile(absPath: Buffer, slashPath: string, info: ZipSourceFileInfo): ZipSourceFile {
  return {
    path: slashPath,
    lstat: () => Promise.resolve(info),
    open: () => createReadStream(absPath, { highWaterMark: READ_CHUNK }),
    readUpTo: diskReader(absPath),
  };
}

/**
 * Walks dir as Go's CreateFromDir does (lexical order, symbolic links not
 * followed): VCS directories, nested modules (a directory holding a go.mod)
 * and irregular files are left out and reported; vendored files are reported
 * here and again by the check. Names are read as bytes.
 */
export async function filesFromDir(dir: string): Promise<DirListing> {
  const files: ZipSourceFile[] = [];
  const omitted: FileError[] = [];
  let goVersion: string | undefined;
  try {
    const st = await stat(join(dir, "go.mod"));
    if (st.isFile() && st.size <= MAX_GO_MOD) goVersion = goVersionOf(await readFile(join(dir, "go.mod")));
  } catch {
    // No readable root go.mod: the old vendor rule applies.
  }
  const slash = Buffer.from("/");
  const walk = async (abs: Buffer, rel: string): Promise<void> => {
    let names: Buffer[];
    try {
      names = await readdir(abs, { encoding: "buffer" });
    } catch (err) {
      throw fsError("reading directory", decodeGoBytes(abs), err);
    }
    names.sort(Buffer.compare);
    const children = names.map((n) => ({ abs: Buffer.concat([abs, slash, n]), name: decodeGoBytes(n) }));
    const infos = await Promise.all(
      children.map((c) =>
        lstat(c.abs).catch((err: unknown) => {
          throw fsError("reading", decodeGoBytes(c.abs), err);
        }),
      ),
    );
    for (let i = 0; i < children.length; i++) {
      const c = children[i]!;
      const info = infos[i]!;
      const slashPath = rel === "" ? c.name : rel + "/" + c.name;
      if (isVendoredPackage(slashPath, goVersion)) {
        // Like Go, a vendored directory is reported but still walked.
        omitted.push({ path: slashPath, err: MSG.vendored });
        if (!info.isDirectory()) continue;
      }
      if (info.isDirectory()) {
        if (!isVendoredPackage(slashPath, goVersion)) {
          if ([".bzr", ".git", ".hg", ".svn"].includes(c.name)) {
            omitted.push({ path: slashPath, err: MSG.vcs });
            continue;
          }
          const goMod = await lstat(Buffer.concat([c.abs, slash, Buffer.from("go.mod")])).catch(
            () => undefined,
          );
          if (goMod && !goMod.isDirectory()) {
            omitted.push({ path: slashPath, err: MSG.submoduleDir });
            continue;
          }
        }
        await walk(c.abs, slashPath);
        continue;
      }
      if (!info.isFile()) {
        omitted.push({ path: slashPath, err: MSG.notRegular });
        continue;
      }
      files.push(diskFile(c.abs, slashPath, { isFile: true, isSymlink: false, size: info.size }));
    }
  };
  await walk(Buffer.from(dir), "");
  return { files, omitted };
}

/**
 * Go's CheckDir: the check of what createFromDir would put in a zip, with
 * paths given as file system paths (dir joined with the relative path).
 */
export async function checkDir(dir: string): Promise<CheckedFiles> {
  const { files, omitted } = await filesFromDir(dir);
  const cf = await checkFiles(files);
  const full = (p: string): string => join(dir, p);
  return {
    valid: cf.valid.map(full),
    omitted: [...cf.omitted, ...omitted].map((e) => ({ path: full(e.path), err: e.err })),
    invalid: cf.invalid.map((e) => ({ path: full(e.path), err: e.err })),
    ...(cf.sizeError === undefined ? {} : { sizeError: cf.sizeError }),
  };
}

// ---------------------------------------------------------------------------
// Creating zips

/** Where a zip goes: a stream, or a file written under a temporary name and renamed when complete. */
async function openOutput(
  out: NodeJS.WritableStream | string,
): Promise<{ stream: NodeJS.WritableStream; commit(): Promise<void>; abort(): Promise<void> }> {
  if (typeof out !== "string") {
    return { stream: out, commit: async () => {}, abort: async () => {} };
  }
  const tmp = `${out}.tmp-${randomBytes(6).toString("hex")}`;
  const stream = createWriteStream(tmp, { flags: "wx", highWaterMark: READ_CHUNK });
  stream.on("error", () => {}); // reported through the writer
  return {
    stream,
    commit: () => rename(tmp, out),
    abort: async () => {
      // The file may still be opening: let the stream finish closing, then remove it.
      if (!stream.closed) {
        const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
        stream.destroy();
        await closed;
      }
      await rm(tmp, { force: true }).catch(() => {});
    },
  };
}

/** Writes the valid files under prefix, in order; resolves with each file's SHA-256. */
async function writeZip(
  out: NodeJS.WritableStream | string,
  prefix: string,
  files: ZipSourceFile[],
  sizes: number[],
): Promise<FileSum[]> {
  const output = await openOutput(out);
  const writerFiles: WriterFile[] = files.map((f, i) => ({
    path: f.path,
    size: sizes[i]!,
    open: () => f.open(),
    ...(f.readUpTo ? { readUpTo: f.readUpTo } : {}),
  }));
  try {
    const written = await writeModuleZip(output.stream, prefix, writerFiles);
    await output.commit();
    return written.map((w) => ({ name: w.name, sha256: w.sha256 }));
  } catch (err) {
    await output.abort();
    throw err;
  }
}

function createError(context: string, err: unknown): GoarkError {
  if (err instanceof GoarkError) {
    if (err instanceof ZipError && !err.message.startsWith(context)) {
      return new ZipError(`${context}: ${err.message}`, { path: err.path, cause: err });
    }
    return err;
  }
  return new ZipError(`${context}: ${errText(err)}`, { cause: err });
}

/**
 * Go's zip.Create: checks the files (any invalid one, or too much in total,
 * fails the whole zip), then writes the valid ones, deflated, named
 * "module@version/path", to out (a stream, ended when done; or a file path,
 * written under a temporary name and renamed into place). Each file is read
 * once, for the zip and its h1 together.
 */
export async function create(
  out: NodeJS.WritableStream | string,
  modulePath: string,
  version: string,
  files: ZipSourceFile[],
): Promise<CreatedZip> {
  checkVersionAndModule(modulePath, version);
  const context = `create zip for ${modulePath}@${version}`;
  const { cf, validFiles, validSizes } = await checkFileList(files);
  const bad = checkedFilesError(cf, context);
  if (bad) throw bad;
  let sums: FileSum[];
  try {
    sums = await writeZip(out, `${modulePath}@${version}/`, validFiles, validSizes);
  } catch (err) {
    throw createError(context, err);
  }
  return { ...cf, h1: hash1FromSums(sums) };
}

/**
 * Go's zip.CreateFromDir: create from the files of dir, leaving out VCS
 * directories, nested modules, vendored packages and irregular files. The
 * answer lists those left out too (directories once, not their files).
 */
export async function createFromDir(
  out: NodeJS.WritableStream | string,
  modulePath: string,
  version: string,
  dir: string,
): Promise<CreatedZip> {
  checkVersionAndModule(modulePath, version);
  const { files, omitted } = await filesFromDir(dir);
  const made = await create(out, modulePath, version, files);
  return { ...made, omitted: [...made.omitted, ...omitted] };
}

// ---------------------------------------------------------------------------
// Checking, verifying and extracting zips

interface Inspection {
  cf: CheckedFiles;
  entries: ZipEntry[];
  z: OpenZip;
}

/** Rules Go's reader does not apply, for zips from outside (verifyZip, unzip). */
interface StrictRules {
  maxEntries: number;
  maxRatio: number;
}

const UNIX_HOSTS = new Set([3, 19]); // Unix, OS X: external attributes hold a Unix mode

function strictProblem(
  e: ZipEntry,
  isDir: boolean,
  rules: StrictRules,
  offsets: Set<number>,
): string | undefined {
  const entry = e.entry;
  if (UNIX_HOSTS.has(entry.versionMadeBy >>> 8)) {
    const type = (entry.externalFileAttributes >>> 16) & 0o170000;
    if (type === 0o120000) return MSG.symlink;
    if (type !== 0 && type !== (isDir ? 0o040000 : 0o100000)) return MSG.notRegular;
  }
  // Zip slip, stated outright although the path rules already exclude it.
  if (/\\|\0/.test(e.name) || e.name.startsWith("/") || e.name.split("/").includes("..")) {
    return "unsafe path: absolute, backslash or '..' element (zip slip)";
  }
  if ((entry.generalPurposeBitFlag & 0x1) !== 0) return "encrypted entries are not supported";
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    return `unsupported compression method ${entry.compressionMethod} (only store and deflate)`;
  }
  if (entry.uncompressedSize > 0) {
    if (entry.compressedSize === 0) return "declared uncompressed size but no compressed data";
    const ratio = entry.uncompressedSize / entry.compressedSize;
    if (ratio > rules.maxRatio) {
      return `compression ratio ${Math.round(ratio)}:1 exceeds the limit of ${rules.maxRatio}:1`;
    }
  }
  if (offsets.has(entry.relativeOffsetOfLocalHeader)) return "entry shares its data with another entry";
  offsets.add(entry.relativeOffsetOfLocalHeader);
  return undefined;
}

/**
 * Go's checkZip (names, prefix, collisions, go.mod placement, declared sizes),
 * plus the strict rules when given. Leaves the zip open (closed on throw).
 */
async function inspectZip(
  modulePath: string,
  version: string,
  zipFile: string | ZipBytes,
  maxSize: number,
  strict: StrictRules | undefined,
): Promise<Inspection | CheckedFiles> {
  checkVersionAndModule(modulePath, version);
  let zipSize: number;
  if (typeof zipFile === "string") {
    try {
      zipSize = (await stat(zipFile)).size;
    } catch (err) {
      throw fsError("reading", zipFile, err);
    }
  } else {
    zipSize = zipFile.data.length;
  }
  if (zipSize > maxSize) {
    return {
      valid: [],
      omitted: [],
      invalid: [],
      sizeError: `module zip file is too large (${zipSize} bytes; limit is ${maxSize} bytes)`,
    };
  }
  const z = await openZip(zipFile);
  try {
    const entries = await readCentralDirectory(z, strict?.maxEntries ?? 1 << 22);
    const cf: CheckedFiles = { valid: [], omitted: [], invalid: [] };
    const prefix = `${modulePath}@${version}/`;
    const collisions = new CollisionChecker();
    const offsets = new Set<number>();
    let total = 0;
    for (const e of entries) {
      const fail = (err: string): void => {
        cf.invalid.push({ path: e.name, err });
      };
      if (!e.name.startsWith(prefix)) {
        fail(`path does not have prefix ${goQuote(prefix)}`);
        continue;
      }
      let name = e.name.slice(prefix.length);
      // The bare prefix ("m@v/") is a directory entry too; Go accepts and hashes it.
      const isDir = name === "" || name.endsWith("/");
      if (strict) {
        const problem = strictProblem(e, isDir, strict, offsets);
        if (problem !== undefined) {
          fail(problem);
          continue;
        }
      }
      if (name === "") continue;
      if (isDir) name = name.slice(0, -1);
      if (cleanPath(name) !== name) {
        fail(MSG.pathNotClean);
        continue;
      }
      try {
        checkFilePath(name);
      } catch (err) {
        fail(errText(err));
        continue;
      }
      const collision = collisions.check(name, isDir);
      if (collision !== undefined) {
        fail(collision);
        continue;
      }
      if (isDir) continue;
      const base = name.slice(name.lastIndexOf("/") + 1);
      if (equalFold(base, "go.mod")) {
        if (base !== name) {
          fail(MSG.goModNotRoot);
          continue;
        }
        if (name !== "go.mod") {
          fail(MSG.goModCase);
          continue;
        }
      }
      const size = e.entry.uncompressedSize;
      if (size >= 0 && maxSize - total >= size) total += size;
      else
        cf.sizeError ??= `total uncompressed size of module contents too large (max size is ${maxSize} bytes)`;
      if (name === "go.mod" && size > MAX_GO_MOD) {
        fail(MSG.goModSize);
        continue;
      }
      if (name === "LICENSE" && size > MAX_LICENSE) {
        fail(MSG.licenseSize);
        continue;
      }
      cf.valid.push(e.name);
    }
    return { cf, entries, z };
  } catch (err) {
    closeZip(z);
    throw err;
  }
}

/**
 * Go's CheckZip: checks names, prefix, collisions, go.mod placement and the
 * declared sizes without reading any file data. Throws for a bad module path
 * or version or an unreadable zip; file problems are in the answer (see
 * checkedFilesError).
 */
export async function checkZip(modulePath: string, version: string, zipFile: string): Promise<CheckedFiles> {
  const r = await inspectZip(modulePath, version, zipFile, MAX_ZIP_FILE, undefined);
  if (!("z" in r)) return r;
  closeZip(r.z);
  return r.cf;
}

function strictRules(opts: VerifyZipOptions): StrictRules {
  return { maxEntries: opts.maxEntries ?? DEFAULT_MAX_ENTRIES, maxRatio: opts.maxRatio ?? DEFAULT_MAX_RATIO };
}

/** Throws the first problem found by inspectZip, as a TooLargeError or ZipError naming the zip. */
function rejectProblems(cf: CheckedFiles, modulePath: string, version: string, context: string): void {
  const details = { module: modulePath, version };
  if (cf.sizeError !== undefined) throw new TooLargeError(`${context}: ${cf.sizeError}`, details);
  if (cf.invalid.length > 0) {
    const first = cf.invalid[0]!;
    const more = cf.invalid.length > 1 ? ` (and ${cf.invalid.length - 1} more)` : "";
    throw new ZipError(`${context}: ${first.path}: ${first.err}${more}`, { ...details, path: first.path });
  }
}

/**
 * The check the proxy runs on an untrusted zip before storing it: everything
 * Go's CheckZip checks, plus symbolic-link and irregular entries, zip slip,
 * encryption, compression method, ratio and entry-count bounds, shared data;
 * then every entry is inflated once (stopping as soon as it outgrows its
 * declared size or fails its CRC-32) while h1 is computed. Throws
 * ZipError/TooLargeError on the first problem; nothing is written anywhere.
 * The zip is a file, or bytes already in memory (checked in place, no copy).
 */
export async function verifyZip(
  modulePath: string,
  version: string,
  zipFile: string | ZipBytes,
  opts: VerifyZipOptions = {},
): Promise<VerifiedZip> {
  const context = `verify zip ${modulePath}@${version}`;
  const maxSize = opts.maxSize ?? MAX_ZIP_FILE;
  const r = await inspectZip(modulePath, version, zipFile, maxSize, strictRules(opts));
  if (!("z" in r)) {
    rejectProblems(r, modulePath, version, context);
    throw new ZipError(`${context}: unreadable zip`);
  }
  try {
    rejectProblems(r.cf, modulePath, version, context);
    const digests = await digestEntries(r.z, r.entries);
    const sums: FileSum[] = r.entries.map((e, i) => ({ name: e.nameRaw, sha256: digests[i]! }));
    return { h1: hash1FromSums(sums), checked: r.cf };
  } catch (err) {
    throw createError(context, err);
  } finally {
    closeZip(r.z);
  }
}

async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch {
    return false;
  }
}

/**
 * Go's zip.Unzip, made safe for untrusted input: the checks of verifyZip, then
 * the files are written (read-only, never outside dir) into a temporary
 * directory beside dir, renamed to dir only when all is written and checked.
 * dir must not exist or be empty. Resolves with the zip's h1.
 */
export async function unzip(
  dir: string,
  modulePath: string,
  version: string,
  zipFile: string,
  opts: VerifyZipOptions = {},
): Promise<VerifiedZip> {
  const context = `unzip ${zipFile}`;
  if (await isNonEmptyDir(dir)) {
    throw new ZipError(`${context}: target directory ${dir} exists and is not empty`, { path: dir });
  }
  const maxSize = opts.maxSize ?? MAX_ZIP_FILE;
  const r = await inspectZip(modulePath, version, zipFile, maxSize, strictRules(opts));
  if (!("z" in r)) {
    rejectProblems(r, modulePath, version, context);
    throw new ZipError(`${context}: unreadable zip`);
  }
  const target = resolve(dir);
  const tmp = join(
    dirname(target),
    `.${target.slice(dirname(target).length + 1)}.unzip-${randomBytes(6).toString("hex")}`,
  );
  const prefixLength = `${modulePath}@${version}/`.length;
  try {
    rejectProblems(r.cf, modulePath, version, context);
    await mkdir(tmp, { recursive: true });
    const sums: FileSum[] = [];
    const made = new Set<string>([tmp]);
    await readEntryContents(r.z, r.entries, async (e, content) => {
      const name = e.name.slice(prefixLength);
      if (name === "" || name.endsWith("/")) {
        // Directory entries are not written, but Go's HashZip still counts them.
        if ("stream" in content) for await (const _ of content.stream);
        sums.push({ name: e.nameRaw, sha256: "data" in content ? content.sha256 : content.sha256() });
        return;
      }
      const dst = join(tmp, name);
      if (!dst.startsWith(tmp + sep))
        throw new ZipError(`${context}: ${e.name}: path escapes the target directory`);
      const parent = dirname(dst);
      if (!made.has(parent)) {
        await mkdir(parent, { recursive: true });
        made.add(parent);
      }
      if ("data" in content) {
        await writeFile(dst, content.data, { flag: "wx", mode: 0o444 });
        sums.push({ name: e.nameRaw, sha256: content.sha256 });
      } else {
        await pipeline(
          content.stream,
          createWriteStream(dst, { flags: "wx", mode: 0o444, highWaterMark: READ_CHUNK }),
        );
        sums.push({ name: e.nameRaw, sha256: content.sha256() });
      }
    });
    await rename(tmp, target).catch(async (err: unknown) => {
      if (await isNonEmptyDir(target)) {
        throw new ZipError(`${context}: target directory ${dir} exists and is not empty`, { path: dir });
      }
      throw fsError("renaming into", dir, err);
    });
    return { h1: hash1FromSums(sums), checked: r.cf };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw createError(context, err);
  } finally {
    closeZip(r.z);
  }
}
