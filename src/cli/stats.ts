/** `goark stats`: totals of what the store holds, as text or JSON. */
import type { Command } from "commander";
import { storeStats } from "../store-ops/listing.ts";
import { addStoreFlags, formatBytes, formatTime, withStore } from "./store-command.ts";

export function registerStats(program: Command): void {
  const cmd = program
    .command("stats")
    .description("Totals of the store: modules, versions, files, bytes")
    .option("--json", "print JSON");
  addStoreFlags(cmd);
  cmd.action(async (flags: { json?: boolean }) => {
    await withStore(cmd, async (storage) => {
      const s = await storeStats(storage);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      const lines = [
        `storage   ${storage.name}`,
        `modules   ${s.modules}`,
        `versions  ${s.versions} (${s.versionsWithZip} with zip${s.incomplete > 0 ? `, ${s.incomplete} incomplete` : ""})`,
        ...(["zip", "mod", "info", "list", "latest"] as const).map(
          (k) => `${`.${k}`.padEnd(9)} ${s.files[k].count} files, ${formatBytes(s.files[k].bytes)}`,
        ),
        `total     ${formatBytes(s.totalBytes)}`,
        `fetched   ${formatTime(s.oldestFetch)} .. ${formatTime(s.newestFetch)}`,
      ];
      if (s.foreignKeys > 0) lines.push(`other     ${s.foreignKeys} files outside the module layout`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
  });
}
