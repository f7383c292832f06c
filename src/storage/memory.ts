/**
 * A Map-backed Storage for tests and throwaway runs. Same contract as the
 * disk store (it runs the same compliance suite); staged files live in a
 * private temporary directory because callers stream downloads into a path.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { asGoarkError, StorageError } from "../errors.ts";
import {
  buildMeta,
  copyMeta,
  type Digest,
  digestOf,
  immutableConflict,
  sameDigest,
} from "./artefact-meta.ts";
import { checkKey, checkKeyPrefix, isImmutableKey } from "./keys.ts";
import { StagedFile } from "./staged-file.ts";
import type {
  ArtefactMeta,
  CommitItem,
  CommitManyOptions,
  CommitOutcome,
  CommitResult,
  PutMeta,
  ReadRange,
  Staged,
  StatResult,
  Storage,
  StoreUsage,
  SweepReport,
} from "./storage.ts";

interface MemoryEntry {
  data: Buffer;
  meta: ArtefactMeta;
}

export interface MemoryStorageOptions {
  /** Chunk size of openRead streams. */
  readChunk?: number;
}

export class MemoryStorage implements Storage {
  readonly name = "memory";
  #entries = new Map<string, MemoryEntry>();
  #stageDir: string | undefined;
  #live = new Set<StagedFile>();
  readonly #readChunk: number;

  constructor(opts: MemoryStorageOptions = {}) {
    this.#readChunk = opts.readChunk ?? 1 << 20;
  }

  async stat(key: string): Promise<StatResult | undefined> {
    checkKey(key);
    const e = this.#entries.get(key);
    return e === undefined ? undefined : { size: e.data.length, meta: copyMeta(e.meta) };
  }

  /** The stored buffer itself: treat it as read-only. */
  async getBytes(key: string): Promise<Buffer | undefined> {
    checkKey(key);
    return this.#entries.get(key)?.data;
  }

  async openRead(key: string, range: ReadRange = {}): Promise<Readable | undefined> {
    checkKey(key);
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    const start = range.start ?? 0;
    const end = Math.min(range.end ?? e.data.length - 1, e.data.length - 1);
    const data = e.data;
    const chunk = this.#readChunk;
    function* chunks(): Generator<Buffer> {
      for (let at = start; at <= end; at += chunk) yield data.subarray(at, Math.min(at + chunk, end + 1));
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async putBytes(key: string, data: Uint8Array, put: PutMeta): Promise<CommitResult> {
    checkKey(key);
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // Copy: the caller may reuse its buffer.
    return this.#commit(key, Buffer.from(buf), digestOf(buf), put);
  }

  async stage(): Promise<Staged> {
    if (this.#stageDir === undefined) this.#stageDir = await mkdtemp(join(tmpdir(), "goark-memstore-"));
    const path = join(this.#stageDir, `${process.pid}-${randomBytes(8).toString("hex")}.stage`);
    await writeFile(path, "", { flag: "wx" });
    const file = new StagedFile(path, this, (f) => this.#live.delete(f));
    this.#live.add(file);
    return file;
  }

  async commitStaged(key: string, staged: Staged, put: PutMeta): Promise<CommitResult> {
    checkKey(key);
    if (!(staged instanceof StagedFile) || staged.owner !== this || staged.settled) {
      throw new StorageError(
        `commit of ${key}: the staged file was not made by this store or was already used`,
        {
          path: key,
        },
      );
    }
    // Taken now, so a second commit of the same staged file fails instead of racing.
    staged.markSettled();
    try {
      const data = await readFile(staged.path);
      const digest = digestOf(data);
      const written = staged.writtenDigest;
      if (written !== undefined && !sameDigest(written, digest)) {
        throw new StorageError(`commit of ${key}: staged file changed after its write stream finished`, {
          path: key,
        });
      }
      return await this.#commit(key, data, digest, put);
    } finally {
      await rm(staged.path, { force: true });
    }
  }

  /** One at a time: nothing here needs making durable. */
  async commitStagedMany(
    items: readonly CommitItem[],
    opts: CommitManyOptions = {},
  ): Promise<CommitOutcome[]> {
    const out: CommitOutcome[] = [];
    for (const [i, item] of items.entries()) {
      try {
        out.push({ ok: true, result: await this.commitStaged(item.key, item.staged, item.meta) });
      } catch (err) {
        await item.staged.dispose();
        out.push({ ok: false, error: asGoarkError(err) });
        continue;
      }
      await opts.onPublished?.(i);
    }
    return out;
  }

  async #commit(key: string, data: Buffer, digest: Digest, put: PutMeta): Promise<CommitResult> {
    const meta = buildMeta(key, digest, put);
    const old = this.#entries.get(key);
    if (old !== undefined && isImmutableKey(key)) {
      if (!sameDigest(old.meta, digest)) throw immutableConflict(key, old.meta, digest);
      return { created: false, meta: copyMeta(old.meta) };
    }
    this.#entries.set(key, { data, meta });
    return { created: true, meta: copyMeta(meta) };
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.#entries.delete(key);
  }

  async *list(prefix: string): AsyncIterable<string> {
    checkKeyPrefix(prefix);
    const keys = [...this.#entries.keys()].filter((k) => k.startsWith(prefix));
    for (const k of keys) {
      // Skip keys deleted while the caller was iterating.
      if (this.#entries.has(k)) yield k;
    }
  }

  touch(key: string): void {
    const e = this.#entries.get(key);
    if (e !== undefined) e.meta.lastAccess = Date.now();
  }

  async sweep(): Promise<SweepReport> {
    const report: SweepReport = {
      tempRemoved: 0,
      scanned: 0,
      removed: [],
      metaRebuilt: 0,
      orphanMetaRemoved: 0,
    };
    if (this.#stageDir === undefined) return report;
    const live = new Set([...this.#live].map((f) => f.path));
    for (const name of await readdir(this.#stageDir)) {
      const path = join(this.#stageDir, name);
      if (live.has(path)) continue;
      await rm(path, { force: true });
      report.tempRemoved++;
    }
    return report;
  }

  async totalSize(): Promise<number> {
    return (await this.usage()).bytes;
  }

  async usage(): Promise<StoreUsage> {
    let bytes = 0;
    for (const e of this.#entries.values()) bytes += e.data.length;
    return { bytes, objects: this.#entries.size };
  }

  async close(): Promise<void> {
    if (this.#stageDir !== undefined) {
      await rm(this.#stageDir, { recursive: true, force: true });
      this.#stageDir = undefined;
    }
  }
}
