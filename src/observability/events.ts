/**
 * Names and payloads of the events goark publishes on node:diagnostics_channel.
 * The core only publishes; logs, metrics and the dashboard subscribe, so none
 * of them is coupled to the code that emits.
 */
import diagnosticsChannel from "node:diagnostics_channel";

/** The five questions a source answers, as named in events and errors. */
export type UpstreamRoute = "list" | "latest" | "info" | "mod" | "zip";

/** One HTTP (or file://) exchange with an upstream proxy, after it settled. */
export interface UpstreamRequestEvent {
  /** The upstream's redacted base URL. */
  upstream: string;
  route: UpstreamRoute;
  module: string;
  /** The version or query, absent for list and latest. */
  version?: string;
  /** HTTP status when a response arrived (file:// maps to 200/404/403). */
  status?: number;
  durationMs: number;
  /** 1 for the first try, 2 for the first retry, ...; 0 when the open breaker refused without sending. */
  attempt: number;
  /** The GoarkError code when the attempt failed. */
  error?: string;
}

/** An upstream's breaker changed state. */
export interface UpstreamHealthEvent {
  upstream: string;
  state: "closed" | "open" | "half-open";
  consecutiveFailures: number;
}

/** The chain settled a lookup: which source answered, or the error reported. */
export interface ChainAnswerEvent {
  route: UpstreamRoute;
  module: string;
  version?: string;
  /** Name of the source that answered; absent when every source failed. */
  source?: string;
  /** Every source tried, in order, with the error code each one gave. */
  tried: { source: string; error?: string }[];
  /** Code of the reported error when the lookup failed. */
  error?: string;
}

export const UPSTREAM_REQUEST = "goark:upstream:request";
export const UPSTREAM_HEALTH = "goark:upstream:health";
export const CHAIN_ANSWER = "goark:chain:answer";

export const upstreamRequestChannel = diagnosticsChannel.channel(UPSTREAM_REQUEST);
export const upstreamHealthChannel = diagnosticsChannel.channel(UPSTREAM_HEALTH);
export const chainAnswerChannel = diagnosticsChannel.channel(CHAIN_ANSWER);

export function publishUpstreamRequest(event: UpstreamRequestEvent): void {
  if (upstreamRequestChannel.hasSubscribers) upstreamRequestChannel.publish(event);
}

export function publishUpstreamHealth(event: UpstreamHealthEvent): void {
  if (upstreamHealthChannel.hasSubscribers) upstreamHealthChannel.publish(event);
}

export function publishChainAnswer(event: ChainAnswerEvent): void {
  if (chainAnswerChannel.hasSubscribers) chainAnswerChannel.publish(event);
}

// ---- Serving-side events (the HTTP layer, the cache core and storage publish
// these; src/observability/metrics.ts and the request log subscribe).

/** Routes an HTTP response is counted under; a closed set keeps metric labels bounded. */
export type HttpRoute = UpstreamRoute | "sumdb" | "health" | "metrics" | "dashboard" | "other";

/** What the cache answered from. */
export type CacheResult = "hit" | "miss" | "stale" | "negative";

/** One HTTP response, after the body was sent (or the client went away). */
export interface HttpResponseEvent {
  route: HttpRoute;
  status: number;
  durationMs: number;
  /** Body bytes written. */
  bytes: number;
}

/** The cache core decided how to answer a lookup. */
export interface CacheResultEvent {
  route: UpstreamRoute;
  result: CacheResult;
  module: string;
  version?: string;
}

/** A fill (fetch from upstream → verify → store) started or settled; drives the in-flight gauge. */
export interface FillEvent {
  route: UpstreamRoute;
  module: string;
  version?: string;
  /** Only on the settled event. */
  durationMs?: number;
  /** The GoarkError code when the fill failed (settled event only). */
  error?: string;
}

/** A request joined a fill already in flight for the same key instead of starting one. */
export interface SingleFlightJoinEvent {
  route: UpstreamRoute;
  module: string;
  version?: string;
}

/** The store's current size, published by storage when it knows it (after writes, prunes, scans). */
export interface StoreSizeEvent {
  bytes: number;
  /** Number of stored artefacts, when known. */
  objects?: number;
}

export const HTTP_RESPONSE = "goark:http:response";
export const CACHE_RESULT = "goark:cache:result";
export const FILL_START = "goark:fill:start";
export const FILL_END = "goark:fill:end";
export const SINGLE_FLIGHT_JOIN = "goark:singleflight:join";
export const STORE_SIZE = "goark:store:size";

export const httpResponseChannel = diagnosticsChannel.channel(HTTP_RESPONSE);
export const cacheResultChannel = diagnosticsChannel.channel(CACHE_RESULT);
export const fillStartChannel = diagnosticsChannel.channel(FILL_START);
export const fillEndChannel = diagnosticsChannel.channel(FILL_END);
export const singleFlightJoinChannel = diagnosticsChannel.channel(SINGLE_FLIGHT_JOIN);
export const storeSizeChannel = diagnosticsChannel.channel(STORE_SIZE);

export function publishHttpResponse(event: HttpResponseEvent): void {
  if (httpResponseChannel.hasSubscribers) httpResponseChannel.publish(event);
}

export function publishCacheResult(event: CacheResultEvent): void {
  if (cacheResultChannel.hasSubscribers) cacheResultChannel.publish(event);
}

/** Publish at the start of every fill; pair with publishFillEnd in a finally block. */
export function publishFillStart(event: FillEvent): void {
  if (fillStartChannel.hasSubscribers) fillStartChannel.publish(event);
}

export function publishFillEnd(event: FillEvent): void {
  if (fillEndChannel.hasSubscribers) fillEndChannel.publish(event);
}

export function publishSingleFlightJoin(event: SingleFlightJoinEvent): void {
  if (singleFlightJoinChannel.hasSubscribers) singleFlightJoinChannel.publish(event);
}

export function publishStoreSize(event: StoreSizeEvent): void {
  if (storeSizeChannel.hasSubscribers) storeSizeChannel.publish(event);
}
