/**
 * Upstream faults: truncated zip, wrong-hash zip, corrupt zip, zip bombs,
 * malformed .info, slow trickle past the timeout. In every case nothing is
 * stored (no artefact, no temp file left), the client gets a clear error, or
 * — behind `|` — the next upstream's answer. Then a kill -9 of a goark
 * process in the middle of a large download: the store stays consistent and
 * the next start sweeps the leftovers.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import type { KnownSums } from "../src/cache/verify.ts";
import { hashZip } from "../src/module/dirhash.ts";
import { escapePath } from "../src/module/path.ts";
import { infoKey, modKey, zipKey } from "../src/storage/keys.ts";
import {
  bombZip,
  FixtureUpstream,
  type FixtureVersion,
  rawZip,
  writeTree,
} from "./helpers/fixture-upstream.ts";
import { type GoarkInstance, startGoark } from "./helpers/goark-instance.ts";

const M = "example.com/faults/m";
const BIG = "example.com/faults/big";
const ROOT = resolve(import.meta.dirname, "..");

function version(v: string, extra = ""): FixtureVersion {
  return {
    module: M,
    version: v,
    time: "2024-01-01T00:00:00Z",
    files: { "go.mod": `module ${M}\n\ngo 1.19\n`, "m.go": `package m\n\nconst V = "${v}${extra}"\n` },
  };
}

async function get(url: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** Files under the store's temp directory (staged downloads). */
async function tempFiles(store: string): Promise<string[]> {
  return readdir(join(store, ".tmp")).catch(() => []);
}

describe("upstream faults leave nothing stored", () => {
  let tmp: string;
  let bad: FixtureUpstream;
  let good: FixtureUpstream;
  let goark: GoarkInstance;
  let piped: GoarkInstance;
  const known = new Map<string, string>();

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-faults-"));
    const versions = ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0", "v1.6.0"].map((v) =>
      version(v),
    );
    await writeTree(join(tmp, "tree"), versions);
    bad = await FixtureUpstream.start(join(tmp, "tree"));
    good = await FixtureUpstream.start(join(tmp, "tree"));
    // The go.sum hashes goark knows: Go-format h1 of the honest zips.
    for (const v of versions) {
      known.set(v.version, await hashZip(join(tmp, "tree", escapePath(M), "@v", `${v.version}.zip`)));
    }
    const knownSums: KnownSums = { lookup: async (_m, v) => ({ zip: known.get(v) }) };
    const flags = { upstreamRetries: "0", upstreamTimeout: "1s", notFoundTtl: "0s" };
    goark = await startGoark({ ...flags, upstream: bad.url }, { knownSums });
    piped = await startGoark({ ...flags, upstream: `${bad.url}|${good.url}` }, { knownSums });
  });

  after(async () => {
    await goark?.close();
    await piped?.close();
    await bad?.close();
    await good?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  async function assertNothingStored(g: GoarkInstance, v: string, what: string[] = ["zip"]) {
    for (const kind of what) {
      const key = kind === "zip" ? zipKey(M, v) : kind === "info" ? infoKey(M, v) : modKey(M, v);
      assert.equal(await g.app.storage.stat(key), undefined, `${key} must not be stored`);
      assert.ok(!existsSync(join(g.store, key)), `${key} must not exist on disk`);
    }
    assert.deepEqual(await tempFiles(g.store), [], "no temporary file left");
  }

  async function faultCase(
    v: string,
    fault: Parameters<FixtureUpstream["fault"]>[1],
    file: "zip" | "info" = "zip",
    wantStatus: number | RegExp = 502,
    wantBody: RegExp = /./,
  ) {
    const remove = bad.fault(`/@v/${v}.${file}`, fault);
    try {
      const r = await get(`${goark.url}/${M}/@v/${v}.${file}`);
      if (typeof wantStatus === "number") assert.equal(r.status, wantStatus, r.body.toString());
      else assert.match(String(r.status), wantStatus);
      assert.match(r.body.toString(), wantBody);
      assert.equal(r.body.toString().split("\n").length, 2, "one line");
      await assertNothingStored(goark, v, file === "info" ? ["info", "mod"] : ["zip"]);
      // Behind `|` the good upstream answers, and what is stored is right.
      const p = await get(`${piped.url}/${M}/@v/${v}.${file}`);
      assert.equal(p.status, 200, p.body.toString());
      if (file === "zip") assert.equal((await piped.app.storage.stat(zipKey(M, v)))!.meta.h1, known.get(v));
    } finally {
      remove();
    }
    // Not remembered as a failure: once the upstream heals, the answer comes.
    const healed = await get(`${goark.url}/${M}/@v/${v}.${file}`);
    assert.equal(healed.status, 200, healed.body.toString());
  }

  test("truncated zip", async () => {
    await faultCase(
      "v1.0.0",
      { kind: "truncate", bytes: 100 },
      "zip",
      502,
      /downloading zip from .* failed|truncated/,
    );
  });

  test("zip whose h1 differs from the known go.sum hash", async () => {
    const evil = join(tmp, "evil");
    await writeTree(evil, [version("v1.1.0", " tampered")]);
    const bytes = await readFile(join(evil, escapePath(M), "@v", "v1.1.0.zip"));
    await faultCase("v1.1.0", { kind: "body", body: bytes }, "zip", 502, /go\.sum records|checksum|hash/i);
  });

  test("zip with a wrong CRC", async () => {
    const prefix = `${M}@v1.2.0/`;
    const bytes = rawZip([
      { name: `${prefix}go.mod`, data: Buffer.from(`module ${M}\n`) },
      { name: `${prefix}m.go`, data: Buffer.from("package m\n"), crc: 12345 },
    ]);
    await faultCase("v1.2.0", { kind: "body", body: bytes }, "zip", 502, /v1\.2\.0/);
  });

  test("zip bomb with a lying size header", async () => {
    const bytes = bombZip(M, "v1.3.0", 64 << 20, 1024);
    await faultCase("v1.3.0", { kind: "body", body: bytes }, "zip", 502, /v1\.3\.0/);
  });

  test("zip bomb declaring more than 500 MiB", async () => {
    const bytes = bombZip(M, "v1.4.0", 1 << 20, 600 << 20);
    await faultCase("v1.4.0", { kind: "body", body: bytes }, "zip", 502, /v1\.4\.0/);
  });

  test("malformed .info JSON and a wrong Version", async () => {
    await faultCase("v1.5.0", { kind: "body", body: '{"Version": "v1.5.0", ' }, "info", 502, /v1\.5\.0/);
    await faultCase(
      "v1.6.0",
      { kind: "body", body: '{"Version":"v1.6.1","Time":"2024-01-01T00:00:00Z"}' },
      "info",
      502,
      /instead of requested version/,
    );
  });

  test("slow trickle past the read timeout", { timeout: 60_000 }, async () => {
    // A goark that has not stored v1.0.0 yet (the truncation case above stored it in the others).
    const fresh = "v1.0.0";
    const g = await startGoark({ upstream: bad.url, upstreamRetries: "0", upstreamTimeout: "1s" });
    const remove = bad.fault(`/@v/${fresh}.zip`, { kind: "trickle", chunkBytes: 64, intervalMs: 1500 });
    try {
      const r = await get(`${g.url}/${M}/@v/${fresh}.zip`);
      assert.match(String(r.status), /^50[24]$/, r.body.toString());
      assert.match(r.body.toString(), /stalled|timed? ?out/i);
      assert.equal(await g.app.storage.stat(zipKey(M, fresh)), undefined);
      assert.deepEqual(await tempFiles(g.store), []);
    } finally {
      remove();
      await g.close();
    }
  });
});

