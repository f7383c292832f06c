/**
 * Zip verification on worker threads, so that checking the zips of a bundle
 * (inflating every entry, SHA-256 and CRC-32 of the content, the h1) runs on
 * other cores while the main thread goes on reading the bundle. The checks
 * are verifyZip's own (src/module/zip.ts), unchanged; only where they run
 * differs. A worker that cannot start or dies hands its jobs back to the
 * main thread, so a verification never fails for want of a thread.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type ErrorCode, GoarkError } from "../errors.ts";
import { verifyZip, type ZipBytes } from "../module/zip.ts";

/** A job as sent to a worker. */
export interface VerifyJob {
  id: number;
  module: string;
  version: string;
  /** The zip's file; with data, only its name in messages (and the fallback should the bytes be lost). */
  path: string;
  /** The buffer holding the zip's bytes (its first `size`), handed over (transferred) to the worker and back. */
  data?: ArrayBuffer;
  size?: number;
  maxSize: number | undefined;
}

/** The bytes of a job, while this thread still has them (a transferred buffer is detached: length 0). */
function jobBytes(job: VerifyJob): ZipBytes | undefined {
  if (job.data === undefined || job.data.byteLength === 0) return undefined;
  return { name: job.path, data: Buffer.from(job.data, 0, job.size ?? job.data.byteLength) };
}

/** The worker's side of a job: the zip from the bytes sent, else from its file. */
export function jobInput(job: VerifyJob): string | ZipBytes {
  return jobBytes(job) ?? job.path;
}

/** A worker's answer: the h1, or the error's code and message; and the job's buffer, handed back. */
export interface VerifyReply {
  id: number;
  ready?: boolean;
  h1?: string;
  error?: { code: ErrorCode; message: string; path?: string };
  data?: ArrayBuffer;
}

export interface ZipVerifier {
  /**
   * verifyZip's checks of a zip, a file or bytes; resolves with its h1,
   * rejects with verifyZip's error. Bytes are handed over: a worker takes
   * their whole ArrayBuffer without a copy (this thread's view is detached
   * meanwhile) and hands it back, through the pool's onReturn, before the
   * answer. Bytes given must also be in the file named (the fallback should a
   * worker die).
   */
  verify(module: string, version: string, zip: string | ZipBytes, maxSize?: number): Promise<{ h1: string }>;
}

interface Pending {
  job: VerifyJob;
  resolve: (r: { h1: string }) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
  dead: boolean;
}

/** Jobs given to one worker at once: one running, one waiting, so it never idles between them. */
const PER_WORKER = 2;

