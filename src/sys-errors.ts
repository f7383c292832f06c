/** Small helpers for Node system errors and processes, shared by the stores and the lock files. */

/** The errno code of a Node system error (ENOENT, EEXIST…), or undefined. */
export function errCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

/** Whether a process with this pid runs on this host (EPERM: alive, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === "EPERM";
  }
}
