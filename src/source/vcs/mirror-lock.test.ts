/**
 * The mirror lock file: bounded waits with a one-line error, stale locks
 * (dead holder on this host, silent holder anywhere, half-written file)
 * broken once and only once, a live holder's heartbeat keeping it, an
 * orphaned git of a dead holder stopped, and mutual exclusion between real
 * processes.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { TimeoutError } from "../../errors.ts";
import { acquireMirrorLock, type LockOwner, mirrorLockPath, withMirrorLock } from "./mirror-lock.ts";

const SELF = fileURLToPath(new URL("./mirror-lock.ts", import.meta.url));

/** A pid that was just in use and is not any more. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => p.once("exit", r));
  return p.pid as number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const owner = (o: Partial<LockOwner>): string =>
  `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), token: "t", ...o })}\n`;

describe("mirror lock", () => {
  let work: string;
  let n = 0;
  /** A fresh mirror path (the lock is beside it). */
  const mirror = () => join(work, `m${n++}`);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "goark-mirror-lock-"));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test("taken, released, taken again; the file names its holder", async () => {
    const path = mirrorLockPath(mirror());
    const lock = await acquireMirrorLock(path, { waitMs: 1000, what: "r" });
    const o = JSON.parse(await readFile(path, "utf8")) as LockOwner;
    assert.equal(o.pid, process.pid);
    assert.equal(o.host, hostname());
    assert.ok(!Number.isNaN(Date.parse(o.since)));
    assert.equal(lock.tookOver, false);
    await lock.setGit(12345);
    assert.equal((JSON.parse(await readFile(path, "utf8")) as LockOwner).git, 12345);
    await lock.release();
    assert.ok(!existsSync(path));
    await withMirrorLock(path, { waitMs: 1000, what: "r" }, async () => assert.ok(existsSync(path)));
    assert.ok(!existsSync(path));
  });

  test("a waiter gets the lock when the holder lets go", async () => {
    const path = mirrorLockPath(mirror());
    const first = await acquireMirrorLock(path, { waitMs: 1000, what: "r" });
    let released = 0;
    setTimeout(() => {
      released = Date.now();
      void first.release();
    }, 200);
    const second = await acquireMirrorLock(path, { waitMs: 5000, what: "r" });
    assert.ok(released > 0 && Date.now() >= released);
    assert.equal(second.tookOver, false);
    await second.release();
  });

  test("past the bound: one line naming the repository and the holder", async () => {
    const path = mirrorLockPath(mirror());
    const holder = await acquireMirrorLock(path, { waitMs: 1000, what: "https://example.com/r.git" });
    const started = Date.now();
    await assert.rejects(
      acquireMirrorLock(path, { waitMs: 300, what: "https://example.com/r.git" }),
      (err) => {
        assert.ok(err instanceof TimeoutError);
        assert.ok(!err.message.includes("\n"));
        assert.match(err.message, /^git mirror of https:\/\/example\.com\/r\.git is busy: /);
        assert.ok(err.message.includes(`process ${process.pid} on ${hostname()}`), err.message);
        assert.ok(err.message.includes(path), err.message);
        return true;
      },
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 300 && waited < 2000, `waited ${waited} ms`);
    await holder.release();
  });

  test("an aborted wait stops at once", async () => {
    const path = mirrorLockPath(mirror());
    const holder = await acquireMirrorLock(path, { waitMs: 1000, what: "r" });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    await assert.rejects(
      acquireMirrorLock(path, { waitMs: 10_000, what: "r", signal: ac.signal }),
      /cancelled/,
    );
    assert.ok(Date.now() - started < 2000);
    await holder.release();
  });

  test("a dead holder on this host: broken at once, nothing left aside", async () => {
    const dir = mirror();
    const path = mirrorLockPath(dir);
    await writeFile(path, owner({ pid: await deadPid() }));
    const started = Date.now();
    const lock = await acquireMirrorLock(path, { waitMs: 60_000, what: "r" });
    assert.ok(Date.now() - started < 1000);
    assert.equal(lock.tookOver, true);
    await lock.release();
    assert.deepEqual(
      await readdir(work).then((ns) => ns.filter((x) => x.startsWith(`${dir.split("/").pop()}.`))),
      [],
    );
  });

  test("another host's holder: kept while it refreshes the lock, broken once silent for staleMs", async () => {
    const path = mirrorLockPath(mirror());
    await writeFile(path, owner({ pid: 1, host: "elsewhere.example" }));
    await assert.rejects(acquireMirrorLock(path, { waitMs: 200, staleMs: 5000, what: "r" }), TimeoutError);
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    const lock = await acquireMirrorLock(path, { waitMs: 200, staleMs: 5000, what: "r" });
    assert.equal(lock.tookOver, true);
    await lock.release();
  });

  test("a half-written lock is judged by its age only", async () => {
    const path = mirrorLockPath(mirror());
    await writeFile(path, "");
    await assert.rejects(acquireMirrorLock(path, { waitMs: 200, staleMs: 5000, what: "r" }), TimeoutError);
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    const lock = await acquireMirrorLock(path, { waitMs: 200, staleMs: 5000, what: "r" });
    await lock.release();
  });

  test("a live holder's heartbeat keeps its lock past staleMs", async () => {
    const path = mirrorLockPath(mirror());
    const holder = await acquireMirrorLock(path, { waitMs: 1000, staleMs: 300, heartbeatMs: 50, what: "r" });
    let released = 0;
    setTimeout(() => {
      released = Date.now();
      void holder.release();
    }, 1200);
    const waiter = await acquireMirrorLock(path, { waitMs: 5000, staleMs: 300, what: "r" });
    assert.ok(released > 0, "taken only after the holder let go");
    assert.equal(waiter.tookOver, false);
    await waiter.release();
  });

  test("many waiters on one stale lock: it is broken once, and they hold it one at a time", async () => {
    const path = mirrorLockPath(mirror());
    await writeFile(path, owner({ pid: await deadPid() }));
    let inside = 0;
    let most = 0;
    let tookOver = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withMirrorLock(path, { waitMs: 20_000, what: "r" }, async (lock) => {
          if (lock.tookOver) tookOver++;
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 10));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
    assert.equal(tookOver, 1);
  });

  test("a dead holder's git still working in the mirror is stopped; a reused pid elsewhere is not", async () => {
    const dir = mirror();
    await mkdir(dir);
    const path = mirrorLockPath(dir);
    const orphan = spawn("sleep", ["30"], { cwd: dir, detached: true, stdio: "ignore" });
    const bystander = spawn("sleep", ["30"], { cwd: work, detached: true, stdio: "ignore" });
    const exited = (p: ChildProcess) =>
      p.exitCode !== null || p.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => p.once("exit", r));
    try {
      await writeFile(path, owner({ pid: await deadPid(), git: orphan.pid as number }));
      const lock = await acquireMirrorLock(path, { waitMs: 10_000, mirrorDir: dir, what: "r" });
      assert.equal(lock.tookOver, true);
      await exited(orphan);
      assert.equal(orphan.signalCode, "SIGKILL");
      await lock.release();

      await writeFile(path, owner({ pid: await deadPid(), git: bystander.pid as number }));
      const again = await acquireMirrorLock(path, { waitMs: 10_000, mirrorDir: dir, what: "r" });
      assert.equal(again.tookOver, true);
      assert.ok(alive(bystander.pid as number), "a process working elsewhere is left alone");
      await again.release();
    } finally {
      orphan.kill("SIGKILL");
      bystander.kill("SIGKILL");
    }
  });

  test("processes: a read-modify-write under the lock loses no update", { timeout: 60_000 }, async () => {
    const path = mirrorLockPath(mirror());
    const counter = join(work, "counter");
    await writeFile(counter, "0");
    const rounds = 15;
    const script = `
      import { withMirrorLock } from ${JSON.stringify(SELF)};
      import { readFile, writeFile } from "node:fs/promises";
      for (let i = 0; i < ${rounds}; i++) {
        await withMirrorLock(${JSON.stringify(path)}, { waitMs: 30000, what: "r" }, async () => {
          const v = Number(await readFile(${JSON.stringify(counter)}, "utf8"));
          await new Promise((r) => setTimeout(r, 2));
          await writeFile(${JSON.stringify(counter)}, String(v + 1));
        });
      }`;
    const run = () =>
      new Promise<void>((resolve, reject) =>
        execFile(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", script],
          { timeout: 50_000 },
          (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
        ),
      );
    await Promise.all([run(), run(), run()]);
    assert.equal(await readFile(counter, "utf8"), String(3 * rounds));
    assert.ok(!existsSync(path));
  });
});
