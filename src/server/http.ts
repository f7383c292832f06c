/**
 * The HTTP face of goark (node:http): GOPROXY routes answered by the caching
 * core, plus /healthz, /readyz and /metrics. Small artefacts are written from
 * memory in one go; zips are streamed from the store in 64 KiB reads with
 * backpressure, so memory stays flat with zip size and client count.
 *
 * Cache headers: versioned artefacts are immutable (a year, `immutable`),
 * list and @latest are short-lived, stale answers say so (`X-Goark-Stale: 1`
 * and `Warning: 110`). The ETag is the stored bytes' SHA-256, so
 * If-None-Match answers 304 without reading the artefact.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import type { Artefact, ProxyCore } from "../cache/proxy-core.ts";
import { asGoarkError, GoarkError, NotFoundError } from "../errors.ts";
import type { CacheResult, HttpRoute } from "../observability/events.ts";
import { publishHttpResponse } from "../observability/events.ts";
import type { Logger } from "../observability/log.ts";
import { logRequest, type RequestLogEntry, requestIds } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import { errorResponse, methodNotAllowed } from "../protocol/error-response.ts";
import { isAllowedMethod, parseRoute, type Route } from "../protocol/route.ts";
import { sendFile } from "./send-file.ts";

export interface Readiness {
  ok: boolean;
  /** One line: what is (not) ready. */
  detail: string;
}

export interface HttpHandlerOptions {
  core: ProxyCore;
  logger?: Logger;
  metrics?: Metrics;
  /** For /readyz; ready by default. */
  readiness?: () => Promise<Readiness>;
  /** Seconds clients may cache list and @latest answers. Default 60. */
  listMaxAgeSeconds?: number;
  /** Answers /sumdb/<name>/… (path without "/sumdb/"); absent: every /sumdb/ path is 404. */
  sumdb?: {
    serve(path: string): Promise<{ body: Uint8Array; contentType: string; cacheControl: string }>;
  };
}

const IMMUTABLE = "public, max-age=31536000, immutable";
const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json";
/**
 * Read size for zips: 64 KiB, node's default and the static baseline's.
 * Measured with bench/serve.ts on 2 busy cores, 64 keep-alive clients on a
 * 1 MB zip: 64 KiB matched the baseline; 256 KiB reached a third of it and
 * 1 MiB half, while 1 MiB reads also doubled peak RSS on a 100 MB zip.
 */
const ZIP_CHUNK = 64 << 10;
const SUMDB_NONE = "no checksum database is served here";

const CONTENT_TYPE: Record<Artefact["kind"], string> = {
  list: TEXT,
  mod: TEXT,
  info: JSON_TYPE,
  latest: JSON_TYPE,
  zip: "application/zip",
};

interface RequestState {
  route: HttpRoute;
  module?: string;
  version?: string;
  cache?: CacheResult;
  upstream?: string;
  error?: string;
  bytes: number;
}

