/**
 * Configuration through the real bin: `goark config --json` shows the
 * effective values and their origin; an invalid value in any layer ends the
 * command with exit code 2 and one line naming the key and the layer.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { goark } from "./helpers/goark-cli.ts";

/** Runs goark with only the given GOARK_* variables (the caller's are dropped). */

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "goark-cli-config-"));
});
after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test("precedence: flag > env > goark.yaml > default, with origins", async () => {
  await writeFile(
    join(dir, "goark.yaml"),
    "listTtl: 10s\nnotFoundTtl: 11s\nupstreamRetries: 4\nprivate: '*.corp.example'\n",
  );
  const r = await goark(["config", "--json", "--list-ttl", "30s"], dir, {
    GOARK_LIST_TTL: "20s",
    GOARK_NOT_FOUND_TTL: "21s",
  });
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as {
    file: string;
    config: Record<string, unknown>;
    origin: Record<string, string>;
  };
  assert.equal(got.file, join(dir, "goark.yaml"));
  assert.equal(got.config.listTtl, 30_000);
  assert.equal(got.origin.listTtl, "flag");
  assert.equal(got.config.notFoundTtl, 21_000);
  assert.equal(got.origin.notFoundTtl, "env");
  assert.equal(got.config.upstreamRetries, 4);
  assert.equal(got.origin.upstreamRetries, "file");
  assert.equal(got.config.private, "*.corp.example");
  assert.equal(got.config.upstreamConcurrency, 16);
  assert.equal(got.origin.upstreamConcurrency, "default");

  const offline = await goark(["config", "--json", "--no-offline"], dir, { GOARK_OFFLINE: "true" });
  assert.equal(JSON.parse(offline.stdout).config.offline, false);
  const onByEnv = await goark(["config", "--json"], dir, { GOARK_OFFLINE: "true" });
  assert.equal(JSON.parse(onByEnv.stdout).config.offline, true);
});

test("an invalid value in any layer: exit 2, one line naming key and layer", async () => {
  const clean = await mkdtemp(join(dir, "clean-"));
  const bad = join(clean, "bad.yaml");
  await writeFile(bad, "upstreamTimeout: forever\n");
  const unknownKey = join(clean, "unknown.yaml");
  await writeFile(unknownKey, "listen: 127.0.0.1:1\nlisten_addr: x\n");
  const cases: { args: string[]; env?: Record<string, string>; want: string[] }[] = [
    { args: ["--listen", "nowhere"], want: ["listen", "--listen"] },
    { args: ["--upstream", "ftp://mirror"], want: ["upstream", "--upstream"] },
    { args: ["--memory-cache-bytes", "much"], want: ["memoryCacheBytes", "--memory-cache-bytes"] },
    { args: [], env: { GOARK_SUMDB: "sum.example.com" }, want: ["sumdb", "GOARK_SUMDB"] },
    { args: [], env: { GOARK_PRIVATE: "corp[" }, want: ["private", "GOARK_PRIVATE"] },
    { args: [], env: { GOARK_STORAGE: "gs://bucket" }, want: ["storage", "GOARK_STORAGE"] },
    { args: ["--config", bad], want: ["upstreamTimeout", `${bad}:upstreamTimeout`] },
    { args: [], env: { GOARK_CONFIG: unknownKey }, want: ["listen_addr", unknownKey] },
    { args: ["--config", join(clean, "missing.yaml")], want: ["missing.yaml"] },
  ];
  for (const c of cases) {
    for (const command of [["config"], ["serve"]]) {
      const r = await goark([...command, ...c.args], clean, c.env);
      const what = `${command[0]} ${c.args.join(" ")} ${JSON.stringify(c.env ?? {})}`;
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.match(lines[0]!, /^goark: /);
      for (const w of c.want) assert.ok(lines[0]!.includes(w), `${what}: "${lines[0]}" lacks "${w}"`);
      assert.equal(r.stdout, "", `${what}: nothing on stdout`);
    }
  }
});
