/**
 * The git mirrors direct mode keeps beside a disk store (`<store>/.vcs`, one
 * bare repository per remote, src/source/direct.ts): which of them `goark
 * prune` would remove (unused for longer than a limit), what each one holds,
 * and their removal.
 */
import type { Dirent } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { mirrorLastUsed, removeMirror, unusedMirrors } from "../source/direct.ts";
import { REMOTE_FILE } from "../source/vcs/git-repo.ts";

/** Where a disk store at root keeps its git mirrors (a dot-directory, so the store's walks skip it). */
export function mirrorsDir(storeRoot: string): string {
  return join(storeRoot, ".vcs");
}

export interface PrunedMirror {
  /** The remote the mirror copies, credentials redacted; undefined when the mirror does not say. */
  remote?: string;
  dir: string;
  /** Bytes on disk (file sizes). */
  size: number;
  lastUsed: number;
}

export interface MirrorPruneOptions {
  unusedForMs: number;
  dryRun?: boolean;
  now?: number;
  /** The longest wait for a process fetching into a mirror (its lock; gitTimeout). */
  lockWaitMs?: number;
}

/**
 * Removes (or with dryRun only lists) the mirrors under vcsDir unused for
 * longer than unusedForMs. Each is removed holding its lock, after a fetch in
 * flight (another process's) has finished, and only if it is still unused then.
 */
export async function pruneMirrorDir(vcsDir: string, opts: MirrorPruneOptions): Promise<PrunedMirror[]> {
  const out: PrunedMirror[] = [];
  for (const m of await unusedMirrors(vcsDir, opts.unusedForMs, opts.now ?? Date.now())) {
    const remote = await readFile(join(m.dir, REMOTE_FILE), "utf8").then(
      (t) => t.trim() || undefined,
      () => undefined,
    );
    const size = await treeSize(m.dir);
    if (opts.dryRun !== true) {
      const now = opts.now ?? Date.now();
      const stillUnused = async () => {
        const last = await mirrorLastUsed(m.dir);
        return last !== undefined && now - last > opts.unusedForMs;
      };
      const removed = await removeMirror(m.dir, {
        stillUnused,
        ...(opts.lockWaitMs === undefined ? {} : { waitMs: opts.lockWaitMs }),
      });
      if (!removed) continue;
    }
    out.push({ ...(remote === undefined ? {} : { remote }), dir: m.dir, size, lastUsed: m.lastUsed });
  }
  return out;
}

async function treeSize(dir: string): Promise<number> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeSize(p);
    else
      total += await lstat(p).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}
