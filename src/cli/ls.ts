/** `goark ls [PATTERN…]`: the stored module versions, as a table or JSON. */
import type { Command } from "commander";
import { listVersions } from "../store-ops/listing.ts";
import { addStoreFlags, formatBytes, formatTable, formatTime, withStore } from "./store-command.ts";

export function registerLs(program: Command): void {
  const cmd = program
    .command("ls")
    .description("List stored module versions (files, size, fetched, last used, origin)")
    .argument("[patterns...]", "only modules matching these patterns (GOPRIVATE syntax)")
    .option("--json", "print JSON");
  addStoreFlags(cmd);
  cmd.action(async (patterns: string[], flags: { json?: boolean }) => {
    await withStore(cmd, async (storage) => {
      const rows = await listVersions(storage, patterns);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        formatTable(
          ["MODULE", "VERSION", "FILES", "SIZE", "FETCHED", "LAST USED", "ORIGIN"],
          rows.map((r) => [
            r.module,
            r.version,
            r.files.join(","),
            formatBytes(r.size),
            formatTime(r.fetchedAt),
            formatTime(r.lastUsed),
            r.origin,
          ]),
        ),
      );
    });
  });
}
