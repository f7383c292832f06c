import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, logRequest, requestIds } from "./log.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l !== "") lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, stream };
}

test("request lines are one JSON object with the request's fields and a level name", () => {
  const { lines, stream } = capture();
  const logger = createLogger({ level: "info", destination: stream });
  logRequest(logger, {
    id: "r1",
    method: "GET",
    route: "zip",
    path: "/example.com/m/@v/v1.0.0.zip",
    module: "example.com/m",
    version: "v1.0.0",
    cache: "miss",
    upstream: "https://proxy.golang.org",
    status: 200,
    durationMs: 12.5,
    bytes: 2048,
  });
  assert.equal(lines.length, 1);
  const l = lines[0]!;
  assert.equal(l.level, "info");
  assert.equal(l.msg, "request");
  assert.equal(l.id, "r1");
  assert.equal(l.cache, "miss");
  assert.equal(l.upstream, "https://proxy.golang.org");
  assert.equal(l.status, 200);
  assert.equal(l.durationMs, 12.5);
  assert.match(String(l.time), /^\d{4}-\d\d-\d\dT/);
});

test("levels: 404/410 info, other 4xx warn, 5xx error; below the level nothing is written", () => {
  const { lines, stream } = capture();
  const logger = createLogger({ level: "info", destination: stream });
  const base = { id: "x", method: "GET", route: "info" as const, path: "/", durationMs: 1 };
  for (const status of [404, 410, 400, 502]) logRequest(logger, { ...base, status });
  assert.deepEqual(
    lines.map((l) => l.level),
    ["info", "info", "warn", "error"],
  );
  const quiet = capture();
  const warnLogger = createLogger({ level: "warn", destination: quiet.stream });
  logRequest(warnLogger, { ...base, status: 200 });
  logRequest(warnLogger, { ...base, status: 500 });
  assert.deepEqual(
    quiet.lines.map((l) => l.status),
    [500],
  );
});

test("request ids are unique per process; a sane incoming id is kept, others replaced", () => {
  const next = requestIds();
  const ids = new Set(Array.from({ length: 1000 }, () => next()));
  assert.equal(ids.size, 1000);
  assert.equal(next("lb-1234.abc"), "lb-1234.abc");
  assert.notEqual(next("bad id\n"), "bad id\n");
  assert.notEqual(next("x".repeat(200)), "x".repeat(200));
  assert.notEqual(requestIds()(), requestIds()());
});
