/**
 * A child process for bundle tests that need a real process: kill -9 at a
 * chosen commit of an import, and peak-memory measurement of export and
 * import. Usage (argv after the script):
 *   import STORE BUNDLE [KILL_AFTER_COMMITS]
 *   export STORE BUNDLE
 * Prints one JSON line {"maxRssBytes": N, ...} when it finishes.
 * GOARK_TEST_ZIP_WORKERS sets the import's zipWorkers.
 */
import { exportBundle } from "../../src/bundle/export.ts";
import { importBundle } from "../../src/bundle/import.ts";
import { DiskStorage } from "../../src/storage/disk.ts";

const [mode, store, bundle, killAfter] = process.argv.slice(2);
const storage = await DiskStorage.open({ root: store! });
await storage.sweep();
let result: unknown;
if (mode === "import") {
  let commits = 0;
  const limit = killAfter === undefined ? -1 : Number(killAfter);
  const workers = process.env.GOARK_TEST_ZIP_WORKERS;
  const r = await importBundle(storage, bundle!, {
    ...(workers === undefined ? {} : { zipWorkers: Number(workers) }),
    onCommit: () => {
      commits++;
      // kill -9 of ourselves: no cleanup, no flush, exactly like a crash.
      if (commits === limit) process.kill(process.pid, "SIGKILL");
    },
  });
  result = { added: r.added.length, present: r.present.length, rejected: r.rejected.length };
} else if (mode === "export") {
  const r = await exportBundle(storage, bundle!, { select: { kind: "all" } });
  result = { versions: r.versions, bytes: r.bytes };
} else {
  throw new Error(`unknown mode ${mode}`);
}
await storage.close();
process.stdout.write(
  `${JSON.stringify({ ...(result as object), maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
