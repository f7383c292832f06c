/**
 * `goark verify`: re-hashes and re-checks everything stored; corrupt
 * artefacts are quarantined (moved under <store>/.quarantine/) and removed.
 * Exit code 1 when anything was wrong.
 */
import type { Command } from "commander";
import { verifyStore } from "../store-ops/verify.ts";
import { sumdbDir } from "../sumdb/from-config.ts";
import { sumdbVerifyHook } from "../sumdb/verify-log.ts";
import { configFromCommand } from "./config-flags.ts";
import { EXIT_FAILURE } from "./exit-codes.ts";
import { addStoreFlags, formatBytes, withStore } from "./store-command.ts";

export function registerVerify(program: Command): void {
  const cmd = program
    .command("verify")
    .description("Re-hash and re-check every stored artefact; quarantine corrupt ones (exit code 1 if any)")
    .option("--dry-run", "report only: quarantine and remove nothing")
    .option("--json", "print the report as JSON");
  addStoreFlags(cmd);
  cmd.action(async (flags: { dryRun?: boolean; json?: boolean }) => {
    await withStore(cmd, async (storage) => {
      const dir = sumdbDir(configFromCommand(cmd).config);
      const sumdb = dir === undefined ? undefined : sumdbVerifyHook(dir);
      const r = await verifyStore(storage, { dryRun: flags.dryRun === true, hooks: sumdb ? [sumdb] : [] });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        for (const p of r.problems) {
          const where = p.quarantinedAt !== undefined ? ` (moved to ${p.quarantinedAt})` : "";
          process.stdout.write(`${p.action}: ${p.key}: ${p.problem}${where}\n`);
        }
        for (const w of r.warnings) process.stdout.write(`warning: ${w.key}: ${w.problem}\n`);
        if (sumdb?.summary !== undefined) process.stdout.write(`${sumdb.summary}\n`);
        process.stdout.write(
          `verified ${r.scanned} files (${formatBytes(r.bytes)}): ${r.problems.length === 0 ? "all good" : `${r.problems.length} problems`}\n`,
        );
      }
      if (r.problems.length > 0) process.exitCode = EXIT_FAILURE;
    });
  });
}