describe("kill -9 during a large download", () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  let child: ChildProcess | undefined;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-kill-"));
    const big: FixtureVersion = {
      module: BIG,
      version: "v1.0.0",
      time: "2024-01-01T00:00:00Z",
      files: { "go.mod": `module ${BIG}\n`, "blob.bin": randomBytes(24 << 20) },
    };
    await writeTree(join(tmp, "tree"), [big]);
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await upstream?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("leaves either nothing or a verified artefact; the next start sweeps", {
    timeout: 120_000,
  }, async () => {
    const store = join(tmp, "store");
    child = spawn(process.execPath, [join(ROOT, "bin/goark.js"), "serve"], {
      env: {
        ...process.env,
        GOARK_LISTEN: "127.0.0.1:0",
        GOARK_STORAGE: store,
        // Fixture modules are in no public checksum database.
        GOARK_SUMDB: "off",
        GOARK_UPSTREAM: upstream.url,
        GOARK_LOG_LEVEL: "warn",
        GOARK_CONFIG: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr!.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const url = await waitFor(
      () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
      30_000,
      () => out,
    );
    // Slow enough that the kill lands mid-body.
    upstream.fault(".zip", { kind: "trickle", chunkBytes: 1 << 20, intervalMs: 100 });
    const pending = fetch(`${url}/${BIG}/@v/v1.0.0.zip`).then(
      (r) => r.status,
      () => -1,
    );
    await waitFor(
      async () => {
        const names = await tempFiles(store);
        return names.length > 0 ? names : undefined;
      },
      30_000,
      () => "no staged file appeared",
    );
    await new Promise((r) => setTimeout(r, 400));
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    await pending;
    upstream.clearFaults();

    const zipFile = join(store, zipKey(BIG, "v1.0.0"));
    assert.ok(!existsSync(zipFile), "a partial zip must never appear under its key");
    assert.ok((await tempFiles(store)).length > 0, "the killed writer's temp file is still there");

    // A new goark on the same store: sweep, consistent tree, then the download completes.
    const g = await startGoark({ upstream: upstream.url }, { store });
    try {
      assert.deepEqual(await tempFiles(store), [], "start-up sweep removed the leftovers");
      const report = await g.app.storage.sweep({ deep: true, verifyHashes: true });
      assert.deepEqual(report.removed, []);
      const r = await get(`${g.url}/${BIG}/@v/v1.0.0.zip`);
      assert.equal(r.status, 200);
      assert.equal(
        (await g.app.storage.stat(zipKey(BIG, "v1.0.0")))!.meta.h1,
        await hashZip(join(tmp, "tree", escapePath(BIG), "@v", "v1.0.0.zip")),
      );
    } finally {
      await g.close();
    }
  });
});

async function waitFor<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  ms: number,
  why: () => string,
): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${why()}`);
}
