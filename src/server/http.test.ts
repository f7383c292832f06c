import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProxyCore } from "../cache/proxy-core.ts";
import { UpstreamError } from "../errors.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { MemorySource } from "../source/memory-source.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { createRequestHandler, listen, type RunningServer } from "./http.ts";

const M = "example.com/Upper/m";

describe("HTTP layer", () => {
  let server: RunningServer;
  let source: MemorySource;
  let metrics: Metrics;
  let now = 1_000_000;

  before(async () => {
    source = new MemorySource("up");
    source.addVersion(M, "v1.0.0", { info: { Time: "2023-01-01T00:00:00Z" } });
    const core = new ProxyCore({ storage: new MemoryStorage(), source, listTtlMs: 1000, now: () => now });
    metrics = createMetrics({ processMetrics: false });
    server = await listen(createRequestHandler({ core, metrics }), "127.0.0.1", 0);
  });

  after(async () => {
    await server.close(1000);
    metrics.close();
  });

  const url = (p: string) => `${server.url}${p}`;

  test("versioned artefacts: types, length, immutable caching, ETag and 304", async () => {
    const res = await fetch(url("/example.com/!upper/m/@v/v1.0.0.mod"));
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body, `module ${M}\n`);
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(body)));
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const etag = res.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{64}"$/);

    const again = await fetch(url("/example.com/!upper/m/@v/v1.0.0.mod"), {
      headers: { "If-None-Match": etag },
    });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    const other = await fetch(url("/example.com/!upper/m/@v/v1.0.0.mod"), {
      headers: { "If-None-Match": '"nope"' },
    });
    assert.equal(other.status, 200);
    await other.arrayBuffer();

    const info = await fetch(url("/example.com/!upper/m/@v/v1.0.0.info"));
    assert.equal(info.headers.get("content-type"), "application/json");
    assert.deepEqual(await info.json(), { Version: "v1.0.0", Time: "2023-01-01T00:00:00Z" });
  });

  test("HEAD answers headers only", async () => {
    const res = await fetch(url("/example.com/!upper/m/@v/v1.0.0.info"), { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers.get("content-length")) > 10);
    assert.equal(await res.text(), "");
  });

  test("list: short caching, then stale with markers when the upstream fails", async () => {
    const res = await fetch(url("/example.com/!upper/m/@v/list"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "public, max-age=60");
    assert.equal(res.headers.get("x-goark-stale"), null);
    await res.text();
    now += 2000;
    source.fail(M, new UpstreamError("upstream is down"));
    const stale = await fetch(url("/example.com/!upper/m/@v/list"));
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get("x-goark-stale"), "1");
    assert.match(stale.headers.get("warning")!, /^110 goark /);
    assert.equal(await stale.text(), "v1.0.0 2023-01-01T00:00:00Z\n");
    source.heal(M);
  });

  test("errors: statuses and one-line plain-text reasons", async () => {
    const cases: [string, number, RegExp, string?][] = [
      ["/example.com/nope/@v/v1.0.0.info", 404, /not found/],
      ["/example.com/!upper/m/@v/v1.0.mod", 404, /canonical form is v1\.0\.0/],
      ["/example.com/m/@v/%2e%2e.info", 400, /percent-encoded/],
      ["/sumdb/sum.golang.org/supported", 404, /no checksum database is served here/],
      ["/example.com/!upper/m/@v/list", 405, /method not allowed/, "POST"],
    ];
    for (const [path, status, reason, method] of cases) {
      const res = await fetch(url(path), { method: method ?? "GET" });
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
      const body = await res.text();
      assert.match(body, reason);
      assert.equal(body.indexOf("\n"), body.length - 1);
      if (status === 405) assert.equal(res.headers.get("allow"), "GET, HEAD");
    }
  });

  test("health, readiness and metrics", async () => {
    assert.equal((await fetch(url("/healthz"))).status, 200);
    assert.equal((await fetch(url("/readyz"))).status, 200);
    const m = await fetch(url("/metrics"));
    assert.equal(m.status, 200);
    const text = await m.text();
    assert.match(text, /goark_http_requests_total\{route="mod",status="200"\}/);
    assert.match(text, /goark_cache_results_total\{route="list",result="stale"\}/);
  });
});
