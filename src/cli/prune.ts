/**
 * `goark prune`: drops whole module versions by last use, age or a size
 * budget (least recently used first), sparing pinned patterns and what the
 * given go.mod files require, and git mirrors (direct mode) unused for
 * --mirrors-unused-for (default: --unused-for). --dry-run only lists what
 * would go.
 */
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import { parseByteSize } from "../config/byte-size.ts";
import { BadRequestError, NotFoundError } from "../errors.ts";
import { mirrorsDir } from "../store-ops/mirrors.ts";
import { type PruneOptions, prune } from "../store-ops/prune.ts";
import { configFromCommand } from "./config-flags.ts";
import {
  addStoreFlags,
  collect,
  formatBytes,
  formatTime,
  parseDurationFlag,
  withStore,
} from "./store-command.ts";

interface PruneFlags {
  maxSize?: string;
  unusedFor?: string;
  olderThan?: string;
  mirrorsUnusedFor?: string;
  pin?: string[];
  keep?: string[];
  dryRun?: boolean;
  json?: boolean;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command("prune")
    .description("Remove module versions by last use, age or a size budget (least recently used first)")
    .option("--max-size <size>", "shrink the store to this size (e.g. 10GB, 500MiB)")
    .option("--unused-for <duration>", "remove versions not fetched or read for this long (e.g. 90d)")
    .option("--older-than <duration>", "remove versions fetched longer ago than this (e.g. 365d)")
    .option(
      "--mirrors-unused-for <duration>",
      "remove git mirrors (direct mode) not used for this long; default: the --unused-for value",
    )
    .option(
      "--pin <pattern>",
      "never remove modules matching this pattern (GOPRIVATE syntax); repeatable",
      collect,
    )
    .option("--keep <go.mod>", "never remove what this go.mod requires (transitively); repeatable", collect)
    .option("--dry-run", "list what would be removed, remove nothing")
    .option("--json", "print the report as JSON");
  addStoreFlags(cmd);
  cmd.action(async (flags: PruneFlags) => {
    const opts: PruneOptions = { dryRun: flags.dryRun === true };
    if (flags.maxSize !== undefined) {
      const n = parseByteSize(flags.maxSize);
      if (n === undefined)
        throw new BadRequestError(
          `--max-size ${JSON.stringify(flags.maxSize)}: want a size such as 10GB or 512MiB`,
        );
      opts.maxSizeBytes = n;
    }
    if (flags.unusedFor !== undefined) opts.unusedForMs = parseDurationFlag(flags.unusedFor, "--unused-for");
    if (flags.olderThan !== undefined) opts.olderThanMs = parseDurationFlag(flags.olderThan, "--older-than");
    const mirrorsUnusedFor =
      flags.mirrorsUnusedFor === undefined
        ? opts.unusedForMs
        : parseDurationFlag(flags.mirrorsUnusedFor, "--mirrors-unused-for");
    if (
      opts.maxSizeBytes === undefined &&
      opts.unusedForMs === undefined &&
      opts.olderThanMs === undefined &&
      mirrorsUnusedFor === undefined
    ) {
      throw new BadRequestError(
        "prune: say what to remove: --max-size, --unused-for, --older-than or --mirrors-unused-for",
      );
    }
    if (mirrorsUnusedFor !== undefined) {
      const { config } = configFromCommand(cmd);
      if (config.storage.kind === "disk") {
        // A mirror being fetched into is waited for as long as a git operation may take.
        opts.mirrors = {
          dir: mirrorsDir(resolve(config.storage.path)),
          unusedForMs: mirrorsUnusedFor,
          lockWaitMs: config.gitTimeout,
        };
      }
    }
    if (flags.pin !== undefined) opts.pin = flags.pin;
    if (flags.keep !== undefined) {
      opts.keep = [];
      for (const name of flags.keep) {
        try {
          opts.keep.push({ name, data: await readFile(name) });
        } catch (err) {
          throw new NotFoundError(`prune: cannot read --keep ${name}: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
    }
    await withStore(cmd, async (storage) => {
      const r = await prune(storage, opts);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const verb = r.dryRun ? "would remove" : "removed";
      for (const v of r.removed) {
        process.stdout.write(
          `${verb}: ${v.module}@${v.version} (${formatBytes(v.size)}, ${v.reason}, last used ${formatTime(v.lastUsed)})\n`,
        );
      }
      process.stdout.write(
        `${verb} ${r.removed.length} versions, ${formatBytes(r.bytesFreed)}; store ${formatBytes(r.totalBefore)} -> ${formatBytes(r.totalAfter)}; ${r.protectedCount} protected\n`,
      );
      for (const m of r.mirrors) {
        process.stdout.write(
          `${verb}: git mirror of ${m.remote ?? basename(m.dir)} (${formatBytes(m.size)}, last used ${formatTime(m.lastUsed)})\n`,
        );
      }
      if (r.mirrors.length > 0) {
        process.stdout.write(`${verb} ${r.mirrors.length} git mirrors, ${formatBytes(r.mirrorBytesFreed)}\n`);
      }
      if (r.budgetShortfall !== undefined) {
        process.stdout.write(
          `note: still ${formatBytes(r.budgetShortfall)} over --max-size; the rest is pinned or required\n`,
        );
      }
      for (const m of r.keepMissing)
        process.stdout.write(`note: ${m.module}@${m.version} (required by ${m.requiredBy}) is not stored\n`);
    });
  });
}