/** The request listener: route, answer, log, count. Never throws. */
export function createRequestHandler(
  opts: HttpHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const nextId = requestIds();
  const listCache = `public, max-age=${opts.listMaxAgeSeconds ?? 60}`;
  const { core, logger, metrics } = opts;

  function finish(
    req: IncomingMessage,
    res: ServerResponse,
    st: RequestState,
    started: number,
    id: string,
  ): void {
    const durationMs = performance.now() - started;
    publishHttpResponse({ route: st.route, status: res.statusCode, durationMs, bytes: st.bytes });
    if (logger === undefined) return;
    const entry: RequestLogEntry = {
      id,
      method: req.method ?? "",
      route: st.route,
      path: (req.url ?? "").slice(0, 300),
      status: res.statusCode,
      durationMs: Math.round(durationMs * 1000) / 1000,
    };
    if (st.module !== undefined) entry.module = st.module;
    if (st.version !== undefined) entry.version = st.version;
    if (st.cache !== undefined) entry.cache = st.cache;
    if (st.upstream !== undefined) entry.upstream = st.upstream;
    if (st.bytes > 0) entry.bytes = st.bytes;
    if (st.error !== undefined) entry.error = st.error;
    logRequest(logger, entry);
  }

  function sendError(res: ServerResponse, st: RequestState, err: unknown, head: boolean): void {
    const e = asGoarkError(err);
    st.error = e.code;
    const { status, body } = errorResponse(err instanceof GoarkError ? err : e);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, {
      "Content-Type": TEXT,
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
    });
    res.end(head ? undefined : body);
    if (!head) st.bytes = Buffer.byteLength(body);
  }

  function sendText(
    res: ServerResponse,
    st: RequestState,
    status: number,
    type: string,
    body: string | Buffer,
    head: boolean,
  ): void {
    const len = Buffer.byteLength(body);
    res.writeHead(status, { "Content-Type": type, "Content-Length": len, "Cache-Control": "no-store" });
    res.end(head ? undefined : body);
    if (!head) st.bytes = len;
  }

  async function serveArtefact(
    req: IncomingMessage,
    res: ServerResponse,
    st: RequestState,
    art: Artefact,
    head: boolean,
  ): Promise<void> {
    st.cache = art.cache;
    if (art.cache === "miss" && art.origin !== undefined) st.upstream = art.origin;
    const etag = `"${art.sha256}"`;
    const headers: Record<string, string | number> = {
      "Content-Type": CONTENT_TYPE[art.kind],
      ETag: etag,
      "Cache-Control": art.cache === "stale" ? "no-cache" : art.immutable ? IMMUTABLE : listCache,
      "X-Goark-Cache": art.cache,
    };
    if (art.cache === "stale") {
      headers["X-Goark-Stale"] = "1";
      headers.Warning = '110 goark "Response is Stale"';
    }
    const inm = req.headers["if-none-match"];
    if (inm !== undefined && etagMatches(inm, etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    headers["Content-Length"] = art.size;
    if (art.bytes !== undefined) {
      res.writeHead(200, headers);
      res.end(head ? undefined : art.bytes);
      if (!head) st.bytes = art.bytes.length;
      return;
    }
    if (head) {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    const file = core.storage.localPath?.(art.key);
    if (file !== undefined) {
      const sent = sendFile(res, file, art.size, ZIP_CHUNK, () => res.writeHead(200, headers));
      try {
        await sent;
        st.bytes = art.size;
      } catch (err) {
        if (res.headersSent) {
          // The client went away or the read failed mid-body; the status is sent, so just drop the connection.
          res.destroy();
          return;
        }
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
          throw new NotFoundError(`${art.key}: removed from the store while being served`);
        throw err;
      }
      return;
    }
    const stream = await core.openZip(art.key, ZIP_CHUNK);
    if (stream === undefined)
      throw new NotFoundError(`${art.key}: removed from the store while being served`);
    res.writeHead(200, headers);
    try {
      await pipeline(stream, res);
      st.bytes = art.size;
    } catch {
      // The client went away or the read failed mid-body; the status is sent, so just drop the connection.
      stream.destroy();
      res.destroy();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, st: RequestState): Promise<void> {
    const head = req.method === "HEAD";
    if (!isAllowedMethod(req.method)) {
      const r = methodNotAllowed(req.method);
      st.route = "other";
      res.writeHead(r.status, {
        "Content-Type": TEXT,
        Allow: r.allow,
        "Content-Length": Buffer.byteLength(r.body),
      });
      res.end(r.body);
      return;
    }
    let route: Route;
    try {
      route = parseRoute(req.url ?? "/");
    } catch (err) {
      st.route = "other";
      sendError(res, st, err, head);
      return;
    }
    try {
      switch (route.kind) {
        case "healthz":
          st.route = "health";
          return sendText(res, st, 200, TEXT, "ok\n", head);
        case "readyz": {
          st.route = "health";
          const r = opts.readiness ? await opts.readiness() : { ok: true, detail: "ready" };
          return sendText(res, st, r.ok ? 200 : 503, TEXT, `${r.detail}\n`, head);
        }
        case "metrics": {
          st.route = "metrics";
          if (metrics === undefined) throw new NotFoundError("metrics are not enabled");
          return sendText(res, st, 200, metrics.contentType, await metrics.metricsText(), head);
        }
        case "sumdb": {
          st.route = "sumdb";
          if (opts.sumdb === undefined) {
            throw new NotFoundError(`${SUMDB_NONE}: /sumdb/${route.path.slice(0, 200)}`);
          }
          const r = await opts.sumdb.serve(route.path);
          const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
          res.writeHead(200, {
            "Content-Type": r.contentType,
            "Content-Length": body.length,
            "Cache-Control": r.cacheControl,
          });
          res.end(head ? undefined : body);
          if (!head) st.bytes = body.length;
          return;
        }
        case "list":
          st.route = "list";
          st.module = route.module;
          return await serveArtefact(req, res, st, await core.list(route.module), head);
        case "latest":
          st.route = "latest";
          st.module = route.module;
          return await serveArtefact(req, res, st, await core.latest(route.module), head);
        case "info":
          st.route = "info";
          st.module = route.module;
          st.version = route.query;
          return await serveArtefact(req, res, st, await core.info(route.module, route.query), head);
        case "mod":
          st.route = "mod";
          st.module = route.module;
          st.version = route.version;
          return await serveArtefact(req, res, st, await core.mod(route.module, route.version), head);
        case "zip":
          st.route = "zip";
          st.module = route.module;
          st.version = route.version;
          return await serveArtefact(req, res, st, await core.zip(route.module, route.version), head);
      }
    } catch (err) {
      sendError(res, st, err, head);
    }
  }

  return (req, res) => {
    const started = performance.now();
    const id = nextId(headerValue(req.headers["x-request-id"]));
    const st: RequestState = { route: "other", bytes: 0 };
    res.setHeader("X-Request-Id", id);
    res.once("close", () => finish(req, res, st, started, id));
    handle(req, res, st).catch((err: unknown) => {
      // A bug, not an answer: keep serving, say nothing of internals.
      logger?.error({ err: asGoarkError(err).message, path: req.url }, "request handler failed");
      if (!res.headersSent) sendError(res, st, err, false);
      else res.destroy();
    });
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** If-None-Match: a list of entity tags or `*`; weak tags compare equal too (RFC 9110 weak comparison). */
function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  for (const part of header.split(",")) {
    const t = part.trim();
    if (t === etag || t === `W/${etag}`) return true;
  }
  return false;
}

export interface RunningServer {
  server: Server;
  /** http://host:port as clients reach it. */
  url: string;
  port: number;
  host: string;
  /** Stops accepting, waits for open requests up to deadlineMs, then drops what is left. */
  close(deadlineMs: number): Promise<void>;
}

/** Listens on host:port ("" = every interface; port 0 = a free one). */
export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host: string,
  port: number,
): Promise<RunningServer> {
  const server = createServer(
    { keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 },
    handler,
  );
  // Requests node's parser refuses (bad bytes in the request line, oversized
  // headers) still get a one-line reason instead of an empty 400.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const body = tooLarge
      ? "bad request: request headers too large\n"
      : "bad request: malformed HTTP request (request line or headers)\n";
    const status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request";
    socket.end(
      `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    const done = () => {
      server.off("error", fail);
      ok();
    };
    if (host === "") server.listen(port, done);
    else server.listen(port, host, done);
  });
  const addr = server.address() as AddressInfo;
  const shownHost = host === "" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return {
    server,
    url: `http://${shownHost}:${addr.port}`,
    port: addr.port,
    host,
    async close(deadlineMs: number): Promise<void> {
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Keep-alive connections become idle as their last response ends;
      // drop them as they do, and tell clients still being served to go.
      server.on("request", (_req, res: ServerResponse) => res.setHeader("Connection", "close"));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((r) => {
        timer = setTimeout(r, deadlineMs);
      });
      await Promise.race([closed, expired]);
      clearTimeout(timer);
      clearInterval(sweep);
      server.closeAllConnections();
      await closed;
    },
  };
}
