/**
 * What the store commands (export, import, prune, verify, ls, stats) share:
 * the configuration flags of `serve` (so one goark.yaml drives them all),
 * opening the configured store (sweeping leftovers of crashed writers first),
 * and closing it however the command ends.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseDuration } from "../config/duration.ts";
import { BadRequestError, ConfigError, GoarkError } from "../errors.ts";
import { DiskStorage } from "../storage/disk.ts";
import type { Storage } from "../storage/storage.ts";
import { addConfigFlags, configFromCommand } from "./config-flags.ts";
import { EXIT_FAILURE, formatError } from "./exit-codes.ts";

export function addStoreFlags(cmd: Command): Command {
  return addConfigFlags(cmd);
}

/** Runs fn with the store the command's configuration names. */
export async function withStore<T>(cmd: Command, fn: (storage: Storage) => Promise<T>): Promise<T> {
  const { config } = configFromCommand(cmd);
  const loc = config.storage;
  if (loc.kind !== "disk")
    throw new ConfigError(`storage ${loc.kind}:// is not supported yet; use a directory`);
  // Batch commands: nothing else waits on the event loop, so the store's small file calls block (file-calls.ts).
  const storage = await DiskStorage.open({
    root: resolve(loc.path),
    memoryBytes: config.memoryCacheBytes,
    blockingCalls: true,
  });
  try {
    await storage.sweep();
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

/**
 * Runs fn, reporting a failure with exit code 1 even when its error is a
 * BAD_REQUEST: a broken bundle is bad input, but not a misuse of the command
 * (exit code 2 stays for wrong flags and configuration).
 */
export async function asOperational(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof GoarkError && err.code === "BAD_REQUEST") {
      process.stderr.write(`${formatError(err)}\n`);
      process.exitCode = EXIT_FAILURE;
      return;
    }
    throw err;
  }
}

/** A point in time: RFC 3339 / ISO 8601 text, or a duration meaning "that long ago" (30d, 12h). */
export function parseSince(text: string, flag: string, now = Date.now()): Date {
  const ago = parseDuration(text);
  if (ago !== undefined) return new Date(now - ago);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new BadRequestError(
    `${flag} ${JSON.stringify(text)}: want a time (2024-01-31 or 2024-01-31T12:00:00Z) or a duration ago (30d, 12h)`,
  );
}

export function parseDurationFlag(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new BadRequestError(`${flag} ${JSON.stringify(text)}: want a duration such as 90d, 12h or 30m`);
  return ms;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function formatTime(ms: number | undefined): string {
  if (ms === undefined || ms <= 0) return "-";
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Left-aligned columns separated by two spaces. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}
