/**
 * `goark export BUNDLE [--all | --module PATTERN… | go.mod…]`: writes the
 * selected versions as a bundle (tar or tar.gz) or, with --format dir, as a
 * plain GOPROXY tree. Required versions missing from the store are listed
 * and make the exit code 1 (the bundle is still written).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { exportBundle } from "../bundle/export.ts";
import { exportDir } from "../bundle/export-dir.ts";
import type { BundleExtension } from "../bundle/extension.ts";
import { readBundleManifest } from "../bundle/import.ts";
import type { BundleManifest } from "../bundle/manifest.ts";
import type { BundleSelection, SelectOptions } from "../bundle/select.ts";
import { BadRequestError, NotFoundError } from "../errors.ts";
import { compilePrefixPatterns } from "../module/path.ts";
import type { Storage } from "../storage/storage.ts";
import { SUMDB_EXTENSION, type SumdbSection, sumdbBundleExtension } from "../sumdb/bundle-extension.ts";
import { sumdbDir } from "../sumdb/from-config.ts";
import { OwnSumdb } from "../sumdb/own-db.ts";
import { configFromCommand } from "./config-flags.ts";
import { EXIT_FAILURE } from "./exit-codes.ts";
import {
  addStoreFlags,
  asOperational,
  collect,
  formatBytes,
  parseSince,
  withStore,
} from "./store-command.ts";

interface ExportFlags {
  all?: boolean;
  module?: string[];
  since?: string;
  sinceBundle?: string;
  format?: string;
  json?: boolean;
  createdAt?: string;
}

const FORMATS = ["tar", "tar.gz", "dir"] as const;

export function registerExport(program: Command): void {
  const cmd = program
    .command("export")
    .description("Write stored module versions as a bundle (or a plain GOPROXY directory) for another goark")
    .argument("<bundle>", "the bundle file to write (a directory with --format dir)")
    .argument("[gomod...]", "go.mod files: export what they require, transitively")
    .option("--all", "export every stored version")
    .option("--module <pattern>", "export modules matching a pattern (GOPRIVATE syntax); repeatable", collect)
    .option("--since <time>", "only versions fetched since a time (2024-01-31) or that long ago (30d)")
    .option("--since-bundle <old>", "only what the older bundle OLD does not carry")
    .option("--format <format>", "tar, tar.gz or dir (default: from the file name)")
    .option(
      "--created-at <time>",
      "record this creation time in the bundle (bundles carry no clock by default)",
    )
    .option("--json", "print the report as JSON");
  addStoreFlags(cmd);
  cmd.action(async (bundle: string, gomods: string[], flags: ExportFlags) => {
    const select = await selectionOf(gomods, flags);
    const opts: SelectOptions = { select };
    if (flags.since !== undefined) opts.since = parseSince(flags.since, "--since");
    if (flags.sinceBundle !== undefined) {
      const old = flags.sinceBundle;
      await asOperational(async () => {
        opts.sinceManifest = await readBundleManifest(old);
      });
      // A broken old bundle was reported (exit 1); exporting everything instead would surprise.
      if (opts.sinceManifest === undefined) return;
    }
    const format = formatOf(bundle, flags.format);
    await withStore(cmd, async (storage) => {
      const report =
        format === "dir"
          ? await withOwnSumdb(cmd, storage, (sumdb) =>
              exportDir(storage, bundle, sumdb === undefined ? opts : { ...opts, sumdb }),
            )
          : await exportBundle(storage, bundle, {
              ...opts,
              format,
              createdBy: "goark",
              extensions: sumdbExtensions(cmd),
              ...(flags.createdAt !== undefined
                ? { createdAt: parseSince(flags.createdAt, "--created-at") }
                : {}),
            });
      if (flags.json) {
        const { manifest: _m, ...rest } = report as typeof report & { manifest?: unknown };
        process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
      } else {
        process.stdout.write(
          `exported ${report.versions} versions (${report.files} files, ${formatBytes(report.bytes)}) to ${bundle}\n`,
        );
        for (const m of report.missing) {
          process.stdout.write(
            `missing: ${m.module}@${m.version} (required by ${m.requiredBy}); run goark warm on a connected machine\n`,
          );
        }
        for (const u of report.unreadable)
          process.stdout.write(`unreadable go.mod: ${u.module}@${u.version}: ${u.error}\n`);
        for (const v of report.incomplete)
          process.stdout.write(`skipped (no .mod stored): ${v.module}@${v.version}\n`);
        const proofs = "manifest" in report ? unproven(cmd, report.manifest) : undefined;
        for (const id of proofs?.ids ?? []) {
          process.stdout.write(
            `unproven: ${id}: this store keeps no ${proofs!.database} proof of it; an import that verifies rejects it (warm it again with verification on)\n`,
          );
        }
        const db = "sumdb" in report ? report.sumdb : undefined;
        if (db !== undefined) {
          process.stdout.write(
            `checksum database ${db.name}: ${db.lookups} lookups, ${db.tiles} tiles, tree size ${db.treeSize}` +
              `${db.recorded > 0 ? ` (${db.recorded} versions recorded now)` : ""}; ` +
              `clients: GOPROXY=${pathToFileURL(resolve(bundle)).href} GOSUMDB=${db.gosumdb}\n`,
          );
          if (db.modOnly.length > 0) {
            process.stdout.write(
              `${db.modOnly.length} go.mod-only versions (no zip stored) have no checksum record; clients need their go.mod lines in go.sum\n`,
            );
          }
          for (const u of db.uncovered)
            process.stdout.write(`not verifiable: ${u.module}@${u.version}: ${u.reason}\n`);
        }
      }
      const uncovered = "sumdb" in report ? (report.sumdb?.uncovered.length ?? 0) : 0;
      if (report.missing.length > 0 || report.unreadable.length > 0 || uncovered > 0)
        process.exitCode = EXIT_FAILURE;
    });
  });
}

/**
 * The carried public versions for which the bundle holds no proven
 * checksum-database material: an import that verifies rejects them.
 * Undefined when the export did not verify (--sumdb off).
 */
