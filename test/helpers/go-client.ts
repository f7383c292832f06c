/**
 * Runs the real go command against a proxy with a private, throw-away
 * environment: fresh GOPATH/GOMODCACHE/GOCACHE, no user go env file, module
 * mode, and GOSUMDB=off unless a test sets its own (the checksum-database tests do).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GoResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the run was killed after its timeout. */
  timedOut: boolean;
}

export interface GoClientOptions {
  /** GOPROXY value, e.g. "http://127.0.0.1:1234". */
  proxy: string;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** One `go mod download -json` object (see PROTOCOL.md section 8). */
export interface DownloadResult {
  Path: string;
  Version: string;
  Query?: string;
  Error?: string;
  Info?: string;
  GoMod?: string;
  Zip?: string;
  Dir?: string;
  Sum?: string;
  GoModSum?: string;
}

export class GoClient {
  readonly home: string;
  readonly env: Record<string, string>;

  private constructor(home: string, env: Record<string, string>) {
    this.home = home;
    this.env = env;
  }

  static async create(opts: GoClientOptions): Promise<GoClient> {
    const home = await mkdtemp(join(tmpdir(), "goark-go-"));
    const gopath = join(home, "gopath");
    await mkdir(join(home, "work"), { recursive: true });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      TMPDIR: tmpdir(),
      GOPATH: gopath,
      GOMODCACHE: join(gopath, "pkg/mod"),
      GOCACHE: join(home, "gocache"),
      GOENV: "off",
      GO111MODULE: "on",
      GOWORK: "off",
      GOPROXY: opts.proxy,
      GOSUMDB: "off",
      GONOSUMDB: "",
      GOPRIVATE: "",
      GONOPROXY: "",
      GOINSECURE: "",
      GOFLAGS: "-modcacherw",
      GOTOOLCHAIN: "local",
      CGO_ENABLED: "0",
      GIT_TERMINAL_PROMPT: "0",
      ...opts.env,
    };
    return new GoClient(home, env);
  }

  /** A fresh directory under this client's home, e.g. for a main module. */
  async dir(name: string): Promise<string> {
    const d = join(this.home, "work", name);
    await mkdir(d, { recursive: true });
    return d;
  }

  /** Writes a main module (go.mod + files) and returns its directory. */
  async mainModule(name: string, files: Record<string, string>): Promise<string> {
    const d = await this.dir(name);
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(d, rel, ".."), { recursive: true });
      await writeFile(join(d, rel), text);
    }
    return d;
  }

  /** Empties the module cache so the next command downloads again. */
  async clearModCache(): Promise<void> {
    await rm(this.env.GOMODCACHE!, { recursive: true, force: true });
  }

  run(args: string[], opts: RunOptions = {}): Promise<GoResult> {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      const child = spawn("go", args, {
        cwd: opts.cwd ?? join(this.home, "work"),
        env: { ...this.env, ...opts.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({
          code,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          timedOut,
        });
      });
    });
  }

  /** `go mod download -json ARGS`; resolves with every object printed, whatever the exit code. */
  async download(
    args: string[],
    opts: RunOptions = {},
  ): Promise<{ result: GoResult; modules: DownloadResult[] }> {
    const result = await this.run(["mod", "download", "-json", ...args], opts);
    return { result, modules: parseJsonStream<DownloadResult>(result.stdout) };
  }

  async close(): Promise<void> {
    await rm(this.home, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Splits the concatenated JSON objects the go command prints with -json. */
export function parseJsonStream<T>(text: string): T[] {
  const out: T[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}") {
      if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1)) as T);
    }
  }
  return out;
}

/** A readable one-line summary of a failed go run, for assertion messages. */
export function describe(r: GoResult): string {
  return `exit ${r.code}${r.timedOut ? " (timed out)" : ""}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
