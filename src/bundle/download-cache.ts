/**
 * `goark import DIR` for an existing go download cache
 * ($GOMODCACHE/cache/download) or any GOPROXY tree on disk: the same layout
 * as the store. Every version passes the checks a bundle's versions pass
 * (src/bundle/version-check.ts; a `.ziphash` beside a zip must agree) and
 * lands whole or not at all, committed .zip, .mod, .info, lists last.
 * Symbolic links and names outside the layout (.lock, .partial, .ziphash,
 * list) are never copied.
 */
import { createReadStream, type Dirent } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { asGoarkError, ChecksumMismatchError, GoarkError, NotFoundError, TooLargeError } from "../errors.ts";
import { hashFile } from "../storage/artefact-meta.ts";
import { checkKey, parseKey } from "../storage/keys.ts";
import type { Staged, Storage } from "../storage/storage.ts";
import { COMMIT_ORDER, type VersionFileKind, versionId } from "../store-ops/inventory.ts";
import { rewriteVersionList } from "../store-ops/version-list.ts";
import type { ImportReport, ModuleVersionRef } from "./import.ts";
import { maxSizeOf } from "./manifest.ts";
import { checkVersionFiles } from "./version-check.ts";

export type DownloadCacheReport = Omit<ImportReport, "manifest">;

interface CacheVersion {
  module: string;
  version: string;
  files: Map<VersionFileKind, string>;
  ziphash?: string;
}

const MAX_DEPTH = 64;

async function* walk(root: string, rel: string, depth: number): AsyncGenerator<string> {
  if (depth > MAX_DEPTH) return;
  let entries: Dirent[];
  try {
    entries = await readdir(join(root, rel), { withFileTypes: true });
  } catch (err) {
    if (rel === "") throw err;
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const key = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) yield* walk(root, key, depth + 1);
    else if (e.isFile()) yield key;
  }
}

export async function importDownloadCache(
  storage: Storage,
  dir: string,
  opts: { name?: string } = {},
): Promise<DownloadCacheReport> {
  const root = resolve(dir);
  const origin = `import:${opts.name ?? "go-download-cache"}`;
  const versions = new Map<string, CacheVersion>();
  try {
    if (!(await lstat(root)).isDirectory()) throw new NotFoundError(`import: ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof GoarkError) throw err;
    throw new NotFoundError(`import: ${dir} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  for await (const rel of walk(root, "", 0)) {
    let key = rel;
    const isZiphash = rel.endsWith(".ziphash");
    if (isZiphash) key = `${rel.slice(0, -".ziphash".length)}.zip`;
    try {
      checkKey(key);
    } catch {
      continue;
    }
    const p = parseKey(key);
    if (p?.version === undefined) continue;
    const id = versionId(p.module, p.version);
    let cv = versions.get(id);
    if (cv === undefined) {
      cv = { module: p.module, version: p.version, files: new Map() };
      versions.set(id, cv);
    }
    if (isZiphash) {
      cv.ziphash = (await readFile(join(root, rel), "utf8").catch(() => "")).trim().slice(0, 100);
    } else {
      cv.files.set(p.kind as VersionFileKind, key);
    }
  }
  const report: DownloadCacheReport = {
    added: [],
    present: [],
    rejected: [],
    filesCreated: 0,
    bytesCreated: 0,
    listsUpdated: 0,
  };
  const touched = new Set<string>();
  for (const cv of versions.values()) {
    const ref: ModuleVersionRef = { module: cv.module, version: cv.version };
    if (!cv.files.has("mod")) {
      // The go command keeps a .zip or .info without .mod only briefly; nothing usable to import.
      if (cv.files.size > 0) report.rejected.push({ ...ref, reason: "no .mod file beside it" });
      continue;
    }
    try {
      const r = await importOne(storage, root, cv, origin);
      report.filesCreated += r.created;
      report.bytesCreated += r.bytes;
      (r.created > 0 ? report.added : report.present).push(ref);
      // Present versions too: an interrupted import may have left them without their list.
      touched.add(cv.module);
    } catch (err) {
      const e = asGoarkError(err);
      if (e.code === "STORAGE" || e.code === "INTERNAL") throw e;
      report.rejected.push({ ...ref, reason: e.message });
    }
  }
  for (const module of [...touched].sort()) {
    const outcome = await rewriteVersionList(storage, module, { mergeForeign: true });
    if (outcome === "written" || outcome === "removed") report.listsUpdated++;
  }
  return report;
}

async function importOne(
  storage: Storage,
  root: string,
  cv: CacheVersion,
  origin: string,
): Promise<{ created: number; bytes: number }> {
  const staged = new Map<VersionFileKind, Staged>();
  try {
    for (const kind of COMMIT_ORDER) {
      const key = cv.files.get(kind);
      if (key === undefined) continue;
      const st = await lstat(join(root, key));
      if (st.size > maxSizeOf(kind)) {
        throw new TooLargeError(
          `${key}: ${st.size} bytes, over the ${maxSizeOf(kind)}-byte limit for .${kind} files`,
          {
            module: cv.module,
            version: cv.version,
          },
        );
      }
      const existing = await storage.stat(key);
      const s = await storage.stage();
      staged.set(kind, s);
      await pipeline(createReadStream(join(root, key)), s.createWriteStream());
      if (existing !== undefined) {
        const d = await hashFile(s.path);
        if (d.sha256 !== existing.meta.sha256) {
          throw new ChecksumMismatchError(
            `the store already holds different bytes for ${key}; stored versions are immutable`,
            { module: cv.module, version: cv.version },
          );
        }
      }
    }
    const expect: { zipH1?: string } = {};
    if (cv.ziphash !== undefined && cv.ziphash !== "" && staged.has("zip")) expect.zipH1 = cv.ziphash;
    const hashes = await checkVersionFiles(
      cv.module,
      cv.version,
      [...staged].map(([kind, s]) => ({ kind, path: s.path })),
      origin,
      expect,
    );
    let created = 0;
    let bytes = 0;
    for (const kind of COMMIT_ORDER) {
      const s = staged.get(kind);
      if (s === undefined) continue;
      const put: { origin: string; h1?: string } = { origin };
      if (kind === "zip" && hashes.zipH1 !== undefined) put.h1 = hashes.zipH1;
      if (kind === "mod" && hashes.modH1 !== undefined) put.h1 = hashes.modH1;
      const r = await storage.commitStaged(cv.files.get(kind)!, s, put);
      if (r.created) {
        created++;
        bytes += r.meta.size;
      }
    }
    return { created, bytes };
  } finally {
    for (const s of staged.values()) await s.dispose();
  }
}
