import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { publishFillEnd, STORE_SIZE, type StoreSizeEvent } from "../observability/events.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { reportStoreSize } from "./store-size.ts";

/** A memory store that counts how often its usage is read. */
function countingStore(): { storage: MemoryStorage; calls: () => number } {
  const storage = new MemoryStorage();
  let n = 0;
  const usage = storage.usage.bind(storage);
  storage.usage = () => {
    n++;
    return usage();
  };
  return { storage, calls: () => n };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

test("publishes the usage at start and after fills, throttled, the last fill of a burst counted", async () => {
  const seen: StoreSizeEvent[] = [];
  const listener = (m: unknown) => seen.push(m as StoreSizeEvent);
  diagnosticsChannel.subscribe(STORE_SIZE, listener);
  const { storage, calls } = countingStore();
  const reporter = reportStoreSize(storage, { intervalMs: 300 });
  try {
    await until(() => seen.length === 1, "published at start");
    assert.deepEqual(seen[0], { bytes: 0, objects: 0 });

    // A burst of fills: the first refresh waits out the interval, then one read covers the burst.
    await storage.putBytes("example.com/m/@v/v1.0.0.mod", Buffer.from("module example.com/m\n"), {
      origin: "test",
    });
    for (let i = 0; i < 50; i++) publishFillEnd({ route: "mod", module: "example.com/m", durationMs: 1 });
    await storage.putBytes("example.com/m/@v/list", Buffer.from("v1.0.0\n"), { origin: "test" });
    publishFillEnd({ route: "list", module: "example.com/m", durationMs: 1 });
    await until(() => seen.length === 2, "published after the burst");
    assert.deepEqual(seen[1], { bytes: 21 + 7, objects: 2 });
    await sleep(400);
    assert.equal(calls(), 2, "one read at start, one for the whole burst");
  } finally {
    await reporter.close();
    diagnosticsChannel.unsubscribe(STORE_SIZE, listener);
  }
  publishFillEnd({ route: "mod", module: "example.com/m", durationMs: 1 });
  await sleep(50);
  assert.equal(calls(), 2, "nothing read after close");
});

test("a failing read is reported, and the next fill tries again", async () => {
  const { storage } = countingStore();
  let fail = true;
  const usage = storage.usage.bind(storage);
  storage.usage = async () => {
    if (fail) throw new Error("disk gone");
    return usage();
  };
  const errors: unknown[] = [];
  const seen: StoreSizeEvent[] = [];
  const listener = (m: unknown) => seen.push(m as StoreSizeEvent);
  diagnosticsChannel.subscribe(STORE_SIZE, listener);
  const reporter = reportStoreSize(storage, { intervalMs: 0, onError: (e) => errors.push(e) });
  try {
    await until(() => errors.length === 1, "the failure was reported");
    assert.equal(seen.length, 0);
    fail = false;
    publishFillEnd({ route: "mod", module: "example.com/m", durationMs: 1 });
    await until(() => seen.length === 1, "published on the next fill");
  } finally {
    await reporter.close();
    diagnosticsChannel.unsubscribe(STORE_SIZE, listener);
  }
});
