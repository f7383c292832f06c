// Go toolchain version rules, against tables taken from golang/go's own tests and scripts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compareGoVersions,
  goLang,
  goModLookup,
  goVersionOfToolchain,
  isGoLang,
  isValidGoVersion,
} from "./go-version.ts";
import {
  downloadedBySomeClient,
  goPlatformOf,
  goVersionOfModuleVersion,
  goVersionsOfList,
  newerToolchain,
  parseToolchainPlatforms,
  selectToolchain,
  selectToolchainOf,
  toolchainModuleVersion,
  toolchainNameOfModuleVersion,
} from "./toolchain.ts";

describe("Go versions (cmd/go/internal/gover tests)", () => {
  // gover_test.go compareTests.
  const compare: [string, string, number][] = [
    ["", "", 0],
    ["x", "x", 0],
    ["", "x", 0],
    ["1", "1.1", -1],
    ["1.5", "1.6", -1],
    ["1.5", "1.10", -1],
    ["1.6", "1.6.1", -1],
    ["1.19", "1.19.0", 0],
    ["1.19rc1", "1.19", -1],
    ["1.20", "1.20.0", 0],
    ["1.20rc1", "1.20", -1],
    ["1.21", "1.21.0", -1],
    ["1.21", "1.21rc1", -1],
    ["1.21rc1", "1.21.0", -1],
    ["1.6", "1.19", -1],
    ["1.19", "1.19.1", -1],
    ["1.19rc1", "1.19.1", -1],
    ["1.19rc1", "1.19rc2", -1],
    ["1.19.0", "1.19.1", -1],
    ["1.19rc1", "1.19.0", -1],
    ["1.19alpha3", "1.19beta2", -1],
    ["1.19beta2", "1.19rc1", -1],
    ["1.1", "1.99999999999999998", -1],
    ["1.99999999999999998", "1.99999999999999999", -1],
    // internal/gover: prereleases of patch releases come before the release.
    ["1.24.1rc1", "1.24.1", -1],
    ["1.24.0", "1.24.1rc1", -1],
    ["1.24.1beta1", "1.24.1rc1", -1],
  ];
  it("compares like gover.Compare", () => {
    for (const [x, y, want] of compare) {
      assert.equal(compareGoVersions(x, y), want, `Compare(${x}, ${y})`);
      assert.equal(compareGoVersions(y, x), -want || 0, `Compare(${y}, ${x})`);
    }
  });
  it("Lang, IsLang, IsValid", () => {
    for (const [v, want] of [
      ["1.2rc3", "1.2"],
      ["1.2.3", "1.2"],
      ["1.2", "1.2"],
      ["1", "1"],
      ["1.999testmod", "1.999"],
    ] as const)
      assert.equal(goLang(v), want, `Lang(${v})`);
    for (const [v, want] of [
      ["1.2rc3", false],
      ["1.2.3", false],
      ["1.999testmod", false],
      ["1.22", true],
      ["1.21", true],
      ["1.20", false],
      ["1.19", false],
      ["1.3", false],
      ["1.2", false],
      ["1", false],
    ] as const)
      assert.equal(isGoLang(v), want, `IsLang(${v})`);
    for (const [v, want] of [
      ["1.2rc3", true],
      ["1.2.3", true],
      ["1.999testmod", true],
      ["1.600+auto", false],
      ["1.22", true],
      ["1.21.0", true],
      ["1.21rc2", true],
      ["1", true],
      ["01.2", false],
      ["1.02", false],
      ["1.21.3rc1", true],
      ["1.21RC1", false],
      ["1.21.", false],
      ["", false],
    ] as const)
      assert.equal(isValidGoVersion(v), want, `IsValid(${v})`);
  });
  it("FromToolchain (gover toolchain_test.go)", () => {
    for (const [name, want] of [
      ["go1.2.3", "1.2.3"],
      ["1.2.3", ""],
      ["go1.2.3+bigcorp", ""],
      ["go1.2.3-bigcorp", "1.2.3"],
      ["go1.2.3-bigcorp more text", "1.2.3"],
      ["gccgo-go1.23rc4", ""],
      ["gccgo-go1.23rc4-bigdwarf", ""],
    ] as const)
      assert.equal(goVersionOfToolchain(name), want, name);
  });
  it("reads go and toolchain lines the way GoModLookup does", () => {
    const text = "module m // toolchain go1.0\n\n  go\t1.22.1 // comment\ntoolchain go1.23.4\ngo 1.30\n";
    assert.equal(goModLookup(text, "go"), "1.22.1");
    assert.equal(goModLookup(text, "toolchain"), "go1.23.4");
    assert.equal(goModLookup("module m\r\ngo 1.21\r\n", "go"), "1.21");
    // "gopher x" and "golang 1" do not start a go line; a bare "go" has no value.
    assert.equal(goModLookup("gopher 1.2\ngo\ngolang 1.3\n", "go"), "");
    assert.equal(goModLookup("module m\n", "toolchain"), "");
  });
});

