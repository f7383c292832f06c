/**
 * The "sumdb" bundle extension: checksum-database material travels with the
 * module files so an air-gapped goark keeps clients verifying.
 * - Export: for every carried version, the public database's proven lookup
 *   (record + signed note) from `<store>/.sumdb/remote/<name>/`, the tiles
 *   that prove it and the latest verified head. The material is re-proven
 *   while it is collected (a client whose "remote" is the local cache), so
 *   exactly the files a proof reads are carried. Never a signing key: goark's
 *   own log stays home; the importer vouches with its own.
 * - checkImport: the carried records are proven again against the
 *   importer's configured verifier key (signed notes, inclusion via the
 *   carried tiles, consistency with the head the importer already keeps),
 *   and their go.sum lines must equal the manifest's h1 values. A version
 *   without a proven, matching record is rejected unless the importer runs
 *   with --sumdb off or the module matches --private/--nosumdb.
 * - afterImport: the proven material goes into the importer's remote cache
 *   (so `/sumdb/<name>/lookup` works offline) and every landed version is
 *   appended to goark's own log.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type {
  BundleExtension,
  ExtensionExport,
  ExtensionFile,
  ImportCheckContext,
  ImportCommitContext,
  VersionVerdict,
} from "../bundle/extension.ts";
import type { ManifestVersion } from "../bundle/manifest.ts";
import { parseSumDb, type SumDbSetting } from "../config/go-env-syntax.ts";
import { ConfigError, GoarkError, NotFoundError } from "../errors.ts";
import { compilePrefixPatterns } from "../module/path.ts";
import type { Storage } from "../storage/storage.ts";
import { SumdbClient } from "./client.ts";
import { SumdbFiles } from "./file-store.ts";
import { OwnSumdb } from "./own-db.ts";
import type { SumdbLogger } from "./upstream-db.ts";

export const SUMDB_EXTENSION = "sumdb";
const RECORD_BATCH = 256;

export interface SumdbExtensionOptions {
  /** `<store>/.sumdb` of the exporting or importing store. */
  dir: string;
  /** The --sumdb setting (GOSUMDB syntax). */
  sumdb: string;
  /** --private and --nosumdb patterns of the importer. */
  private: string;
  nosumdb: string;
  /** Name of goark's own database ("" = the stored key's, or goark.<host>). */
  ownName?: string;
  logger?: SumdbLogger;
}

/** The manifest section: which database the material is from, and which versions it covers. */
export interface SumdbSection {
  database?: string;
  /** "module@version" of every version whose record is carried. */
  covered: string[];
  /** "module@version" of carried versions without provable material on the exporting side. */
  uncovered: string[];
}

function versionId(module: string, version: string): string {
  return `${module}@${version}`;
}

function fileOf(path: string, data: Buffer): ExtensionFile {
  return { path, size: data.length, open: async () => Readable.from([data]) };
}

/** The go.sum hash `path vers` in lines, if any. */
function hashIn(lines: readonly string[], path: string, vers: string): string | undefined {
  const prefix = `${path} ${vers} `;
  return lines.find((l) => l.startsWith(prefix))?.slice(prefix.length);
}

/** Checks mv's manifest hashes against the proven go.sum lines; a reason when they differ. */
function compare(mv: ManifestVersion, zipLines: string[], modLines: string[]): string | undefined {
  const id = versionId(mv.module, mv.version);
  if (mv.zipH1 !== undefined) {
    const want = hashIn(zipLines, mv.module, mv.version);
    if (want === undefined) return `${id}: the carried checksum-database record has no zip hash`;
    if (want !== mv.zipH1)
      return `${id}: zip hash ${mv.zipH1} in the manifest, the checksum database says ${want}`;
  }
  if (mv.modH1 !== undefined) {
    const want = hashIn(modLines, mv.module, `${mv.version}/go.mod`);
    if (want === undefined) return `${id}: the carried checksum-database record has no go.mod hash`;
    if (want !== mv.modH1)
      return `${id}: go.mod hash ${mv.modH1} in the manifest, the checksum database says ${want}`;
  }
  return undefined;
}

