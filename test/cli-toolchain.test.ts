// `goark warm` and the toolchainPlatforms setting: flag, environment and goark.yaml, validation, and the summary lines.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fakeToolchains } from "./helpers/fake-toolchain.ts";
import { FixtureUpstream, writeTree } from "./helpers/fixture-upstream.ts";
import { goark, showRun as show } from "./helpers/goark-cli.ts";

describe("goark warm --toolchain-platforms", { timeout: 120_000 }, () => {
  let tmp: string;
  let upstream: FixtureUpstream;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-cli-toolchain-"));
    await writeTree(
      join(tmp, "tree"),
      fakeToolchains(
        ["go1.99.0"],
        [
          { goos: "windows", goarch: "amd64" },
          { goos: "linux", goarch: "riscv64" },
        ],
      ),
    );
    upstream = await FixtureUpstream.start(join(tmp, "tree"));
    await writeFile(join(tmp, "go.mod"), "module example.com/m\n\ngo 1.99.0\n");
  });
  after(async () => {
    await upstream?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const base = () => ["warm", "go.mod", "--upstream", upstream.url, "--sumdb", "off", "--no-progress"];

  test("a platform Go does not know is a configuration error (exit 2), with Go's name for it", async () => {
    const r = await goark([...base(), "--storage", "s0", "--toolchain-platforms", "linux/x64"], tmp);
    assert.equal(r.code, 2, show(r));
    assert.match(
      r.stderr,
      /toolchainPlatforms \(flag --toolchain-platforms\).*unknown GOARCH x64 \(Go calls it amd64\)/,
    );
  });

  test("goark.yaml sets the platforms; the environment overrides it; none fetches no toolchain", async () => {
    const dir = await mkdtemp(join(tmp, "cfg-"));
    await writeFile(join(dir, "go.mod"), "module example.com/m\n\ngo 1.99.0\n");
    await writeFile(join(dir, "goark.yaml"), "toolchainPlatforms: windows/amd64, linux/riscv64\n");
    const r = await goark([...base(), "--storage", "s1"], dir);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /; 2 of the zips are Go toolchains\n/);
    assert.match(
      r.stdout,
      /^toolchain: go1\.99\.0 windows\/amd64 \(v0\.0\.1-go1\.99\.0\.windows-amd64, for go\.mod \(go 1\.99\.0\)\)$/m,
    );
    assert.match(r.stdout, /^toolchain: go1\.99\.0 linux\/riscv64 /m);

    const none = await goark([...base(), "--storage", "s2"], dir, { GOARK_TOOLCHAIN_PLATFORMS: "none" });
    assert.equal(none.code, 0, show(none));
    assert.match(none.stdout, /: 0 modules, 0 versions \(0 zips\).* 0 failures\n$/);

    // --json carries the toolchains too.
    const json = await goark(
      [...base(), "--storage", "s3", "--json", "--toolchain-platforms", "linux/riscv64"],
      dir,
    );
    assert.equal(json.code, 0, show(json));
    const report = JSON.parse(json.stdout) as { toolchains: { name: string; platform: string }[] };
    assert.deepEqual(
      report.toolchains.map((t) => `${t.name} ${t.platform}`),
      ["go1.99.0 linux/riscv64"],
    );
  });

  test("a platform the upstream has no toolchain for: a failure, exit 1", async () => {
    const r = await goark([...base(), "--storage", "s4", "--toolchain-platforms", "darwin/arm64"], tmp);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stdout,
      /^failed: golang\.org\/toolchain@v0\.0\.1-go1\.99\.0\.darwin-arm64 \(mod, required by go\.mod \(go 1\.99\.0\)\)/m,
    );
  });
});
