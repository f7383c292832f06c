/**
 * `npm run bench:zip`: module zip creation + h1, goark against Go.
 *
 * Generates two source trees under the temp dir (50 MB in 5,000 files; 400 MB
 * in 4,000 files; Go-like text, deterministic), builds bench/zip-oracle (x/mod
 * CreateFromDir + dirhash.HashZip, GOPATH mode against Debian's x/mod) and
 * times both on each tree, alternating, BENCH_REPS times (default 3). Each
 * run is a fresh child process; its peak RSS is its own getrusage maxrss.
 * goark runs as plain JavaScript (bench/zip-worker.ts bundled with esbuild),
 * as it would in production: under tsx, the loader alone adds ~35 MB of RSS.
 * Prints medians, the goark/Go ratio and peak RSS, and checks that both
 * produce the same h1. Goals: ratio ≤ 1.25, goark peak RSS < 150 MB on 400 MB.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WORK = join(tmpdir(), "goark-bench-zip");
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const MODULE = "example.com/bench";
const VERSION = "v1.0.0";
/** Bump when the generated trees change, so cached trees are rebuilt. */
const TREE_FORMAT = "1";

interface Tree {
  name: string;
  files: number;
  minSize: number;
  maxSize: number;
}

const TREES: Tree[] = [
  { name: "50MB-5000files", files: 5000, minSize: 2_000, maxSize: 18_000 },
  { name: "400MB-4000files", files: 4000, minSize: 2_000, maxSize: 198_000 },
];

/** xorshift32: the same trees on every machine. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS = (
  "func package return if else for range struct interface string int error nil true false var const " +
  "type import map chan go defer select case default switch break continue byte rune len cap append " +
  "make new copy panic recover ctx err ok value result buf data name path version module zip file"
).split(" ");

/** 16 MiB of Go-looking text to cut files from. */
function textPool(next: () => number): Buffer {
  const parts: string[] = [];
  let n = 0;
  let indent = 0;
  while (n < 16 << 20) {
    let line = "\t".repeat(indent);
    const words = 2 + Math.floor(next() * 9);
    for (let i = 0; i < words; i++) line += (i ? " " : "") + WORDS[Math.floor(next() * WORDS.length)];
    if (next() < 0.2) line += ` // ${Math.floor(next() * 1e9).toString(36)}`;
    if (next() < 0.15) line += " {";
    line += "\n";
    if (line.endsWith("{\n")) indent = Math.min(indent + 1, 5);
    else if (indent > 0 && next() < 0.15) indent--;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join(""));
}

async function generate(tree: Tree): Promise<string> {
  const dir = join(WORK, tree.name);
  const marker = join(WORK, `${tree.name}.ok`);
  if (existsSync(marker) && (await readFile(marker, "utf8")) === TREE_FORMAT) return dir;
  await rm(dir, { recursive: true, force: true });
  const next = rng(0x5eed + tree.files);
  const pool = textPool(next);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "go.mod"), `module ${MODULE}\n\ngo 1.21\n`);
  let total = 0;
  for (let i = 0; i < tree.files; i++) {
    const size = tree.minSize + Math.floor(next() * (tree.maxSize - tree.minSize));
    const at = Math.floor(next() * (pool.length - size));
    const sub = join(dir, `pkg${String(i % 50).padStart(2, "0")}`, `sub${String(Math.floor(i / 50) % 10)}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `file${i}.go`), pool.subarray(at, at + size));
    total += size;
  }
  await writeFile(marker, TREE_FORMAT);
  process.stdout.write(`generated ${tree.name}: ${tree.files} files, ${(total / 1e6).toFixed(1)} MB\n`);
  return dir;
}

/** Bundles the worker (and the goark code it uses) into one plain ESM file. */
async function bundleWorker(): Promise<string> {
  const outfile = join(WORK, "zip-worker.mjs");
  // esbuild comes with tsx; loaded by name so that the bench needs nothing more.
  const esbuild = (await import("esbuild")) as typeof import("esbuild");
  await esbuild.build({
    entryPoints: [join(ROOT, "bench/zip-worker.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    banner: {
      js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
  return outfile;
}

async function buildOracle(): Promise<string> {
  const bin = join(WORK, "zip-oracle");
  const env = {
    ...process.env,
    GO111MODULE: "off",
    GOPATH: "/usr/share/gocode",
    GOFLAGS: "",
    GOCACHE: process.env.GOCACHE || join(tmpdir(), "goark-oracle-gocache"),
  };
  await execFileP("go", ["build", "-o", bin, "."], { cwd: join(ROOT, "bench/zip-oracle"), env });
  return bin;
}

interface RunResult {
  ms: number;
  h1: string;
  maxRssKiB: number;
  rehashH1?: string;
}

function run(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.trim()}`));
      else resolvePromise(JSON.parse(out.trim().split("\n").pop()!) as RunResult);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  await mkdir(WORK, { recursive: true });
  const oracle = await buildOracle();
  const nodeArgs = [await bundleWorker()];
  process.stdout.write(`bench:zip  node ${process.version}, ${REPS} repetitions, medians\n`);
  let ok = true;
  for (const tree of TREES) {
    const dir = await generate(tree);
    const goZip = join(WORK, `${tree.name}.go.zip`);
    const ourZip = join(WORK, `${tree.name}.goark.zip`);
    const go: RunResult[] = [];
    const ours: RunResult[] = [];
    const twoPass: RunResult[] = [];
    for (let i = 0; i < REPS; i++) {
      go.push(await run(oracle, [dir, MODULE, VERSION, goZip]));
      await rm(ourZip, { force: true });
      ours.push(await run(process.execPath, [...nodeArgs, dir, MODULE, VERSION, ourZip]));
      await rm(ourZip, { force: true });
      twoPass.push(await run(process.execPath, [...nodeArgs, dir, MODULE, VERSION, ourZip, "rehash"]));
    }
    const goMs = median(go.map((r) => r.ms));
    const ourMs = median(ours.map((r) => r.ms));
    const twoMs = median(twoPass.map((r) => r.ms));
    const rss = (rs: RunResult[]): number => Math.max(...rs.map((r) => r.maxRssKiB)) / 1024;
    const sameHash = ours.every((r) => r.h1 === go[0]!.h1) && twoPass.every((r) => r.rehashH1 === go[0]!.h1);
    const ratio = ourMs / goMs;
    process.stdout.write(
      `\n${tree.name}\n` +
        `  Go x/mod  CreateFromDir + HashZip   ${(goMs / 1000).toFixed(2)} s   peak RSS ${rss(go).toFixed(0)} MiB\n` +
        `  goark     createFromDir (h1 inline) ${(ourMs / 1000).toFixed(2)} s   peak RSS ${rss(ours).toFixed(0)} MiB   ratio ${ratio.toFixed(2)}x\n` +
        `  goark     createFromDir + hashZip   ${(twoMs / 1000).toFixed(2)} s   peak RSS ${rss(twoPass).toFixed(0)} MiB   ratio ${(twoMs / goMs).toFixed(2)}x\n` +
        `  h1 ${go[0]!.h1} ${sameHash ? "(same from both)" : "MISMATCH"}\n`,
    );
    if (!sameHash) ok = false;
    if (ratio > 1.25) process.stdout.write("  ! slower than the 1.25x goal\n");
    if (tree.name.startsWith("400MB") && rss(ours) >= 150)
      process.stdout.write("  ! peak RSS over the 150 MB goal\n");
  }
  if (!ok) process.exitCode = 1;
}

await main();
