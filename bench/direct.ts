/**
 * Direct mode speed: a cold fetch of one module version from a local git
 * repository (smart HTTP, through the test git host) by
 *   A. the go command itself: GOPROXY=direct go mod download -json M@v1.0.0
 *   B. the go command through goark (GOPROXY=goark, goark's store and mirrors empty)
 * each in a fresh GOPATH, several rounds, medians reported; goal B ≤ 1.3 × A.
 * Every round is cold: a fresh GOPATH, and for B a new goark with an empty
 * store and no mirror. One uncounted warm-up round of each comes first, so
 * that B measures a running server (whose code the JIT has compiled, as in
 * production) rather than the benchmark process's own start-up.
 * Then a second version of the already-mirrored repository: goark fetches
 * only the missing objects (the bytes the mirror grew by are printed).
 *
 *   npm run bench:direct [-- --rounds 5 --warmup 1 --files 400 --commits 30 --churn 10]
 * (--churn 400 makes every commit rewrite every file: the worst case for a
 * full mirror against Go's shallow fetch of one commit.)
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type FileTree, startGitHost } from "../test/helpers/git-host.ts";
import { startGoark } from "../test/helpers/goark-instance.ts";

const execFileP = promisify(execFile);
const HOST = "git.goark.test";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** Bytes in files under dir (the git mirrors). */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath ?? e.path, e.name))).size;
  }
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** The tree at commit `version`: `churn` files (all, if churn ≥ files) differ from the previous commit. */
function tree(files: number, version: number, churn: number): FileTree {
  const t: FileTree = { "go.mod": `module ${HOST}/bench\n\ngo 1.19\n`, LICENSE: "bench licence\n" };
  for (let i = 0; i < files; i++) {
    const body = Array.from(
      { length: 40 },
      (_, j) => `// line ${j} of file ${i}: ${"x".repeat((i * 7 + j) % 60)}`,
    );
    // File i last changed at the latest commit c ≤ version with (i - c·churn) mod files < churn.
    let stamp = 0;
    for (let c = version; c >= 0; c--) {
      if ((((i - c * churn) % files) + files) % files < churn) {
        stamp = c;
        break;
      }
    }
    t[`pkg${i % 20}/f${i}.go`] = `package pkg${i % 20}\n\n${body.join("\n")}\n\nconst V${i} = ${stamp}\n`;
  }
  return t;
}

async function main(): Promise<void> {
  const rounds = arg("rounds", 5);
  const warmup = arg("warmup", 1);
  const files = arg("files", 400);
  const churn = arg("churn", 10);
  const history = arg("commits", 30);
  const host = await startGitHost({ host: HOST, smartHttp: true });
  const work = await mkdtemp(join(tmpdir(), "goark-bench-direct-"));
  // Several commits of history, as a real repository has.
  const commits = Array.from({ length: history }, (_, k) => ({
    files: tree(files, k, churn),
    ...(k === history - 1 ? { tags: ["v1.0.0"] } : {}),
  }));
  await host.createRepo("bench", commits);
  const module = `${HOST}/bench`;

  for (const [k, v] of Object.entries({
    HTTP_PROXY: host.proxyUrl,
    http_proxy: host.proxyUrl,
    HTTPS_PROXY: host.proxyUrl,
    https_proxy: host.proxyUrl,
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
  })) {
    process.env[k] = v;
  }

  const download = async (proxy: string, version: string): Promise<number> => {
    const dir = await mkdtemp(join(work, "go-"));
    const env = { ...host.goEnv(dir), GOPROXY: proxy };
    const t0 = performance.now();
    const r = await execFileP("go", ["mod", "download", "-json", `${module}@${version}`], { cwd: dir, env });
    const ms = performance.now() - t0;
    if (!r.stdout.includes('"Sum"')) throw new Error(`download failed: ${r.stdout}`);
    await rm(dir, { recursive: true, force: true });
    return ms;
  };

  const goTimes: number[] = [];
  const goarkTimes: number[] = [];
  for (let i = 0; i < warmup + rounds; i++) {
    const a = await download("direct", "v1.0.0");
    const goark = await startGoark({ upstream: "direct", insecure: HOST });
    let b: number;
    try {
      b = await download(goark.url, "v1.0.0");
    } finally {
      await goark.close();
    }
    if (i < warmup) {
      console.log(`warm-up round (not counted): A ${a.toFixed(0)} ms, B ${b.toFixed(0)} ms`);
      continue;
    }
    goTimes.push(a);
    goarkTimes.push(b);
  }
  const a = median(goTimes);
  const b = median(goarkTimes);
  console.log(
    `module: ${files} files; history: ${history} commits changing ${churn} files each; ${rounds} rounds (after ${warmup} warm-up), medians`,
  );
  console.log(
    `A  go mod download, GOPROXY=direct        ${a.toFixed(0)} ms   (${goTimes.map((t) => t.toFixed(0)).join(", ")})`,
  );
  console.log(
    `B  go mod download through goark (cold)   ${b.toFixed(0)} ms   (${goarkTimes.map((t) => t.toFixed(0)).join(", ")})`,
  );
  console.log(`B/A = ${(b / a).toFixed(2)}  (goal ≤ 1.30)`);

  // Second version of an already-mirrored repository.
  const goark = await startGoark({ upstream: "direct", insecure: HOST });
  try {
    await download(goark.url, "v1.0.0");
    const before = await dirBytes(join(goark.store, ".vcs"));
    await host.extendRepo("bench", [{ files: tree(files, history, churn), tags: ["v1.1.0"] }]);
    const ms = await download(goark.url, "v1.1.0");
    const grew = (await dirBytes(join(goark.store, ".vcs"))) - before;
    const total = await dirBytes(join(goark.store, ".vcs"));
    console.log(
      `second version through goark: ${ms.toFixed(0)} ms; the mirror grew by ${grew} bytes (now ${total} bytes)`,
    );
  } finally {
    await goark.close();
  }
  await host.close();
  await rm(work, { recursive: true, force: true });
}

await main();
