/**
 * goark's own checksum database (src/sumdb/own-db.ts) as a process sees it:
 * the signing key is created once with mode 0600 and never logged; one
 * process writes (a lock file), another serving the same store gets the log
 * read-only and follows the writer's signed head; a lock left by a dead
 * process is taken over; and a writer killed with SIGKILL in the middle of
 * appending leaves a log that opens, proves every acknowledged record
 * through goark's verifying client, and keeps growing.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { NotFoundError } from "../src/errors.ts";
import { SumdbClient } from "../src/sumdb/client.ts";
import { loadOrCreateKey, OwnSumdb } from "../src/sumdb/own-db.ts";
import { crashModule, fakeStore } from "./helpers/sumdb-append-child.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A verifying client that reads only from db.serve (what /sumdb/<name>/ answers). */
function clientOf(db: OwnSumdb): SumdbClient {
  let latest: Uint8Array | undefined;
  return new SumdbClient({
    verifierKey: db.verifierKey,
    ops: {
      readRemote: async (path) => (await db.serve(path.slice(1))).body,
      loadLatest: async () => latest,
      saveLatest: async (n) => {
        latest = n;
      },
    },
  });
}

function logger(lines: string[]) {
  const put = (obj: object, msg?: string) => lines.push(JSON.stringify({ ...obj, msg }));
  return { info: put, warn: put, error: put };
}

describe("goark's own checksum database", () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-sumdb-own-"));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test("the signing key is created once, mode 0600, and never logged", async () => {
    const dir = join(tmp, "key");
    const lines: string[] = [];
    const db = await OwnSumdb.open({ dir, name: "goark.test", storage: fakeStore(), logger: logger(lines) });
    const text = await readFile(join(dir, "key"), "utf8");
    assert.match(text, /^PRIVATE\+KEY\+goark\.test\+[0-9a-f]{8}\+/);
    assert.equal((await stat(join(dir, "key"))).mode & 0o777, 0o600);
    assert.ok(lines.length > 0);
    assert.ok(!lines.some((l) => l.includes("PRIVATE")), "the signer key is never logged");
    await db.record(...crashModule(1));
    await db.close();
    const again = await loadOrCreateKey(dir);
    assert.equal(again.created, false);
    assert.equal(again.verifierKey, db.verifierKey);
    await assert.rejects(
      loadOrCreateKey(dir, "other.test"),
      /is for goark\.test, but the configured name is other\.test/,
    );
    const reopened = await OwnSumdb.open({ dir, storage: fakeStore() });
    assert.equal(reopened.name, "goark.test");
    assert.equal(await reopened.size(), 1);
    await reopened.close();
  });

  test("one writer; a second process gets the log read-only and follows it", async () => {
    const dir = join(tmp, "lock");
    const writer = await OwnSumdb.open({ dir, name: "goark.test", storage: fakeStore() });
    assert.equal(writer.readOnly, undefined);
    await writer.record(...crashModule(0));
    const lines: string[] = [];
    const reader = await OwnSumdb.open({ dir, storage: fakeStore(), logger: logger(lines) });
    assert.match(reader.readOnly ?? "", new RegExp(`written by process ${process.pid} on `));
    assert.ok(
      lines.some((l) => l.includes("read-only")),
      "the read-only start is logged",
    );
    assert.equal(await reader.record(...crashModule(1)), undefined, "a reader never appends");
    await assert.rejects(reader.serve(`lookup/${crashModule(1).join("@")}`), (e: unknown) => {
      return e instanceof NotFoundError && /read-only/.test(e.message);
    });
    for (let i = 1; i < 5; i++) await writer.record(...crashModule(i));
    assert.equal(await reader.size(), 5, "the reader follows the writer's signed head");
    const lines1 = await clientOf(reader).lookup(...crashModule(3));
    assert.equal(lines1.length, 1);
    await writer.close();
    await reader.close();
    // The lock went with the writer: the next process writes.
    const next = await OwnSumdb.open({ dir, storage: fakeStore() });
    assert.equal(next.readOnly, undefined);
    await next.close();
  });

  test("a lock left by a dead process is taken over", async () => {
    const dir = join(tmp, "stale");
    const first = await OwnSumdb.open({ dir, name: "goark.test", storage: fakeStore() });
    await first.close();
    const dead = spawn(process.execPath, ["-e", ""]);
    const pid = dead.pid!;
    await new Promise((r) => dead.once("exit", r));
    await writeFile(join(dir, "lock"), `${JSON.stringify({ pid, host: hostname() })}\n`);
    const db = await OwnSumdb.open({ dir, storage: fakeStore() });
    assert.equal(db.readOnly, undefined);
    assert.equal(JSON.parse(await readFile(join(dir, "lock"), "utf8")).pid, process.pid);
    await db.close();
  });

  test("kill -9 mid-append leaves a consistent log that keeps growing", { timeout: 120_000 }, async () => {
    const dir = join(tmp, "crash");
    for (let round = 0; round < 3; round++) {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(ROOT, "test/helpers/sumdb-append-child.ts"), dir],
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        err += d;
      });
      const acked = () => Number(/ok (\d+)\n(?![\s\S]*ok)/.exec(out)?.[1] ?? 0);
      const want = 40 + round * 50 + Math.floor(Math.random() * 30);
      const deadline = Date.now() + 60_000;
      while (acked() < want && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
      }
      assert.equal(child.exitCode, null, `child died: ${err}`);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const done = acked();
      assert.ok(done >= want, `child appended ${done}`);

      // The dead writer's lock is stale: this process takes over and the log opens.
      const db = await OwnSumdb.open({ dir, storage: fakeStore() });
      assert.equal(db.readOnly, undefined);
      const size = await db.size();
      assert.ok(size >= done, `log has ${size} records, ${done} were acknowledged`);
      const client = clientOf(db);
      for (let i = 0; i < done; i++) {
        const [m, v] = crashModule(i);
        const lines = await client.lookup(m, v);
        assert.equal(lines.length, 1, `${m}@${v} proven`);
      }
      // And it keeps growing from where the signed head is.
      const id = await db.record(`example.com/after/r${round}`, "v1.0.0");
      assert.equal(id, size);
      await db.close();
    }
  });
});
