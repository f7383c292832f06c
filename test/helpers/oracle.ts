/**
 * The Go oracle: test/oracle/main.go answers questions with golang.org/x/mod
 * (Debian's v0.7.0, built in GOPATH mode), so differential tests can compare
 * goark's answers with Go's. Built once per source hash, spawned per test file,
 * and asked many questions at once: requests are pipelined and answered in order.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ORACLE_DIR = join(ROOT, "test/oracle");
const BIN_DIR = join(ORACLE_DIR, "bin");
export const GOPATH = "/usr/share/gocode";
export const XMOD_DIR = join(GOPATH, "src/golang.org/x/mod");
const PREREQ_HINT =
  "run `bash scripts/prereqs.sh` to install Debian's golang-go, golang-golang-x-mod-dev and git";

/** A string (sent as its WTF-8 bytes), raw bytes, a number, a boolean or a list of those. */
export type OracleArg = string | Uint8Array | number | boolean | OracleArg[];

/** What the oracle says: a value, or the text of Go's error. */
export interface OracleAnswer<T = unknown> {
  v?: T;
  err?: string;
}

export interface Oracle {
  /** One question; many may be in flight at once (they are pipelined). */
  ask<T = unknown>(op: string, args: OracleArg[]): Promise<OracleAnswer<T>>;
  /** Many questions of one kind, answered in order. */
  askAll<T = unknown>(op: string, argLists: OracleArg[][]): Promise<OracleAnswer<T>[]>;
  close(): Promise<void>;
}

/**
 * Encodes a JS string as WTF-8: UTF-8, except that a lone surrogate becomes its
 * own 3-byte sequence (ED A0 80 for U+D800) instead of U+FFFD. That is what a
 * Go string holding those bytes looks like: invalid UTF-8, as Go reports it.
 */
export function wtf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** True if the string holds a lone surrogate (so Go would see invalid UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return /\p{Surrogate}/u.test(s);
}

function encodeArg(a: OracleArg): unknown {
  if (typeof a === "string") {
    // Plain printable ASCII travels as is; everything else as base64 bytes.
    return /^[\x20-\x7e]*$/.test(a) ? a : { b: Buffer.from(wtf8(a)).toString("base64") };
  }
  if (a instanceof Uint8Array) return { b: Buffer.from(a).toString("base64") };
  if (Array.isArray(a)) return a.map(encodeArg);
  return a;
}

async function assertPrerequisites(): Promise<void> {
  try {
    await execFileP("go", ["version"]);
  } catch {
    throw new Error(`the Go oracle needs the go command, which is not on PATH: ${PREREQ_HINT}`);
  }
  if (!existsSync(join(XMOD_DIR, "module/module.go")) || !existsSync(join(XMOD_DIR, "zip/zip.go"))) {
    throw new Error(
      `the Go oracle needs golang.org/x/mod sources at ${XMOD_DIR}, which are missing: ${PREREQ_HINT}`,
    );
  }
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds the Go program in srcDir (GOPATH mode, against Debian's x/mod) into
 * test/oracle/bin/<name>-<hash>, hash of its .go files and the go version,
 * unless that binary already exists; returns its path. One build per
 * directory per process; concurrent processes build under unique names and
 * rename.
 */
export function buildGoProgram(srcDir: string, name: string): Promise<string> {
  let building = builds.get(srcDir);
  if (building === undefined) {
    building = (async () => {
      await assertPrerequisites();
      // Every .go file of the package (ops live in several files), in name order.
      const goFiles = (await readdir(srcDir)).filter((f) => f.endsWith(".go")).sort();
      const hasher = createHash("sha256");
      for (const f of goFiles)
        hasher
          .update(f)
          .update("\0")
          .update(await readFile(join(srcDir, f)));
      const { stdout: goVersion } = await execFileP("go", ["version"]);
      const hash = hasher.update(goVersion).digest("hex").slice(0, 16);
      const bin = join(BIN_DIR, `${name}-${hash}`);
      if (existsSync(bin)) return bin;
      await mkdir(BIN_DIR, { recursive: true });
      const tmp = `${bin}.tmp-${process.pid}-${Date.now()}`;
      const env = {
        ...process.env,
        GO111MODULE: "off",
        GOPATH,
        GOFLAGS: "",
        GOCACHE: process.env.GOCACHE || join(tmpdir(), "goark-oracle-gocache"),
      };
      try {
        await execFileP("go", ["build", "-o", tmp, "."], { cwd: srcDir, env });
      } catch (err) {
        await rm(tmp, { force: true });
        const stderr = (err as { stderr?: string }).stderr ?? String(err);
        throw new Error(`building ${name} failed (${PREREQ_HINT} if x/mod is missing):\n${stderr}`);
      }
      await rename(tmp, bin);
      return bin;
    })();
    builds.set(srcDir, building);
  }
  return building;
}

/** Builds test/oracle (see buildGoProgram); returns the binary's path. */
export function buildOracle(): Promise<string> {
  return buildGoProgram(ORACLE_DIR, "oracle");
}

interface Pending {
  resolve: (a: OracleAnswer) => void;
  reject: (e: Error) => void;
  request: string;
}

/** Builds (if needed) and starts the oracle. Close it when the test file ends. */
export async function startOracle(): Promise<Oracle> {
  const bin = await buildOracle();
  const child: ChildProcessWithoutNullStreams = spawn(bin, [], { stdio: ["pipe", "pipe", "pipe"] });
  const pending: Pending[] = [];
  let stderr = "";
  let dead: Error | undefined;
  let buffered = "";

  const failAll = (err: Error) => {
    dead = err;
    for (const p of pending.splice(0)) p.reject(err);
  };
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    stderr += d;
  });
  child.on("error", (err) => failAll(new Error(`the Go oracle could not run: ${err.message}`)));
  child.on("exit", (code, signal) => {
    failAll(new Error(`the Go oracle exited (code ${code}, signal ${signal}): ${stderr.trim()}`));
  });
  child.stdin.on("error", () => {
    // EPIPE after the child died; "exit" reports it.
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      const p = pending.shift();
      if (!p) continue;
      const answer = JSON.parse(line) as OracleAnswer & { panic?: string };
      if (answer.panic !== undefined) {
        p.reject(new Error(`the Go oracle panicked on ${p.request}: ${answer.panic}`));
      } else {
        p.resolve(answer);
      }
    }
  });

  const ask = <T>(op: string, args: OracleArg[]): Promise<OracleAnswer<T>> => {
    if (dead) return Promise.reject(dead);
    const request = JSON.stringify({ op, args: args.map(encodeArg) });
    return new Promise<OracleAnswer<T>>((resolve, reject) => {
      pending.push({ resolve: resolve as (a: OracleAnswer) => void, reject, request });
      child.stdin.write(request + "\n");
    });
  };

  return {
    ask,
    askAll: <T>(op: string, argLists: OracleArg[][]) => Promise.all(argLists.map((a) => ask<T>(op, a))),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
