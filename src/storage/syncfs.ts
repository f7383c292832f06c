/**
 * syncfs(2) for a batch of files: one call writes out and waits for
 * everything written to a file system, where an fsync per file waits on the
 * disk once per file (thousands of times for a bundle of small modules).
 * Node has no binding for it; coreutils' `sync -f PATH` makes exactly that
 * call and exits non-zero when it fails (Linux reports writeback errors to
 * syncfs since 5.8). Where it cannot be used, callers fsync file by file.
 */
import { execFile } from "node:child_process";

/** Generous: syncfs waits for all dirty data of the file system, not only ours. */
const SYNC_TIMEOUT_MS = 10 * 60_000;

/** Unknown until tried; false once `sync -f` turned out to be missing or unsupported here. */
let available: boolean | undefined = process.platform === "linux" ? undefined : false;

/**
 * Makes everything written on path's file system durable. Resolves false
 * when that could not be done (no `sync -f` here, a failure, a timeout):
 * the caller must then make its files durable itself.
 */
export function syncFileSystem(path: string): Promise<boolean> {
  if (available === false) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile("sync", ["-f", path], { timeout: SYNC_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) {
        available = true;
        resolve(true);
        return;
      }
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      if (missing || /invalid option|unrecognized option/.test(String(stderr))) available = false;
      resolve(false);
    });
  });
}
