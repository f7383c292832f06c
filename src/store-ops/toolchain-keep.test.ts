// prune --keep and the go.mod closure (export's selection) cover the Go toolchains a go.mod makes clients switch to; ls lists them.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fakeToolchainVersion } from "../../test/helpers/fake-toolchain.ts";
import { storeVersion } from "../../test/helpers/stored-module.ts";
import { DiskStorage } from "../storage/disk.ts";
import { zipKey } from "../storage/keys.ts";
import { listVersions } from "./listing.ts";
import { prune } from "./prune.ts";
import { requiredClosure } from "./requirements.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 5, 1);
const TC = "golang.org/toolchain";
const LINUX = { goos: "linux", goarch: "amd64" };
const DARWIN = { goos: "darwin", goarch: "arm64" };

describe("toolchains in the go.mod closure", () => {
  let base: string;
  let s: DiskStorage;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), "goark-tc-keep-"));
    s = await DiskStorage.open({ root: join(base, "store") });
    const old = NOW - 100 * DAY;
    for (const [name, p] of [
      ["go1.99.0", LINUX],
      ["go1.99.0", DARWIN],
      ["go1.99.2", LINUX],
      ["go1.98.0", LINUX],
      ["go1.100.0", LINUX],
    ] as const) {
      const v = fakeToolchainVersion(name, p);
      await storeVersion(s, { module: v.module, version: v.version, files: v.files, fetchedAt: old });
    }
    await storeVersion(s, {
      module: "example.com/needs",
      version: "v1.0.0",
      files: { "go.mod": "module example.com/needs\n\ngo 1.99.1\n", "n.go": "package needs\n" },
      fetchedAt: old,
    });
  });
  after(async () => {
    await s?.close();
    await rm(base, { recursive: true, force: true });
  });

  const KEEP = {
    name: "app/go.mod",
    data: "module example.com/app\n\ngo 1.21\n\ntoolchain go1.99.0\n\nrequire example.com/needs v1.0.0\n",
  };

  test("the toolchain line's toolchain (every stored platform) and the switch for a too-new dependency", async () => {
    const c = await requiredClosure(s, [KEEP]);
    assert.deepEqual([...c.found.keys()].sort(), [
      "example.com/needs@v1.0.0",
      // needs wants go 1.99.1 > go1.99.0: the switch picks go1.99.2 from what is stored (1.100.0 is a newer family).
      `${TC}@v0.0.1-go1.99.0.darwin-arm64`,
      `${TC}@v0.0.1-go1.99.0.linux-amd64`,
      `${TC}@v0.0.1-go1.99.2.linux-amd64`,
    ]);
    assert.match(
      c.found.get(`${TC}@v0.0.1-go1.99.0.linux-amd64`)!.requiredBy,
      /app\/go\.mod \(toolchain go1\.99\.0\)/,
    );
  });

  test("a go.mod needing nothing newer keeps no toolchain", async () => {
    const c = await requiredClosure(s, [{ name: "go.mod", data: "module m\n\ngo 1.16\n" }]);
    assert.deepEqual([...c.found.keys()], []);
  });

  test("ls lists toolchain versions like any module; prune --keep spares the required ones only", async () => {
    const rows = await listVersions(s, [TC]);
    assert.equal(rows.length, 5);
    assert.ok(rows.every((r) => r.module === TC));
    const r = await prune(s, { unusedForMs: 30 * DAY, keep: [KEEP], now: NOW });
    assert.deepEqual(r.removed.map((v) => v.version).sort(), [
      "v0.0.1-go1.100.0.linux-amd64",
      "v0.0.1-go1.98.0.linux-amd64",
    ]);
    assert.equal(r.protectedCount, 4);
    assert.equal(await s.stat(zipKey(TC, "v0.0.1-go1.98.0.linux-amd64")), undefined);
    assert.ok(await s.stat(zipKey(TC, "v0.0.1-go1.99.2.linux-amd64")));
  });
});
