/**
 * Starts goark in-process for a test: a temp store, loopback listen on a free
 * port, silent logs, and whatever settings the test overrides.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { KnownSums } from "../../src/cache/verify.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/observability/log.ts";
import { type App, startApp } from "../../src/server/app.ts";

export interface GoarkInstance {
  app: App;
  url: string;
  store: string;
  /** Log lines written so far (JSON, one per element). */
  logs: string[];
  close(): Promise<void>;
}

export async function startGoark(
  flags: Record<string, string>,
  opts: { knownSums?: KnownSums; store?: string } = {},
): Promise<GoarkInstance> {
  const store = opts.store ?? (await mkdtemp(join(tmpdir(), "goark-store-")));
  const config = loadConfig({
    // Fixture modules are in no public checksum database: verification only where a test asks for it.
    flags: { listen: "127.0.0.1:0", storage: store, logLevel: "warn", sumdb: "off", ...flags },
    env: {},
    cwd: tmpdir(),
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination });
  const app = await startApp(config, {
    logger,
    processMetrics: false,
    ...(opts.knownSums ? { knownSums: opts.knownSums } : {}),
  });
  return {
    app,
    url: app.url,
    store,
    logs,
    async close() {
      await app.close(2000);
      if (opts.store === undefined) await rm(store, { recursive: true, force: true });
    },
  };
}
