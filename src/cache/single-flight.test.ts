import assert from "node:assert/strict";
import { test } from "node:test";
import { SingleFlight } from "./single-flight.ts";

test("concurrent callers for one key share one call", async () => {
  const sf = new SingleFlight<number>();
  let calls = 0;
  let release!: (n: number) => void;
  const gate = new Promise<number>((r) => {
    release = r;
  });
  const fn = () => {
    calls++;
    return gate;
  };
  const runs = Array.from({ length: 50 }, () => sf.run("k", fn));
  assert.equal(calls, 1);
  assert.equal(runs.filter((r) => r.shared).length, 49);
  assert.equal(sf.size, 1);
  release(7);
  const values = await Promise.all(runs.map((r) => r.promise));
  assert.deepEqual(new Set(values), new Set([7]));
  assert.equal(sf.size, 0);
});

test("different keys run independently", async () => {
  const sf = new SingleFlight<string>();
  let calls = 0;
  const [a, b] = await Promise.all([
    sf.do("a", async () => `${++calls}a`),
    sf.do("b", async () => `${++calls}b`),
  ]);
  assert.equal(calls, 2);
  assert.notEqual(a, b);
});

test("a failure reaches every waiter and frees the key", async () => {
  const sf = new SingleFlight<number>();
  let calls = 0;
  const fail = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 5));
    throw new Error("boom");
  };
  const results = await Promise.allSettled([sf.do("k", fail), sf.do("k", fail), sf.do("k", fail)]);
  assert.equal(calls, 1);
  assert.ok(results.every((r) => r.status === "rejected"));
  assert.equal(sf.has("k"), false);
  assert.equal(await sf.do("k", async () => 1), 1);
  assert.equal(calls, 1);
});

test("a synchronous throw becomes a rejection", async () => {
  const sf = new SingleFlight<number>();
  await assert.rejects(
    sf.do("k", () => {
      throw new Error("sync");
    }),
    /sync/,
  );
  assert.equal(sf.size, 0);
});