describe("selecting the toolchain (select.go; gotoolchain_local.txt)", () => {
  // [go line, toolchain line, expected name | "none" | "default" | "invalid"]
  const cases: [string, string, string][] = [
    // A toolchain line newer than the go line is used; an older one is overridden.
    ["1.21.1", "go1.21.2", "go1.21.2"],
    ["1.700", "go1.300", "go1.700.0"],
    ["1.300", "", "go1.300.0"],
    ["1.777", "go1.800-bigcorp", "go1.800-bigcorp"],
    ["1.999", "go1.800-bigcorp", "go1.999.0"],
    // Language versions from 1.21 mean the first release (golang.org/issue/62278); older ones are releases.
    ["1.22", "", "go1.22.0"],
    ["1.21", "", "go1.21.0"],
    ["1.20", "", "go1.20"],
    ["1.21rc1", "", "go1.21rc1"],
    // go 1.22 vs toolchain go1.22.0 compare as 1.22 < 1.22.0: the toolchain line stays.
    ["1.22", "go1.22.0", "go1.22.0"],
    ["1.22.0", "go1.22.0", "go1.22.0"],
    ["1.22.0", "go1.22.0-bigcorp", "go1.22.0-bigcorp"],
    ["1.22.1", "go1.22.0-bigcorp", "go1.22.1"],
    ["", "", "none"],
    ["not-a-version", "", "none"],
    // toolchain default: the local toolchain, whatever the go line says.
    ["1.700", "default", "default"],
    // Toolchain lines the go command rejects.
    ["1.21", "1.22.0", "invalid"],
    ["1.21", "gccgo-go1.23rc4", "invalid"],
    // A language version as toolchain is tried as named; its download is what fails (gotoolchain_issue).
    ["1.14", "go1.22", "go1.22"],
    ["1.14", "go1.20", "go1.20"],
    ["2.0", "", "invalid"],
  ];
  for (const [go, tc, want] of cases) {
    it(`go ${go || "(none)"} / toolchain ${tc || "(none)"} → ${want}`, () => {
      const got = selectToolchain(go, tc);
      assert.equal(got.kind === "switch" ? got.name : got.kind, want, JSON.stringify(got));
    });
  }
  it("reads a whole file", () => {
    const got = selectToolchainOf("module m\n\ngo 1.99 // comment\n\ntoolchain go1.99.0\n");
    assert.deepEqual(got, { kind: "switch", name: "go1.99.0", version: "1.99.0", from: "toolchain" });
  });
  it("only toolchains newer than Go 1.21.0 are ever downloaded", () => {
    assert.equal(downloadedBySomeClient("1.21.0"), false);
    assert.equal(downloadedBySomeClient("1.21rc2"), false);
    assert.equal(downloadedBySomeClient("1.20"), false);
    assert.equal(downloadedBySomeClient("1.21.1"), true);
    assert.equal(downloadedBySomeClient("1.99.0"), true);
  });
});

describe("toolchain module versions (modfetch/toolchain.go)", () => {
  it("names the module version per platform", () => {
    assert.equal(
      toolchainModuleVersion("go1.21.0", { goos: "linux", goarch: "amd64" }),
      "v0.0.1-go1.21.0.linux-amd64",
    );
    assert.equal(
      toolchainModuleVersion("go1.21rc2", { goos: "darwin", goarch: "arm64" }),
      "v0.0.1-go1.21rc2.darwin-arm64",
    );
  });
  it("reads the Go version back like dlToGo", () => {
    assert.equal(goVersionOfModuleVersion("v0.0.1-go1.19.7.windows-amd64"), "1.19.7");
    assert.equal(goVersionOfModuleVersion("v0.0.1-go1.21rc2.linux-arm64"), "1.21rc2");
    assert.equal(goVersionOfModuleVersion("v0.0.1"), undefined);
    assert.equal(goVersionOfModuleVersion("v0.0.1-go1.21.0"), undefined);
    assert.equal(toolchainNameOfModuleVersion("v0.0.1-go1.21.0-bigcorp.linux-amd64"), "go1.21.0-bigcorp");
    assert.equal(toolchainNameOfModuleVersion("v1.0.0"), undefined);
  });
  it("turns the module's list into Go versions, platforms merged, oldest first", () => {
    const list = [
      "v0.0.1-go1.22.0.linux-amd64",
      "v0.0.1-go1.21.10.darwin-arm64",
      "v0.0.1-go1.21.9.linux-amd64",
      "v0.0.1-go1.22.0.darwin-arm64",
      "v0.0.1-go1.21rc2.linux-amd64",
      "v0.0.1-go1.20.linux-amd64",
    ];
    assert.deepEqual(goVersionsOfList(list), ["1.20", "1.21rc2", "1.21.9", "1.21.10", "1.22.0"]);
  });
});

