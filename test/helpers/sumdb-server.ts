/**
 * golang.org/x/mod's own checksum-database server on loopback (the Go program
 * in test/sumdb-server): built once per source hash, started per test, fed
 * with go.sum records by a callback the test provides. See main.go there for
 * the routes (/honest/, /fork/, /badtile/, /badrecord/). goSumRecords makes
 * the records of a fixture tree with Go's own dirhash (the oracle).
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { escapePath, escapeVersion } from "../../src/module/path.ts";
import type { FixtureVersion } from "./fixture-upstream.ts";
import { buildGoProgram, type Oracle } from "./oracle.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC_DIR = join(ROOT, "test/sumdb-server");

function build(): Promise<string> {
  return buildGoProgram(SRC_DIR, "sumdb-server");
}

/** Which log asks: the honest one or its fork. */
export type SumdbLog = "honest" | "fork";

/** The go.sum record text for path@version in that log, or undefined for "no such module". */
export type GoSumSource = (db: SumdbLog, path: string, version: string) => string | undefined;

export interface GoSumdbServer {
  /** http://127.0.0.1:PORT (add /honest, /fork, /badtile or /badrecord). */
  url: string;
  verifierKey: string;
  /** The module versions asked for, in order. */
  asked: string[];
  /** What the server wrote to stderr (a Go panic shows here). */
  stderr(): string;
  close(): Promise<void>;
}

/** One module version's go.sum record as Go computes it. */
export interface GoSumRecord {
  /** h1: hash of the zip. */
  zip: string;
  /** h1: hash of the go.mod. */
  mod: string;
  /** The two go.sum lines: `<path> <version> <zip>\n<path> <version>/go.mod <mod>\n`. */
  text: string;
}

/**
 * The go.sum records of versions as writeTree wrote them under tree, keyed
 * path@version: Go's dirhash (the oracle) over the tree's own .zip and .mod
 * files, so the expected hashes never come from goark's code.
 */
export async function goSumRecords(
  oracle: Oracle,
  tree: string,
  versions: FixtureVersion[],
): Promise<Map<string, GoSumRecord>> {
  const stems = versions.map((v) => join(tree, escapePath(v.module), "@v", escapeVersion(v.version)));
  const [zips, mods] = await Promise.all([
    oracle.askAll<string>(
      "dirhash.HashZip",
      stems.map((f) => [`${f}.zip`]),
    ),
    Promise.all(stems.map((f) => readFile(`${f}.mod`, "utf8"))).then((texts) =>
      oracle.askAll<string>(
        "dirhash.HashGoMod",
        texts.map((t) => [t]),
      ),
    ),
  ]);
  const records = new Map<string, GoSumRecord>();
  versions.forEach((v, i) => {
    const zip = zips[i]!.v;
    const mod = mods[i]!.v;
    if (!zip || !mod)
      throw new Error(`oracle hashes for ${v.module}@${v.version}: ${zips[i]!.err} ${mods[i]!.err}`);
    const text = `${v.module} ${v.version} ${zip}\n${v.module} ${v.version}/go.mod ${mod}\n`;
    records.set(`${v.module}@${v.version}`, { zip, mod, text });
  });
  return records;
}

/** Starts x/mod's sumdb server with records from gosum. */
export async function startGoSumdbServer(gosum: GoSumSource): Promise<GoSumdbServer> {
  const bin = await build();
  const asked: string[] = [];
  const callback = createServer((req, res) => {
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    const db = q.get("db") as SumdbLog;
    const path = q.get("path") ?? "";
    const version = q.get("version") ?? "";
    asked.push(`${db} ${path}@${version}`);
    const text = gosum(db, path, version);
    if (text === undefined) {
      res.writeHead(404).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(text);
  });
  await new Promise<void>((r) => callback.listen(0, "127.0.0.1", r));
  const port = (callback.address() as AddressInfo).port;
  const child = spawn(bin, ["-gosum", `http://127.0.0.1:${port}/`], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const first = await new Promise<string>((resolveLine, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (l) => {
      rl.close();
      resolveLine(l);
    });
    child.once("exit", (code) => reject(new Error(`sumdb-server exited (${code}): ${stderr}`)));
  });
  const info = JSON.parse(first) as { url: string; verifierKey: string };
  return {
    url: info.url,
    verifierKey: info.verifierKey,
    asked,
    stderr: () => stderr,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.stdin.end();
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((r) => callback.close(() => r()));
    },
  };
}
