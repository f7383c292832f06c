/** The README's configuration table is exactly what scripts/config-table.ts prints from the option table. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const ROOT = resolve(import.meta.dirname, "..");

test("README configuration table matches the option table", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", join(ROOT, "scripts/config-table.ts")],
    { cwd: ROOT },
  );
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  assert.ok(
    readme.includes(stdout.trim()),
    "README.md's configuration table is stale: paste the output of `node --import tsx scripts/config-table.ts`",
  );
});
