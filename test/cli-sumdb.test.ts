/**
 * `goark sumdb key` and the start-up lines of `goark serve` as processes: the
 * key is created once (mode 0600) with the store's data and never printed;
 * the verifier key and the go env lines name goark's URL and database; a
 * name that contradicts the stored key is a usage error; serve prints the
 * same GOSUMDB line, and says so when --sumdb off turns verification off.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseSumDb } from "../src/config/go-env-syntax.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GOARK = join(ROOT, "bin/goark.js");

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      [GOARK, ...args],
      { env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), ...env }, cwd: tmpdir(), timeout: 60_000 },
      (err, stdout, stderr) =>
        ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "goark-cli-sumdb-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("goark sumdb key creates the key once and prints the client lines", { timeout: 120_000 }, async () => {
  const store = join(tmp, "store");
  const first = await run([
    "sumdb",
    "key",
    "--storage",
    store,
    "--listen",
    "127.0.0.1:4321",
    "--sumdb-name",
    "goark.corp.example",
  ]);
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /signing key created now/);
  assert.equal((await stat(join(store, ".sumdb/key"))).mode & 0o777, 0o600);
  assert.ok(!first.out.includes("PRIVATE+KEY"), "the signing key is never printed");
  const vkey = /verifier key\s+(\S+)/.exec(first.out)?.[1] ?? "";
  assert.match(vkey, /^goark\.corp\.example\+[0-9a-f]{8}\+/);
  const gosumdb = `${vkey} http://127.0.0.1:4321/sumdb/goark.corp.example`;
  assert.ok(first.out.includes(`go env -w GOSUMDB="${gosumdb}"`), first.out);
  assert.ok(first.out.includes("go env -w GOPROXY=http://127.0.0.1:4321"));
  assert.ok(first.out.includes("go env -u GONOSUMDB GOPRIVATE GONOPROXY"));
  // The GOSUMDB value passes the go command's own rules (name, key hash, URL).
  const parsed = parseSumDb(gosumdb);
  assert.ok(
    typeof parsed !== "string" && !parsed.off && parsed.name === "goark.corp.example",
    String(parsed),
  );

  const again = await run(["sumdb", "key", "--storage", store, "--url", "https://goark.corp.example/"]);
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /created now/);
  assert.ok(
    again.out.includes(`go env -w GOSUMDB="${vkey} https://goark.corp.example/sumdb/goark.corp.example"`),
  );
  assert.match(await readFile(join(store, ".sumdb/key"), "utf8"), /^PRIVATE\+KEY\+goark\.corp\.example\+/);

  const clash = await run(["sumdb", "key", "--storage", store, "--sumdb-name", "other.example"]);
  assert.equal(clash.code, 2, clash.out);
  assert.match(clash.out, /^goark: .*is for goark\.corp\.example, but the configured name is other\.example/);

  // serve prints the same GOSUMDB line, and says verification is off.
  const child = spawn(process.execPath, [GOARK, "serve"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: tmpdir(),
      GOARK_STORAGE: store,
      GOARK_LISTEN: "127.0.0.1:0",
      GOARK_SUMDB: "off",
      GOARK_UPSTREAM: "off",
      GOARK_LOG_LEVEL: "warn",
    },
    cwd: tmpdir(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const deadline = Date.now() + 30_000;
  // stdout and stderr are separate pipes: wait for both the warning and the client lines.
  const ready = () =>
    /verification is off \(--sumdb off\): goark stores/.test(out) && /go env -w GOSUMDB=/.test(out);
  while (!ready() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  assert.ok(url, out);
  assert.ok(out.includes(`go env -w GOSUMDB="${vkey} ${url}/sumdb/goark.corp.example"`), out);
  assert.match(out, /checksum verification is off/);
});
