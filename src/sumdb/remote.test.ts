/**
 * How goark reaches an upstream checksum database (PROTOCOL.md 1.14, Go's
 * modfetch/sumdb.go): an explicit URL wins; otherwise proxies are asked for
 * /sumdb/<name>/supported in GOPROXY order — 200 uses that proxy, 404/410
 * (or any error after a `|`) tries the next, another error fails — and
 * direct, off or the end of the list mean https://<name>. Bodies are capped.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { NotFoundError, TooLargeError, UpstreamError } from "../errors.ts";
import { MAX_SUMDB_RESPONSE, SumdbRemote } from "./remote.ts";

/** A fetch answering from a table of URL → status (body "x"), recording what was asked. */
function fakeFetch(table: Record<string, number | Uint8Array>, asked: string[]): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input);
    asked.push(url);
    const v = table[url];
    if (v === undefined) throw new TypeError("fetch failed");
    if (v instanceof Uint8Array) return new Response(Buffer.from(v), { status: 200 });
    return new Response("x", { status: v });
  }) as typeof fetch;
}

const NAME = "sum.example.com";

test("proxies are asked in order; 200 wins, 404/410 and errors after | fall through", async () => {
  const asked: string[] = [];
  const remote = new SumdbRemote({
    name: NAME,
    upstream: "http://p1, http://p2|http://p3,http://p4,direct",
    fetch: fakeFetch(
      {
        [`http://p1/sumdb/${NAME}/supported`]: 404,
        [`http://p2/sumdb/${NAME}/supported`]: 500,
        [`http://p3/sumdb/${NAME}/supported`]: 410,
        [`http://p4/sumdb/${NAME}/supported`]: 200,
        [`http://p4/sumdb/${NAME}/latest`]: new Uint8Array([1, 2]),
      },
      asked,
    ),
  });
  assert.equal(await remote.base(), `http://p4/sumdb/${NAME}`);
  assert.deepEqual(await remote.read("/latest"), Buffer.from([1, 2]));
  assert.deepEqual(asked, [
    `http://p1/sumdb/${NAME}/supported`,
    `http://p2/sumdb/${NAME}/supported`,
    `http://p3/sumdb/${NAME}/supported`,
    `http://p4/sumdb/${NAME}/supported`,
    `http://p4/sumdb/${NAME}/latest`,
  ]);
});

test("an error after , is fatal; reaching direct or the end means https://<name>", async () => {
  const fatal = new SumdbRemote({
    name: NAME,
    upstream: "http://p1,http://p2",
    fetch: fakeFetch({ [`http://p1/sumdb/${NAME}/supported`]: 503 }, []),
  });
  await assert.rejects(fatal.base(), (e: unknown) => e instanceof UpstreamError && /p1/.test(e.message));
  // After |, a proxy's error is still reported unless direct is reached (Go's TryProxies).
  const piped = new SumdbRemote({
    name: NAME,
    upstream: "http://p1|http://p2",
    fetch: fakeFetch(
      { [`http://p1/sumdb/${NAME}/supported`]: 503, [`http://p2/sumdb/${NAME}/supported`]: 404 },
      [],
    ),
  });
  await assert.rejects(piped.base(), (e: unknown) => e instanceof UpstreamError && /p1/.test(e.message));
  const pipedDirect = new SumdbRemote({
    name: NAME,
    upstream: "http://p1|direct",
    fetch: fakeFetch({ [`http://p1/sumdb/${NAME}/supported`]: 503 }, []),
  });
  assert.equal(await pipedDirect.base(), `https://${NAME}`);
  for (const upstream of ["http://p1,direct", "http://p1", "off", "direct"]) {
    const asked: string[] = [];
    const r = new SumdbRemote({
      name: NAME,
      upstream,
      fetch: fakeFetch({ [`http://p1/sumdb/${NAME}/supported`]: 404 }, asked),
    });
    assert.equal(await r.base(), `https://${NAME}`, upstream);
  }
});

test("an explicit URL skips the proxies; 404 is NotFound; bodies are capped", async () => {
  const asked: string[] = [];
  const r = new SumdbRemote({
    name: NAME,
    url: "http://db.example/base/",
    upstream: "http://p1",
    fetch: fakeFetch(
      {
        "http://db.example/base/lookup/a@v1.0.0": 404,
        "http://db.example/base/latest": new Uint8Array(MAX_SUMDB_RESPONSE + 1),
      },
      asked,
    ),
  });
  await assert.rejects(r.read("/lookup/a@v1.0.0"), NotFoundError);
  await assert.rejects(r.read("/latest"), TooLargeError);
  assert.ok(
    asked.every((u) => u.startsWith("http://db.example/base/")),
    asked.join(" "),
  );
});
