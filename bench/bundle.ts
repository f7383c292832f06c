/**
 * `npm run bench:bundle`: bundle export and import throughput against plain
 * `tar` of the same files, in one run.
 *
 * Builds a disk store (src/storage/disk.ts) of BENCH_VERSIONS module versions
 * (default 200) whose zips total about BENCH_MB (default 350) — mostly random
 * (incompressible) bytes plus some Go-like text — with the test helper that
 * stores versions the way the proxy does. Then, BENCH_REPS times (default 3),
 * alternating which side goes first:
 *   (a) goark exportBundle (--all, plain tar) vs `tar -cf` of the store tree;
 *   (b) goark importBundle into an empty store vs `tar -xf` of the plain tar
 *       into an empty directory.
 * Every timed step starts after a `sync` (untimed), with nothing dirty.
 * goark runs through the library in a fresh child process (this file, mode
 * `child`), compiled as the README's set-up compiles it (`npm run build`,
 * run first by this script; the CLI runs dist/ when it exists), with the
 * store opened as the goark CLI's store commands open it; its time and CPU
 * are measured inside the child around the call (start-up excluded; the
 * child's wall time is printed too) and its peak RSS is the child's
 * getrusage maxrss. tar's time is its process wall time. Throughput is
 * the store's payload bytes (all files of the store tree) over the time, the
 * same numerator for both sides, so the ratio is tar time / goark time.
 * Goal: goark/tar ≥ 0.5 for both. Each rep writes to fresh names and all
 * temp dirs are removed at the end (see the loop for why not between reps).
 * The import's hashing floor (SHA-256 and CRC-32 of every byte, twice) is
 * printed beside tar's time, for scale.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";

const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(HERE), "..");

interface ChildResult {
  ms: number;
  maxRssBytes: number;
  detail: Record<string, number>;
}

async function child(mode: string, store: string, bundle: string): Promise<void> {
  const { exportBundle } = await import("../src/bundle/export.ts");
  const { importBundle } = await import("../src/bundle/import.ts");
  const { DiskStorage } = await import("../src/storage/disk.ts");
  // Opened as `goark export` / `goark import` open it (src/cli/store-command.ts).
  const storage = await DiskStorage.open({ root: store, blockingCalls: true });
  const t0 = performance.now();
  const u0 = process.resourceUsage();
  let detail: Record<string, number>;
  if (mode === "export") {
    const r = await exportBundle(storage, bundle, { select: { kind: "all" } });
    detail = { versions: r.versions, files: r.files, bytes: r.bytes };
  } else {
    // BENCH_ZIP_WORKERS: compare with another number of zip-check workers than the default.
    const workers = process.env.BENCH_ZIP_WORKERS;
    const r = await importBundle(storage, bundle, workers ? { zipWorkers: Number(workers) } : {});
    detail = { added: r.added.length, rejected: r.rejected.length };
  }
  const ms = performance.now() - t0;
  const u1 = process.resourceUsage();
  detail.cpuMs = (u1.userCPUTime - u0.userCPUTime + u1.systemCPUTime - u0.systemCPUTime) / 1000;
  await storage.close();
  const out: ChildResult = { ms, maxRssBytes: process.resourceUsage().maxRSS * 1024, detail };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function run(cmd: string, args: string[], cwd = ROOT): Promise<{ ms: number; stdout: string }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    p.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    p.on("error", rej);
    p.on("close", (code) => {
      const ms = performance.now() - t0;
      if (code === 0) res({ ms, stdout });
      else rej(new Error(`${cmd} ${args.join(" ")} exited ${code}`));
    });
  });
}

/** This file as `npm run build` compiles it. */
const BUILT = join(ROOT, "dist", "bench", "bundle.js");

async function goark(mode: "export" | "import", store: string, bundle: string) {
  const r = await run(process.execPath, [BUILT, "child", mode, store, bundle]);
  const parsed = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ChildResult;
  return { ...parsed, wallMs: r.ms };
}

async function treeBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    bytes += (await stat(join(e.parentPath, e.name))).size;
    files++;
  }
  return { bytes, files };
}

