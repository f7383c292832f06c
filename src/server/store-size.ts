/**
 * Keeps the store-size metrics current: publishes the store's usage
 * (goark:store:size) once at start and then after fills settle, at most once
 * per interval (trailing, so the last fill of a burst is always counted).
 * Storage.usage() walks the tree only the first time; after that it is a
 * running count, so a refresh costs nothing like a scan.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { FILL_END, publishStoreSize } from "../observability/events.ts";
import type { Storage } from "../storage/storage.ts";

export interface StoreSizeReporterOptions {
  /** Least time between two refreshes. Default 2 s. */
  intervalMs?: number;
  /** Told when reading the usage fails (the next refresh tries again). */
  onError?: (err: unknown) => void;
}

export interface StoreSizeReporter {
  /** Asks for a refresh (throttled). */
  refresh(): void;
  /** Stops listening; waits for a refresh in progress. */
  close(): Promise<void>;
}

export function reportStoreSize(storage: Storage, opts: StoreSizeReporterOptions = {}): StoreSizeReporter {
  const interval = opts.intervalMs ?? 2_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let lastRun = Number.NEGATIVE_INFINITY;
  let closed = false;

  const run = (): void => {
    timer = undefined;
    if (closed) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    lastRun = Date.now();
    running = storage
      .usage()
      .then((u) => publishStoreSize({ bytes: u.bytes, objects: u.objects }))
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          refresh();
        }
      });
  };

  const refresh = (): void => {
    if (closed || timer !== undefined) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    timer = setTimeout(run, Math.max(0, lastRun + interval - Date.now()));
    timer.unref();
  };

  const onFillEnd = (): void => refresh();
  diagnosticsChannel.subscribe(FILL_END, onFillEnd);
  refresh();

  return {
    refresh,
    async close() {
      closed = true;
      diagnosticsChannel.unsubscribe(FILL_END, onFillEnd);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
