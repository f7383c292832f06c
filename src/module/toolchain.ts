/**
 * Which Go toolchain the go command (Go 1.21 and later, GOTOOLCHAIN=auto)
 * downloads for a project, and under which module version: the rules of
 * cmd/go/internal/toolchain (select.go, switch.go) and modfetch/toolchain.go.
 *
 * - At start-up the go command reads the `go` and `toolchain` lines of the
 *   go.work in use, else of the main module's go.mod. A `toolchain` line is
 *   taken if newer than the local Go; then a `go` line newer than that wins
 *   (a language version "1.N" from 1.21 on means its first release,
 *   "go1.N.0"). `toolchain default` turns the choice off.
 * - When a module in the graph needs a newer Go (go mod tidy, go get, go mod
 *   download, go install m@v), it lists `golang.org/toolchain` and takes the
 *   latest patch release of the newest language family that satisfies the
 *   need, preferring the family before the newest release family.
 * - Either way it downloads `golang.org/toolchain@v0.0.1-<name>.<GOOS>-<GOARCH>`
 *   through GOPROXY and always checks it against the checksum database
 *   (GOSUMDB=off and GONOSUMDB do not exempt it).
 */
import { arch, endianness, platform } from "node:os";
import {
  compareGoVersions,
  goLang,
  goModLookup,
  goVersionOfToolchain,
  isGoLang,
  isGoPrerelease,
} from "./go-version.ts";

export const TOOLCHAIN_MODULE = "golang.org/toolchain";
/** The packaging version every toolchain module version starts with. */
const TOOLCHAIN_PACKAGING = "v0.0.1";
/**
 * The oldest go command that switches toolchains. An older one never
 * downloads a toolchain, and one this new runs a project asking for this
 * version or older itself.
 */
export const FIRST_SWITCHING_GO = "1.21.0";

export interface Platform {
  goos: string;
  goarch: string;
}

export type ToolchainChoice =
  | { kind: "none" }
  /** `toolchain default`: the local toolchain, whatever the go line says. */
  | { kind: "default" }
  | { kind: "invalid"; error: string }
  | {
      kind: "switch";
      /** The toolchain name, e.g. "go1.22.0", "go1.21rc2", "go1.21.3-bigcorp". */
      name: string;
      /** Its Go version ("1.22.0"). */
      version: string;
      /** Which line chose it. */
      from: "go" | "toolchain";
    };

/**
 * The toolchain a go command older than every version named would switch to,
 * given the raw `go` and `toolchain` values of the go.work or go.mod it reads
 * ("" for a missing line). A go command at least as new as the result runs
 * the project itself; any older one (from Go 1.21) switches to exactly this.
 */
export function selectToolchain(goLine: string, toolchainLine: string): ToolchainChoice {
  if (toolchainLine === "default") return { kind: "default" };
  let best: ToolchainChoice = { kind: "none" };
  let bestVersion = "";
  if (toolchainLine !== "") {
    const v = goVersionOfToolchain(toolchainLine);
    if (v === "" || (!toolchainLine.startsWith("go") && !toolchainLine.includes("-go"))) {
      return { kind: "invalid", error: `invalid toolchain ${JSON.stringify(toolchainLine)}` };
    }
    best = { kind: "switch", name: toolchainLine, version: v, from: "toolchain" };
    bestVersion = v;
  }
  if (goLine !== "" && compareGoVersions(goLine, bestVersion) > 0) {
    // From Go 1.21 a language version is not a toolchain: its first release is 1.N.0.
    const version = isGoLang(goLine) && compareGoVersions(goLine, "1.21") >= 0 ? `${goLine}.0` : goLine;
    best = { kind: "switch", name: `go${version}`, version, from: "go" };
  }
  // The go command refuses to run a toolchain whose name is not go1… or …-go1….
  if (best.kind === "switch" && !best.name.startsWith("go1") && !best.name.includes("-go1")) {
    return { kind: "invalid", error: `invalid toolchain ${JSON.stringify(best.name)}` };
  }
  return best;
}

/** The choice for a go.mod or go.work text, read the way the go command reads it. */
export function selectToolchainOf(text: string): ToolchainChoice {
  return selectToolchain(goModLookup(text, "go"), goModLookup(text, "toolchain"));
}

/** Whether some go command that can switch (Go ≥ 1.21.0) would download this toolchain. */
export function downloadedBySomeClient(version: string): boolean {
  return compareGoVersions(version, FIRST_SWITCHING_GO) > 0;
}

/** The module version of a toolchain for a platform: v0.0.1-go1.22.0.linux-amd64. */
export function toolchainModuleVersion(name: string, p: Platform): string {
  return `${TOOLCHAIN_PACKAGING}-${name}.${p.goos}-${p.goarch}`;
}

/**
 * The Go version a toolchain module version carries, whatever its platform:
 * "v0.0.1-go1.19.7.windows-amd64" → "1.19.7"; undefined when it has no
 * "-…" part or no ".goos-goarch" suffix.
 */
export function goVersionOfModuleVersion(v: string): string | undefined {
  const dash = v.indexOf("-");
  if (dash < 0) return undefined;
  const rest = v.slice(dash + 1);
  const dot = rest.lastIndexOf(".");
  if (dot < 0 || !rest.slice(dot + 1).includes("-")) return undefined;
  const name = rest.slice(0, dot);
  return name.startsWith("go") ? name.slice(2) : name;
}

