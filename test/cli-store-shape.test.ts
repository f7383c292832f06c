/**
 * One command-line shape for every store command: warm, export, import,
 * prune, verify, ls, stats and sumdb key take serve's --storage, --config and source
 * options, so one goark.yaml drives them all — shown by running them with
 * no flags in a directory whose goark.yaml names the store and the upstream,
 * by a flag overriding the file, and by one invalid value in the file
 * stopping every one of them with exit code 2.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FixtureUpstream, generateGraph, writeTree } from "./helpers/fixture-upstream.ts";
import { goark, type Run } from "./helpers/goark-cli.ts";

const STORE_COMMANDS = ["warm", "export", "import", "prune", "verify", "ls", "stats", "sumdb key"];
const SHARED_FLAGS = [
  "--storage",
  "--config",
  "--upstream",
  "--private",
  "--insecure",
  "--sumdb",
  "--offline",
];

const show = (r: Run) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

let tmp: string;
let upstream: FixtureUpstream;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "goark-store-shape-"));
  await writeTree(join(tmp, "tree"), generateGraph(3).versions);
  upstream = await FixtureUpstream.start(join(tmp, "tree"));
});

after(async () => {
  await upstream?.close();
  await rm(tmp, { recursive: true, force: true });
});

test("every store command offers serve's storage, config and source flags", async () => {
  const runs = await Promise.all(STORE_COMMANDS.map((c) => goark([...c.split(" "), "--help"], tmp)));
  STORE_COMMANDS.forEach((c, i) => {
    const r = runs[i]!;
    assert.equal(r.code, 0, `${c}: ${show(r)}`);
    for (const flag of SHARED_FLAGS)
      assert.match(r.stdout, new RegExp(`^\\s+${flag}\\b`, "m"), `${c} ${flag}`);
  });
});

test("one goark.yaml drives warm, ls, stats, verify, export, prune and import", {
  timeout: 120_000,
}, async () => {
  const dir = join(tmp, "site");
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "goark.yaml"),
    `storage: ./data\nupstream: ${upstream.url}\nsumdb: 'off'\nlogLevel: warn\n`,
  );

  const warm = await goark(["warm", "example.com/fx/m03@v1.1.0"], dir);
  assert.equal(warm.code, 0, show(warm));
  assert.match(warm.stdout, new RegExp(`warmed disk:${join(dir, "data")}: 3 modules, 3 versions`));

  const ls = await goark(["ls"], dir);
  assert.equal(ls.code, 0, show(ls));
  for (const m of ["example.com/fx/m01", "example.com/fx/m02", "example.com/fx/m03"])
    assert.ok(ls.stdout.includes(m), show(ls));
  for (const args of [
    ["stats"],
    ["verify"],
    ["export", "b.tar", "--all"],
    ["prune", "--dry-run", "--unused-for", "1s"],
  ]) {
    const r = await goark(args, dir);
    assert.equal(r.code, 0, `${args.join(" ")}: ${show(r)}`);
  }
  // A flag wins over the file.
  const imp = await goark(["import", "b.tar", "--storage", "./other"], dir);
  assert.equal(imp.code, 0, show(imp));
  const lsOther = await goark(["ls", "--storage", "./other"], dir);
  assert.ok(lsOther.stdout.includes("example.com/fx/m03"), show(lsOther));
});

test("an invalid source setting in goark.yaml stops every store command with exit code 2", async () => {
  const dir = join(tmp, "bad");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "goark.yaml"), "storage: ./data\nupstream: 'ftp://nope.example'\n");
  const args: Record<string, string[]> = {
    warm: ["example.com/fx/m01@v1.0.0"],
    export: ["b.tar", "--all"],
    import: ["b.tar"],
    prune: ["--dry-run", "--unused-for", "1s"],
  };
  for (const c of STORE_COMMANDS) {
    const r = await goark([...c.split(" "), ...(args[c] ?? [])], dir);
    assert.equal(r.code, 2, `${c}: ${show(r)}`);
    assert.match(r.stderr, /upstream/, `${c}: ${show(r)}`);
  }
});
