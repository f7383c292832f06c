/**
 * The Staged implementation the local backends share: a temporary file the
 * store owns, written once (a stream, or write() for bytes in memory) and
 * hashed on the way, so a commit knows sha256/size without reading the file
 * again.
 */
import { createHash } from "node:crypto";
import { fdatasync, close as fsClose, open as fsOpen } from "node:fs";
import { rm } from "node:fs/promises";
import { Writable } from "node:stream";
import { crc32 } from "node:zlib";
import { StorageError } from "../errors.ts";
import type { Digest } from "./artefact-meta.ts";
import { type FileCalls, poolCalls } from "./file-calls.ts";
import type { Staged } from "./storage.ts";

/** Writes of one staged file that may be under way at once (they share the thread pool with everything else). */
const MAX_WRITES_IN_FLIGHT = 2;

export class StagedFile implements Staged {
  readonly path: string;
  /** The store that made this file; a store commits only its own staged files. */
  readonly owner: object;
  #streamed = false;
  #written: Digest | undefined;
  #synced = false;
  #settled = false;
  readonly #onSettle: (file: StagedFile) => void;

  /** A descriptor open for writing from the file's creation, for the write stream; closed when the file settles unused. */
  #fd: number | undefined;
  /** How the write stream writes and closes (the owning store's calls: blocking ones for small writes in a batch command). */
  readonly #calls: FileCalls;

  constructor(
    path: string,
    owner: object,
    onSettle: (file: StagedFile) => void,
    fd?: number,
    calls: FileCalls = poolCalls,
  ) {
    this.path = path;
    this.owner = owner;
    this.#onSettle = onSettle;
    this.#fd = fd;
    this.#calls = calls;
  }

  /** Committed or disposed: the file no longer belongs to this handle. */
  get settled(): boolean {
    return this.#settled;
  }

  /** sha256/size of what went through createWriteStream, once that stream finished cleanly. */
  get writtenDigest(): Digest | undefined {
    return this.#written;
  }

  /** The stream was asked to sync and finished cleanly: the bytes it wrote are on disk. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Claims the file's one write (stream or write()); throws when it was claimed or the file settled. */
  #claim(): void {
    if (this.#streamed) {
      throw new StorageError(`staged file ${this.path}: it may be written only once`);
    }
    if (this.#settled) throw new StorageError(`staged file ${this.path}: already committed or disposed`);
    this.#streamed = true;
  }

  /** The descriptor left open by the store at creation, or a new one. */
  async #openForWrite(): Promise<number> {
    const fd = this.#fd;
    if (fd !== undefined) {
      this.#fd = undefined;
      return fd;
    }
    return new Promise((resolve, reject) =>
      fsOpen(this.path, "w", (err, opened) => (err ? reject(err) : resolve(opened))),
    );
  }

  /**
   * Writes data as the file's whole content, hashed on the way, without a
   * stream's machinery (for bytes already in memory); with sync, also
   * fdatasync-ed. Instead of createWriteStream, once.
   */
  async write(data: Buffer, opts: { sync?: boolean } = {}): Promise<void> {
    this.#claim();
    const wrap = (err: unknown) =>
      new StorageError(`writing staged file ${this.path}: ${(err as Error).message}`, { cause: err });
    let fd: number;
    try {
      fd = await this.#openForWrite();
    } catch (err) {
      throw wrap(err);
    }
    const digest = {
      sha256: createHash("sha256").update(data).digest("hex"),
      size: data.length,
      crc32: crc32(data),
    };
    try {
      await this.#calls.writeAll(fd, [data], 0);
      if (opts.sync === true) {
        await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      }
    } catch (err) {
      await this.#calls.close(fd).catch(() => undefined);
      throw wrap(err);
    }
    try {
      await this.#calls.close(fd);
    } catch (err) {
      throw wrap(err);
    }
    this.#written = digest;
    this.#synced = opts.sync === true;
  }

  createWriteStream(opts: { sync?: boolean } = {}): Writable {
    this.#claim();
    const path = this.path;
    const hash = createHash("sha256");
    let crc = 0;
    let size = 0;
    let fd: number | undefined;
    let inFlight = 0;
    let failure: Error | undefined;
    // Who waits for in-flight writes to finish: a write over the limit, or final/destroy.
    let waiter: (() => void) | undefined;
    const wrap = (err: Error) =>
      new StorageError(`writing staged file ${path}: ${err.message}`, { cause: err });
    const settled = (err: Error | null) => {
      inFlight--;
      if (err !== null) failure ??= wrap(err);
      const w = waiter;
      waiter = undefined;
      w?.();
    };
    const drained = (cb: () => void) => {
      if (inFlight === 0) cb();
      else waiter = () => drained(cb);
    };
    const self = this;
    const calls = this.#calls;
    // Direct positional writes on one descriptor, hashed on the way; the next chunks are hashed
    // while earlier ones are still being written (the caller must not reuse a buffer it wrote).
    const push = (chunks: Buffer[], cb: (err?: Error | null) => void) => {
      if (failure !== undefined) return cb(failure);
      let len = 0;
      for (const c of chunks) {
        hash.update(c);
        crc = crc32(c, crc);
        len += c.length;
      }
      const at = size;
      size += len;
      inFlight++;
      calls.writeAll(fd!, chunks, at).then(() => settled(null), settled);
      if (inFlight < MAX_WRITES_IN_FLIGHT) cb();
      else waiter = () => cb(failure ?? null);
    };
    return new Writable({
      highWaterMark: 1 << 20,
      construct(cb) {
        // The file was created empty and left open by the store: written from there.
        self.#openForWrite().then(
          (opened) => {
            fd = opened;
            cb();
          },
          (err: Error) => cb(wrap(err)),
        );
      },
      write(chunk: Buffer, _enc, cb) {
        push([chunk], cb);
      },
      writev(chunks, cb) {
        push(
          chunks.map((c) => c.chunk as Buffer),
          cb,
        );
      },
      final(cb) {
        drained(() => {
          const closed = (syncErr: Error | null, err: Error | null) => {
            fd = undefined;
            if (failure !== undefined) return cb(failure);
            if (syncErr) return cb(wrap(syncErr));
            if (err) return cb(wrap(err));
            self.#written = { sha256: hash.digest("hex"), size, crc32: crc };
            self.#synced = opts.sync === true;
            cb();
          };
          const close = (syncErr: Error | null) =>
            calls.close(fd!).then(
              () => closed(syncErr, null),
              (err: Error) => closed(syncErr, err),
            );
          if (opts.sync === true && failure === undefined) fdatasync(fd!, close);
          else close(null);
        });
      },
      destroy(err, cb) {
        drained(() => {
          if (fd === undefined) return cb(err);
          fsClose(fd, () => cb(err));
          fd = undefined;
        });
      },
    });
  }

  /** Called by the owning store once it has taken the file (renamed or removed it). */
  markSettled(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#fd !== undefined) {
      // Never used by a write stream (written through the path, or not at all).
      fsClose(this.#fd, () => undefined);
      this.#fd = undefined;
    }
    this.#onSettle(this);
  }

  async dispose(): Promise<void> {
    if (this.#settled) return;
    this.markSettled();
    await rm(this.path, { force: true });
  }
}
