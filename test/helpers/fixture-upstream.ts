/**
 * A fake upstream GOPROXY for tests: modules built by the test with goark's
 * own module-format code (go.mod, .go files, zips from src/module/zip.ts,
 * .info with Time) are laid out as a static GOPROXY tree on disk and served on
 * 127.0.0.1, with switches that inject the faults real upstreams show (error
 * statuses, hangs, slow trickles, truncated or replaced bodies) and a
 * stop/restart that keeps the port.
 */
import { createReadStream } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve, sep } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { escapePath, escapeVersion } from "../../src/module/path.ts";
import { compare } from "../../src/module/semver.ts";
import { create, type ZipSourceFile } from "../../src/module/zip.ts";

// ---------------------------------------------------------------- the tree

export interface FixtureVersion {
  module: string;
  /** Canonical version (or pseudo-version). */
  version: string;
  /** RFC 3339 UTC, for .info. */
  time: string;
  /** Zip content: relative path → bytes. A root "go.mod" here is the module's go.mod. */
  files: Record<string, string | Uint8Array>;
  /** The .mod served; defaults to files["go.mod"], else the synthesized `module PATH\n`. */
  mod?: string;
  /** Leave the version out of `list` (pseudo-versions always are). */
  unlisted?: boolean;
}

export interface TreeOptions {
  /** Write `<module>/@latest` (the newest listed version, else the newest) for every module. Default true. */
  latest?: boolean | ((module: string) => boolean);
}

function memoryFile(path: string, data: Uint8Array): ZipSourceFile {
  return {
    path,
    lstat: async () => ({ isFile: true, isSymlink: false, size: data.length }),
    open: () => Readable.from([Buffer.from(data)]),
  };
}

function modOf(v: FixtureVersion): string {
  if (v.mod !== undefined) return v.mod;
  const gm = v.files["go.mod"];
  if (gm !== undefined) return Buffer.from(gm).toString("utf8");
  return `module ${v.module}\n`;
}

function infoOf(v: FixtureVersion): string {
  return JSON.stringify({ Version: v.version, Time: v.time });
}

/** Builds the zip of a fixture version with src/module/zip.ts create. */
export async function buildZip(v: FixtureVersion, out: string): Promise<void> {
  const files = Object.entries(v.files).map(([p, d]) =>
    memoryFile(p, typeof d === "string" ? Buffer.from(d) : d),
  );
  await create(out, v.module, v.version, files);
}

/** Writes a static GOPROXY tree (the go command's download-cache layout) under root. */
export async function writeTree(
  root: string,
  versions: FixtureVersion[],
  opts: TreeOptions = {},
): Promise<void> {
  const byModule = new Map<string, FixtureVersion[]>();
  for (const v of versions) {
    const list = byModule.get(v.module) ?? [];
    list.push(v);
    byModule.set(v.module, list);
  }
  for (const [module, vs] of byModule) {
    const dir = join(root, escapePath(module), "@v");
    await mkdir(dir, { recursive: true });
    for (const v of vs) {
      const base = join(dir, escapeVersion(v.version));
      await writeFile(`${base}.info`, infoOf(v));
      await writeFile(`${base}.mod`, modOf(v));
      await buildZip(v, `${base}.zip`);
    }
    const listed = vs
      .filter((v) => !v.unlisted && !/\d{14}-[0-9a-f]{12}/.test(v.version))
      .map((v) => v.version)
      .sort(compare);
    await writeFile(join(dir, "list"), listed.map((v) => `${v}\n`).join(""));
    const wantLatest = typeof opts.latest === "function" ? opts.latest(module) : opts.latest !== false;
    if (wantLatest) {
      const newest =
        listed.length > 0
          ? vs.find((v) => v.version === listed[listed.length - 1])!
          : [...vs].sort((a, b) => a.time.localeCompare(b.time))[vs.length - 1]!;
      await writeFile(join(root, escapePath(module), "@latest"), infoOf(newest));
    }
  }
}

// ---------------------------------------------------------------- a graph

export interface Graph {
  versions: FixtureVersion[];
  /** Modules (at their newest version) the main program requires directly. */
  direct: { module: string; version: string }[];
  /** Every module in the build graph of the main program. */
  modules: string[];
  /** go.mod and main.go of a program that imports the graph's top. */
  main: Record<string, string>;
  /** What the main program prints. */
  expectedOutput: string;
}

function pad(i: number): string {
  return String(i).padStart(2, "0");
}

/**
 * A dependency graph of n library modules `example.com/fx/mNN` (each imports
 * mNN-1 and mNN/2), plus a module whose path needs case-escaping
 * (`example.com/fx/Upper`) and a /v2 module, each at v1.0.0 and v1.1.0 (v2.0.0
 * and v2.1.0). The main program imports the top; `go build` needs them all.
 */
