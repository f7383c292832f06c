/**
 * The goark command (bin/goark.js runs this). Builds the commander program
 * from one register function per command family, then maps every failure to
 * one stderr line and an exit code (src/cli/exit-codes.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { registerConfig } from "./config.ts";
import { EXIT_OK, EXIT_USAGE, formatError, reportError } from "./exit-codes.ts";
import { registerMod } from "./mod.ts";
import { registerServe } from "./serve.ts";
import { registerStoreCommands } from "./store-commands.ts";
import { registerSumdb } from "./sumdb.ts";
import { registerWarm } from "./warm.ts";

/** The package version, from the nearest package.json (src/cli or dist/src/cli). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "goark" && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return "unknown";
}

export function createProgram(): Command {
  const program = new Command("goark");
  program
    .description(
      "A Go module proxy that keeps every module it serves, verified, and keeps builds working offline",
    )
    .version(packageVersion(), "--version", "Print the goark version")
    .showSuggestionAfterError()
    // Program options only before the subcommand: `mod zip --version V` is
    // the module version, not `goark --version`.
    .enablePositionalOptions()
    // Errors are printed once, by main, as `goark: <message>`.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerMod(program);
  registerConfig(program);
  registerServe(program);
  registerStoreCommands(program);
  registerWarm(program);
  registerSumdb(program);
  return program;
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0; help shown because a
      // command was missing counts as a usage error.
      if (err.exitCode === 0) return EXIT_OK;
      if (err.code === "commander.help") return EXIT_USAGE;
      process.stderr.write(`${formatError(err.message.replace(/^error: /, ""))}\n`);
      return EXIT_USAGE;
    }
    return reportError(err);
  }
}

process.exitCode = await main();
