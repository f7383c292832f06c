/**
 * The logger: pino writing JSON lines to stdout (no pretty-printing in the
 * process; pipe through pino-pretty when reading by eye). A request logs one
 * plain object on the shared logger. bench/log.ts measured a child logger per
 * request as no cheaper (both 6-8 µs per request including the write, within
 * noise), so the simpler form stays; below the level a request costs ~0.1 µs.
 */
import { randomBytes } from "node:crypto";
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "../config/options.ts";
import type { CacheResult, HttpRoute } from "./events.ts";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: LogLevel;
  /**
   * Where lines go; stdout by default. Tests pass a stream to read lines back.
   */
  destination?: DestinationStream;
  /**
   * Buffer stdout writes (default false). Faster under load, but lines still
   * in the buffer are lost if the process dies; call logger.flush() on exit.
   */
  buffered?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const destination =
    opts.destination ??
    pino.destination({ dest: 1, sync: !opts.buffered, minLength: opts.buffered ? 4096 : 0 });
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Levels as names ("info"), which log shippers and humans read without a table.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** The fields of one request's log line. Absent fields are left out of the line. */
export interface RequestLogEntry {
  /** The request id (see requestIds). */
  id: string;
  method: string;
  route: HttpRoute;
  /** The request path as received (already bounded by the router). */
  path: string;
  module?: string;
  version?: string;
  cache?: CacheResult;
  /** The upstream that answered a miss. */
  upstream?: string;
  status: number;
  durationMs: number;
  bytes?: number;
  /** The GoarkError code of a failed request. */
  error?: string;
}

/**
 * One line per request: info for answers (404 and 410 included, they are
 * normal for a proxy), warn for other 4xx, error for 5xx.
 */
export function logRequest(logger: Logger, entry: RequestLogEntry): void {
  if (entry.status >= 500) logger.error(entry, "request");
  else if (entry.status >= 400 && entry.status !== 404 && entry.status !== 410) logger.warn(entry, "request");
  else if (logger.isLevelEnabled("info")) logger.info(entry, "request");
}

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A request-id source: a random per-process prefix and a counter, far
 * cheaper than a UUID per request yet unique across replicas. An incoming
 * X-Request-Id of sane shape is kept, so ids follow a request through
 * load balancers.
 */
export function requestIds(): (incoming?: string) => string {
  const prefix = randomBytes(6).toString("base64url");
  let n = 0;
  return (incoming) => {
    if (incoming !== undefined && INCOMING_ID.test(incoming)) return incoming;
    n++;
    return `${prefix}-${n.toString(36)}`;
  };
}
