import assert from "node:assert/strict";
import { test } from "node:test";
import {
  publishCacheResult,
  publishFillEnd,
  publishFillStart,
  publishHttpResponse,
  publishSingleFlightJoin,
  publishStoreSize,
  publishUpstreamRequest,
} from "./events.ts";
import { createMetrics } from "./metrics.ts";

/** The value of one sample line `name{labels} value`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("metrics count what the channels report", async () => {
  const m = createMetrics({ processMetrics: false });
  try {
    publishHttpResponse({ route: "zip", status: 200, durationMs: 12, bytes: 1000 });
    publishHttpResponse({ route: "zip", status: 200, durationMs: 30, bytes: 24 });
    publishHttpResponse({ route: "info", status: 404, durationMs: 1, bytes: 0 });
    publishCacheResult({ route: "zip", result: "hit", module: "example.com/m", version: "v1.0.0" });
    publishCacheResult({ route: "list", result: "stale", module: "example.com/m" });
    publishUpstreamRequest({
      upstream: "https://proxy.example",
      route: "mod",
      module: "example.com/m",
      version: "v1.0.0",
      status: 502,
      durationMs: 250,
      attempt: 1,
      error: "UPSTREAM",
    });
    publishSingleFlightJoin({ route: "zip", module: "example.com/m", version: "v1.0.0" });
    publishStoreSize({ bytes: 4096, objects: 3 });
    publishFillStart({ route: "zip", module: "example.com/m", version: "v1.0.0" });
    publishFillStart({ route: "mod", module: "example.com/m", version: "v1.0.0" });
    publishFillEnd({ route: "mod", module: "example.com/m", version: "v1.0.0", durationMs: 5 });

    const text = await m.metricsText();
    assert.equal(sample(text, 'goark_http_requests_total{route="zip",status="200"}'), 2);
    assert.equal(sample(text, 'goark_http_requests_total{route="info",status="404"}'), 1);
    assert.equal(sample(text, 'goark_http_response_bytes_total{route="zip"}'), 1024);
    assert.equal(sample(text, 'goark_http_request_duration_seconds_count{route="zip"}'), 2);
    assert.equal(sample(text, 'goark_cache_results_total{route="zip",result="hit"}'), 1);
    assert.equal(sample(text, 'goark_cache_results_total{route="list",result="stale"}'), 1);
    assert.equal(
      sample(
        text,
        'goark_upstream_errors_total{upstream="https://proxy.example",route="mod",code="UPSTREAM"}',
      ),
      1,
    );
    assert.equal(
      sample(
        text,
        'goark_upstream_request_duration_seconds_bucket{le="0.25",upstream="https://proxy.example",route="mod"}',
      ),
      1,
    );
    assert.equal(
      sample(
        text,
        'goark_upstream_request_duration_seconds_bucket{le="0.1",upstream="https://proxy.example",route="mod"}',
      ),
      0,
    );
    assert.equal(sample(text, 'goark_singleflight_joins_total{route="zip"}'), 1);
    assert.equal(sample(text, "goark_store_size_bytes"), 4096);
    assert.equal(sample(text, "goark_store_objects"), 3);
    assert.equal(sample(text, "goark_fills_in_flight"), 1);
    assert.match(m.contentType, /^text\/plain/);
  } finally {
    m.close();
  }
});

test("the in-flight gauge never goes below zero, and close() unsubscribes", async () => {
  const m = createMetrics({ processMetrics: false });
  publishFillEnd({ route: "zip", module: "example.com/m", version: "v1.0.0", durationMs: 1 });
  assert.equal(sample(await m.metricsText(), "goark_fills_in_flight"), 0);
  m.close();
  publishHttpResponse({ route: "zip", status: 200, durationMs: 1, bytes: 1 });
  assert.equal(
    sample(await m.metricsText(), 'goark_http_requests_total{route="zip",status="200"}'),
    undefined,
  );
});

test("two instances keep separate registries", async () => {
  const a = createMetrics({ processMetrics: false });
  const b = createMetrics();
  try {
    publishStoreSize({ bytes: 7 });
    assert.equal(sample(await a.metricsText(), "goark_store_size_bytes"), 7);
    assert.equal(sample(await b.metricsText(), "goark_store_size_bytes"), 7);
    assert.match(await b.metricsText(), /process_cpu_seconds_total/);
    assert.doesNotMatch(await a.metricsText(), /process_cpu_seconds_total/);
  } finally {
    a.close();
    b.close();
  }
});
