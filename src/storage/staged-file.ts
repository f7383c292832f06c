/**
 * The Staged implementation the local backends share: a temporary file the
 * store owns, with a write stream that hashes what passes through it so a
 * commit knows sha256/size without reading the file again.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Writable } from "node:stream";
import { StorageError } from "../errors.ts";
import type { Digest } from "./artefact-meta.ts";
import type { Staged } from "./storage.ts";

export class StagedFile implements Staged {
  readonly path: string;
  /** The store that made this file; a store commits only its own staged files. */
  readonly owner: object;
  #streamed = false;
  #written: Digest | undefined;
  #settled = false;
  readonly #onSettle: (file: StagedFile) => void;

  constructor(path: string, owner: object, onSettle: (file: StagedFile) => void) {
    this.path = path;
    this.owner = owner;
    this.#onSettle = onSettle;
  }

  /** Committed or disposed: the file no longer belongs to this handle. */
  get settled(): boolean {
    return this.#settled;
  }

  /** sha256/size of what went through createWriteStream, once that stream finished cleanly. */
  get writtenDigest(): Digest | undefined {
    return this.#written;
  }

  createWriteStream(): Writable {
    if (this.#streamed) {
      throw new StorageError(`staged file ${this.path}: createWriteStream may be called only once`);
    }
    if (this.#settled) throw new StorageError(`staged file ${this.path}: already committed or disposed`);
    this.#streamed = true;
    const hash = createHash("sha256");
    let size = 0;
    const out = createWriteStream(this.path, { highWaterMark: 1 << 20 });
    let outError: Error | undefined;
    const self = this;
    const writer = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, cb) {
        if (outError !== undefined) return cb(outError);
        hash.update(chunk);
        size += chunk.length;
        if (out.write(chunk)) cb();
        else out.once("drain", () => cb(outError ?? null));
      },
      final(cb) {
        out.end();
        out.once("close", () => {
          if (outError !== undefined) return cb(outError);
          self.#written = { sha256: hash.digest("hex"), size };
          cb();
        });
      },
      destroy(err, cb) {
        if (!out.destroyed) out.destroy();
        cb(err);
      },
    });
    out.on("error", (err) => {
      outError = new StorageError(`writing staged file ${this.path}: ${err.message}`, { cause: err });
      writer.destroy(outError);
    });
    return writer;
  }

  /** Called by the owning store once it has taken the file (renamed or removed it). */
  markSettled(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#onSettle(this);
  }

  async dispose(): Promise<void> {
    if (this.#settled) return;
    this.markSettled();
    await rm(this.path, { force: true });
  }
}