describe("newerToolchain (switch.go; toolchain_test.go)", () => {
  const relRC = ["1.39.0", "1.39.1", "1.39.2", "1.40.0", "1.40.1", "1.40.2", "1.41rc1"];
  const rel2 = ["1.39.0", "1.39.1", "1.39.2", "1.40.0", "1.40.1", "1.40.2"];
  const rel0 = ["1.39.0", "1.39.1", "1.39.2", "1.40.0"];
  const cases: [string, string[], string][] = [
    ["1.30", rel0, "go1.39.2"],
    ["1.30", rel2, "go1.39.2"],
    ["1.30", relRC, "go1.39.2"],
    ["1.38", rel0, "go1.39.2"],
    ["1.38", rel2, "go1.39.2"],
    ["1.38", relRC, "go1.39.2"],
    ["1.38.1", rel0, "go1.39.2"],
    ["1.38.1", rel2, "go1.39.2"],
    ["1.38.1", relRC, "go1.39.2"],
    ["1.39", rel0, "go1.39.2"],
    ["1.39", rel2, "go1.39.2"],
    ["1.39", relRC, "go1.39.2"],
    ["1.39.2", rel0, "go1.39.2"],
    ["1.39.2", rel2, "go1.39.2"],
    ["1.39.2", relRC, "go1.39.2"],
    ["1.39.3", rel0, "go1.40.0"],
    ["1.39.3", rel2, "go1.40.2"],
    ["1.39.3", relRC, "go1.40.2"],
    ["1.40", rel0, "go1.40.0"],
    ["1.40", rel2, "go1.40.2"],
    ["1.40", relRC, "go1.40.2"],
    ["1.40.1", rel0, ""],
    ["1.40.1", rel2, "go1.40.2"],
    ["1.40.1", relRC, "go1.40.2"],
    ["1.41", rel0, ""],
    ["1.41", rel2, ""],
    ["1.41", relRC, "go1.41rc1"],
    ["1.41.0", rel0, ""],
    ["1.41.0", rel2, ""],
    ["1.41.0", relRC, ""],
    ["1.40", [], ""],
  ];
  it("picks what Go's table says", () => {
    for (const [need, list, want] of cases) {
      assert.equal(newerToolchain(need, list) ?? "", want, `newerToolchain(${need}, ${list.join(" ")})`);
    }
  });
});

describe("toolchain platforms", () => {
  it("maps Node's platform and arch to Go's", () => {
    assert.deepEqual(goPlatformOf("linux", "x64"), { goos: "linux", goarch: "amd64" });
    assert.deepEqual(goPlatformOf("darwin", "arm64"), { goos: "darwin", goarch: "arm64" });
    assert.deepEqual(goPlatformOf("win32", "ia32"), { goos: "windows", goarch: "386" });
    assert.deepEqual(goPlatformOf("linux", "ppc64", true), { goos: "linux", goarch: "ppc64le" });
    assert.deepEqual(goPlatformOf("linux", "ppc64", false), { goos: "linux", goarch: "ppc64" });
    assert.deepEqual(goPlatformOf("linux", "mipsel"), { goos: "linux", goarch: "mipsle" });
    assert.deepEqual(goPlatformOf("sunos", "x64"), { goos: "solaris", goarch: "amd64" });
    assert.equal(goPlatformOf("cygwin", "x64"), undefined);
    assert.equal(goPlatformOf("linux", "s390"), undefined);
  });
  it("parses the option", () => {
    const host = { goos: "linux", goarch: "arm64" };
    assert.deepEqual(parseToolchainPlatforms("host", host), { platforms: [host] });
    assert.deepEqual(parseToolchainPlatforms("none", host), { platforms: [] });
    assert.deepEqual(parseToolchainPlatforms(" linux/amd64, darwin/arm64 ,host,linux/arm64", host), {
      platforms: [{ goos: "linux", goarch: "amd64" }, { goos: "darwin", goarch: "arm64" }, host],
    });
    for (const [text, problem] of [
      ["", /empty list/],
      ["linux", /not GOOS\/GOARCH/],
      ["linux/x64", /unknown GOARCH x64 \(Go calls it amd64\)/],
      ["linx/amd64", /unknown GOOS linx/],
      ["none,linux/amd64", /not GOOS\/GOARCH/],
      ["Linux/AMD64", /not GOOS\/GOARCH/],
    ] as const) {
      const got = parseToolchainPlatforms(text, host);
      assert.ok("problem" in got, text);
      assert.match(got.problem, problem);
    }
    assert.match(
      (parseToolchainPlatforms("host", null) as { problem: string }).problem,
      /Go has no toolchain/,
    );
  });
});
