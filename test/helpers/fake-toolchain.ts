/**
 * Fake Go toolchains as an upstream serves them: module golang.org/toolchain,
 * version v0.0.1-<name>.<goos>-<goarch>, laid out like Go's toolchain zips
 * (bin/go, bin/gofmt, pkg/tool/<goos>_<goarch>/…, VERSION, go.env; go.mod
 * files would be src/_go.mod) but tiny: bin/go is a shell script that prints
 * a marker naming its toolchain and platform, so a switch the real go command
 * makes to it shows in its output.
 */
import type { FixtureVersion } from "./fixture-upstream.ts";

export const TOOLCHAIN_MODULE = "golang.org/toolchain";

export interface FakePlatform {
  goos: string;
  goarch: string;
}

/** What the fake bin/go prints for any command: one line naming toolchain and platform. */
export function fakeToolchainMarker(name: string, p: FakePlatform): string {
  return `goark-fake-toolchain ${name} ${p.goos}/${p.goarch}`;
}

export function fakeToolchainVersion(
  name: string,
  p: FakePlatform,
  time = "2024-02-06T00:00:00Z",
): FixtureVersion {
  const marker = fakeToolchainMarker(name, p);
  // Go runs bin/go with the original arguments and GOROOT set to the unpacked module.
  const goScript = `#!/bin/sh\necho "${marker} args=$*"\necho "GOROOT=$GOROOT" >&2\nexit 0\n`;
  return {
    module: TOOLCHAIN_MODULE,
    version: `v0.0.1-${name}.${p.goos}-${p.goarch}`,
    time,
    files: {
      "bin/go": goScript,
      "bin/gofmt": "#!/bin/sh\nexit 0\n",
      [`pkg/tool/${p.goos}_${p.goarch}/vet`]: "#!/bin/sh\nexit 0\n",
      VERSION: `${name}\ntime ${time}\n`,
      "go.env": "GOPROXY=https://proxy.golang.org,direct\nGOSUMDB=sum.golang.org\nGOTOOLCHAIN=auto\n",
      "src/_go.mod": "module std\n\ngo 1.99\n",
    },
  };
}

/** Every name × platform. */
export function fakeToolchains(
  names: readonly string[],
  platforms: readonly FakePlatform[],
): FixtureVersion[] {
  return names.flatMap((n) => platforms.map((p) => fakeToolchainVersion(n, p)));
}
