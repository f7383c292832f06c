/**
 * The store commands through the real bin (node bin/goark.js): ls, stats,
 * prune, verify, export and import, with their exit codes (0 fine, 1 a
 * problem found, 2 misuse) and the storage named by a goark.yaml.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DiskStorage } from "../src/storage/disk.ts";
import { modKey, zipKey } from "../src/storage/keys.ts";
import { goark } from "./helpers/goark-cli.ts";
import { storeVersion } from "./helpers/stored-module.ts";

const DAY = 86_400_000;

describe("goark store commands", { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-cli-store-"));
    const s = await DiskStorage.open({ root: join(dir, "store") });
    await storeVersion(s, { module: "example.com/a", version: "v1.0.0", fetchedAt: Date.now() - 200 * DAY });
    await storeVersion(s, { module: "example.com/a", version: "v1.1.0", fetchedAt: Date.now() - 2 * DAY });
    await storeVersion(s, {
      module: "corp.internal/x",
      version: "v0.1.0",
      fetchedAt: Date.now() - 200 * DAY,
    });
    await s.close();
    // The commands read the storage from goark.yaml like serve does.
    await writeFile(join(dir, "goark.yaml"), "storage: ./store\n");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("ls and stats, as a table and as JSON", async () => {
    const ls = await goark(["ls"], dir);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^MODULE\s+VERSION\s+FILES\s+SIZE\s+FETCHED\s+LAST USED\s+ORIGIN\n/);
    assert.match(ls.stdout, /example\.com\/a\s+v1\.1\.0\s+zip,mod,info/);
    const json = await goark(["ls", "--json", "example.com"], dir);
    const rows = JSON.parse(json.stdout) as { module: string; version: string }[];
    assert.deepEqual(
      rows.map((r) => `${r.module}@${r.version}`),
      ["example.com/a@v1.0.0", "example.com/a@v1.1.0"],
    );
    const stats = JSON.parse((await goark(["stats", "--json"], dir)).stdout) as {
      modules: number;
      versions: number;
    };
    assert.equal(stats.modules, 2);
    assert.equal(stats.versions, 3);
    assert.match((await goark(["stats"], dir)).stdout, /versions\s+3 \(3 with zip\)/);
  });

  test("prune: --dry-run lists, --pin spares, misuse exits 2", async () => {
    const dry = await goark(["prune", "--unused-for", "30d", "--pin", "*.internal", "--dry-run"], dir);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would remove: example\.com\/a@v1\.0\.0 /m);
    assert.doesNotMatch(dry.stdout, /corp\.internal/);
    assert.match(dry.stdout, /would remove 1 versions/);
    const none = await goark(["prune"], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^goark: prune: say what to remove/);
    const bad = await goark(["prune", "--unused-for", "ninety days"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--unused-for "ninety days"/);
  });

  test("verify: 0 when clean, 1 with the problem named when not", async () => {
    const ok = await goark(["verify"], dir);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /all good/);
    const s = await DiskStorage.open({ root: join(dir, "store") });
    const path = s.localPath(modKey("example.com/a", "v1.1.0"))!;
    await writeFile(path, "module example.com/zzz\n");
    const bad = await goark(["verify", "--json"], dir);
    assert.equal(bad.code, 1);
    const report = JSON.parse(bad.stdout) as { problems: { key: string; action: string }[] };
    assert.deepEqual(
      report.problems.map((p) => `${p.key} ${p.action}`),
      [`${modKey("example.com/a", "v1.1.0")} quarantined`],
    );
    assert.equal(await readFile(path, "utf8").catch(() => "gone"), "gone");
  });

  test("export needs exactly one selection (exit 2); import of a non-bundle exits 1 with one line", async () => {
    const none = await goark(["export", "x.tar"], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /choose exactly one selection/);
    const two = await goark(["export", "x.tar", "--all", "--module", "example.com"], dir);
    assert.equal(two.code, 2);
    const ex = await goark(["export", "x.tar.gz", "--module", "corp.internal", "--json"], dir);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal((JSON.parse(ex.stdout) as { versions: number }).versions, 1);
    assert.equal((await readFile(join(dir, "x.tar.gz")))[0], 0x1f, "gzip chosen from the file name");
    await writeFile(join(dir, "notes.txt"), "just some notes\n".repeat(100));
    const im = await goark(["import", "notes.txt", "--storage", "other"], dir);
    assert.equal(im.code, 1);
    assert.equal(im.stderr.trimEnd().split("\n").length, 1);
    assert.match(im.stderr, /^goark: bundle notes\.txt is not a goark bundle/);
    const again = await goark(["import", "x.tar.gz", "--storage", "other", "--sumdb", "off"], dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^added 1 versions/);
    const s = await DiskStorage.open({ root: join(dir, "other") });
    assert.ok(await s.stat(zipKey("corp.internal/x", "v0.1.0")));
  });
});
