/**
 * `goark warm [go.mod | go.work | go.sum | dir/ | module@version | module@latest …]`:
 * fills the store with everything the go command needs to build and test
 * those projects (src/warm/graph.ts), through the same caching core and
 * upstream chain as `goark serve` — or, with --server, by asking a running
 * goark for it so that it fills its own store. Progress on a terminal (plain
 * lines otherwise), a summary, the failures with their reasons, and exit
 * code 1 when anything failed.
 */
import type { Command } from "commander";
import { ProxyCore } from "../cache/proxy-core.ts";
import { BadRequestError, ConfigError } from "../errors.ts";
import { type Platform, parseToolchainPlatforms } from "../module/toolchain.ts";
import { buildSource, isOffline } from "../server/app.ts";
import { openSumdb, sumdbDir } from "../sumdb/from-config.ts";
import type { SumdbLogger } from "../sumdb/upstream-db.ts";
import { CoreFetcher, HttpFetcher, type WarmFetcher } from "../warm/fetcher.ts";
import { type WarmProgress, type WarmReport, warmGraph } from "../warm/graph.ts";
import { knownSumsChain, knownSumsOf, planFromArguments } from "../warm/inputs.ts";
import { configFromCommand } from "./config-flags.ts";
import { EXIT_FAILURE } from "./exit-codes.ts";
import { addStoreFlags, formatBytes, withStore } from "./store-command.ts";
import { createProgressReporter } from "./warm-progress.ts";

interface WarmFlags {
  server?: string;
  jobs?: string;
  json?: boolean;
  progress?: boolean;
}

export function registerWarm(program: Command): void {
  const cmd = program
    .command("warm")
    .description(
      "Fill the store with every module version the go command needs to build and test the given projects",
    )
    .argument(
      "<inputs...>",
      "go.mod, go.work or go.sum files, project directories, module@version or module@latest",
    )
    .option(
      "--server <url>",
      "warm a running goark at URL (it fetches and stores) instead of the local store",
    )
    .option("--jobs <n>", "fetches in flight at once (default 8)")
    .option("--json", "print the report as JSON")
    .option("--no-progress", "no progress bar, even on a terminal");
  addStoreFlags(cmd);
  cmd.action(async (inputs: string[], flags: WarmFlags) => {
    const jobs = parseJobs(flags.jobs);
    const { config } = configFromCommand(cmd);
    const toolchainPlatforms = resolvePlatforms(config.toolchainPlatforms);
    const plan = await planFromArguments(inputs);
    const progress = createProgressReporter({
      enabled: flags.progress !== false && flags.json !== true,
      stream: process.stderr,
    });
    const run = async (fetcher: WarmFetcher): Promise<WarmReport> => {
      try {
        return await warmGraph(plan, fetcher, {
          jobs,
          toolchainPlatforms,
          onProgress: (p: WarmProgress) => progress.update(p),
        });
      } finally {
        progress.stop();
      }
    };
    let report: WarmReport;
    let target: string;
    if (flags.server !== undefined) {
      const fetcher = new HttpFetcher(flags.server);
      target = fetcher.name;
      report = await run(fetcher);
    } else {
      if (isOffline(config)) {
        throw new ConfigError(
          "warm: goark is configured offline (--offline or an upstream of off); warm needs an upstream, or use --server URL",
        );
      }
      ({ report, target } = await withStore(cmd, async (storage) => {
        // As serve does: verified against the checksum database before storing,
        // and recorded in goark's own log; first, though, against the
        // projects' go.sum lines, as the go command itself would check.
        const sumdb = await openSumdb(config, {
          storage,
          dir: sumdbDir(config),
          offline: false,
          logger: stderrLogger,
        });
        const knownSums = knownSumsChain(knownSumsOf(plan), sumdb);
        const source = buildSource(config, storage, knownSums);
        const core = new ProxyCore({
          storage,
          source,
          listTtlMs: config.listTtl,
          notFoundTtlMs: config.notFoundTtl,
          knownSums,
          ...(sumdb?.own ? { onZipStored: (m: string, v: string) => sumdb.stored(m, v) } : {}),
        });
        try {
          return { report: await run(new CoreFetcher(core, { knownSums })), target: storage.name };
        } finally {
          await core.close(0);
          await source.close?.();
          await sumdb?.close();
        }
      }));
    }
    printReport(report, target, flags.json === true);
    if (report.failures.length > 0) process.exitCode = EXIT_FAILURE;
  });
}

/** The checksum database's warnings (verification off or unavailable) reach the operator; the rest is quiet. */
const stderrLogger: SumdbLogger = {
  warn: (_obj, msg) => {
    if (msg !== undefined) process.stderr.write(`goark: warning: ${msg}\n`);
  },
  error: (_obj, msg) => {
    if (msg !== undefined) process.stderr.write(`goark: error: ${msg}\n`);
  },
  info: () => {},
};

function resolvePlatforms(text: string): Platform[] {
  const parsed = parseToolchainPlatforms(text);
  if ("problem" in parsed) throw new ConfigError(`--toolchain-platforms: ${parsed.problem}`);
  return parsed.platforms;
}

function parseJobs(text: string | undefined): number {
  if (text === undefined) return 8;
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new BadRequestError(`warm: --jobs ${JSON.stringify(text)}: want an integer from 1 to 256`);
  }
  return n;
}

function printReport(report: WarmReport, target: string, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ target, ...report }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `warmed ${target}: ${report.modules} modules, ${report.versions} versions (${report.zips} zips), ` +
      `${formatBytes(report.bytes)} (${formatBytes(report.newBytes)} new, ${report.fetched} downloads), ` +
      `${report.failures.length} failures` +
      (report.toolchains.length > 0 ? `; ${report.toolchains.length} of the zips are Go toolchains` : "") +
      "\n",
  );
  for (const t of report.toolchains) {
    process.stdout.write(`toolchain: ${t.name} ${t.platform} (${t.version}, for ${t.requiredBy})\n`);
  }
  for (const f of report.failures) {
    process.stdout.write(
      `failed: ${f.module}@${f.version} (${f.step}, required by ${f.requiredBy}): ${f.error}\n`,
    );
  }
}
