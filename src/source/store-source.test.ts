/**
 * The offline source's list and @latest against the go command itself: the
 * same versions are written as a static GOPROXY tree that Go reads through
 * `GOPROXY=file://` (`go list -m -json M@latest`), and put in a store that
 * StoreSource reads. Cases: a release beating a newer prerelease,
 * prereleases only, retractions (an interval, and a version retracting
 * itself), +incompatible with and without a go.mod on the compatible line,
 * and pseudo-versions only.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { type FixtureVersion, writeTree } from "../../test/helpers/fixture-upstream.ts";
import { describe as describeRun, GoClient, parseJsonStream } from "../../test/helpers/go-client.ts";
import { GoarkError } from "../errors.ts";
import { infoKey, listKey, modKey } from "../storage/keys.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { StoreSource } from "./store-source.ts";

const T = ["2023-01-01T00:00:00Z", "2023-02-01T00:00:00Z", "2023-03-01T00:00:00Z", "2023-04-01T00:00:00Z"];

function v(module: string, version: string, i: number, goMod?: string): FixtureVersion {
  const files: Record<string, string> = { "x.go": "package x\n" };
  if (goMod !== undefined) files["go.mod"] = goMod;
  return { module, version, time: T[i % T.length]!, files };
}

const mod = (m: string, extra = "") => `module ${m}\n\ngo 1.16\n${extra}`;

const CASES: Record<string, FixtureVersion[]> = {
  "example.com/s/relpre": [
    v("example.com/s/relpre", "v1.0.0", 0, mod("example.com/s/relpre")),
    v("example.com/s/relpre", "v1.1.0-rc.1", 1, mod("example.com/s/relpre")),
  ],
  "example.com/s/preonly": [
    v("example.com/s/preonly", "v1.0.0-alpha", 0, mod("example.com/s/preonly")),
    v("example.com/s/preonly", "v1.0.0-beta.11", 1, mod("example.com/s/preonly")),
    v("example.com/s/preonly", "v1.0.0-beta.2", 2, mod("example.com/s/preonly")),
  ],
  "example.com/s/retract": [
    v("example.com/s/retract", "v1.0.0", 0, mod("example.com/s/retract")),
    v("example.com/s/retract", "v1.1.0", 1, mod("example.com/s/retract")),
    v(
      "example.com/s/retract",
      "v1.2.0",
      2,
      mod("example.com/s/retract", "\nretract [v1.1.0, v1.2.0] // broken\n"),
    ),
  ],
  "example.com/s/selfretract": [
    v("example.com/s/selfretract", "v0.9.0", 0, mod("example.com/s/selfretract")),
    v("example.com/s/selfretract", "v1.0.0", 1, mod("example.com/s/selfretract", "\nretract v1.0.0\n")),
    // A newer prerelease does not carry the retractions: latest-ignoring-retractions is v1.0.0.
    v("example.com/s/selfretract", "v1.1.0-pre", 2, mod("example.com/s/selfretract")),
  ],
  "example.com/s/incgomod": [
    v("example.com/s/incgomod", "v1.0.0", 0, mod("example.com/s/incgomod")),
    v("example.com/s/incgomod", "v2.0.0+incompatible", 1),
  ],
  "example.com/s/incnogomod": [
    v("example.com/s/incnogomod", "v1.0.0", 0),
    v("example.com/s/incnogomod", "v2.0.0+incompatible", 1),
  ],
  "example.com/s/pseudo": [
    v("example.com/s/pseudo", "v0.0.0-20230101000000-aaaaaaaaaaaa", 0),
    v("example.com/s/pseudo", "v0.0.0-20230301000000-cccccccccccc", 2),
    v("example.com/s/pseudo", "v0.0.0-20230201000000-bbbbbbbbbbbb", 1),
  ],
};

function modOf(f: FixtureVersion): string {
  const gm = f.files["go.mod"];
  return gm === undefined ? `module ${f.module}\n` : String(gm);
}

describe("StoreSource list/@latest agree with the go command", { timeout: 180_000 }, () => {
  let tmp: string;
  let go: GoClient;
  const storage = new MemoryStorage();
  const store = new StoreSource(storage);
  const goLatest = new Map<string, string>();

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-store-source-"));
    const all = Object.values(CASES).flat();
    await writeTree(join(tmp, "tree"), all);
    for (const f of all) {
      await storage.putBytes(
        infoKey(f.module, f.version),
        Buffer.from(JSON.stringify({ Version: f.version, Time: f.time })),
        { origin: "test" },
      );
      await storage.putBytes(modKey(f.module, f.version), Buffer.from(modOf(f)), { origin: "test" });
    }
    go = await GoClient.create({ proxy: pathToFileURL(join(tmp, "tree")).href });
    const r = await go.run(["list", "-m", "-json", ...Object.keys(CASES).map((m) => `${m}@latest`)]);
    assert.equal(r.code, 0, describeRun(r));
    for (const m of parseJsonStream<{ Path: string; Version: string }>(r.stdout))
      goLatest.set(m.Path, m.Version);
    assert.equal(goLatest.size, Object.keys(CASES).length, r.stdout);
  });

  after(async () => {
    await go?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  for (const module of Object.keys(CASES)) {
    test(`${module}: latest`, async () => {
      const info = await store.latest(module);
      assert.equal(info.Version, goLatest.get(module));
    });
  }

  test("list names every stored tagged version in semver order, as the tree's list does", async () => {
    const { readFile } = await import("node:fs/promises");
    const { escapePath } = await import("../module/path.ts");
    for (const module of Object.keys(CASES)) {
      const listed = (await store.list(module)).map((e) => e.version);
      const tree = (await readFile(join(tmp, "tree", escapePath(module), "@v", "list"), "utf8"))
        .split("\n")
        .filter(Boolean);
      assert.deepEqual(listed, tree, module);
    }
  });

  test("a stored list from upstream naming versions the store lacks is not what offline lists", async () => {
    const s = new MemoryStorage();
    await s.putBytes(listKey("example.com/s/x"), Buffer.from("v1.0.0\nv9.9.9\n"), { origin: "up" });
    await s.putBytes(modKey("example.com/s/x", "v1.0.0"), Buffer.from(mod("example.com/s/x")), {
      origin: "t",
    });
    await s.putBytes(infoKey("example.com/s/x", "v1.0.0"), Buffer.from('{"Version":"v1.0.0"}'), {
      origin: "t",
    });
    const src = new StoreSource(s);
    assert.deepEqual(await src.list("example.com/s/x"), [{ version: "v1.0.0" }]);
    assert.equal((await src.latest("example.com/s/x")).Version, "v1.0.0");
  });

  test("misses say the module is not in the offline store and how to add it", async () => {
    for (const p of [
      store.list("example.com/s/absent"),
      store.latest("example.com/s/absent"),
      store.info("example.com/s/retract", "v1.1.1"),
      store.mod("example.com/s/retract", "v1.1.1"),
      store.zip("example.com/s/retract", "v1.1.1"),
      store.info("example.com/s/retract", "master"),
    ]) {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof GoarkError && e.code === "NOT_FOUND", String(e));
        assert.match(e.message, /not in the offline store/);
        assert.match(
          e.message,
          /goark warm .* on a connected machine, then `goark export` there and `goark import` here/,
        );
        return true;
      });
    }
  });

  test("a commit-hash query finds the one stored pseudo-version with that revision", async () => {
    const info = await store.info("example.com/s/pseudo", "bbbbbbbbbbbb0123456789012345678901234567");
    assert.equal(info.Version, "v0.0.0-20230201000000-bbbbbbbbbbbb");
    assert.equal(
      (await store.info("example.com/s/pseudo", "cccccccccccc")).Version,
      "v0.0.0-20230301000000-cccccccccccc",
    );
  });
});
