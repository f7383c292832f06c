/**
 * Blobs of a mirror read through one `git cat-file --batch` process, so the
 * files of a module zip cost one spawn in all instead of an archive to write
 * and read back. Requests are answered in the order they were made; whole
 * blobs come back as buffers, large ones as streams with backpressure. The
 * process runs in its own group under a deadline and an AbortSignal, like
 * every other git run (git-command.ts).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { Readable } from "node:stream";
import { GoarkError, TimeoutError, UpstreamError } from "../../errors.ts";

export interface BlobReaderOptions {
  /** The mirror (a bare repository). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Kill the process after this long (the whole zip must be read by then). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** For error messages (never includes secrets). */
  what: string;
}

/** Blobs by object id, read in request order. */
export interface BlobSource {
  /** The whole blob. */
  read(oid: string): Promise<Buffer>;
  /** The blob as a stream (for files too large to hold). */
  stream(oid: string): Readable;
  /** Ends the process; requests still waiting fail. */
  close(): void;
}

const OID_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
/** A header line is "<oid> <type> <size>" or "<oid> missing": short. */
const MAX_HEADER = 256;

interface Pending {
  oid: string;
  /** Set for read(): the parts collected so far. */
  parts?: Buffer[];
  resolve?: (b: Buffer) => void;
  reject: (err: Error) => void;
  /** Set for stream(). */
  out?: Readable;
}

export class GitBlobReader implements BlobSource {
  readonly #opts: BlobReaderOptions;
  #child: ChildProcessWithoutNullStreams | undefined;
  readonly #queue: Pending[] = [];
  #failure: Error | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  // Parser state: the header being read, or the bytes of the current blob still to come (+1 for its LF).
  #header: Buffer = Buffer.alloc(0);
  #remaining = -1;
  /** The current stream's consumer stopped reading; stdout is paused until it asks again. */
  #paused = false;
  /** Request lines not written yet. */
  #outgoing: string[] = [];
  /** Bytes read past the point where the consumer asked to wait. */
  #held: Buffer | undefined;

  /** Starts the process at once, so it is ready by the time the first blob is wanted. */
  constructor(opts: BlobReaderOptions) {
    this.#opts = opts;
    this.#start();
  }

  read(oid: string): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.#request({ oid, parts: [], resolve, reject });
    });
  }

  stream(oid: string): Readable {
    const out = new Readable({
      read: () => {
        if (this.#queue[0]?.out === out) this.#resume();
      },
      destroy: (err, cb) => {
        // A consumer that stops early: the rest of the blob is skipped, not left in the pipe.
        cb(err);
        if (this.#queue[0]?.out === out) queueMicrotask(() => this.#resume());
      },
    });
    this.#request({ oid, out, reject: (err) => out.destroy(err) });
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new UpstreamError(`${this.#opts.what}: reader closed`), false);
    this.#child?.stdin.end();
  }

  #request(p: Pending): void {
    if (!OID_RE.test(p.oid)) {
      p.reject(new UpstreamError(`${this.#opts.what}: ${JSON.stringify(p.oid)} is not an object id`));
      return;
    }
    if (this.#failure || this.#closed) {
      p.reject(this.#failure ?? new UpstreamError(`${this.#opts.what}: reader closed`));
      return;
    }
    const child = this.#child ?? this.#start();
    this.#queue.push(p);
    // Requests made together go out in one write.
    if (this.#outgoing.length === 0) {
      process.nextTick(() => {
        const lines = this.#outgoing.join("");
        this.#outgoing = [];
        if (child.stdin.writable) child.stdin.write(lines);
      });
    }
    this.#outgoing.push(`${p.oid}\n`);
  }

  #start(): ChildProcessWithoutNullStreams {
    const child = spawn("git", ["cat-file", "--batch"], {
      cwd: this.#opts.cwd,
      env: this.#opts.env,
      stdio: ["pipe", "pipe", "pipe"],
      // Own process group, so a timeout kills anything git started too.
      detached: true,
    });
    this.#child = child;
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString("utf8");
    });
    child.stdout.on("data", (chunk: Buffer) => this.#onData(chunk));
    child.stdin.on("error", () => {}); // reported through "close"
    child.once("error", (err) => {
      this.#fail(new UpstreamError(`${this.#opts.what}: cannot run git: ${err.message}`, { cause: err }));
    });
    child.once("close", (code) => {
      this.#clearGuards();
      const why = stderr.trim().split("\n")[0] ?? "";
      // Nothing more can be answered, whether or not anyone is waiting now.
      this.#fail(
        new UpstreamError(`${this.#opts.what}: git cat-file exited (${code})${why ? `: ${why}` : ""}`),
        false,
      );
    });
    this.#timer = setTimeout(
      () =>
        this.#fail(
          new TimeoutError(
            `${this.#opts.what} did not finish within ${Math.round(this.#opts.timeoutMs / 1000)}s; stopped`,
          ),
        ),
      this.#opts.timeoutMs,
    );
    const signal = this.#opts.signal;
    if (signal) {
      this.#onAbort = () => this.#fail(abortReason(signal, this.#opts.what));
      if (signal.aborted) queueMicrotask(this.#onAbort);
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    return child;
  }

  #clearGuards(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort) this.#opts.signal?.removeEventListener("abort", this.#onAbort);
    this.#onAbort = undefined;
  }

  /** Fails every waiting request; kills the process unless it is being closed normally. */
  #fail(err: Error, kill = true): void {
    this.#failure ??= err;
    for (const p of this.#queue.splice(0)) p.reject(err);
    if (kill && this.#child && this.#child.exitCode === null && this.#child.signalCode === null) {
      try {
        if (this.#child.pid !== undefined) process.kill(-this.#child.pid, "SIGKILL");
      } catch {
        this.#child.kill("SIGKILL");
      }
    }
    if (kill) this.#clearGuards();
  }

  /** The consumer of the current stream wants more: go on with what was held back, then the pipe. */
  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) this.#onData(held);
    if (!this.#paused) this.#child?.stdout.resume();
  }

  #onData(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const head = this.#queue[0];
      if (head === undefined) {
        this.#fail(new UpstreamError(`${this.#opts.what}: git cat-file sent output nobody asked for`));
        return;
      }
      if (this.#remaining < 0) {
        // A header line: "<oid> blob <size>" or "<oid> missing".
        const nl = chunk.indexOf(10, at);
        const piece = chunk.subarray(at, nl < 0 ? chunk.length : nl);
        this.#header = this.#header.length === 0 ? Buffer.from(piece) : Buffer.concat([this.#header, piece]);
        if (this.#header.length > MAX_HEADER) {
          this.#fail(new UpstreamError(`${this.#opts.what}: malformed git cat-file output`));
          return;
        }
        if (nl < 0) return;
        at = nl + 1;
        const f = this.#header.toString("latin1").split(" ");
        this.#header = Buffer.alloc(0);
        if (f.length === 2 && f[0] === head.oid && f[1] === "missing") {
          this.#queue.shift();
          head.reject(new UpstreamError(`${this.#opts.what}: object ${head.oid} is missing`));
          continue;
        }
        if (f.length !== 3 || f[0] !== head.oid || f[1] !== "blob" || !/^\d+$/.test(f[2] ?? "")) {
          this.#fail(new UpstreamError(`${this.#opts.what}: object ${head.oid} is not a blob`));
          return;
        }
        this.#remaining = Number(f[2]) + 1;
        continue;
      }
      // The body, then its LF.
      const take = Math.min(this.#remaining, chunk.length - at);
      const bodyBytes = Math.min(take, this.#remaining - 1);
      let full = false;
      if (bodyBytes > 0) {
        const part = chunk.subarray(at, at + bodyBytes);
        if (head.parts) head.parts.push(part);
        else if (head.out && !head.out.destroyed) full = !head.out.push(part);
      }
      at += take;
      this.#remaining -= take;
      if (this.#remaining === 0) {
        this.#remaining = -1;
        this.#queue.shift();
        if (head.parts) head.resolve?.(Buffer.concat(head.parts));
        else if (head.out && !head.out.destroyed) head.out.push(null);
      } else if (full && at < chunk.length) {
        // Unreachable in practice (a full stream ends the chunk only when the blob goes on), kept for safety.
        this.#hold(chunk.subarray(at));
        return;
      } else if (full) {
        this.#hold(undefined);
        return;
      }
    }
  }

  /** Stops reading until the current stream's consumer reads again. */
  #hold(rest: Buffer | undefined): void {
    this.#paused = true;
    this.#held = rest;
    this.#child?.stdout.pause();
  }
}

