/**
 * `goark verify`: re-reads everything in the store. Every artefact's bytes
 * are hashed and compared with its record (sha256, size); zips pass the
 * untrusted-zip check again and must hash to the recorded h1; go.mod files
 * must declare their module and hash to their h1; `.info`, `@latest` and
 * `list` must be well formed. Corrupt artefacts are moved aside under
 * `<root>/.quarantine/<run>/` (with a note saying why) and removed from the
 * store, so a connected goark fetches them again; stores without local files
 * just delete them. The checksum-database log is checked by a hook the
 * sumdb code adds (VerifyHook).
 *
 * The disk store itself drops an artefact whose record it finds
 * contradicted when it first loads it; to keep such bytes for inspection,
 * each file is hard-linked into the quarantine's holding area before the
 * store looks at it, and the link is removed again when all is well.
 */
import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { verifyInfo, verifyMod } from "../cache/verify.ts";
import { asGoarkError } from "../errors.ts";
import { isValid } from "../module/semver.ts";
import { verifyZip } from "../module/zip.ts";
import type { Info } from "../source/source.ts";
import { parseKey } from "../storage/keys.ts";
import type { ArtefactMeta, Storage } from "../storage/storage.ts";
import { versionId } from "./inventory.ts";
import { withLocalFile } from "./local-file.ts";

export const QUARANTINE_DIR = ".quarantine";

export interface VerifyProblem {
  key: string;
  module?: string;
  version?: string;
  problem: string;
  /** What verify did about it. */
  action: "quarantined" | "deleted" | "reported";
  /** Where the bytes were moved. */
  quarantinedAt?: string;
}

export interface VerifyHookContext {
  storage: Storage;
  /** Records a problem (counts towards the exit code). */
  problem(p: VerifyProblem): void;
  warning(p: VerifyProblem): void;
  /** Only report, change nothing. */
  dryRun: boolean;
}

/** A further check run after the artefacts (the checksum-database log's consistency, say). */
export interface VerifyHook {
  readonly name: string;
  verify(ctx: VerifyHookContext): Promise<void>;
}

export interface VerifyOptions {
  /** Report only: quarantine and delete nothing. */
  dryRun?: boolean;
  hooks?: readonly VerifyHook[];
  /** Only keys under this prefix. */
  prefix?: string;
  /** Called after each artefact (progress display). */
  onFile?: (key: string, done: number) => void;
  /** The run's name under .quarantine (a timestamp by default). */
  runName?: string;
}

export interface VerifyReport {
  scanned: number;
  bytes: number;
  /** Corrupt or invalid artefacts: a non-empty list means failure. */
  problems: VerifyProblem[];
  /** Odd but harmless: keys outside the layout, versions without a .mod. */
  warnings: VerifyProblem[];
  /** The run's quarantine directory, when something was quarantined. */
  quarantineDir?: string;
}

/** The store's root directory, when it keeps local files. */
function localRoot(storage: Storage, key: string): string | undefined {
  const p = storage.localPath?.(key);
  if (p === undefined || !p.endsWith(key)) return undefined;
  return p.slice(0, p.length - key.length - 1);
}

async function hashStored(
  storage: Storage,
  key: string,
): Promise<{ sha256: string; size: number } | undefined> {
  const body = await storage.openRead(key);
  if (body === undefined) return undefined;
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), size };
}

/** What is wrong with one artefact's content, or undefined. */
async function checkContent(storage: Storage, key: string, meta: ArtefactMeta): Promise<string | undefined> {
  const p = parseKey(key);
  if (p === undefined) return undefined;
  try {
    if (p.kind === "zip") {
      const { h1 } = await withLocalFile(storage, key, (path) => verifyZip(p.module, p.version!, path));
      if (meta.h1 !== undefined && meta.h1 !== h1) return `zip hashes to ${h1}, its record says ${meta.h1}`;
    } else if (p.kind === "mod") {
      const data = await storage.getBytes(key);
      if (data !== undefined) verifyMod(p.module, p.version!, data, "the store", meta.h1);
    } else if (p.kind === "info" || p.kind === "latest") {
      const data = await storage.getBytes(key);
      if (data !== undefined) {
        let info: unknown;
        try {
          info = JSON.parse(data.toString("utf8"));
        } catch {
          return "not valid JSON";
        }
        verifyInfo(p.module, p.version, info as Info, "the store");
      }
    } else if (p.kind === "list") {
      const data = await storage.getBytes(key);
      const bad = (data?.toString("utf8") ?? "")
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[0] ?? "")
        .find((v) => v !== "" && !isValid(v));
      if (bad !== undefined) return `list line ${JSON.stringify(bad)} is not a semantic version`;
    }
  } catch (err) {
    return asGoarkError(err).message;
  }
  return undefined;
}

