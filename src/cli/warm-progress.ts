/**
 * How `goark warm` shows its progress: a bar (cli-progress) when stderr is a
 * terminal; otherwise plain lines — one per failure as it happens and a
 * count at most every few seconds — so CI logs stay short and readable.
 */
import cliProgress from "cli-progress";
import type { WarmProgress } from "../warm/graph.ts";
import { formatBytes } from "./store-command.ts";

export interface ProgressReporter {
  update(p: WarmProgress): void;
  stop(): void;
}

export interface ProgressOptions {
  enabled: boolean;
  stream: NodeJS.WriteStream;
  /** Least time between two plain lines. Default 2 s. */
  intervalMs?: number;
}

export function createProgressReporter(opts: ProgressOptions): ProgressReporter {
  if (!opts.enabled) return { update() {}, stop() {} };
  if (opts.stream.isTTY) return barReporter(opts.stream);
  return lineReporter(opts.stream, opts.intervalMs ?? 2000);
}

function barReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: "warming [{bar}] {value}/{total} | {size} | {failures} failed | {last}",
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = {
        size: formatBytes(p.bytes),
        failures: p.failures,
        last: p.last === undefined ? "" : `${p.last.module}@${p.last.version} ${p.last.step}`,
      };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else {
        bar.setTotal(p.total);
        bar.update(p.done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function lineReporter(stream: NodeJS.WriteStream, intervalMs: number): ProgressReporter {
  let lastLine = 0;
  let lastFailures = 0;
  let latest: WarmProgress | undefined;
  const line = (p: WarmProgress) =>
    stream.write(`warm: ${p.done}/${p.total} done, ${formatBytes(p.bytes)}, ${p.failures} failed\n`);
  return {
    update(p) {
      latest = p;
      if (p.failures > lastFailures && p.last !== undefined && !p.last.ok) {
        stream.write(`warm: failed ${p.last.module}@${p.last.version} (${p.last.step})\n`);
      }
      lastFailures = p.failures;
      const now = Date.now();
      if (p.done > 0 && now - lastLine >= intervalMs) {
        lastLine = now;
        line(p);
      }
    },
    stop() {
      if (latest !== undefined) line(latest);
    },
  };
}