function abortReason(signal: AbortSignal, what: string): GoarkError {
  const reason: unknown = signal.reason;
  if (reason instanceof GoarkError) return reason;
  return new UpstreamError(`${what}: cancelled`, { cause: reason });
}

/** Blobs up to this size are read ahead whole (the zip writer reads them whole too). */
const PREFETCH_ITEM_MAX = 1 << 20;

/**
 * Reads the small blobs of a known sequence ahead of their use, so the
 * cat-file pipe stays busy instead of answering one short request at a time
 * (each answer would otherwise cost a round trip through the scheduler). At
 * most maxBytes and maxFiles are held ahead; large blobs are never requested
 * ahead (a stream nobody reads would block the pipe), nor anything out of order.
 */
export class BlobPrefetch {
  readonly #blobs: BlobSource;
  readonly #plan: { oid: string; size: number }[];
  readonly #ahead: (Promise<Buffer> | undefined)[];
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  #next = 0;
  #bytes = 0;
  #files = 0;

  constructor(
    blobs: BlobSource,
    plan: { oid: string; size: number }[],
    maxBytes = 16 << 20,
    maxFiles = 1024,
  ) {
    this.#blobs = blobs;
    this.#plan = plan;
    this.#ahead = new Array(plan.length);
    this.#maxBytes = maxBytes;
    this.#maxFiles = maxFiles;
  }

  /** Blob i of the plan, whole. */
  read(i: number): Promise<Buffer> {
    const entry = this.#plan[i];
    if (entry === undefined) return Promise.reject(new UpstreamError(`blob ${i} is not in the plan`));
    // Everything before i is requested first, so the pipe answers in plan order.
    while (this.#next <= i) this.#request(this.#next++, true);
    const p = this.#ahead[i];
    this.#ahead[i] = undefined;
    if (p !== undefined && entry.size <= PREFETCH_ITEM_MAX) {
      this.#bytes -= entry.size;
      this.#files--;
    }
    this.#topUp();
    return p ?? this.#blobs.read(entry.oid);
  }

  #request(i: number, force: boolean): boolean {
    const e = this.#plan[i] as { oid: string; size: number };
    // Large blobs are streamed when their turn comes; the ones after them may still be read ahead.
    if (e.size > PREFETCH_ITEM_MAX) return true;
    if (!force && (this.#bytes + e.size > this.#maxBytes || this.#files >= this.#maxFiles)) return false;
    const p = this.#blobs.read(e.oid);
    p.catch(() => {}); // reported to whoever takes it
    this.#ahead[i] = p;
    this.#bytes += e.size;
    this.#files++;
    return true;
  }

  #topUp(): void {
    while (this.#next < this.#plan.length && this.#request(this.#next, false)) this.#next++;
  }
}
