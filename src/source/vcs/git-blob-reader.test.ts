/** GitBlobReader and BlobPrefetch against a real repository: contents, order, streams, failures. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { BlobPrefetch, GitBlobReader } from "./git-blob-reader.ts";

const execFileP = promisify(execFile);

describe("GitBlobReader", () => {
  let dir: string;
  const oids = new Map<string, string>();
  const bodies = new Map<string, Buffer>();
  const env = { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };

  const reader = (extra: { signal?: AbortSignal; timeoutMs?: number } = {}) =>
    new GitBlobReader({
      cwd: dir,
      env,
      timeoutMs: extra.timeoutMs ?? 30_000,
      signal: extra.signal,
      what: "test",
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-blob-reader-"));
    await execFileP("git", ["init", "-q", "--bare", dir], { env });
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
    const files: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      small: Buffer.from("hello\n"),
      nl: Buffer.from("\n\n\n"),
      binary: Buffer.from([0, 10, 13, 255, 10, 0]),
      big,
    };
    for (const [name, data] of Object.entries(files)) {
      const f = join(dir, `${name}.in`);
      await writeFile(f, data);
      const { stdout } = await execFileP("git", ["hash-object", "-w", "--", f], { cwd: dir, env });
      oids.set(name, stdout.trim());
      bodies.set(name, data);
    }
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const oid = (name: string) => oids.get(name) as string;
  const body = (name: string) => bodies.get(name) as Buffer;

  test("whole blobs come back in request order, exactly", async () => {
    const r = reader();
    const names = ["small", "empty", "binary", "small", "nl", "big", "empty"];
    const got = await Promise.all(names.map((n) => r.read(oid(n))));
    r.close();
    for (const [i, n] of names.entries()) assert.deepEqual(got[i], body(n), n);
  });

  test("a missing object fails its own request only", async () => {
    const r = reader();
    const missing = "0123456789abcdef0123456789abcdef01234567";
    const a = r.read(oid("small"));
    const b = r.read(missing);
    const c = r.read(oid("nl"));
    assert.deepEqual(await a, body("small"));
    await assert.rejects(b, /object 0123456789abcdef0123456789abcdef01234567 is missing/);
    assert.deepEqual(await c, body("nl"));
    r.close();
  });

  test("names that are not object ids are refused before reaching git", async () => {
    const r = reader();
    await assert.rejects(r.read("HEAD"), /is not an object id/);
    await assert.rejects(r.read(`${oid("small")}\n${oid("nl")}`), /is not an object id/);
    assert.deepEqual(await r.read(oid("small")), body("small"));
    r.close();
  });

  test("a large blob streams with backpressure; requests behind it still get their bytes", async () => {
    const r = reader();
    const before = r.read(oid("small"));
    const stream = r.stream(oid("big"));
    const behind = r.read(oid("binary"));
    assert.deepEqual(await before, body("small"));
    const parts: Buffer[] = [];
    // A slow consumer: the pipe must pause, not lose or reorder bytes.
    await pipeline(
      stream,
      new Writable({
        highWaterMark: 1024,
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          setImmediate(cb);
        },
      }),
    );
    assert.ok(Buffer.concat(parts).equals(body("big")));
    assert.deepEqual(await behind, body("binary"));
    r.close();
  });

  test("a stream its consumer abandons is skipped, and reading goes on", async () => {
    const r = reader();
    const stream = r.stream(oid("big"));
    const behind = r.read(oid("nl"));
    await new Promise<void>((resolve) => {
      stream.once("data", () => {
        stream.destroy();
        resolve();
      });
    });
    assert.deepEqual(await behind, body("nl"));
    assert.deepEqual(await r.read(oid("small")), body("small"));
    r.close();
  });

  test("close fails what is still waiting and everything after", async () => {
    const r = reader();
    const waiting = r.read(oid("big"));
    r.close();
    await assert.rejects(waiting, /reader closed/);
    await assert.rejects(r.read(oid("small")), /reader closed/);
  });

  test("an abort stops the process and fails the requests", async () => {
    const ac = new AbortController();
    const r = reader({ signal: ac.signal });
    const stream = r.stream(oid("big"));
    stream.on("error", () => {});
    stream.pause(); // nobody reads: git blocks on a full pipe
    const behind = r.read(oid("small"));
    ac.abort();
    await assert.rejects(behind, /cancelled/);
    r.close();
  });

  test("a deadline stops a reader nobody drains", async () => {
    const r = reader({ timeoutMs: 300 });
    const stream = r.stream(oid("big"));
    stream.on("error", () => {});
    stream.pause();
    const behind = r.read(oid("small"));
    await assert.rejects(behind, /did not finish within/);
    r.close();
  });

  test("BlobPrefetch reads a plan ahead, large blobs left to streams, repeats by position", async () => {
    const r = reader();
    const names = ["small", "empty", "big", "nl", "small", "binary"];
    const pf = new BlobPrefetch(
      r,
      names.map((n) => ({ oid: oid(n), size: body(n).length })),
      64,
      2,
    );
    const got: Buffer[] = [];
    for (let i = 0; i < names.length; i++) {
      if (names[i] === "big") {
        const parts: Buffer[] = [];
        for await (const c of r.stream(oid("big"))) parts.push(c as Buffer);
        got.push(Buffer.concat(parts));
      } else {
        got.push(await pf.read(i));
      }
    }
    r.close();
    for (const [i, n] of names.entries()) assert.ok(got[i]?.equals(body(n)), n);
  });
});
