/**
 * ZipVerifyPool: the checks run on worker threads and answer as verifyZip
 * on this thread does (the h1, or the same error code and message); jobs
 * still go through when the pool is closed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { GoarkError } from "../errors.ts";
import { create, verifyZip, type ZipSourceFile } from "../module/zip.ts";
import { ZipVerifyPool } from "./zip-verify-pool.ts";

const M = "example.com/pool";

function file(path: string, data: Buffer): ZipSourceFile {
  return {
    path,
    lstat: async () => ({ isFile: true, isSymlink: false, size: data.length }),
    open: () => Readable.from([data]),
  };
}

describe("zip verification pool", () => {
  let dir: string;
  const zips: { version: string; path: string; h1: string }[] = [];
  let bad: string;
  let traversal: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-pool-"));
    for (let i = 0; i < 6; i++) {
      const version = `v1.${i}.0`;
      const path = join(dir, `${i}.zip`);
      const made = await create(path, M, version, [
        file("go.mod", Buffer.from(`module ${M}\n`)),
        file("p.go", Buffer.from("package pool\n")),
        file("data.bin", randomBytes(200_000 + i)),
      ]);
      zips.push({ version, path, h1: made.h1 });
    }
    bad = join(dir, "bad.zip");
    await writeFile(bad, randomBytes(5000));
    // A zip whose file lies outside the module's prefix: structurally readable, refused by the rules.
    traversal = join(dir, "other.zip");
    await create(traversal, "example.com/other", "v1.0.0", [
      file("go.mod", Buffer.from("module example.com/other\n")),
    ]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("answers as verifyZip does, from worker threads", async () => {
    const pool = new ZipVerifyPool(2);
    try {
      const got = await Promise.all(zips.map((z) => pool.verify(M, z.version, z.path)));
      assert.deepEqual(
        got.map((g) => g.h1),
        zips.map((z) => z.h1),
      );
      for (const path of [bad, traversal]) {
        const here = await verifyZip(M, "v1.0.0", path).then(
          () => assert.fail("verifyZip accepted it"),
          (err: unknown) => err as GoarkError,
        );
        await assert.rejects(pool.verify(M, "v1.0.0", path), (err: unknown) => {
          assert.ok(err instanceof GoarkError);
          assert.equal(err.code, here.code);
          assert.equal(err.message, here.message);
          assert.equal(err.module, M);
          return true;
        });
      }
      assert.deepEqual(pool.stats, { workers: 2, inWorkers: zips.length + 2, inline: 0 });
    } finally {
      await pool.close();
    }
    // Closed: still answers, on this thread.
    assert.equal((await pool.verify(M, zips[0]!.version, zips[0]!.path)).h1, zips[0]!.h1);
    assert.equal(pool.stats.inline, 1);
  });

  test("bytes are handed to the workers without a copy, answered as from the file, and handed back", async () => {
    const returned: ArrayBuffer[] = [];
    const pool = new ZipVerifyPool(2, { onReturn: (ab) => returned.push(ab) });
    try {
      const inputs = await Promise.all(
        zips.map(async (z) => {
          // Its own ArrayBuffer, as the importer allocates it; no file behind the name.
          const bytes = await readFile(z.path);
          const data = Buffer.from(new ArrayBuffer(bytes.length));
          bytes.copy(data);
          return { name: `${z.path}.in-memory`, data };
        }),
      );
      const sizes = inputs.map((i) => i.data.length);
      const got = await Promise.all(zips.map((z, i) => pool.verify(M, z.version, inputs[i]!)));
      assert.deepEqual(
        got.map((g) => g.h1),
        zips.map((z) => z.h1),
      );
      // Transferred, not copied: this thread's view is detached; each buffer came back whole.
      for (const input of inputs) assert.equal(input.data.buffer.byteLength, 0);
      assert.equal(pool.stats.inline, 0);
      assert.deepEqual(
        returned.map((ab) => ab.byteLength).sort((a, b) => a - b),
        [...sizes].sort((a, b) => a - b),
      );
    } finally {
      await pool.close();
    }
  });

  test("a job whose bytes went to a worker that died is redone here from its file", async () => {
    const pool = new ZipVerifyPool(1);
    try {
      const z = zips[1]!;
      const data = Buffer.from(new ArrayBuffer(0));
      // Detached bytes (length 0) stand for bytes lost with their worker: the file is read instead.
      const answer = await pool.verify(M, z.version, { name: z.path, data });
      assert.equal(answer.h1, z.h1);
    } finally {
      await pool.close();
    }
  });

  test("jobs queued when the pool closes are finished on this thread", async () => {
    const pool = new ZipVerifyPool(1);
    const pending = zips.map((z) => pool.verify(M, z.version, z.path));
    await pool.close();
    assert.deepEqual(
      (await Promise.all(pending)).map((g) => g.h1),
      zips.map((z) => z.h1),
    );
    assert.equal(pool.stats.inline + pool.stats.inWorkers, zips.length);
  });
});