export async function verifyStore(storage: Storage, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const dryRun = opts.dryRun === true;
  const report: VerifyReport = { scanned: 0, bytes: 0, problems: [], warnings: [] };
  const keys: string[] = [];
  for await (const key of storage.list(opts.prefix ?? "")) keys.push(key);
  keys.sort();
  const root = keys.length > 0 ? localRoot(storage, keys[0]!) : undefined;
  const runDir =
    root === undefined
      ? undefined
      : join(root, QUARANTINE_DIR, opts.runName ?? new Date().toISOString().replace(/[:.]/g, "-"));
  const holdDir = root === undefined ? undefined : join(root, QUARANTINE_DIR, ".hold");
  if (holdDir !== undefined && !dryRun) {
    await rm(holdDir, { recursive: true, force: true });
    await mkdir(holdDir, { recursive: true });
  }

  const withMods = new Set<string>();
  const versionsSeen = new Map<string, string>();
  for (const key of keys) {
    const p = parseKey(key);
    if (p === undefined) {
      report.warnings.push({
        key,
        problem: "not a key of the module layout (left alone)",
        action: "reported",
      });
      continue;
    }
    // Keep the bytes reachable before the store looks at them (see the header).
    let hold: string | undefined;
    const local = storage.localPath?.(key);
    if (holdDir !== undefined && local !== undefined && !dryRun) {
      const h = join(holdDir, randomBytes(8).toString("hex"));
      hold = await link(local, h).then(
        () => h,
        () => undefined,
      );
    }
    let problem: string | undefined;
    const st = await storage.stat(key);
    if (st === undefined) {
      if (hold === undefined) continue; // gone meanwhile (pruned by another process)
      problem = "its bytes contradicted its metadata record (the store dropped it)";
    } else {
      report.scanned++;
      report.bytes += st.size;
      const d = await hashStored(storage, key);
      if (d === undefined) problem = "vanished while being read";
      else if (d.size !== st.meta.size) problem = `${d.size} bytes, its record says ${st.meta.size}`;
      else if (d.sha256 !== st.meta.sha256) problem = `sha256 ${d.sha256}, its record says ${st.meta.sha256}`;
      else problem = await checkContent(storage, key, st.meta);
    }
    const details: VerifyProblem = { key, problem: problem ?? "", action: "reported", module: p.module };
    if (p.version !== undefined) details.version = p.version;
    if (problem === undefined) {
      if (hold !== undefined) await rm(hold, { force: true });
      if (p.version !== undefined) {
        const id = versionId(p.module, p.version);
        if (p.kind === "mod") withMods.add(id);
        else versionsSeen.set(id, key);
      }
    } else {
      if (!dryRun) {
        if (hold !== undefined && runDir !== undefined) {
          const dest = join(runDir, key);
          await mkdir(dirname(dest), { recursive: true });
          await rename(hold, dest);
          const note = `${JSON.stringify({ key, problem, record: st?.meta ?? null })}\n`;
          await writeFile(`${dest}.problem.json`, note);
          details.action = "quarantined";
          details.quarantinedAt = dest;
          report.quarantineDir = runDir;
        } else {
          details.action = "deleted";
        }
        await storage.delete(key);
      }
      report.problems.push(details);
    }
    opts.onFile?.(key, report.scanned);
  }
  for (const [id, key] of versionsSeen) {
    if (!withMods.has(id)) {
      report.warnings.push({
        key,
        problem: `${id} has no .mod beside it (an interrupted write?)`,
        action: "reported",
      });
    }
  }
  if (holdDir !== undefined && !dryRun) await rm(holdDir, { recursive: true, force: true });
  for (const hook of opts.hooks ?? []) {
    await hook.verify({
      storage,
      dryRun,
      problem: (p) => report.problems.push(p),
      warning: (p) => report.warnings.push(p),
    });
  }
  return report;
}
