/**
 * Runs the real `goark` command (bin/goark.js) in a child process, the way a
 * user does, for CLI and end-to-end tests. The caller's GOARK_* variables are
 * dropped so that only what a test passes (flags, env, goark.yaml) counts.
 */
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const GOARK_BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "bin/goark.js");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function goark(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GOARK_")));
  return new Promise((done) => {
    execFile(
      process.execPath,
      [GOARK_BIN, ...args],
      { cwd, env: { ...base, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        done({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr });
      },
    );
  });
}

/** A run's exit code and output, for assertion messages. */
export function showRun(r: Run): string {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
