/**
 * Per-request logging cost: a plain object on the shared logger vs a child
 * logger per request (bindings + one line), writing through sonic-boom to /dev/null so only
 * pino's own work is timed. Run: node --import tsx bench/log.ts
 */
import { pino } from "pino";
import { createLogger, logRequest, requestIds } from "../src/observability/log.ts";

// What production writes through (sonic-boom), aimed at /dev/null.
const sink = pino.destination({ dest: "/dev/null", sync: true });
const logger = createLogger({ level: "info", destination: sink });
const nextId = requestIds();
const N = 200_000;

function time(label: string, fn: (i: number) => void): void {
  for (let i = 0; i < 20_000; i++) fn(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label.padEnd(34)} ${(ns / 1000).toFixed(2)} µs/request`);
}

time("plain object (logRequest)", (i) => {
  logRequest(logger, {
    id: nextId(),
    method: "GET",
    route: "info",
    path: "/example.com/m/@v/v1.0.0.info",
    module: "example.com/m",
    version: "v1.0.0",
    cache: "hit",
    status: 200,
    durationMs: i % 7,
    bytes: 52,
  });
});

time("child logger per request", (i) => {
  const child = logger.child({ id: nextId(), method: "GET", path: "/example.com/m/@v/v1.0.0.info" });
  child.info(
    {
      route: "info",
      module: "example.com/m",
      version: "v1.0.0",
      cache: "hit",
      status: 200,
      durationMs: i % 7,
      bytes: 52,
    },
    "request",
  );
});

const silent = createLogger({ level: "warn", destination: sink });
time("level below threshold (info at warn)", (i) => {
  logRequest(silent, { id: "x", method: "GET", route: "info", path: "/", status: 200, durationMs: i });
});

// Buffered writes: the syscall is paid once per 4 KiB instead of per line.
const buffered = createLogger({
  level: "info",
  destination: pino.destination({ dest: "/dev/null", sync: false, minLength: 4096 }),
});
time("plain object, buffered", (i) => {
  logRequest(buffered, {
    id: nextId(),
    method: "GET",
    route: "info",
    path: "/example.com/m/@v/v1.0.0.info",
    module: "example.com/m",
    version: "v1.0.0",
    cache: "hit",
    status: 200,
    durationMs: i % 7,
    bytes: 52,
  });
});
time("child logger per request, buffered", (i) => {
  const child = buffered.child({ id: nextId(), method: "GET", path: "/example.com/m/@v/v1.0.0.info" });
  child.info(
    {
      route: "info",
      module: "example.com/m",
      version: "v1.0.0",
      cache: "hit",
      status: 200,
      durationMs: i % 7,
      bytes: 52,
    },
    "request",
  );
});
