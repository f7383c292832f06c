/**
 * Finds a go command that switches toolchains (Go 1.21 or later): the go on
 * PATH if it is new enough, else the newest Debian /usr/lib/go-1.N
 * (scripts/prereqs-go-switch.sh installs golang-1.23-go from backports).
 * Returns the directory to put first on a GoClient's PATH, or undefined.
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

export const SWITCHING_GO_HINT =
  "needs Go >= 1.21 (toolchain switching); run `bash scripts/prereqs-go-switch.sh` to install Debian's golang-1.23-go";

function minorOf(goBin: string): number | undefined {
  try {
    const v = execFileSync(goBin, ["env", "GOVERSION"], {
      encoding: "utf8",
      env: { ...process.env, GOTOOLCHAIN: "local", GOENV: "off" },
      timeout: 30_000,
    }).trim();
    const m = /^go1\.(\d+)/.exec(v);
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

export function findSwitchingGo(): { binDir: string; minor: number } | undefined {
  const candidates: string[] = [];
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir !== "") candidates.push(dir);
  try {
    for (const e of readdirSync("/usr/lib"))
      if (/^go-1\.\d+$/.test(e)) candidates.push(join("/usr/lib", e, "bin"));
  } catch {
    // no /usr/lib: nothing more to try
  }
  let best: { binDir: string; minor: number } | undefined;
  for (const binDir of candidates) {
    const minor = minorOf(join(binDir, "go"));
    if (minor !== undefined && minor >= 21 && (best === undefined || minor > best.minor))
      best = { binDir, minor };
  }
  return best;
}
