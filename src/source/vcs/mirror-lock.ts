/**
 * The lock that lets one process at a time write a git mirror which several
 * goark processes share (replicas on one volume, `goark serve` beside `goark
 * warm` or `goark prune`): a file `<mirror>.lock` created with O_EXCL that
 * says who holds it (pid, host, since when, and the git process working under
 * it). Readers do not take it.
 *
 * Waiting is bounded: past waitMs the waiter gets a one-line TimeoutError
 * naming the mirror and the holder. A lock is stale when its holder is dead
 * on this host, or when nobody has refreshed it (the holder touches it every
 * few seconds) for staleMs. Breaking one is serialised by a second O_EXCL file
 * (`<mirror>.lock.break`); under it the breaker reads the lock again and
 * moves it aside only if it is still the stale one it judged (same inode,
 * time and owner), so two breakers never both win and a fresh lock taken
 * meanwhile is never broken. The holder's git keeps running when goark is
 * killed with SIGKILL (git runs in its own process group); such an orphan,
 * still working in the mirror, is stopped before the lock is taken over.
 *
 * Hand-written rather than proper-lockfile: that library judges staleness by
 * mtime alone (no owner, so a dead holder on this host waits out the whole
 * threshold) and removes a stale lock with a plain rmdir, which lets a second
 * breaker remove the lock the first one has just taken.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, open, readlink, realpath, rename, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { TimeoutError, UpstreamError } from "../../errors.ts";
import { errCode, processAlive } from "../../sys-errors.ts";

/** What a lock file says. */
export interface LockOwner {
  pid: number;
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** Random: tells two locks of the same process apart. */
  token: string;
  /** The git process (its process group) working under the lock, if one runs. */
  git?: number;
}

export interface MirrorLockOptions {
  /** The longest wait for another holder, counted from since. */
  waitMs: number;
  /** When the caller began to wait (default: now), e.g. for its own process's turn first. */
  since?: number;
  /** A lock not refreshed for this long is stale (default waitMs + 60 s). */
  staleMs?: number;
  /** How often the holder refreshes its lock (default staleMs / 4, at most 15 s). */
  heartbeatMs?: number;
  /** The mirror the lock guards: an orphaned git working in it is stopped when its holder is dead. */
  mirrorDir?: string;
  /** Names the mirror in errors (e.g. the remote URL, credentials removed). */
  what: string;
  signal?: AbortSignal;
}

export interface MirrorLock {
  /** True when the lock was taken over from a dead or silent holder (git may have left lock files behind). */
  readonly tookOver: boolean;
  /** Records the git process now working under the lock (undefined: none). */
  setGit(pid: number | undefined): Promise<void>;
  release(): Promise<void>;
}

/** The lock's holder did not let go within the wait bound. */
export class MirrorBusyError extends TimeoutError {}

/** A held break lock older than this belongs to a breaker that died (breaking takes milliseconds). */
const BREAK_STALE_MS = 30_000;
const MARGIN_MS = 60_000;

/** The lock file of the mirror at dir (beside it, so removing the mirror leaves the lock in place). */
export function mirrorLockPath(dir: string): string {
  return `${dir}.lock`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", done);
      clearTimeout(t);
      if (signal?.aborted) reject(new UpstreamError("cancelled while waiting for a git mirror lock"));
      else resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

interface Seen {
  owner: LockOwner | undefined;
  ino: number;
  mtimeMs: number;
  text: string;
}

/** The lock file as it is now; undefined when there is none. */
async function inspect(path: string): Promise<Seen | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (errCode(err) === "ENOENT") return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    const text = await fh.readFile("utf8");
    let owner: LockOwner | undefined;
    try {
      const o = JSON.parse(text) as LockOwner;
      if (Number.isSafeInteger(o.pid) && typeof o.host === "string") owner = o;
    } catch {
      owner = undefined; // being written, or cut short by a crash: judged by age alone
    }
    return { owner, ino: st.ino, mtimeMs: st.mtimeMs, text };
  } finally {
    await fh.close();
  }
}

function same(a: Seen, b: Seen): boolean {
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.text === b.text;
}

/** Creates path with O_EXCL holding text; false if it exists. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(path, "wx", 0o644);
  } catch (err) {
    if (errCode(err) === "EEXIST") return false;
    throw err;
  }
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
  return true;
}

/** Moves path aside and deletes it: the name is free at once, whatever happens to the delete. */
async function removeAside(path: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (errCode(err) === "ENOENT") return;
    throw err;
  }
  await unlink(aside).catch(() => undefined);
}

/**
 * Whether a git process of a dead holder is still working in mirrorDir:
 * "yes" (its working directory is the mirror), "no", or "unknown" (no /proc
 * to tell, so it is left alone and the lock judged by age).
 */
async function orphanAt(pid: number, mirrorDir: string | undefined): Promise<"yes" | "no" | "unknown"> {
  if (!processAlive(pid)) return "no";
  if (mirrorDir === undefined) return "unknown";
  let cwd: string;
  try {
    cwd = await readlink(`/proc/${pid}/cwd`);
  } catch {
    return process.platform === "linux" ? "no" : "unknown";
  }
  const want = await realpath(mirrorDir).catch(() => mirrorDir);
  // A mirror removed meanwhile shows as "<path> (deleted)".
  return cwd === want || cwd.startsWith(`${want} `) ? "yes" : "no";
}