export function sumdbBundleExtension(opts: SumdbExtensionOptions): BundleExtension {
  const parsed = parseSumDb(opts.sumdb);
  if (typeof parsed === "string") throw new ConfigError(`sumdb: ${parsed}`);
  const setting: SumDbSetting = parsed;
  const isPrivate = compilePrefixPatterns(opts.private);
  const isNoSum = compilePrefixPatterns(opts.nosumdb);
  const exempt = (module: string) => isPrivate(module) || isNoSum(module);
  /** Proven material found by checkImport, written by afterImport. */
  const proven = new Map<string, Uint8Array>();
  let provenLatest: Uint8Array | undefined;

  return {
    name: SUMDB_EXTENSION,

    async export(_storage: Storage, versions: ManifestVersion[]): Promise<ExtensionExport> {
      const section: SumdbSection = { covered: [], uncovered: [] };
      if (setting.off) {
        section.uncovered = versions.map((v) => versionId(v.module, v.version));
        return { section, files: [] };
      }
      section.database = setting.name;
      const cache = new SumdbFiles(join(opts.dir, "remote", setting.name));
      const latest = await cache.getBytes("latest");
      const read = new Map<string, Buffer>();
      // Every read is of the local cache and is proven again by the client: what it read is what a proof needs.
      const client = new SumdbClient({
        verifierKey: setting.key,
        ops: {
          readRemote: async (path) => {
            const key = path.replace(/^\//, "");
            if (key === "latest") {
              if (latest === undefined) throw new NotFoundError(`no kept tree head of ${setting.name}`);
              return latest;
            }
            const data = await cache.getBytes(key);
            if (data === undefined)
              throw new NotFoundError(`${key}: not in the local cache of ${setting.name}`);
            read.set(key, data);
            return data;
          },
          loadLatest: async () => latest,
          saveLatest: async () => undefined,
        },
      });
      for (const v of versions) {
        const id = versionId(v.module, v.version);
        try {
          // One lookup carries both the zip and the go.mod line.
          const lines = await client.lookup(v.module, v.version);
          const modLines = await client.lookup(v.module, `${v.version}/go.mod`);
          if (compare(v, lines, modLines) !== undefined) throw new NotFoundError(`${id}: record differs`);
          section.covered.push(id);
        } catch (err) {
          if (!(err instanceof GoarkError)) throw err;
          section.uncovered.push(id);
        }
      }
      const files: ExtensionFile[] = [];
      if (section.covered.length > 0) {
        // Without a kept head the records' own signed notes are the heads (they are in the lookups).
        if (latest !== undefined) files.push(fileOf(`${setting.name}/latest`, latest));
        for (const [key, data] of [...read].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
          files.push(fileOf(`${setting.name}/${key}`, data));
      }
      return { section, files };
    },

    async checkImport(ctx: ImportCheckContext): Promise<Map<string, VersionVerdict>> {
      const verdicts = new Map<string, VersionVerdict>();
      proven.clear();
      provenLatest = undefined;
      if (setting.off) return verdicts;
      const prefix = `${setting.name}/`;
      const carried = new Map<string, string>();
      for (const f of ctx.files)
        if (f.path.startsWith(prefix)) carried.set(f.path.slice(prefix.length), f.localPath);
      const cache = new SumdbFiles(join(opts.dir, "remote", setting.name));
      const kept = await cache.getBytes("latest");
      const readCarried = async (key: string): Promise<Uint8Array> => {
        const local = carried.get(key);
        if (local === undefined)
          throw new NotFoundError(`${key}: the bundle carries no such ${setting.name} material`);
        return readFile(local);
      };
      const client = new SumdbClient({
        verifierKey: setting.key,
        ops: {
          readRemote: (path) => readCarried(path.replace(/^\//, "")),
          // The head this store already trusts: the carried one must extend it (or be its prefix).
          loadLatest: async () => kept,
          saveLatest: async (note) => {
            provenLatest = note;
          },
          // Tiles this store proved earlier may complete a proof; carried lookups are always proven anew.
          readCache: async (key) => (key.startsWith("tile/") ? cache.getBytes(key) : undefined),
          writeCache: async (key, data) => {
            proven.set(key, data);
          },
        },
      });
      let headProblem: string | undefined;
      if (carried.has("latest")) {
        try {
          await client.refresh();
        } catch (err) {
          if (!(err instanceof GoarkError)) throw err;
          headProblem = `the bundle's tree head of ${setting.name} is not acceptable: ${err.message}`;
        }
      }
      for (const mv of ctx.versions) {
        if (exempt(mv.module)) continue;
        const id = versionId(mv.module, mv.version);
        if (headProblem !== undefined) {
          verdicts.set(id, headProblem);
          continue;
        }
        try {
          const lines = await client.lookup(mv.module, mv.version);
          const modLines = await client.lookup(mv.module, `${mv.version}/go.mod`);
          const problem = compare(mv, lines, modLines);
          if (problem !== undefined) verdicts.set(id, problem);
        } catch (err) {
          if (!(err instanceof GoarkError)) throw err;
          verdicts.set(
            id,
            err instanceof NotFoundError
              ? `${id}: the bundle carries no ${setting.name} record for it (import with --sumdb off, or list it under --nosumdb or --private)`
              : `${id}: its carried ${setting.name} record does not verify: ${err.message}`,
          );
        }
      }
      return verdicts;
    },

    async afterImport(ctx: ImportCommitContext): Promise<void> {
      if (!setting.off && (proven.size > 0 || provenLatest !== undefined)) {
        const cache = new SumdbFiles(join(opts.dir, "remote", setting.name));
        for (const [key, data] of proven) await cache.write(key, data, false);
        // The head last: lookups and tiles it vouches for are in place first.
        if (provenLatest !== undefined) await cache.putBytes("latest", provenLatest);
      }
      if (ctx.landed.length === 0) return;
      const own = await OwnSumdb.open({
        dir: opts.dir,
        name: opts.ownName ?? "",
        storage: ctx.storage,
        ...(opts.logger === undefined ? {} : { logger: opts.logger }),
      });
      try {
        if (own.readOnly !== undefined) {
          // A running goark holds the log: it records these versions on their first lookup.
          opts.logger?.warn(
            { sumdb: own.name },
            `imported versions not recorded in goark's checksum database now: ${own.readOnly}`,
          );
          return;
        }
        // Appends made together share one signed head (the log batches what is queued at once).
        for (let i = 0; i < ctx.landed.length; i += RECORD_BATCH) {
          await Promise.all(
            ctx.landed.slice(i, i + RECORD_BATCH).map(async (mv) => {
              if ((await own.hashes(mv.module, mv.version)) === undefined)
                await own.record(mv.module, mv.version);
            }),
          );
        }
      } finally {
        await own.close();
      }
    },
  };
}
