/**
 * `goark export --format dir DIR`: the selected versions as a plain GOPROXY
 * tree (the go command's download-cache layout, no goark metadata), usable
 * with `GOPROXY=file://DIR` and no server at all. Each module gets a `list`
 * of its stored tagged versions, and modules with no tagged version an
 * `@latest` naming the newest one (the go command asks `@latest` only when
 * `list` is empty). With goark's own checksum database, the tree also
 * carries it under `sumdb/<name>/` the way the go command reads a database
 * through a proxy (`supported`, `latest`, `lookup/…`, hash tiles), so that
 * `GOSUMDB=<its verifier key>` verifies every module from the tree. Files
 * are written under temporary names and renamed, each checked against its
 * record on the way; `supported` comes last.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { StorageError } from "../errors.ts";
import { escapePath, escapeVersion } from "../module/path.ts";
import { isPseudoVersion } from "../module/pseudo.ts";
import { compare } from "../module/semver.ts";
import { checkKey, infoKey, latestKey, listKey, parseKey, versionDirKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import { type StoredVersion, versionFiles } from "../store-ops/inventory.ts";
import { DigestCheck, type ExportReport } from "./export.ts";
import { type SelectOptions, selectVersions } from "./select.ts";

/** The checksum-database material written under sumdb/<name>/. */
export interface DirSumdbReport {
  name: string;
  /** The GOSUMDB value for clients of the tree (the key alone: the database is reached through GOPROXY). */
  gosumdb: string;
  /** Tree size of the signed head written as `latest`. */
  treeSize: number;
  lookups: number;
  tiles: number;
  /** Versions appended to the log by this export (stored but not yet recorded). */
  recorded: number;
  /**
   * Exported go.mod-only versions (no zip stored, so goark's log has no
   * record of them): a client needs their go.mod lines in its go.sum.
   */
  modOnly: { module: string; version: string }[];
  /** Exported versions the tree has no lookup for, and why: the go command will refuse them. */
  uncovered: { module: string; version: string; reason: string }[];
}

export type ExportDirReport = Omit<ExportReport, "manifest"> & { sumdb?: DirSumdbReport };

/** goark's own log at one signed head (OwnSumdb.snapshot). */
export interface DirSumdbSnapshot {
  size: number;
  latest: Uint8Array;
  tiles: string[];
  lookup(module: string, version: string): Promise<Uint8Array | undefined>;
  tile(path: string): Promise<Uint8Array>;
}

/** goark's own checksum database as the export needs it (OwnSumdb is one). */
export interface DirSumdb {
  readonly name: string;
  readonly verifierKey: string;
  /** Why this process cannot append, or undefined. */
  readonly readOnly: string | undefined;
  hashes(module: string, version: string): Promise<{ zip: string; mod: string } | undefined>;
  /** Appends module@version from its stored artefacts; undefined when it cannot. */
  record(module: string, version: string): Promise<number | undefined>;
  snapshot(): Promise<DirSumdbSnapshot | undefined>;
}

export interface ExportDirOptions extends SelectOptions {
  /** Write this database's material under sumdb/<name>/. */
  sumdb?: DirSumdb;
}