/** Stops an orphaned git (its whole process group) and waits up to 5 s for it to go. */
async function stopOrphan(pid: number): Promise<void> {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      return;
    }
  }
  for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50, undefined);
}

/** Whether seen is a lock nobody holds any more (stopping an orphaned git of its dead holder first). */
async function isStale(seen: Seen, staleMs: number, mirrorDir: string | undefined): Promise<boolean> {
  const o = seen.owner;
  if (o !== undefined && o.host === hostname() && !processAlive(o.pid)) {
    if (o.git === undefined) return true;
    const orphan = await orphanAt(o.git, mirrorDir);
    if (orphan === "no") return true;
    if (orphan === "yes") {
      await stopOrphan(o.git);
      return !processAlive(o.git);
    }
  }
  return Date.now() - seen.mtimeMs > staleMs;
}

/**
 * Breaks the stale lock seen, unless someone else is breaking it or it has
 * changed since: "removed" (it was, by us), "retry" (try to take the lock at
 * once) or "busy" (another breaker is at work: wait).
 */
async function breakStale(path: string, seen: Seen): Promise<"removed" | "retry" | "busy"> {
  const breakPath = `${path}.break`;
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  if (!(await createExclusive(breakPath, JSON.stringify(me)))) {
    const other = await inspect(breakPath);
    if (other === undefined) return "retry";
    const dead = other.owner?.host === hostname() && !processAlive(other.owner.pid);
    if (dead || Date.now() - other.mtimeMs > BREAK_STALE_MS) {
      const again = await inspect(breakPath);
      if (again !== undefined && same(again, other)) await removeAside(breakPath);
      return "retry";
    }
    return "busy";
  }
  try {
    const now = await inspect(path);
    if (now === undefined || !same(now, seen)) return "retry";
    await removeAside(path);
    return "removed";
  } finally {
    await unlink(breakPath).catch(() => undefined);
  }
}

function describeOwner(seen: Seen | undefined): string {
  const o = seen?.owner;
  if (o === undefined) return "another process";
  return `process ${o.pid} on ${o.host} (since ${o.since})`;
}

/** Takes the lock at path, waiting (bounded) for another holder; see the file comment. */
export async function acquireMirrorLock(path: string, opts: MirrorLockOptions): Promise<MirrorLock> {
  const staleMs = opts.staleMs ?? opts.waitMs + MARGIN_MS;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(50, Math.min(15_000, Math.floor(staleMs / 4)));
  const deadline = (opts.since ?? Date.now()) + opts.waitMs;
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  let tookOver = false;
  let delay = 10;
  let last: Seen | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new UpstreamError(`cancelled while waiting for the lock of ${opts.what}`);
    owner.since = new Date().toISOString();
    if (await createExclusive(path, `${JSON.stringify(owner)}\n`)) break;
    last = await inspect(path);
    if (last === undefined) continue;
    if (await isStale(last, staleMs, opts.mirrorDir)) {
      const broke = await breakStale(path, last);
      if (broke === "removed") tookOver = true;
      if (broke !== "busy") continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new MirrorBusyError(
        `git mirror of ${opts.what} is busy: ${describeOwner(last)} holds ${path}; gave up after ${Math.round(opts.waitMs / 1000)}s`,
      );
    }
    // Backoff with jitter, so waiters on one lock do not poll in step.
    await sleep(Math.min(left, delay * (0.5 + Math.random())), opts.signal);
    delay = Math.min(500, delay * 1.5);
  }

  let released = false;
  let writing: Promise<void> = Promise.resolve();
  const heartbeat = setInterval(() => {
    const now = new Date();
    writing = writing.then(() => utimes(path, now, now).catch(() => undefined));
  }, heartbeatMs);
  heartbeat.unref();
  return {
    tookOver,
    setGit(pid: number | undefined): Promise<void> {
      if (released) return Promise.resolve();
      const next: LockOwner = { ...owner };
      if (pid === undefined) delete next.git;
      else next.git = pid;
      // Rewritten in place: a reader that catches it half-written judges it by age, never as dead.
      writing = writing.then(async () => {
        const fh = await open(path, "r+").catch(() => undefined);
        if (fh === undefined) return;
        try {
          const text = `${JSON.stringify(next)}\n`;
          await fh.truncate(0);
          await fh.write(text, 0);
        } finally {
          await fh.close();
        }
      });
      return writing.catch(() => undefined);
    },
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      await writing.catch(() => undefined);
      // Only our own lock goes (one broken as stale and taken by another stays).
      const now = await inspect(path).catch(() => undefined);
      if (now?.owner?.token === owner.token) await removeAside(path);
    },
  };
}

/** Runs fn holding the lock at path. */
export async function withMirrorLock<T>(
  path: string,
  opts: MirrorLockOptions,
  fn: (lock: MirrorLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireMirrorLock(path, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
