/**
 * The configuration flags, generated from the option table, for any command
 * that reads the configuration (serve, warm, ...). No defaults are given to
 * commander: an absent flag must stay undefined so the environment and the
 * config file can supply the value.
 */
import { type Command, Option } from "commander";
import { CONFIG_ENV, CONFIG_FLAG, type LoadedConfig, loadConfigDetailed } from "../config/load.ts";
import { OPTIONS } from "../config/options.ts";

export function addConfigFlags(cmd: Command): Command {
  cmd.addOption(
    new Option(
      `${CONFIG_FLAG} <file>`,
      `YAML config file (env ${CONFIG_ENV}; default ./goark.yaml if present)`,
    ),
  );
  for (const o of OPTIONS) {
    if (o.fileOnly) continue;
    const def = o.default === "" ? "none" : o.default;
    const help = `${o.description} (env ${o.env}; default ${def})`;
    if (o.arg === undefined) {
      cmd.addOption(new Option(o.flag, help));
      // The negation lets a flag override a true from the environment or file.
      cmd.addOption(new Option(`--no-${o.flag.slice(2)}`, `Turn ${o.flag} off`).hideHelp());
    } else {
      cmd.addOption(new Option(`${o.flag} <${o.arg.toLowerCase()}>`, help));
    }
  }
  return cmd;
}

/** The configuration for a command that had addConfigFlags applied. */
export function configFromCommand(
  cmd: Command,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): LoadedConfig {
  return loadConfigDetailed({ flags: cmd.opts(), env, cwd });
}
