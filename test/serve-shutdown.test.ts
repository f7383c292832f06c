/**
 * `goark serve` as a process: the client lines on start, exit code 2 with one
 * line for an invalid setting, and SIGTERM: in-flight work finishes within
 * the deadline, work past it is abandoned, and no temporary file is left.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { zipKey } from "../src/storage/keys.ts";
import { FixtureUpstream, writeTree } from "./helpers/fixture-upstream.ts";

const ROOT = resolve(import.meta.dirname, "..");
const BIG = "example.com/shutdown/big";

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function serve(env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, [join(ROOT, "bin/goark.js"), "serve", ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", GOARK_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    cwd: tmpdir(),
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, out: () => out, exit };
}

async function until<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  ms: number,
  why: () => string,
): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${why()}`);
}

describe("goark serve as a process", () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  const procs: Proc[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-serve-"));
    await writeTree(join(tmp, "tree"), [
      {
        module: BIG,
        version: "v1.0.0",
        time: "2024-01-01T00:00:00Z",
        files: { "go.mod": `module ${BIG}\n`, "blob.bin": randomBytes(8 << 20) },
      },
    ]);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await upstream?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("an invalid setting stops start-up with one line and exit code 2", async () => {
    const p = serve({ GOARK_LISTEN: "not-an-address" });
    procs.push(p);
    assert.equal(await p.exit, 2);
    const lines = p.out().trim().split("\n");
    assert.equal(lines.length, 1, p.out());
    assert.match(lines[0]!, /^goark: .*listen/);
  });

  async function start(store: string, deadline: string): Promise<{ p: Proc; url: string }> {
    const p = serve({
      GOARK_LISTEN: "127.0.0.1:0",
      GOARK_STORAGE: store,
      // Fixture modules are in no public checksum database.
      GOARK_SUMDB: "off",
      GOARK_UPSTREAM: upstream.url,
      GOARK_SHUTDOWN_TIMEOUT: deadline,
    });
    procs.push(p);
    const url = await until(() => /listening on (http:\/\/\S+)/.exec(p.out())?.[1], 30_000, p.out);
    // The client lines follow the "listening" line, possibly in a later chunk.
    const clientLine = new RegExp(`go env -w GOPROXY=${url.replace(/[.]/g, "\\.")}`);
    await until(() => (clientLine.test(p.out()) ? true : undefined), 10_000, p.out);
    return { p, url };
  }

  test("SIGTERM lets an in-flight download finish within the deadline", { timeout: 60_000 }, async () => {
    const store = join(tmp, "store-finish");
    const { p, url } = await start(store, "20s");
    const remove = upstream.fault(".zip", { kind: "trickle", chunkBytes: 1 << 20, intervalMs: 100 });
    try {
      const download = fetch(`${url}/${BIG}/@v/v1.0.0.zip`).then(async (r) => ({
        status: r.status,
        size: (await r.arrayBuffer()).byteLength,
      }));
      await until(
        async () => ((await readdir(join(store, ".tmp")).catch(() => [])).length > 0 ? true : undefined),
        20_000,
        () => "no fill started",
      );
      p.child.kill("SIGTERM");
      const got = await download;
      assert.equal(got.status, 200);
      assert.ok(got.size > 8 << 20);
      assert.equal(await p.exit, 0);
      assert.ok(existsSync(join(store, zipKey(BIG, "v1.0.0"))), "the finished fill is stored");
      assert.deepEqual(await readdir(join(store, ".tmp")), []);
    } finally {
      remove();
    }
  });

  test("SIGTERM abandons work past the deadline and leaves no temp file", { timeout: 60_000 }, async () => {
    const store = join(tmp, "store-abort");
    const { p, url } = await start(store, "1s");
    const remove = upstream.fault(".zip", { kind: "trickle", chunkBytes: 256 << 10, intervalMs: 300 });
    try {
      const download = fetch(`${url}/${BIG}/@v/v1.0.0.zip`).then(
        (r) => r.status,
        () => -1,
      );
      await until(
        async () => ((await readdir(join(store, ".tmp")).catch(() => [])).length > 0 ? true : undefined),
        20_000,
        () => "no fill started",
      );
      const t0 = Date.now();
      p.child.kill("SIGTERM");
      assert.equal(await p.exit, 0);
      assert.ok(Date.now() - t0 < 8000, "exits soon after the deadline");
      await download;
      assert.ok(!existsSync(join(store, zipKey(BIG, "v1.0.0"))), "no partial artefact");
      assert.deepEqual(await readdir(join(store, ".tmp")), [], "no temp file left");
    } finally {
      remove();
    }
  });
});
