/** The store commands (export, import, prune, verify, ls, stats), registered in one call from main. */
import type { Command } from "commander";
import { registerExport } from "./export.ts";
import { registerImport } from "./import.ts";
import { registerLs } from "./ls.ts";
import { registerPrune } from "./prune.ts";
import { registerStats } from "./stats.ts";
import { registerVerify } from "./verify.ts";

export function registerStoreCommands(program: Command): void {
  registerExport(program);
  registerImport(program);
  registerPrune(program);
  registerVerify(program);
  registerLs(program);
  registerStats(program);
}