async function writeAtomic(target: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await write(tmp);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function exportDir(
  storage: Storage,
  dir: string,
  opts: ExportDirOptions,
): Promise<ExportDirReport> {
  const root = resolve(dir);
  const selection = await selectVersions(storage, opts);
  const byModule = new Map<string, string[]>();
  let files = 0;
  let bytes = 0;
  for (const v of selection.versions) {
    for (const f of versionFiles(v)) {
      checkKey(f.key); // keys are relative and dot-free, so join stays under root
      const body = await storage.openRead(f.key);
      if (body === undefined)
        throw new StorageError(`export: ${f.key} vanished from the store while exporting`, { path: f.key });
      const check = new DigestCheck({ key: f.key, size: f.size, sha256: f.meta.sha256 });
      await writeAtomic(join(root, f.key), (tmp) =>
        pipeline(body, check, createWriteStream(tmp, { flags: "wx" })),
      );
      files++;
      bytes += f.size;
    }
    const list = byModule.get(v.module) ?? [];
    list.push(v.version);
    byModule.set(v.module, list);
  }
  for (const [module, selected] of byModule) {
    // Like the go command's rewriteVersionList: every version with a .mod in the tree,
    // so an export into a directory that holds an earlier one lists both.
    const versions = new Set(selected);
    for (const name of await readdir(join(root, versionDirKey(module)))) {
      const p = parseKey(versionDirKey(module) + name);
      if (p?.kind === "mod" && p.version !== undefined) versions.add(p.version);
    }
    const tagged = [...versions].filter((v) => !isPseudoVersion(v)).sort(compare);
    await writeAtomic(join(root, listKey(module)), (tmp) =>
      writeFile(tmp, tagged.map((v) => `${v}\n`).join("")),
    );
    if (tagged.length === 0) {
      const newest = [...versions].sort(compare).at(-1)!;
      const data = await readFile(join(root, infoKey(module, newest))).catch(() => undefined);
      if (data !== undefined) await writeAtomic(join(root, latestKey(module)), (tmp) => writeFile(tmp, data));
    }
  }
  const report: ExportDirReport = {
    versions: selection.versions.length,
    files,
    bytes,
    missing: selection.missing,
    unreadable: selection.unreadable,
    incomplete: selection.incomplete.map((v) => ({ module: v.module, version: v.version })),
  };
  if (opts.sumdb !== undefined) report.sumdb = await writeDirSumdb(root, opts.sumdb, selection.versions);
  return report;
}

/**
 * Writes the database's material for versions under root/sumdb/<name>/:
 * a lookup per version, every hash tile and the head of one signed tree,
 * then `supported`, which tells the go command to read the database here.
 * Versions the log lacks are recorded first when this process may append.
 */
export async function writeDirSumdb(
  root: string,
  db: DirSumdb,
  versions: StoredVersion[],
): Promise<DirSumdbReport> {
  const report: DirSumdbReport = {
    name: db.name,
    gosumdb: db.verifierKey,
    treeSize: 0,
    lookups: 0,
    tiles: 0,
    recorded: 0,
    modOnly: [],
    uncovered: [],
  };
  const uncover = (v: StoredVersion, reason: string) =>
    report.uncovered.push({ module: v.module, version: v.version, reason });
  const ready: StoredVersion[] = [];
  for (const v of versions) {
    let logged = await db.hashes(v.module, v.version);
    if (logged === undefined && v.zip !== undefined && db.readOnly === undefined) {
      if ((await db.record(v.module, v.version)) !== undefined) report.recorded++;
      logged = await db.hashes(v.module, v.version);
    }
    if (logged === undefined) {
      if (v.zip === undefined) report.modOnly.push({ module: v.module, version: v.version });
      else
        uncover(
          v,
          `not in goark's log, and this process cannot append to it (${db.readOnly ?? "record failed"})`,
        );
      continue;
    }
    // The log's record is what clients check; a store that no longer matches it would only fail there.
    const zipH1 = v.zip?.meta.h1;
    const modH1 = v.mod?.meta.h1;
    if ((zipH1 !== undefined && zipH1 !== logged.zip) || (modH1 !== undefined && modH1 !== logged.mod)) {
      uncover(v, "the stored files differ from goark's log record (run goark verify)");
      continue;
    }
    ready.push(v);
  }
  const snap = await db.snapshot();
  if (snap === undefined) {
    for (const v of ready) uncover(v, "goark's log has signed nothing yet");
    return report;
  }
  report.treeSize = snap.size;
  const base = join(root, "sumdb", ...db.name.split("/"));
  const put = (rel: string, data: Uint8Array) => {
    const target = join(base, ...rel.split("/"));
    // A database name is a host[/path] and the rest are escaped paths: nothing climbs out of base.
    if (!target.startsWith(base + sep)) throw new StorageError(`export: ${rel} would leave ${base}`);
    return writeAtomic(target, (tmp) => writeFile(tmp, data, { flag: "wx" }));
  };
  for (const v of ready) {
    const answer = await snap.lookup(v.module, v.version);
    if (answer === undefined) {
      uncover(v, "not in goark's log at its signed head");
      continue;
    }
    await put(`lookup/${escapePath(v.module)}@${escapeVersion(v.version)}`, answer);
    report.lookups++;
  }
  for (const path of snap.tiles) {
    await put(path, await snap.tile(path));
    report.tiles++;
  }
  await put("latest", snap.latest);
  await put("supported", new Uint8Array());
  return report;
}
