/**
 * `goark prune` also prunes the git mirrors direct mode keeps in
 * `<store>/.vcs`: mirrors made by DirectSource itself (from a loopback git
 * host), one marked as last used 40 days ago; --dry-run lists it and removes
 * nothing, a real run removes only it, --mirrors-unused-for works on its own
 * and leaves module versions alone, and a pruned mirror is simply fetched
 * again on the next request.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DirectSource } from "../src/source/direct.ts";
import { LAST_USED_FILE, REMOTE_FILE } from "../src/source/vcs/git-repo.ts";
import { DiskStorage } from "../src/storage/disk.ts";
import { modKey } from "../src/storage/keys.ts";
import { type GitHost, startGitHost } from "./helpers/git-host.ts";
import { goark } from "./helpers/goark-cli.ts";
import { storeVersion } from "./helpers/stored-module.ts";

const HOST = "git.goark.test";
const OLD = `${HOST}/corp/old`;
const FRESH = `${HOST}/corp/fresh`;
const DAY = 86_400_000;

describe("goark prune: git mirrors", { timeout: 120_000 }, () => {
  let host: GitHost;
  let work: string;
  let store: string;
  let vcsDir: string;
  /** Mirror directory and recorded remote, per module. */
  const mirrors = new Map<string, { dir: string; remote: string }>();

  const direct = () =>
    new DirectSource({
      vcsDir,
      insecure: HOST,
      env: {
        PATH: process.env.PATH,
        HOME: join(work, "home"),
        HTTP_PROXY: host.proxyUrl,
        http_proxy: host.proxyUrl,
      },
    });

  before(async () => {
    host = await startGitHost({ host: HOST });
    work = await mkdtemp(join(tmpdir(), "goark-prune-mirrors-"));
    store = join(work, "store");
    vcsDir = join(store, ".vcs");
    for (const m of [OLD, FRESH]) {
      await host.createRepo(m.slice(HOST.length + 1), [
        { files: { "go.mod": `module ${m}\n` }, tags: ["v1.0.0"] },
      ]);
    }
    const src = direct();
    for (const m of [OLD, FRESH]) assert.deepEqual(await src.list(m), [{ version: "v1.0.0" }]);
    await src.close?.();
    for (const name of await readdir(vcsDir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const remote = (await readFile(join(vcsDir, name, REMOTE_FILE), "utf8")).trim();
      const module = [OLD, FRESH].find(
        (m) => remote.endsWith(m.slice(HOST.length)) || remote.endsWith(`${m.slice(HOST.length)}.git`),
      );
      assert.ok(module !== undefined, `mirror ${name} copies ${remote}`);
      mirrors.set(module, { dir: join(vcsDir, name), remote });
    }
    assert.equal(mirrors.size, 2, "one mirror per repository");
    const old = new Date(Date.now() - 40 * DAY);
    await utimes(join(mirrors.get(OLD)!.dir, LAST_USED_FILE), old, old);
    // A module version in the store, recently used: version pruning must leave it.
    const storage = await DiskStorage.open({ root: store });
    await storeVersion(storage, { module: "example.com/kept", version: "v1.0.0" });
    await storage.close();
  });

  after(async () => {
    await host?.close();
    await rm(work, { recursive: true, force: true });
  });

  test("--dry-run lists the unused mirror and removes nothing", async () => {
    const r = await goark(["prune", "--storage", store, "--unused-for", "30d", "--dry-run"], work);
    assert.equal(r.code, 0, r.stderr);
    const old = mirrors.get(OLD)!;
    assert.match(r.stdout, new RegExp(`^would remove: git mirror of ${escapeRe(old.remote)} \\(`, "m"));
    assert.match(r.stdout, /^would remove 1 git mirrors, /m);
    assert.ok(!r.stdout.includes(mirrors.get(FRESH)!.remote), r.stdout);
    assert.ok(existsSync(old.dir) && existsSync(mirrors.get(FRESH)!.dir));

    const j = await goark(["prune", "--storage", store, "--unused-for", "30d", "--dry-run", "--json"], work);
    assert.equal(j.code, 0, j.stderr);
    const report = JSON.parse(j.stdout) as { mirrors: { dir: string; remote: string; size: number }[] };
    assert.deepEqual(
      report.mirrors.map((m) => [m.dir, m.remote]),
      [[old.dir, old.remote]],
    );
    assert.ok(report.mirrors[0]!.size > 0);
  });

  test("a real run removes only the mirror unused for longer than --unused-for", async () => {
    const r = await goark(["prune", "--storage", store, "--unused-for", "30d"], work);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removed: git mirror of /m);
    assert.match(r.stdout, /^removed 1 git mirrors, /m);
    assert.ok(!existsSync(mirrors.get(OLD)!.dir), "the old mirror is gone");
    assert.ok(existsSync(join(mirrors.get(FRESH)!.dir, "objects")), "the fresh mirror is kept");
    assert.deepEqual(
      (await readdir(vcsDir)).filter((n) => n.includes(".pruned-")),
      [],
      "nothing left aside",
    );
    assert.ok(existsSync(join(store, modKey("example.com/kept", "v1.0.0"))));
  });

  test("--mirrors-unused-for alone prunes mirrors, not versions", async () => {
    const fresh = mirrors.get(FRESH)!;
    const twoHours = new Date(Date.now() - 2 * 3_600_000);
    await utimes(join(fresh.dir, LAST_USED_FILE), twoHours, twoHours);
    const none = await goark(["prune", "--storage", store, "--mirrors-unused-for", "3h"], work);
    assert.equal(none.code, 0, none.stderr);
    assert.ok(existsSync(fresh.dir));
    const r = await goark(["prune", "--storage", store, "--mirrors-unused-for", "1h"], work);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`removed: git mirror of ${fresh.remote}`), r.stdout);
    assert.ok(!existsSync(fresh.dir));
    assert.ok(existsSync(join(store, modKey("example.com/kept", "v1.0.0"))), "versions are untouched");
    const bad = await goark(["prune", "--storage", store, "--mirrors-unused-for", "soon"], work);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--mirrors-unused-for "soon"/);
  });

  test("a pruned mirror is fetched again on the next request", async () => {
    const src = direct();
    assert.deepEqual(await src.list(OLD), [{ version: "v1.0.0" }]);
    await src.close?.();
    assert.ok(existsSync(join(mirrors.get(OLD)!.dir, "objects")));
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
