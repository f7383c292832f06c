/**
 * Memory stays flat: exporting and importing a bundle of about 200 MB (four
 * versions with 50 MB zips of incompressible data) must not need much more
 * memory than doing the same with a bundle of about 20 MB. Peak RSS is measured
 * in child processes (process.resourceUsage().maxRSS).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { hashGoMod } from "../src/module/dirhash.ts";
import { create, type ZipSourceFile } from "../src/module/zip.ts";
import { DiskStorage } from "../src/storage/disk.ts";
import { infoKey, modKey, zipKey } from "../src/storage/keys.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "test/helpers/bundle-child.ts");
const MB = 1 << 20;

/** size bytes of incompressible, reproducible data (AES-CTR keystream), streamed in 1 MiB chunks. */
function noise(seed: number, size: number): Readable {
  const key = Buffer.alloc(16, seed);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zero = Buffer.alloc(MB);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(MB, left);
      left -= n;
      this.push(cipher.update(zero.subarray(0, n)));
    },
  });
}

function noiseFile(path: string, seed: number, size: number): ZipSourceFile {
  return {
    path,
    lstat: async () => ({ isFile: true, isSymlink: false, size }),
    open: () => noise(seed, size),
  };
}

async function fill(root: string, versions: number, filesPer: number, fileSize: number): Promise<void> {
  const s = await DiskStorage.open({ root });
  for (let i = 0; i < versions; i++) {
    const module = `example.com/big/m${i}`;
    const mod = `module ${module}\n`;
    const files: ZipSourceFile[] = [
      {
        path: "go.mod",
        lstat: async () => ({ isFile: true, isSymlink: false, size: mod.length }),
        open: () => Readable.from([Buffer.from(mod)]),
      },
    ];
    for (let j = 0; j < filesPer; j++) files.push(noiseFile(`data/f${j}.bin`, i * 16 + j + 1, fileSize));
    const staged = await s.stage();
    const made = await create(staged.path, module, "v1.0.0", files);
    await s.commitStaged(zipKey(module, "v1.0.0"), staged, { origin: "test", h1: made.h1 });
    await s.putBytes(modKey(module, "v1.0.0"), Buffer.from(mod), { origin: "test", h1: hashGoMod(mod) });
    await s.putBytes(infoKey(module, "v1.0.0"), Buffer.from('{"Version":"v1.0.0"}'), { origin: "test" });
  }
  await s.close();
}

function child(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ maxRssBytes: number; [k: string]: unknown }> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    c.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    c.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    const guard = setTimeout(() => c.kill("SIGKILL"), 300_000);
    c.on("error", fail);
    c.on("close", (code) => {
      clearTimeout(guard);
      if (code !== 0) fail(new Error(`child exited ${code}: ${err}`));
      else done(JSON.parse(out.trim().split("\n").at(-1)!) as { maxRssBytes: number });
    });
  });
}

describe("memory stays flat with bundle size", { timeout: 900_000 }, () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), "goark-mem-"));
    // ~20 MB: past the fixed buffers and pools import sets up for any real bundle (~45 MiB),
    // so the comparison shows growth with size, not that fixed cost.
    await fill(join(base, "small"), 4, 5, MB); // ~20 MB
    await fill(join(base, "big"), 4, 5, 10 * MB); // ~200 MB
    // Many small zips: each is held in memory for its check (in reused buffers).
    await fill(join(base, "few-small"), 40, 4, MB / 4); // ~40 MB: past what a worker lets pile up before it collects
    await fill(join(base, "many-small"), 200, 4, MB / 4); // ~200 MB
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test("export and import of ~200 MB use about the memory of ~20 MB", async (t) => {
    const results: Record<string, number> = {};
    for (const size of ["small", "big"]) {
      const bundle = join(base, `${size}.tar`);
      const ex = await child(["export", join(base, size), bundle]);
      const im = await child(["import", join(base, `${size}-imported`), bundle]);
      assert.equal(im.added, 4);
      results[`${size}Bundle`] = (await stat(bundle)).size;
      results[`${size}ExportRss`] = ex.maxRssBytes;
      results[`${size}ImportRss`] = im.maxRssBytes;
    }
    t.diagnostic(
      JSON.stringify(
        Object.fromEntries(Object.entries(results).map(([k, v]) => [k, `${(v / MB).toFixed(1)} MiB`])),
      ),
    );
    assert.ok(results.bigBundle! > 200 * MB, "the big bundle is over 200 MB");
    // Flat: the 10x larger bundle (50 MB zips instead of 5 MB) may not cost more than noise.
    assert.ok(
      results.bigExportRss! - results.smallExportRss! < 40 * MB,
      "export memory grows with bundle size",
    );
    assert.ok(
      results.bigImportRss! - results.smallImportRss! < 40 * MB,
      "import memory grows with bundle size",
    );
  });

  test("import of ~200 MB of 1 MB zips uses about the memory of ~40 MB, with and without a worker", async (t) => {
    const rss: Record<string, number> = {};
    for (const size of ["few-small", "many-small"]) {
      const bundle = join(base, `${size}.tar`);
      await child(["export", join(base, size), bundle]);
      for (const workers of ["0", "1"]) {
        const im = await child(["import", join(base, `${size}-imported-${workers}`), bundle], {
          GOARK_TEST_ZIP_WORKERS: workers,
        });
        assert.equal(im.added, size === "few-small" ? 40 : 200);
        rss[`${size} zipWorkers=${workers}`] = im.maxRssBytes;
      }
    }
    t.diagnostic(
      JSON.stringify(
        Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, `${(v / MB).toFixed(1)} MiB`])),
      ),
    );
    for (const workers of ["0", "1"]) {
      const growth = rss[`many-small zipWorkers=${workers}`]! - rss[`few-small zipWorkers=${workers}`]!;
      assert.ok(growth < 40 * MB, `zipWorkers=${workers}: import memory grows with bundle size`);
    }
  });
});
