/**
 * kill -9 in the middle of `goark import`: at chosen commits (the child kills
 * itself right after its Nth file commit) and at random instants (the test
 * kills it). Each time the store must be consistent: every file stored is
 * whole and is the bundle's, a version with its .info has all the files the
 * bundle carries for it, a list names only versions whose .mod is stored,
 * and no staged file survives the next open. Importing again completes the
 * import. Rounds are bounded.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { exportBundle } from "../src/bundle/export.ts";
import { importBundle } from "../src/bundle/import.ts";
import type { BundleManifest } from "../src/bundle/manifest.ts";
import { keyOf } from "../src/bundle/manifest.ts";
import { DiskStorage } from "../src/storage/disk.ts";
import { listKey } from "../src/storage/keys.ts";
import { snapshotTree } from "./helpers/store-snapshot.ts";
import { storeVersion } from "./helpers/stored-module.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "test/helpers/bundle-child.ts");

function runChild(
  args: string[],
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    let timer: NodeJS.Timeout | undefined;
    if (killAfterMs !== undefined) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", fail);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** The store is consistent with the bundle after whatever happened to the import. */
async function assertConsistent(root: string, m: BundleManifest): Promise<{ present: number }> {
  const s = await DiskStorage.open({ root });
  await s.sweep();
  assert.deepEqual(await readdir(join(root, ".tmp")), [], "staged files are swept at open");
  const sha = new Map(m.files.map((f) => [f.key, f.sha256]));
  let present = 0;
  for (const v of m.versions) {
    const keys = v.files.map((k) => keyOf(v.module, v.version, k));
    const stored = [];
    for (const key of keys) {
      const st = await s.stat(key);
      if (st === undefined) continue;
      stored.push(key);
      assert.equal(st.meta.sha256, sha.get(key), `${key} is whole and the bundle's`);
      assert.equal(st.size, (await s.getBytes(key))?.length, key);
    }
    if (stored.includes(keyOf(v.module, v.version, "info"))) {
      assert.deepEqual(stored, keys, `${v.module}@${v.version} has its .info, so it must be whole`);
      present++;
    }
  }
  for (const module of new Set(m.versions.map((v) => v.module))) {
    const list = (await s.getBytes(listKey(module)))?.toString() ?? "";
    for (const version of list.split("\n").filter(Boolean)) {
      assert.ok(
        await s.stat(keyOf(module, version, "mod")),
        `list of ${module} names ${version} whose .mod is stored`,
      );
    }
  }
  await s.close();
  return { present };
}

describe("kill -9 during import", { timeout: 300_000 }, () => {
  let base: string;
  let bundle: string;
  let manifest: BundleManifest;
  let clean: Map<string, string>;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), "goark-crash-"));
    const src = await DiskStorage.open({ root: join(base, "src") });
    for (let i = 0; i < 8; i++) {
      // Some weight in the zips so that receiving takes a moment.
      await storeVersion(src, {
        module: `example.com/crash/m${i}`,
        version: "v1.0.0",
        files: {
          "go.mod": `module example.com/crash/m${i}\n`,
          "m.go": `package m${i}\n`,
          "blob.bin": randomBytes(300_000),
        },
      });
      await storeVersion(src, { module: `example.com/crash/m${i}`, version: "v1.1.0", noZip: i % 2 === 0 });
    }
    bundle = join(base, "b.tar");
    manifest = (await exportBundle(src, bundle, { select: { kind: "all" } })).manifest;
    const c = await DiskStorage.open({ root: join(base, "clean") });
    await importBundle(c, bundle);
    clean = new Map([...(await snapshotTree(c.root))].filter(([k]) => !k.endsWith(".meta")));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test("killed right after the Nth commit: consistent, and a second import completes it", async () => {
    const total = manifest.files.length;
    for (const n of [1, 2, 3, 5, 8, 13, Math.floor(total / 2), total - 2, total - 1, total]) {
      const root = join(base, `at-${n}`);
      const r = await runChild(["import", root, bundle, String(n)]);
      assert.equal(r.signal, "SIGKILL", `commit ${n}: ${r.stderr}`);
      await assertConsistent(root, manifest);
      const s = await DiskStorage.open({ root });
      const again = await importBundle(s, bundle);
      assert.deepEqual(again.rejected, []);
      assert.equal(again.added.length + again.present.length, manifest.versions.length);
      const got = new Map([...(await snapshotTree(root))].filter(([k]) => !k.endsWith(".meta")));
      assert.deepEqual(got, clean, `commit ${n}: the second import completes the store`);
    }
  });

  test("killed at random instants: consistent every time", async (t) => {
    const delays = [50, 150, 300, 450, 600, 800, 1000, 1300];
    const outcomes: string[] = [];
    for (const d of delays) {
      const root = join(base, `t-${d}`);
      const r = await runChild(["import", root, bundle], d);
      const { present } = await assertConsistent(root, manifest);
      outcomes.push(`${d}ms:${r.signal ?? `exit ${r.code}`}:${present}`);
    }
    // The spread of kill points: delay, how it ended, versions present afterwards.
    t.diagnostic(outcomes.join(" "));
    assert.ok(
      outcomes.some((o) => o.includes("SIGKILL")),
      outcomes.join(" "),
    );
  });
});