/** Go-like text, compressible, ~size bytes. */
function text(pkg: string, i: number, size: number): string {
  const lines = [`package ${pkg}\n`];
  let n = 0;
  for (let k = 0; n < size; k++) {
    const l = `// F${k} returns the ${k}th value of file ${i}.\nfunc F${i}_${k}(x int) int { return x*${k} + ${i} }\n\n`;
    lines.push(l);
    n += l.length;
  }
  return lines.join("");
}

async function buildStore(dir: string, versions: number, totalMb: number): Promise<void> {
  const { DiskStorage } = await import("../src/storage/disk.ts");
  const { storeVersion } = await import("../test/helpers/stored-module.ts");
  const storage = await DiskStorage.open({ root: dir });
  const perVersion = Math.floor((totalMb * 1024 * 1024) / versions);
  const modules = Math.max(1, Math.ceil(versions / 5));
  for (let v = 0; v < versions; v++) {
    const m = v % modules;
    const module = `example.com/bench/mod${m}`;
    const version = `v1.${Math.floor(v / modules)}.0`;
    const pkg = `mod${m}`;
    const files: Record<string, string | Uint8Array> = {
      "go.mod": `module ${module}\n\ngo 1.19\n`,
      [`${pkg}.go`]: text(pkg, 0, 8_000),
    };
    // ~90% random bytes in a few blobs, ~10% text in several files.
    const textBytes = Math.floor(perVersion * 0.1);
    for (let i = 1; i <= 8; i++) files[`src/f${i}.go`] = text(pkg, i, textBytes / 8);
    const blobBytes = perVersion - textBytes;
    for (let i = 0; i < 4; i++) files[`testdata/blob${i}.bin`] = randomBytes(Math.floor(blobBytes / 4));
    await storeVersion(storage, { module, version, files });
  }
  await storage.close();
}

/** CPU time of the hashing import cannot skip for `bytes` of payload: SHA-256 and CRC-32, each twice. */
function hashFloorMs(bytes: number): number {
  const sample = randomBytes(64 << 20);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    createHash("sha256").update(sample).digest();
    crc32(sample);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * best * bytes) / sample.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const mb = (bytes: number) => bytes / (1024 * 1024);
const rate = (bytes: number, ms: number) => mb(bytes) / (ms / 1000);

