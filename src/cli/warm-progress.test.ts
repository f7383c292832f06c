/**
 * warm's progress output: a bar on a terminal, plain throttled lines (and
 * one line per failure) otherwise, nothing when turned off.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import type { WarmProgress } from "../warm/graph.ts";
import { createProgressReporter } from "./warm-progress.ts";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const pt = new PassThrough();
  const chunks: Buffer[] = [];
  pt.on("data", (c: Buffer) => chunks.push(c));
  Object.assign(pt, {
    isTTY,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  return { stream: pt as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString("utf8") };
}

const step = (done: number, total: number, ok = true, failures = 0): WarmProgress => ({
  done,
  total,
  bytes: done * 1024,
  failures,
  last: { module: "example.com/m", version: `v1.0.${done}`, step: "zip", ok },
});

test("not a terminal: a line per failure, counts at most once per interval, a final count", async () => {
  const { stream, text } = fakeStream(false);
  const p = createProgressReporter({ enabled: true, stream, intervalMs: 60_000 });
  p.update(step(1, 10));
  p.update(step(2, 10));
  p.update(step(3, 10, false, 1));
  p.update(step(4, 10, true, 1));
  p.stop();
  await new Promise((r) => setImmediate(r));
  assert.equal(
    text(),
    "warm: 1/10 done, 1.0 KiB, 0 failed\n" +
      "warm: failed example.com/m@v1.0.3 (zip)\n" +
      "warm: 4/10 done, 4.0 KiB, 1 failed\n",
  );
});

test("a terminal gets the bar", async () => {
  const { stream, text } = fakeStream(true);
  const p = createProgressReporter({ enabled: true, stream });
  p.update(step(1, 2));
  p.update(step(2, 2));
  p.stop();
  await new Promise((r) => setImmediate(r));
  assert.match(text(), /warming \[.*\] 2\/2 \| 2\.0 KiB \| 0 failed \| example\.com\/m@v1\.0\.2 zip/);
});

test("disabled: nothing at all", async () => {
  const { stream, text } = fakeStream(true);
  const p = createProgressReporter({ enabled: false, stream });
  p.update(step(1, 1));
  p.stop();
  await new Promise((r) => setImmediate(r));
  assert.equal(text(), "");
});
