/**
 * Prints the README's configuration table (markdown) from the option table,
 * so documentation and code cannot drift: node --import tsx scripts/config-table.ts
 */
import { CONFIG_ENV, CONFIG_FLAG, DEFAULT_CONFIG_FILE } from "../src/config/load.ts";
import { OPTIONS } from "../src/config/options.ts";

const cell = (s: string) => s.replace(/\|/g, "\\|");
const code = (s: string) => (s === "" ? "" : `\`${cell(s)}\``);

const lines = [
  "| goark.yaml key | Flag | Environment | Default | Description |",
  "|---|---|---|---|---|",
  `| | \`${CONFIG_FLAG} FILE\` | \`${CONFIG_ENV}\` | \`./${DEFAULT_CONFIG_FILE}\` if present | The YAML file holding the keys below; unknown keys are errors. |`,
];
for (const o of OPTIONS) {
  if (o.fileOnly) {
    lines.push(`| \`${o.name}\` | (file only) | (file only) | (none) | ${cell(o.description)} |`);
    continue;
  }
  const flag = o.arg === undefined ? `${o.flag}` : `${o.flag} ${o.arg}`;
  lines.push(
    `| \`${o.name}\` | ${code(flag)} | \`${o.env}\` | ${o.default === "" ? "(none)" : code(o.default)} | ${cell(o.description)} |`,
  );
}
lines.push(
  "",
  "Precedence: flags, then environment, then the file, then defaults. Durations are written like `30s`, `5m`, `1h30m`; sizes like `64MiB` or `1GB`; booleans as `true`/`false`.",
);
process.stdout.write(`${lines.join("\n")}\n`);