function unproven(cmd: Command, manifest: BundleManifest): { database: string; ids: string[] } | undefined {
  const section = manifest.extensions[SUMDB_EXTENSION] as SumdbSection | undefined;
  if (section?.database === undefined) return undefined;
  const { config } = configFromCommand(cmd);
  const exempt = compilePrefixPatterns([config.private, config.nosumdb].filter((p) => p !== "").join(","));
  const ids = section.uncovered.filter((id) => !exempt(id.slice(0, id.lastIndexOf("@"))));
  return { database: section.database, ids };
}

/**
 * Runs fn with goark's own checksum database of a disk store (created, like
 * serve creates it, when the store has none yet), or undefined for other
 * stores. Opened as the writer when no running goark holds the log.
 */
async function withOwnSumdb<T>(
  cmd: Command,
  storage: Storage,
  fn: (db: OwnSumdb | undefined) => Promise<T>,
): Promise<T> {
  const { config } = configFromCommand(cmd);
  const dir = sumdbDir(config);
  if (dir === undefined) return fn(undefined);
  const db = await OwnSumdb.open({ dir, name: config.sumdbName, storage });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The checksum-database material of the store's configured database travels with the bundle. */
export function sumdbExtensions(cmd: Command): BundleExtension[] {
  const { config } = configFromCommand(cmd);
  const dir = sumdbDir(config);
  if (dir === undefined) return [];
  return [
    sumdbBundleExtension({
      dir,
      sumdb: config.sumdb,
      private: config.private,
      nosumdb: config.nosumdb,
      ownName: config.sumdbName,
    }),
  ];
}

async function selectionOf(gomods: string[], flags: ExportFlags): Promise<BundleSelection> {
  const chosen = [flags.all === true, (flags.module?.length ?? 0) > 0, gomods.length > 0].filter(
    Boolean,
  ).length;
  if (chosen !== 1) {
    throw new BadRequestError(
      "export: choose exactly one selection: --all, --module PATTERN, or go.mod files",
    );
  }
  if (flags.all) return { kind: "all" };
  if (flags.module !== undefined && flags.module.length > 0)
    return { kind: "modules", patterns: flags.module };
  const files = [];
  for (const name of gomods) {
    try {
      files.push({ name, data: await readFile(name) });
    } catch (err) {
      throw new NotFoundError(`export: cannot read ${name}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { kind: "gomod", files };
}

function formatOf(bundle: string, flag: string | undefined): (typeof FORMATS)[number] {
  if (flag !== undefined) {
    if (!(FORMATS as readonly string[]).includes(flag)) {
      throw new BadRequestError(`export: --format ${JSON.stringify(flag)}: want tar, tar.gz or dir`);
    }
    return flag as (typeof FORMATS)[number];
  }
  return /\.(tar\.gz|tgz)$/.test(bundle) ? "tar.gz" : "tar";
}
