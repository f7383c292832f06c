/**
 * `goark import BUNDLE|DIR`: loads a bundle (tar or tar.gz) or a go download
 * cache / GOPROXY directory into the store. Reports what was added, what was
 * already present and what was rejected (exit code 1 when anything was).
 */
import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { importDownloadCache } from "../bundle/download-cache.ts";
import { importBundle } from "../bundle/import.ts";
import { EXIT_FAILURE } from "./exit-codes.ts";
import { sumdbExtensions } from "./export.ts";
import { addStoreFlags, asOperational, formatBytes, withStore } from "./store-command.ts";

export function registerImport(program: Command): void {
  const cmd = program
    .command("import")
    .description(
      "Load a bundle, or a go download cache ($GOMODCACHE/cache/download), into the store; every hash is checked first",
    )
    .argument("<source>", "a bundle written by goark export, or a directory")
    .option("--json", "print the report as JSON");
  addStoreFlags(cmd);
  cmd.action(async (source: string, flags: { json?: boolean }) => {
    const isDir = await stat(source).then(
      (s) => s.isDirectory(),
      () => false,
    );
    await asOperational(() =>
      withStore(cmd, async (storage) => {
        const started = performance.now();
        const report = isDir
          ? await importDownloadCache(storage, source)
          : await importBundle(storage, source, { extensions: sumdbExtensions(cmd) });
        const seconds = Math.round(performance.now() - started) / 1000;
        if (flags.json) {
          const { manifest: _m, ...rest } = report as typeof report & { manifest?: unknown };
          process.stdout.write(`${JSON.stringify({ ...rest, seconds }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `added ${report.added.length} versions (${report.filesCreated} files, ${formatBytes(report.bytesCreated)}), ` +
              `already present ${report.present.length}, rejected ${report.rejected.length}; ${seconds.toFixed(1)} s\n`,
          );
          for (const r of report.rejected)
            process.stdout.write(`rejected: ${r.module}@${r.version}: ${r.reason}\n`);
        }
        if (report.rejected.length > 0) process.exitCode = EXIT_FAILURE;
      }),
    );
  });
}
