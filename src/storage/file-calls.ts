/**
 * The small file-system calls a local store makes by the thousand in a batch
 * (create, small writes, close, stat, link, rename, unlink, mkdir, small
 * reads), in two forms:
 * - poolCalls: through libuv's thread pool, so a slow disk never stalls the
 *   event loop. For a server.
 * - blockingCalls: made on the calling thread. For batch commands (import,
 *   export, prune, warm on a local store), where nothing else waits on the
 *   event loop: a thread-pool round trip wakes another thread, and on a
 *   virtual machine that wake-up costs more CPU than the call itself
 *   (open+write+close+rename of 3,000 small files: about 100 ms blocking,
 *   against 200-280 ms and 3x the CPU through the pool, on this project's
 *   2-core CI machine).
 * Waits on the device (fsync) and large writes go to the pool in both forms:
 * they take long enough for the thread to do other work meanwhile.
 */
import {
  close,
  closeSync,
  fstat,
  fstatSync,
  fsync,
  link,
  linkSync,
  mkdir,
  mkdirSync,
  open,
  openSync,
  readSync,
  rename,
  renameSync,
  stat,
  statSync,
  unlink,
  unlinkSync,
  write,
  writeSync,
  writev,
  writevSync,
} from "node:fs";
import { readAt } from "../read-at.ts";
import { errCode } from "../sys-errors.ts";

/** An artefact's size and mtime, and its bytes when small enough to have been read. */
export interface ArtefactRead {
  size: number;
  mtimeMs: number;
  data?: Buffer;
}

export interface FileCalls {
  /** True when the calls block the calling thread. */
  readonly blocking: boolean;
  /** Creates path, which must not exist, and returns it open for writing. */
  createNew(path: string): Promise<number>;
  /** Writes all of chunks at position (going on after short writes). */
  writeAll(fd: number, chunks: Buffer[], position: number): Promise<void>;
  close(fd: number): Promise<void>;
  /** Creates path (it must not exist) holding data; not synced. */
  writeNew(path: string, data: Buffer): Promise<void>;
  /** The size of the file at path. */
  size(path: string): Promise<number>;
  link(existing: string, path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; false when it was not there. */
  unlinkIfThere(path: string): Promise<boolean>;
  /** mkdir -p; the first directory it created, if any. */
  mkdirs(dir: string): Promise<string | undefined>;
  /**
   * An artefact's size and mtime, and its bytes when it is at most smallMax
   * (one open, fstat, read and close); undefined when absent or not a
   * regular file.
   */
  readArtefact(path: string, smallMax: number): Promise<ArtefactRead | undefined>;
  /** A small file's bytes (at most max; more gives an empty buffer: not what was looked for), undefined when absent. */
  readWhole(path: string, max: number): Promise<Buffer | undefined>;
}

/** Writes larger than this go to the thread pool even from blockingCalls (the copy overlaps the caller's work). */
export const BLOCKING_WRITE_MAX = 64 << 10;

export function isMissing(err: unknown): boolean {
  const code = errCode(err);
  return code === "ENOENT" || code === "ENOTDIR";
}

function shortWriteRest(chunks: Buffer[], written: number): Buffer[] | undefined {
  let left = written;
  let i = 0;
  while (i < chunks.length && left >= chunks[i]!.length) left -= chunks[i++]!.length;
  if (i === chunks.length) return undefined;
  if (written === 0) throw new Error("the file system accepted no bytes");
  return [chunks[i]!.subarray(left), ...chunks.slice(i + 1)];
}

function poolWriteAll(fd: number, chunks: Buffer[], position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (parts: Buffer[], at: number): void => {
      writev(fd, parts, at, (err, written) => {
        if (err) return reject(err);
        let rest: Buffer[] | undefined;
        try {
          rest = shortWriteRest(parts, written);
        } catch (e) {
          return reject(e);
        }
        if (rest === undefined) resolve();
        else step(rest, at + written);
      });
    };
    step(chunks, position);
  });
}

function blockingWriteAll(fd: number, chunks: Buffer[], position: number): void {
  let parts: Buffer[] | undefined = chunks;
  let at = position;
  while (parts !== undefined) {
    const written =
      parts.length === 1 ? writeSync(fd, parts[0]!, 0, parts[0]!.length, at) : writevSync(fd, parts, at);
    parts = shortWriteRest(parts, written);
    at += written;
  }
}

/** Creates path (it must not exist) holding data, fsync-ed when durable; through the thread pool. */
export function writeNewFile(path: string, data: Buffer, durable: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, "wx", (err, fd) => {
      if (err) return reject(err);
      const done = (failure: Error | null) =>
        close(fd, (ce) => {
          const e = failure ?? ce;
          if (e) reject(e);
          else resolve();
        });
      write(fd, data, 0, data.length, 0, (we, n) => {
        if (we) return done(we);
        if (n !== data.length) return done(new Error(`short write (${n} of ${data.length} bytes)`));
        if (durable) fsync(fd, done);
        else done(null);
      });
    });
  });
}

