/**
 * `goark export --format dir DIR`: the selected versions as a plain GOPROXY
 * tree (the go command's download-cache layout, no goark metadata), usable
 * with `GOPROXY=file://DIR` and no server at all. Each module gets a `list`
 * of its stored tagged versions, and modules with no tagged version an
 * `@latest` naming the newest one (the go command asks `@latest` only when
 * `list` is empty). Files are written under temporary names and renamed,
 * each checked against its record on the way.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { StorageError } from "../errors.ts";
import { isPseudoVersion } from "../module/pseudo.ts";
import { compare } from "../module/semver.ts";
import { checkKey, infoKey, latestKey, listKey, parseKey, versionDirKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import { versionFiles } from "../store-ops/inventory.ts";
import { DigestCheck, type ExportReport } from "./export.ts";
import { type SelectOptions, selectVersions } from "./select.ts";

export type ExportDirReport = Omit<ExportReport, "manifest">;

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
  opts: SelectOptions,
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
  return {
    versions: selection.versions.length,
    files,
    bytes,
    missing: selection.missing,
    unreadable: selection.unreadable,
    incomplete: selection.incomplete.map((v) => ({ module: v.module, version: v.version })),
  };
}
