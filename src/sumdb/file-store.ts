/**
 * Checksum-database files kept beside the store, under `<store>/.sumdb/`: a
 * directory the artefact store ignores (so bundles, prune and ls never see
 * the log, the caches or the signing key). Writes are atomic (temp file,
 * fsync, rename, directory fsync) and nothing is cached in memory, so a
 * second process reading the same files always sees what is on disk.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { InvalidPathError, StorageError } from "../errors.ts";
import type { CommitResult, PutMeta } from "../storage/storage.ts";
import { syncFileSystem } from "../storage/syncfs.ts";
import { errCode } from "../sys-errors.ts";

/** From this many files to make durable at once, one syncfs instead of an fsync each (src/storage/syncfs.ts). */
const SYNCFS_MIN = 32;

// Escaped module paths, versions, tile paths and database names use only these.
const ELEMENT = /^[A-Za-z0-9_~!+@-][A-Za-z0-9._~!+@-]*$/;

/** Throws InvalidPathError unless key is a relative path of safe elements (no dot-names, no ..). */
export function checkSumdbKey(key: string): void {
  const elems = key.split("/");
  if (key === "" || key.length > 4096 || elems.some((e) => !ELEMENT.test(e) || e.length > 240)) {
    throw new InvalidPathError(
      `invalid checksum-database file name ${JSON.stringify(key.slice(0, 300))}: want slash-separated elements of letters, digits and -._~!+@, none starting with a dot`,
      { path: key },
    );
  }
}

/** A directory of small files with atomic replace; the LogStorage of goark's own log. */
export class SumdbFiles {
  readonly root: string;
  /**
   * A key whose write is a commit point (a log's signed head): writes to other
   * keys are atomic but not fsync-ed one by one; they are all made durable,
   * in parallel, just before the commit key is written, so a durable commit
   * never refers to files a crash could lose.
   */
  readonly #commitKey: string | undefined;
  readonly #unsynced = new Set<string>();

  constructor(root: string, opts: { commitKey?: string } = {}) {
    this.root = root;
    this.#commitKey = opts.commitKey;
  }

  path(key: string): string {
    checkSumdbKey(key);
    return join(this.root, key);
  }

  /** A sub-directory as its own SumdbFiles. */
  sub(prefix: string): SumdbFiles {
    return new SumdbFiles(this.path(prefix));
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    const file = this.path(key);
    try {
      return await readFile(file);
    } catch (err) {
      if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return undefined;
      throw new StorageError(`reading ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Modification time (ms since the epoch), or undefined when absent. */
  async mtime(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(key))).mtimeMs;
    } catch (err) {
      if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return undefined;
      throw new StorageError(`reading ${this.path(key)}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Replaces key's bytes atomically and durably. `meta` is accepted for LogStorage and ignored. */
  async putBytes(key: string, data: Uint8Array, meta?: PutMeta): Promise<CommitResult> {
    if (this.#commitKey === undefined) return this.write(key, data, true, meta);
    if (key !== this.#commitKey) {
      const out = await this.write(key, data, false, meta);
      this.#unsynced.add(this.path(key));
      return out;
    }
    await this.#syncPending();
    return this.write(key, data, true, meta);
  }

  /** Makes the files written since the last commit, and their directories, durable. */
  async #syncPending(): Promise<void> {
    const files = [...this.#unsynced];
    this.#unsynced.clear();
    // Many files (an import records a version's hashes, lookups and tiles): one syncfs for them all.
    if (files.length >= SYNCFS_MIN && (await syncFileSystem(this.root))) return;
    try {
      await Promise.all(
        files.map(async (f) => {
          const fh = await open(f, "r");
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
        }),
      );
      await Promise.all([...new Set(files.map((f) => dirname(f)))].map((d) => syncDir(d)));
    } catch (err) {
      for (const f of files) this.#unsynced.add(f);
      throw new StorageError(`making ${this.root} durable: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Replaces key's bytes atomically; `durable` also fsyncs the file and its
   * directory (a cache that can be fetched again skips that).
   */
  async write(key: string, data: Uint8Array, durable: boolean, meta?: PutMeta): Promise<CommitResult> {
    const file = this.path(key);
    const dir = dirname(file);
    // A dot-name in the same directory: never mistaken for a key, same file system for rename.
    const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(dir, { recursive: true });
      const fh = await open(tmp, "wx", 0o644);
      try {
        await fh.writeFile(data);
        if (durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      if (durable) await syncDir(dir);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new StorageError(`writing ${file}: ${(err as Error).message}`, { cause: err });
    }
    const now = Date.now();
    return {
      created: true,
      meta: { sha256: "", size: data.length, origin: meta?.origin ?? "sumdb", fetchedAt: now },
    };
  }
}

/** Makes a rename in dir durable (best effort where directories cannot be opened). */
export async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await fh?.close();
  }
}
