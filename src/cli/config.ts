/**
 * `goark config` — prints the configuration goark would run with, and where
 * each value came from (flag, env, file, default): the first thing to check
 * when a setting does not seem to apply.
 */
import type { Command } from "commander";
import { redactConfig } from "../config/direct-settings.ts";
import type { ConfigKey } from "../config/options.ts";
import { OPTION_BY_NAME } from "../config/options.ts";
import { addConfigFlags, configFromCommand } from "./config-flags.ts";

export function registerConfig(program: Command): void {
  const cmd = program
    .command("config")
    .description("Print the effective configuration and where each value came from")
    .option("--json", "print JSON: {file, config, origin}");
  addConfigFlags(cmd);
  cmd.action(() => {
    // Secrets (credentials' tokens and passwords) never reach the terminal.
    const detailed = configFromCommand(cmd);
    const loaded = { ...detailed, config: redactConfig(detailed.config) };
    if (cmd.opts().json) {
      process.stdout.write(`${JSON.stringify(loaded, null, 2)}\n`);
      return;
    }
    process.stdout.write(`# config file: ${loaded.file ?? "none"}\n`);
    for (const [key, value] of Object.entries(loaded.config)) {
      const o = OPTION_BY_NAME.get(key as ConfigKey)!;
      const origin = loaded.origin[key as ConfigKey];
      const from = origin === "flag" ? o.flag : origin === "env" ? o.env : origin;
      process.stdout.write(`${key}: ${JSON.stringify(value)}  # ${from}\n`);
    }
  });
}
