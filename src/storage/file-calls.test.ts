import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BLOCKING_WRITE_MAX, blockingCalls, type FileCalls, poolCalls } from "./file-calls.ts";

// Both forms must answer alike, errors included: the disk store uses either.
for (const calls of [poolCalls, blockingCalls] as FileCalls[]) {
  describe(`file calls (${calls.blocking ? "blocking" : "thread pool"})`, () => {
    let dir = "";
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "goark-calls-"));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it("creates a new file only, and writes chunks at a position, small and large", async () => {
      const path = join(dir, "new");
      const fd = await calls.createNew(path);
      const small = [Buffer.from("ab"), Buffer.from("cd")];
      const large = Buffer.alloc(BLOCKING_WRITE_MAX + 3, 7);
      await calls.writeAll(fd, small, 0);
      await calls.writeAll(fd, [large], 4);
      await calls.close(fd);
      const got = await readFile(path);
      assert.equal(got.length, 4 + large.length);
      assert.equal(got.subarray(0, 4).toString(), "abcd");
      assert.ok(got.subarray(4).equals(large));
      await assert.rejects(calls.createNew(path), { code: "EEXIST" });
      await assert.rejects(calls.writeNew(path, Buffer.from("x")), { code: "EEXIST" });
    });

    it("writeNew, size, link, rename and unlinkIfThere", async () => {
      const a = join(dir, "a");
      await calls.writeNew(a, Buffer.from("hello"));
      assert.equal(await calls.size(a), 5);
      await calls.link(a, join(dir, "b"));
      await assert.rejects(calls.link(a, join(dir, "b")), { code: "EEXIST" });
      await calls.rename(join(dir, "b"), join(dir, "c"));
      assert.equal(readFileSync(join(dir, "c"), "utf8"), "hello");
      assert.equal(await calls.unlinkIfThere(join(dir, "c")), true);
      assert.equal(await calls.unlinkIfThere(join(dir, "c")), false);
      await assert.rejects(calls.size(join(dir, "c")), { code: "ENOENT" });
      await assert.rejects(calls.rename(join(dir, "c"), join(dir, "d")), { code: "ENOENT" });
      const big = Buffer.alloc(BLOCKING_WRITE_MAX + 1, 1);
      await calls.writeNew(join(dir, "big"), big);
      assert.equal((await stat(join(dir, "big"))).size, big.length);
    });

    it("mkdirs answers the first directory it made", async () => {
      const deep = join(dir, "m", "n", "o");
      assert.equal(await calls.mkdirs(deep), join(dir, "m"));
      assert.equal(await calls.mkdirs(deep), undefined);
    });

    it("readArtefact: bytes of small files, only size of large ones, undefined when absent or not a file", async () => {
      const path = join(dir, "art");
      await writeFile(path, "0123456789");
      const small = await calls.readArtefact(path, 10);
      assert.equal(small?.size, 10);
      assert.equal(small?.data?.toString(), "0123456789");
      const large = await calls.readArtefact(path, 9);
      assert.equal(large?.size, 10);
      assert.equal(large?.data, undefined);
      assert.equal(typeof large?.mtimeMs, "number");
      assert.equal(await calls.readArtefact(join(dir, "missing"), 10), undefined);
      assert.equal(await calls.readArtefact(join(dir, "missing", "below"), 10), undefined);
      assert.equal(await calls.readArtefact(join(dir, "art", "below"), 10), undefined);
      assert.equal(await calls.readWhole(join(dir, "art", "below"), 10), undefined);
      await mkdir(join(dir, "adir"));
      assert.equal(await calls.readArtefact(join(dir, "adir"), 10), undefined);
    });

    it("readWhole: the bytes up to max, empty past it, undefined when absent", async () => {
      const path = join(dir, "whole");
      await writeFile(path, "abc");
      assert.equal((await calls.readWhole(path, 3))?.toString(), "abc");
      assert.equal((await calls.readWhole(path, 2))?.length, 0);
      assert.equal(await calls.readWhole(join(dir, "nope"), 3), undefined);
    });
  });
}
