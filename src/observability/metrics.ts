/**
 * Prometheus metrics. Each Metrics instance owns a prom-client registry and
 * subscribes to the diagnostics channels of events.ts, so the code that
 * serves, fills and fetches never imports prom-client. close() unsubscribes
 * (tests start several instances in one process).
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import {
  CACHE_RESULT,
  type CacheResultEvent,
  FILL_END,
  FILL_START,
  type FillEvent,
  HTTP_RESPONSE,
  type HttpResponseEvent,
  SINGLE_FLIGHT_JOIN,
  type SingleFlightJoinEvent,
  STORE_SIZE,
  type StoreSizeEvent,
  UPSTREAM_REQUEST,
  type UpstreamRequestEvent,
} from "./events.ts";

export interface MetricsOptions {
  /** Also export prom-client's process and Node.js runtime metrics (default true). */
  processMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of metricsText()'s body. */
  readonly contentType: string;
  /** The text exposition format, for GET /metrics. */
  metricsText(): Promise<string>;
  /** Unsubscribes from every channel. */
  close(): void;
}

// Latencies from a 1 ms cache-warm .info to a multi-minute zip over a slow link.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "goark_http_requests_total",
    help: "HTTP responses, by route and status code.",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: "goark_http_request_duration_seconds",
    help: "Time from request to the last byte of the response, by route.",
    labelNames: ["route"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const bytesServed = new Counter({
    name: "goark_http_response_bytes_total",
    help: "Response body bytes served, by route.",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  const cacheResults = new Counter({
    name: "goark_cache_results_total",
    help: "How lookups were answered: hit, miss (filled from upstream), stale (stored answer served after upstream failure) or negative (remembered not-found).",
    labelNames: ["route", "result"] as const,
    registers: [registry],
  });
  const upstreamLatency = new Histogram({
    name: "goark_upstream_request_duration_seconds",
    help: "Duration of requests to upstreams, by upstream and route.",
    labelNames: ["upstream", "route"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: "goark_upstream_errors_total",
    help: "Failed upstream requests, by upstream, route and error code.",
    labelNames: ["upstream", "route", "code"] as const,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "goark_fills_in_flight",
    help: "Fills (fetch from upstream, verify, store) in progress.",
    registers: [registry],
  });
  const fillDuration = new Histogram({
    name: "goark_fill_duration_seconds",
    help: "Duration of fills, by route and outcome.",
    labelNames: ["route", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const joins = new Counter({
    name: "goark_singleflight_joins_total",
    help: "Requests that waited for a fill already in flight instead of starting their own, by route.",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  const storeBytes = new Gauge({
    name: "goark_store_size_bytes",
    help: "Bytes held in storage, as last reported by the store.",
    registers: [registry],
  });
  const storeObjects = new Gauge({
    name: "goark_store_objects",
    help: "Artefacts held in storage, as last reported by the store.",
    registers: [registry],
  });

  // Counted by hand so a subscriber that arrives mid-fill never goes negative.
  let fills = 0;
  const handlers: [string, (message: unknown) => void][] = [
    [
      HTTP_RESPONSE,
      (m) => {
        const e = m as HttpResponseEvent;
        requests.inc({ route: e.route, status: String(e.status) });
        requestDuration.observe({ route: e.route }, e.durationMs / 1000);
        if (e.bytes > 0) bytesServed.inc({ route: e.route }, e.bytes);
      },
    ],
    [
      CACHE_RESULT,
      (m) => {
        const e = m as CacheResultEvent;
        cacheResults.inc({ route: e.route, result: e.result });
      },
    ],
    [
      UPSTREAM_REQUEST,
      (m) => {
        const e = m as UpstreamRequestEvent;
        upstreamLatency.observe({ upstream: e.upstream, route: e.route }, e.durationMs / 1000);
        if (e.error !== undefined)
          upstreamErrors.inc({ upstream: e.upstream, route: e.route, code: e.error });
      },
    ],
    [
      FILL_START,
      () => {
        fills++;
        inFlight.set(fills);
      },
    ],
    [
      FILL_END,
      (m) => {
        const e = m as FillEvent;
        fills = Math.max(0, fills - 1);
        inFlight.set(fills);
        if (e.durationMs !== undefined)
          fillDuration.observe({ route: e.route, outcome: e.error ?? "ok" }, e.durationMs / 1000);
      },
    ],
    [
      SINGLE_FLIGHT_JOIN,
      (m) => {
        joins.inc({ route: (m as SingleFlightJoinEvent).route });
      },
    ],
    [
      STORE_SIZE,
      (m) => {
        const e = m as StoreSizeEvent;
        storeBytes.set(e.bytes);
        if (e.objects !== undefined) storeObjects.set(e.objects);
      },
    ],
  ];
  for (const [name, fn] of handlers) diagnosticsChannel.subscribe(name, fn);

  return {
    registry,
    contentType: registry.contentType,
    metricsText: () => registry.metrics(),
    close() {
      for (const [name, fn] of handlers) diagnosticsChannel.unsubscribe(name, fn);
    },
  };
}