// A worker runs plain JavaScript (built) or, in a checkout run through tsx, the TypeScript source:
// then tsx is registered inside the worker first, as bin/goark.js does for the main thread.
const BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((err) => process.nextTick(() => { throw err; }));
`;

function workerEntry(): { entry: string; tsx: string | undefined } {
  const ts = import.meta.url.endsWith(".ts");
  const entry = new URL(ts ? "./zip-verify-worker.ts" : "./zip-verify-worker.js", import.meta.url).href;
  return { entry, tsx: ts ? import.meta.resolve("tsx/esm/api") : undefined };
}

/** An ArrayBuffer starting with data's bytes: data's own when data starts it, else a copy. */
function ownBuffer(data: Buffer): { buffer: ArrayBuffer; size: number } {
  const ab = data.buffer;
  if (ab instanceof ArrayBuffer && data.byteOffset === 0) return { buffer: ab, size: data.length };
  const copy = new ArrayBuffer(data.length);
  data.copy(new Uint8Array(copy));
  return { buffer: copy, size: data.length };
}

export interface ZipVerifyPoolOptions {
  /** Receives each buffer a worker hands back (for reuse). */
  onReturn?: (data: ArrayBuffer) => void;
}

export class ZipVerifyPool implements ZipVerifier {
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;
  #inWorkers = 0;
  #inline = 0;

  readonly #onReturn: ((data: ArrayBuffer) => void) | undefined;

  /** Starts `workers` threads (default: one per core but one, at least one, at most four). */
  constructor(
    workers = Math.max(1, Math.min(4, availableParallelism() - 1)),
    opts: ZipVerifyPoolOptions = {},
  ) {
    this.#onReturn = opts.onReturn;
    const data = workerEntry();
    for (let i = 0; i < workers; i++) {
      let worker: Worker;
      try {
        worker = new Worker(BOOTSTRAP, { eval: true, execArgv: [], workerData: data });
      } catch {
        continue;
      }
      const slot: Slot = { worker, inFlight: new Map(), dead: false };
      worker.unref();
      worker.on("message", (reply: VerifyReply) => this.#answer(slot, reply));
      worker.on("error", () => this.#lose(slot));
      worker.on("exit", () => this.#lose(slot));
      this.#slots.push(slot);
    }
  }

  /** How many jobs the workers answered and how many ran on this thread (a worker lost, or the pool closed). */
  get stats(): { workers: number; inWorkers: number; inline: number } {
    return {
      workers: this.#slots.filter((s) => !s.dead).length,
      inWorkers: this.#inWorkers,
      inline: this.#inline,
    };
  }

  verify(module: string, version: string, zip: string | ZipBytes, maxSize?: number): Promise<{ h1: string }> {
    const path = typeof zip === "string" ? zip : zip.name;
    const job: VerifyJob = { id: this.#nextId++, module, version, path, maxSize };
    if (typeof zip !== "string") {
      const own = ownBuffer(zip.data);
      job.data = own.buffer;
      job.size = own.size;
    }
    if (this.#closed) return this.#here(job);
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops the workers; jobs still queued or running are finished on this thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    for (const s of slots) s.dead = true;
    const orphans = [...this.#queue.splice(0), ...slots.flatMap((s) => [...s.inFlight.values()])];
    for (const s of slots) s.inFlight.clear();
    for (const p of orphans) this.#here(p.job).then(p.resolve, p.reject);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Runs a job on this thread. */
  async #here(job: VerifyJob): Promise<{ h1: string }> {
    this.#inline++;
    const { h1 } = await verifyZip(
      job.module,
      job.version,
      jobInput(job),
      job.maxSize === undefined ? {} : { maxSize: job.maxSize },
    );
    return { h1 };
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const live = this.#slots.filter((s) => !s.dead);
      if (live.length === 0) {
        // No thread left: verify here.
        for (const p of this.#queue.splice(0)) this.#here(p.job).then(p.resolve, p.reject);
        return;
      }
      const slot = live.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
      if (slot.inFlight.size >= PER_WORKER) return;
      const p = this.#queue.shift()!;
      slot.inFlight.set(p.job.id, p);
      // Referenced while it has work, so the process waits for the answer.
      slot.worker.ref();
      // Bytes move to the worker (no copy); should it die, the job is redone here from the file.
      slot.worker.postMessage(p.job, p.job.data === undefined ? [] : [p.job.data]);
    }
  }

  #answer(slot: Slot, reply: VerifyReply): void {
    if (reply.ready) return;
    const p = slot.inFlight.get(reply.id);
    if (p === undefined) return;
    slot.inFlight.delete(reply.id);
    this.#inWorkers++;
    if (reply.data !== undefined) this.#onReturn?.(reply.data);
    if (slot.inFlight.size === 0) slot.worker.unref();
    if (reply.h1 !== undefined) {
      p.resolve({ h1: reply.h1 });
    } else {
      const e = reply.error ?? {
        code: "INTERNAL" as const,
        message: "zip verification worker gave no answer",
      };
      const details: { module: string; version: string; path?: string } = {
        module: p.job.module,
        version: p.job.version,
      };
      if (e.path !== undefined) details.path = e.path;
      p.reject(new GoarkError(e.code, e.message, details));
    }
    this.#dispatch();
  }

  /** A worker failed to start or died: its jobs run here, the others go on. */
  #lose(slot: Slot): void {
    if (slot.dead) return;
    slot.dead = true;
    const orphans = [...slot.inFlight.values()];
    slot.inFlight.clear();
    for (const p of orphans) this.#here(p.job).then(p.resolve, p.reject);
    this.#dispatch();
  }
}