/** The toolchain name part of a toolchain module version: "v0.0.1-go1.22.0.linux-amd64" → "go1.22.0". */
export function toolchainNameOfModuleVersion(v: string): string | undefined {
  const dash = v.indexOf("-");
  const dot = v.lastIndexOf(".");
  if (dash < 0 || dot <= dash || !v.slice(dot + 1).includes("-")) return undefined;
  return v.slice(dash + 1, dot);
}

/**
 * The Go versions `golang.org/toolchain`'s version list offers, as the go
 * command reads it for a switch: every platform's versions, the platform cut
 * off, duplicates dropped, sorted oldest first.
 */
export function goVersionsOfList(moduleVersions: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const mv of moduleVersions) {
    const v = goVersionOfModuleVersion(mv);
    if (v !== undefined) seen.add(v);
  }
  return [...seen].sort(compareGoVersions);
}

/**
 * The toolchain a switch picks when a module needs at least Go `need`, from
 * the available versions (sorted oldest first): going from the newest down
 * through releases ≥ need, the latest patch of each language family; the
 * first family that is followed by a newer non-prerelease family is taken,
 * else the oldest family reached. undefined when no version is new enough.
 */
export function newerToolchain(need: string, available: readonly string[]): string | undefined {
  let latest = "";
  for (let i = available.length - 1; i >= 0; i--) {
    const v = available[i]!;
    if (compareGoVersions(v, need) < 0) break;
    if (latest !== "" && goLang(latest) === goLang(v)) continue;
    const newer = latest;
    latest = v;
    if (newer !== "" && !isGoPrerelease(newer)) break;
  }
  return latest === "" ? undefined : `go${latest}`;
}

// ---------------------------------------------------------------- platforms

/** GOOS values of `go tool dist list` (Go 1.23) and of older ports Go still names. */
const KNOWN_GOOS = new Set([
  "aix",
  "android",
  "darwin",
  "dragonfly",
  "freebsd",
  "hurd",
  "illumos",
  "ios",
  "js",
  "linux",
  "nacl",
  "netbsd",
  "openbsd",
  "plan9",
  "solaris",
  "wasip1",
  "windows",
  "zos",
]);

const KNOWN_GOARCH = new Set([
  "386",
  "amd64",
  "arm",
  "arm64",
  "loong64",
  "mips",
  "mips64",
  "mips64le",
  "mipsle",
  "ppc64",
  "ppc64le",
  "riscv64",
  "s390x",
  "wasm",
]);

/** Node's process.platform / process.arch in Go's terms; undefined for a platform Go has no port for. */
export function goPlatformOf(
  nodePlatform: string = platform(),
  nodeArch: string = arch(),
  littleEndian: boolean = endianness() === "LE",
): Platform | undefined {
  const goos: Record<string, string> = {
    aix: "aix",
    android: "android",
    darwin: "darwin",
    freebsd: "freebsd",
    linux: "linux",
    netbsd: "netbsd",
    openbsd: "openbsd",
    sunos: "solaris",
    win32: "windows",
  };
  const goarch: Record<string, string> = {
    arm: "arm",
    arm64: "arm64",
    ia32: "386",
    loong64: "loong64",
    mips: "mips",
    mipsel: "mipsle",
    ppc64: littleEndian ? "ppc64le" : "ppc64",
    riscv64: "riscv64",
    s390x: "s390x",
    x64: "amd64",
  };
  const os = goos[nodePlatform];
  const cpu = goarch[nodeArch];
  return os === undefined || cpu === undefined ? undefined : { goos: os, goarch: cpu };
}

export const TOOLCHAIN_PLATFORMS_RULE = "host, none, or a comma-separated list of GOOS/GOARCH (and host)";

/**
 * Reads a toolchain platform list: `none` (no toolchains), or entries
 * `GOOS/GOARCH` and `host` separated by commas. Returns the platforms, or
 * the problem. `host` stands for the given host platform (this machine's;
 * null where Go has no port).
 */
export function parseToolchainPlatforms(
  text: string,
  host: Platform | null = goPlatformOf() ?? null,
): { platforms: Platform[] } | { problem: string } {
  const t = text.trim();
  if (t === "none") return { platforms: [] };
  if (t === "")
    return { problem: `an empty list: write none for no toolchains (${TOOLCHAIN_PLATFORMS_RULE})` };
  const out: Platform[] = [];
  const seen = new Set<string>();
  for (const raw of t.split(",")) {
    const entry = raw.trim();
    let p: Platform;
    if (entry === "host") {
      if (host === null) {
        return { problem: `host: Go has no toolchain for ${platform()}/${arch()}; name GOOS/GOARCH instead` };
      }
      p = host;
    } else {
      const m = /^([a-z0-9]+)\/([a-z0-9]+)$/.exec(entry);
      if (m === null) return { problem: `"${entry}" is not GOOS/GOARCH (${TOOLCHAIN_PLATFORMS_RULE})` };
      const [, goos, goarch] = m as unknown as [string, string, string];
      if (!KNOWN_GOOS.has(goos)) return { problem: `"${entry}": unknown GOOS ${goos}` };
      if (!KNOWN_GOARCH.has(goarch)) {
        const hint = goPlatformOf("linux", goarch)?.goarch;
        return {
          problem: `"${entry}": unknown GOARCH ${goarch}${hint !== undefined ? ` (Go calls it ${hint})` : ""}`,
        };
      }
      p = { goos, goarch };
    }
    const key = `${p.goos}/${p.goarch}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  }
  return { platforms: out };
}