export function generateGraph(n = 24): Graph {
  const versions: FixtureVersion[] = [];
  const value = new Map<number, number>();
  const deps = (i: number) => [...new Set([i - 1, Math.floor(i / 2)])].filter((j) => j >= 1 && j < i);
  for (let i = 1; i <= n; i++) {
    value.set(i, i + deps(i).reduce((s, j) => s + value.get(j)!, 0));
  }
  const times = ["2023-01-02T03:04:05Z", "2023-06-07T08:09:10Z"];
  for (let i = 1; i <= n; i++) {
    const module = `example.com/fx/m${pad(i)}`;
    const ds = deps(i);
    const imports = ds.map((j) => `\t"example.com/fx/m${pad(j)}"\n`).join("");
    const sum = ds.map((j) => ` + m${pad(j)}.Value()`).join("");
    ["v1.0.0", "v1.1.0"].forEach((version, k) => {
      const goMod =
        `module ${module}\n\ngo 1.16\n` +
        (ds.length > 0
          ? `\nrequire (\n${ds.map((j) => `\texample.com/fx/m${pad(j)} v1.0.0\n`).join("")})\n`
          : "");
      versions.push({
        module,
        version,
        time: times[k]!,
        files: {
          "go.mod": goMod,
          [`m${pad(i)}.go`]:
            `// Package m${pad(i)} is a goark test fixture.\npackage m${pad(i)}\n\n` +
            (imports ? `import (\n${imports})\n\n` : "") +
            `// Value sums this module's number and its dependencies' values.\nfunc Value() int { return ${i}${sum} }\n`,
          LICENSE: "fixture licence text\n",
          "internal/doc/doc.go": `package doc\n\n// Version is the fixture version.\nconst Version = "${version}"\n`,
        },
      });
    });
  }
  const upper = "example.com/fx/Upper";
  const major = "example.com/fx/major/v2";
  ["v1.0.0", "v1.1.0"].forEach((version, k) => {
    versions.push({
      module: upper,
      version,
      time: times[k]!,
      files: {
        "go.mod": `module ${upper}\n\ngo 1.16\n`,
        "upper.go": "package upper\n\nfunc Value() int { return 1000 }\n",
      },
    });
  });
  ["v2.0.0", "v2.1.0"].forEach((version, k) => {
    versions.push({
      module: major,
      version,
      time: times[k]!,
      files: {
        "go.mod": `module ${major}\n\ngo 1.16\n`,
        "major.go": "package major\n\nfunc Value() int { return 20000 }\n",
      },
    });
  });
  const top = `example.com/fx/m${pad(n)}`;
  const direct = [
    { module: top, version: "v1.1.0" },
    { module: upper, version: "v1.1.0" },
    { module: major, version: "v2.1.0" },
  ];
  const main = {
    "go.mod": `module example.com/app\n\ngo 1.19\n\nrequire (\n${direct.map((d) => `\t${d.module} ${d.version}\n`).join("")})\n`,
    "main.go":
      `package main\n\nimport (\n\t"fmt"\n\n\t"${top}"\n\t"${upper}"\n\t"${major}"\n)\n\n` +
      `func main() { fmt.Println(m${pad(n)}.Value() + upper.Value() + major.Value()) }\n`,
  };
  const modules = [...Array.from({ length: n }, (_, i) => `example.com/fx/m${pad(i + 1)}`), upper, major];
  return { versions, direct, modules, main, expectedOutput: `${value.get(n)! + 1000 + 20000}\n` };
}

// ---------------------------------------------------------------- hand-made zips

export interface RawEntry {
  name: string;
  /** The uncompressed content (method 0) or the raw deflate stream (method 8). */
  data: Uint8Array;
  method?: 0 | 8;
  /** Header values; default to the true ones. Lying here makes bombs and corrupt zips. */
  crc?: number;
  uncompressedSize?: number;
}

/** Writes a zip archive by hand, so tests can make ones no honest writer would. */
export function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const method = e.method ?? 0;
    const plain = method === 0 ? e.data : inflateRawSync(e.data);
    const crc = e.crc ?? crc32(plain);
    const usize = e.uncompressedSize ?? plain.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(usize, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * A zip bomb for module@version: one deflated entry of `actual` zero bytes
 * whose header claims `declared` bytes (a lie when they differ).
 */
export function bombZip(module: string, version: string, actual: number, declared = actual): Buffer {
  const zeros = Buffer.alloc(actual);
  const data = deflateRawSync(zeros, { level: 9 });
  return rawZip([
    { name: `${module}@${version}/go.mod`, data: Buffer.from(`module ${module}\n`) },
    { name: `${module}@${version}/bomb.txt`, data, method: 8, crc: crc32(zeros), uncompressedSize: declared },
  ]);
}

// ---------------------------------------------------------------- the server

export type Fault =
  /** Answer with this status (and body). */
  | { kind: "status"; status: number; body?: string }
  /** Serve this body with status 200 instead of the file. */
  | { kind: "body"; body: string | Uint8Array; contentType?: string }
  /** Wait before answering normally. */
  | { kind: "delay"; ms: number }
  /** Send the headers, then the body in small pieces at intervals. */
  | { kind: "trickle"; chunkBytes: number; intervalMs: number }
  /** Announce the full length, send only the first `bytes`, then drop the connection. */
  | { kind: "truncate"; bytes: number }
  /** Accept the request and never answer. */
  | { kind: "hang" }
  /** Drop the connection without an answer. */
  | { kind: "reset" };

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
}