function chunksSize(chunks: Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** Up to length bytes from position 0 of fd (fewer where the file ends). */
async function readFully(fd: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  return buf.subarray(0, await readAt(fd, buf, 0));
}

/** readFully with blocking calls. */
function readFullySync(fd: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let at = 0;
  while (at < length) {
    const n = readSync(fd, buf, at, length - at, at);
    if (n === 0) return buf.subarray(0, at);
    at += n;
  }
  return buf;
}

/**
 * Opens path for reading (blocking), runs fn on it and closes it; undefined if
 * path is missing. With probe, a stat asks first: where absence is the
 * common answer (is this key stored yet?), a stat that returns undefined
 * costs far less than the exception a failed open throws.
 */
function withFdSync<T>(path: string, probe: boolean, fn: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    if (probe && statSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    fd = openSync(path, "r");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

export const poolCalls: FileCalls = {
  blocking: false,
  createNew: (path) =>
    new Promise((resolve, reject) => open(path, "wx", (err, fd) => (err ? reject(err) : resolve(fd)))),
  writeAll: poolWriteAll,
  close: (fd) => new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve()))),
  writeNew: (path, data) => writeNewFile(path, data, false),
  size: (path) =>
    new Promise((resolve, reject) => stat(path, (err, st) => (err ? reject(err) : resolve(st.size)))),
  link: (existing, path) =>
    new Promise((resolve, reject) => link(existing, path, (err) => (err ? reject(err) : resolve()))),
  rename: (from, to) =>
    new Promise((resolve, reject) => rename(from, to, (err) => (err ? reject(err) : resolve()))),
  unlinkIfThere: (path) =>
    new Promise((resolve, reject) =>
      unlink(path, (err) => {
        if (err === null) resolve(true);
        else if (isMissing(err)) resolve(false);
        else reject(err);
      }),
    ),
  mkdirs: (dir) =>
    new Promise((resolve, reject) =>
      mkdir(dir, { recursive: true }, (err, first) => (err ? reject(err) : resolve(first))),
    ),
  readArtefact: (path, smallMax) =>
    new Promise((resolve, reject) => {
      open(path, "r", (err, fd) => {
        if (err !== null) return isMissing(err) ? resolve(undefined) : reject(err);
        const done = (e: unknown, v?: ArtefactRead) =>
          close(fd, (ce) => (e !== undefined ? reject(e) : ce ? reject(ce) : resolve(v)));
        fstat(fd, (se, st) => {
          if (se !== null) return done(se);
          if (!st.isFile()) return done(undefined, undefined);
          const out = { size: st.size, mtimeMs: st.mtimeMs };
          if (st.size > smallMax) return done(undefined, out);
          readFully(fd, st.size).then(
            (data) => done(undefined, { ...out, data }),
            (e: unknown) => done(e),
          );
        });
      });
    }),
  readWhole: (path, max) =>
    new Promise((resolve, reject) => {
      open(path, "r", (err, fd) => {
        if (err !== null) return isMissing(err) ? resolve(undefined) : reject(err);
        readFully(fd, max + 1).then(
          (data) =>
            close(fd, (ce) => (ce ? reject(ce) : resolve(data.length > max ? Buffer.alloc(0) : data))),
          (e: unknown) => close(fd, () => reject(e)),
        );
      });
    }),
};

/** Runs fn now; its result or its error as a settled promise (callers await either form alike). */
function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

export const blockingCalls: FileCalls = {
  blocking: true,
  createNew: (path) => now(() => openSync(path, "wx")),
  writeAll: (fd, chunks, position) =>
    chunksSize(chunks) > BLOCKING_WRITE_MAX
      ? poolWriteAll(fd, chunks, position)
      : now(() => blockingWriteAll(fd, chunks, position)),
  close: (fd) => now(() => closeSync(fd)),
  writeNew: (path, data) =>
    data.length > BLOCKING_WRITE_MAX
      ? poolCalls.writeNew(path, data)
      : now(() => {
          const fd = openSync(path, "wx");
          try {
            blockingWriteAll(fd, [data], 0);
          } finally {
            closeSync(fd);
          }
        }),
  size: (path) => now(() => statSync(path).size),
  link: (existing, path) => now(() => linkSync(existing, path)),
  rename: (from, to) => now(() => renameSync(from, to)),
  unlinkIfThere: (path) =>
    now(() => {
      try {
        unlinkSync(path);
        return true;
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
    }),
  mkdirs: (dir) => now(() => mkdirSync(dir, { recursive: true })),
  readArtefact: (path, smallMax) =>
    now(() =>
      withFdSync(path, true, (fd) => {
        const st = fstatSync(fd);
        if (!st.isFile()) return undefined;
        const out = { size: st.size, mtimeMs: st.mtimeMs };
        return st.size > smallMax ? out : { ...out, data: readFullySync(fd, st.size) };
      }),
    ),
  readWhole: (path, max) =>
    now(() =>
      // Records are read when their artefact is there: present as a rule.
      withFdSync(path, false, (fd) => {
        const data = readFullySync(fd, max + 1);
        return data.length > max ? Buffer.alloc(0) : data;
      }),
    ),
};