async function main(): Promise<void> {
  const VERSIONS = Math.max(1, Number(process.env.BENCH_VERSIONS ?? 200));
  const TOTAL_MB = Math.max(1, Number(process.env.BENCH_MB ?? 350));
  const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
  const work = await mkdtemp(join(tmpdir(), "goark-bench-bundle-"));
  const cleanup = () => rm(work, { recursive: true, force: true });
  process.on("SIGINT", () => {
    void cleanup().finally(() => process.exit(130));
  });
  try {
    console.log("building (npm run build) …");
    await run(process.execPath, [
      join(ROOT, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      "tsconfig.json",
    ]);
    const store = join(work, "store");
    const t0 = performance.now();
    await buildStore(store, VERSIONS, TOTAL_MB);
    const { bytes, files } = await treeBytes(store);
    console.log(
      `store: ${VERSIONS} versions, ${files} files, ${mb(bytes).toFixed(1)} MB (built in ${((performance.now() - t0) / 1000).toFixed(1)} s); ${REPS} reps`,
    );

    const series = () => ({
      goark: [] as number[],
      goarkWall: [] as number[],
      cpu: [] as number[],
      tar: [] as number[],
      rss: [] as number[],
    });
    const ex = series();
    const im = series();
    // tar -x then `sync -f`: what extraction costs when it must be on disk, as goark's import is.
    const durableTar: number[] = [];
    let bundleSize = 0;
    let tarSize = 0;
    for (let rep = 0; rep < REPS; rep++) {
      // Fresh names each rep, removed only at the end: on ext4 without a journal, creating a file
      // skips every inode freed in the last minutes, so removing a rep's thousands of files would
      // slow the next rep's file creations (tar's more than goark's) by an amount that varies.
      const bundle = join(work, `out-${rep}.tar`);
      const plain = join(work, `plain-${rep}.tar`);
      const gStore = join(work, `imported-${rep}`);
      const tDir = join(work, `untarred-${rep}`);
      const goarkExport = async () => {
        const r = await goark("export", store, bundle);
        ex.goark.push(r.ms);
        ex.goarkWall.push(r.wallMs);
        ex.cpu.push(r.detail.cpuMs!);
        ex.rss.push(r.maxRssBytes);
        bundleSize = (await stat(bundle)).size;
      };
      const tarCreate = async () => {
        ex.tar.push((await run("tar", ["-cf", plain, "-C", store, "."])).ms);
        tarSize = (await stat(plain)).size;
      };
      const goarkImport = async () => {
        await mkdir(gStore);
        const r = await goark("import", gStore, bundle);
        im.goark.push(r.ms);
        im.goarkWall.push(r.wallMs);
        im.cpu.push(r.detail.cpuMs!);
        im.rss.push(r.maxRssBytes);
        if (r.detail.added !== VERSIONS || r.detail.rejected !== 0) {
          throw new Error(`import added ${r.detail.added}/${VERSIONS}, rejected ${r.detail.rejected}`);
        }
      };
      const tarExtract = async () => {
        await mkdir(tDir);
        const x = await run("tar", ["-xf", plain, "-C", tDir]);
        im.tar.push(x.ms);
        durableTar.push(x.ms + (await run("sync", ["-f", tDir])).ms);
      };
      // Alternate which side goes first, so page-cache and disk state favour neither; and start
      // every timed step with nothing dirty (sync, untimed), so neither pays for the other's writeback.
      const exportPair = rep % 2 === 0 ? [goarkExport, tarCreate] : [tarCreate, goarkExport];
      const importPair = rep % 2 === 0 ? [goarkImport, tarExtract] : [tarExtract, goarkImport];
      for (const f of [...exportPair, ...importPair]) {
        await run("sync", []);
        await f();
      }
      console.log(
        `rep ${rep + 1}: export goark ${ex.goark.at(-1)!.toFixed(0)} ms (cpu ${ex.cpu.at(-1)!.toFixed(0)}, child wall ${ex.goarkWall.at(-1)!.toFixed(0)}) / tar ${ex.tar.at(-1)!.toFixed(0)} ms; ` +
          `import goark ${im.goark.at(-1)!.toFixed(0)} ms (cpu ${im.cpu.at(-1)!.toFixed(0)}, child wall ${im.goarkWall.at(-1)!.toFixed(0)}) / tar ${im.tar.at(-1)!.toFixed(0)} ms`,
      );
    }

    console.log(
      `\nbundle ${mb(bundleSize).toFixed(1)} MB, plain tar ${mb(tarSize).toFixed(1)} MB; throughput = ${mb(bytes).toFixed(1)} MB of store / median time`,
    );
    const report = (name: string, s: typeof ex) => {
      const g = rate(bytes, median(s.goark));
      const gw = rate(bytes, median(s.goarkWall));
      const t = rate(bytes, median(s.tar));
      const ratio = g / t;
      console.log(
        `${name}: goark ${g.toFixed(0)} MB/s (${gw.toFixed(0)} MB/s incl. child start-up; median CPU ${median(s.cpu).toFixed(0)} ms user+sys), tar ${t.toFixed(0)} MB/s, ` +
          `ratio ${ratio.toFixed(2)}× (goal ≥ 0.5×: ${ratio >= 0.5 ? "met" : "NOT met"}), goark peak RSS ${mb(Math.max(...s.rss)).toFixed(0)} MB`,
      );
    };
    report("export", ex);
    report("import", im);
    const floor = hashFloorMs(bytes);
    console.log(
      `hashing floor of import: SHA-256 and CRC-32 of every byte twice (each file, each zip's contents) = ${floor.toFixed(0)} ms of CPU on one core here; tar -xf median ${median(im.tar).toFixed(0)} ms`,
    );
    const gi = rate(bytes, median(im.goark));
    const td = rate(bytes, median(durableTar));
    console.log(
      `import vs durable tar (tar -xf; sync -f, for reference): goark ${gi.toFixed(0)} MB/s, tar+sync ${td.toFixed(0)} MB/s, ratio ${(gi / td).toFixed(2)}×`,
    );
  } finally {
    await cleanup();
  }
}

if (process.argv[2] === "child") {
  await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
} else {
  await main();
}