export class FixtureUpstream {
  readonly root: string;
  readonly requests: RequestRecord[] = [];
  #server: Server;
  #port = 0;
  #faults: { match: RegExp | string; fault: Fault }[] = [];
  #running = false;

  private constructor(root: string) {
    this.root = resolve(root);
    this.#server = this.#newServer();
  }

  /** Serves the tree at root on 127.0.0.1 (a free port unless one is given). */
  static async start(root: string, port = 0): Promise<FixtureUpstream> {
    const up = new FixtureUpstream(root);
    await up.#listen(port);
    return up;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#running;
  }

  /**
   * Injects a fault for request paths that contain `match` (string) or match it
   * (RegExp). The most recently added matching fault wins. Returns a remover.
   */
  fault(match: RegExp | string, fault: Fault): () => void {
    const entry = { match, fault };
    this.#faults.push(entry);
    return () => {
      this.#faults = this.#faults.filter((f) => f !== entry);
    };
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Requests whose path contains (or matches) `match`. */
  count(match: RegExp | string): number {
    return this.requests.filter((r) => matches(match, r.path)).length;
  }

  resetLog(): void {
    this.requests.length = 0;
  }

  /** Stops listening and drops open connections; restart() listens on the same port again. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    this.#server.closeAllConnections();
    await closed;
  }

  async restart(): Promise<void> {
    if (this.#running) return;
    this.#server = this.#newServer();
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    await this.stop();
  }

  #newServer(): Server {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    server.keepAliveTimeout = 1000;
    return server;
  }

  async #listen(port: number): Promise<void> {
    await new Promise<void>((ok, fail) => {
      this.#server.once("error", fail);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", fail);
        ok();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#running = true;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    const record: RequestRecord = { method: req.method ?? "", path, status: 0 };
    this.requests.push(record);
    const reply = (status: number, body: string | Uint8Array, type = "text/plain; charset=utf-8") => {
      record.status = status;
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    };

    let fault: Fault | undefined;
    for (let i = this.#faults.length - 1; i >= 0; i--) {
      if (matches(this.#faults[i]!.match, path)) {
        fault = this.#faults[i]!.fault;
        break;
      }
    }
    switch (fault?.kind) {
      case "status":
        return reply(fault.status, fault.body ?? `injected ${fault.status}\n`);
      case "body":
        return reply(200, fault.body, fault.contentType);
      case "hang":
        record.status = -1;
        return;
      case "reset":
        record.status = -1;
        req.socket.destroy();
        return;
      case "delay":
        await new Promise((r) => setTimeout(r, fault.ms));
        break;
    }

    let file: string;
    try {
      file = resolve(this.root, `.${decodeURIComponent(path)}`);
    } catch {
      return reply(400, "bad escape\n");
    }
    if (!file.startsWith(this.root + sep)) return reply(404, "not found\n");
    const st = await stat(file).catch(() => undefined);
    if (st === undefined || !st.isFile()) return reply(404, `not found: ${path}\n`);
    const type = file.endsWith(".zip")
      ? "application/zip"
      : file.endsWith(".info") || file.endsWith("@latest")
        ? "application/json"
        : "text/plain; charset=utf-8";
    record.status = 200;
    res.writeHead(200, { "Content-Type": type, "Content-Length": st.size });
    if (req.method === "HEAD") return void res.end();

    if (fault?.kind === "truncate") {
      const stream = createReadStream(file, { start: 0, end: Math.max(0, fault.bytes - 1) });
      stream.on("end", () => setTimeout(() => res.destroy(), 20));
      stream.pipe(res, { end: false });
      return;
    }
    if (fault?.kind === "trickle") {
      const { chunkBytes, intervalMs } = fault;
      const slow = new PassThrough();
      slow.pipe(res);
      const fd = createReadStream(file, { highWaterMark: chunkBytes });
      for await (const chunk of fd) {
        if (res.destroyed) {
          fd.destroy();
          return;
        }
        slow.write(chunk);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
      slow.end();
      return;
    }
    createReadStream(file).pipe(res);
  }
}

function matches(match: RegExp | string, path: string): boolean {
  return typeof match === "string" ? path.includes(match) : match.test(path);
}
