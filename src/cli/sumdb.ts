/**
 * `goark sumdb key`: the verifier key of goark's own checksum database (the
 * signing key is created with the store's data on first use, mode 0600) and
 * the exact `go env` lines that make the go command verify every module it
 * downloads through goark against it — private ones included, and offline.
 * The signing key itself is never printed.
 */
import { hostname } from "node:os";
import type { Command } from "commander";
import { formatListenAddress } from "../config/listen-address.ts";
import { ConfigError } from "../errors.ts";
import { sumdbClientLines, sumdbDir } from "../sumdb/from-config.ts";
import { loadOrCreateKey } from "../sumdb/own-db.ts";
import { addConfigFlags, configFromCommand } from "./config-flags.ts";

export function registerSumdb(program: Command): void {
  const sumdb = program.command("sumdb").description("goark's own checksum database");
  const key = sumdb
    .command("key")
    .description("Print the verifier key of goark's checksum database and the go env lines for clients")
    .option("--url <url>", "the URL clients reach goark at (default: from --listen)")
    .option("--json", "print JSON");
  addConfigFlags(key);
  key.action(async (flags: { url?: string; json?: boolean }) => {
    const { config } = configFromCommand(key);
    const dir = sumdbDir(config);
    if (dir === undefined) {
      throw new ConfigError(`storage ${config.storage.kind}:// has no checksum database; use a directory`);
    }
    const k = await loadOrCreateKey(dir, config.sumdbName);
    const url = (flags.url ?? defaultUrl(config.listen)).replace(/\/+$/, "");
    const gosumdb = `${k.verifierKey} ${url}/sumdb/${k.name}`;
    const lines = sumdbClientLines(url, config, gosumdb);
    if (flags.json) {
      const out = { name: k.name, verifierKey: k.verifierKey, url: `${url}/sumdb/${k.name}`, gosumdb, lines };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        `checksum database  ${k.name}${k.created ? " (signing key created now)" : ""}`,
        `verifier key       ${k.verifierKey}`,
        "Point the go command at goark and its checksum database:",
        ...lines.map((l) => `  ${l}`),
        "",
      ].join("\n"),
    );
  });
}

function defaultUrl(listen: { host: string; port: number }): string {
  const wildcard = listen.host === "" || listen.host === "0.0.0.0" || listen.host === "::";
  return `http://${formatListenAddress(wildcard ? { host: hostname(), port: listen.port } : listen)}`;
}
