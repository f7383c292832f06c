/**
 * One upstream GOPROXY (http, https or file://) as a Source: escaped request
 * paths, size caps where bytes enter, typed errors (404/410 → not found/gone,
 * the rest → upstream/timeout), bounded jittered retries for idempotent GETs,
 * a concurrency cap and a per-upstream circuit breaker.
 */
import { open as openFile, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, resolve as resolvePath, sep } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Dispatcher } from "undici";
import {
  ConfigError,
  GoarkError,
  GoneError,
  InvalidInfoError,
  NotFoundError,
  TimeoutError,
  TooLargeError,
  UpstreamError,
} from "../errors.ts";
import { escapePath, escapeVersion } from "../module/path.ts";
import { isPseudoVersion } from "../module/pseudo.ts";
import { publishUpstreamRequest, type UpstreamRoute } from "../observability/events.ts";
import { ConcurrencyLimit, type Release } from "./concurrency-limit.ts";
import { redactUrl } from "./goproxy-list.ts";
import { latestFromListBody, parseListBody } from "./latest-fallback.ts";
import { outboundDispatcher } from "./outbound-http.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "./source.ts";
import { type HealthOptions, UpstreamHealth } from "./upstream-health.ts";

const MiB = 1 << 20;

export interface ResponseLimits {
  /** `.info` and `@latest`. Default 1 MiB. */
  info?: number;
  /** `@v/list`. Default 4 MiB (a few thousand versions with timestamps fit easily). */
  list?: number;
  /** `.mod`. Default 16 MiB, x/mod's MaxGoMod. */
  mod?: number;
  /** `.zip`. Default 500 MiB, x/mod's MaxZipFile. */
  zip?: number;
}

export interface ProxySourceOptions {
  /** TCP/TLS connect timeout. Default 10 s. */
  connectTimeoutMs?: number;
  /** Wait for the response headers. Default 30 s. */
  headersTimeoutMs?: number;
  /** Longest pause allowed between two chunks of a body. Default 30 s. */
  readTimeoutMs?: number;
  /** Whole-request deadline for list, latest, info and mod (all tries counted separately). Default 60 s. */
  requestTimeoutMs?: number;
  /** Whole-download deadline for a zip, body included. Default 15 min. */
  zipTimeoutMs?: number;
  /** Retries after the first try, for network errors, timeouts, 429 and 5xx only. Default 2. */
  retries?: number;
  /** First backoff step; doubles per retry, capped by retryMaxDelayMs, jittered to 50–100 %. Default 200 ms. */
  retryBaseDelayMs?: number;
  /** Default 2 s. */
  retryMaxDelayMs?: number;
  /** Cap on simultaneous fetches from this upstream, unless `limit` is given. Default 16. */
  maxConcurrent?: number;
  /** A limit shared with other upstreams (a global cap on upstream fetches). */
  limit?: ConcurrencyLimit;
  /** Circuit breaker settings. */
  health?: HealthOptions;
  limits?: ResponseLimits;
  /** When `@latest` is 404/410, answer from `list` as the go command would. Default true. */
  latestFromList?: boolean;
  /** An undici dispatcher to share; by default each source owns a keep-alive one (through HTTP(S)_PROXY when set). */
  dispatcher?: Dispatcher;
  /** Extra request headers (e.g. a User-Agent). */
  headers?: Record<string, string>;
  /** Randomness for jitter, for tests. */
  random?: () => number;
  /** Name for logs and metrics; defaults to the redacted base URL. */
  name?: string;
}

interface RawResponse {
  status: number;
  statusText: string;
  body: Readable;
  contentLength?: number;
  contentType?: string;
}

interface Transport {
  /** `rel` is the escaped module/version path below the base, not yet URL-escaped. */
  get(rel: string, signal: AbortSignal): Promise<RawResponse>;
  describe(rel: string): string;
  close(): Promise<void>;
}

interface Request {
  route: UpstreamRoute;
  module: string;
  version?: string;
  rel: string;
}

/** Why an attempt failed, as seen by the retry and health logic. */
class AttemptFailure {
  constructor(
    readonly error: GoarkError,
    readonly transient: boolean,
    readonly status?: number,
  ) {}
}

export class ProxySource implements Source {
  readonly name: string;
  readonly baseUrl: string;
  readonly health: UpstreamHealth;
  readonly #transport: Transport;
  readonly #limit: ConcurrencyLimit;
  readonly #limits: Required<ResponseLimits>;
  readonly #opts: ProxySourceOptions;
  readonly #random: () => number;

  constructor(baseUrl: string, opts: ProxySourceOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch (err) {
      throw new ConfigError(`upstream URL ${JSON.stringify(baseUrl)} is not a valid URL`, { cause: err });
    }
    this.baseUrl = baseUrl;
    this.name = opts.name ?? redactUrl(baseUrl);
    this.#opts = opts;
    this.#random = opts.random ?? Math.random;
    this.#limit = opts.limit ?? new ConcurrencyLimit(opts.maxConcurrent ?? 16);
    this.#limits = {
      info: opts.limits?.info ?? 1 * MiB,
      list: opts.limits?.list ?? 4 * MiB,
      mod: opts.limits?.mod ?? 16 * MiB,
      zip: opts.limits?.zip ?? 500 * MiB,
    };
    this.health = new UpstreamHealth(this.name, opts.health);
    if (url.protocol === "file:") this.#transport = new FileTransport(url);
    else if (url.protocol === "http:" || url.protocol === "https:")
      this.#transport = new HttpTransport(url, opts);
    else {
      throw new ConfigError(
        `upstream URL ${JSON.stringify(this.name)} has scheme ${url.protocol}; use https, http or file`,
      );
    }
  }

  async list(module: string, opts?: FetchOptions): Promise<ListEntry[]> {
    const text = await this.#listBody(module, opts);
    // Source.list promises tags only; Go drops pseudo-versions from list too.
    return parseListBody(text).filter((e) => !isPseudoVersion(e.version));
  }

  async latest(module: string, opts?: FetchOptions): Promise<Info> {
    const req: Request = { route: "latest", module, rel: `${escapePath(module)}/@latest` };
    try {
      const data = await this.#fetchBytes(req, this.#limits.info, opts?.signal);
      return this.#parseInfo(req, data);
    } catch (err) {
      if (this.#opts.latestFromList === false || !isNotExistCode(err)) throw err;
    }
    // Go's proxy client: no @latest here, so take the newest timestamped list line.
    const best = latestFromListBody(await this.#listBody(module, opts));
    if (best === undefined) {
      throw new NotFoundError(
        `${module}: no commits: ${this.name} has no @latest and its list has no version with a timestamp or pseudo-version time`,
        { module },
      );
    }
    return this.info(module, best, opts);
  }

  async info(module: string, query: string, opts?: FetchOptions): Promise<Info> {
    const req: Request = {
      route: "info",
      module,
      version: query,
      rel: `${escapePath(module)}/@v/${escapeVersion(query)}.info`,
    };
    return this.#parseInfo(req, await this.#fetchBytes(req, this.#limits.info, opts?.signal));
  }

  async mod(module: string, version: string, opts?: FetchOptions): Promise<Buffer> {
    const req: Request = {
      route: "mod",
      module,
      version,
      rel: `${escapePath(module)}/@v/${escapeVersion(version)}.mod`,
    };
    return this.#fetchBytes(req, this.#limits.mod, opts?.signal);
  }

  async zip(module: string, version: string, opts?: FetchOptions): Promise<ZipBody> {
    const req: Request = {
      route: "zip",
      module,
      version,
      rel: `${escapePath(module)}/@v/${escapeVersion(version)}.zip`,
    };
    return this.#fetchZip(req, opts?.signal);
  }

  /** Closes pooled connections (only the ones this source owns). */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  async #listBody(module: string, opts?: FetchOptions): Promise<string> {
    const req: Request = { route: "list", module, rel: `${escapePath(module)}/@v/list` };
    return (await this.#fetchBytes(req, this.#limits.list, opts?.signal)).toString("utf8");
  }

  #parseInfo(req: Request, data: Buffer): Info {
    let value: unknown;
    try {
      value = JSON.parse(data.toString("utf8"));
    } catch (err) {
      throw new InvalidInfoError(
        `${this.#transport.describe(req.rel)}: invalid response: not JSON (${(err as Error).message})`,
        details(req, err),
      );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InvalidInfoError(
        `${this.#transport.describe(req.rel)}: invalid response: not a JSON object`,
        details(req),
      );
    }
    const version = (value as Record<string, unknown>).Version;
    if (typeof version !== "string" || version === "") {
      throw new InvalidInfoError(
        `${this.#transport.describe(req.rel)}: invalid response: no "Version" string`,
        details(req),
      );
    }
    return value as Info;
  }

  /** A buffered GET with retries, health and the concurrency cap. */
  async #fetchBytes(req: Request, maxBytes: number, signal: AbortSignal | undefined): Promise<Buffer> {
    this.#admit(req);
    const retries = this.#opts.retries ?? 2;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let outcome: AttemptFailure | undefined;
      let status: number | undefined;
      const deadline = new Deadline(this.#opts.requestTimeoutMs ?? 60_000, signal);
      let release: Release | undefined;
      try {
        release = await this.#limit.acquire(deadline.signal);
        const res = await this.#transport.get(req.rel, deadline.signal);
        status = res.status;
        if (res.status !== 200) throw await this.#statusFailure(req, res);
        const data = await readLimited(res, maxBytes, () => this.#tooLarge(req, maxBytes));
        this.#publish(req, started, attempt, status);
        this.health.success();
        return data;
      } catch (err) {
        outcome = this.#classify(req, err, deadline, signal, status);
      } finally {
        deadline.clear();
        release?.();
      }
      await this.#afterFailure(req, started, attempt, retries, outcome, signal);
    }
  }

  /**
   * After a failed attempt: report it, then wait out the backoff when the
   * failure is transient and retries remain (the caller loops), or throw.
   */
  async #afterFailure(
    req: Request,
    started: number,
    attempt: number,
    retries: number,
    outcome: AttemptFailure,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.#publish(req, started, attempt, outcome.status, outcome.error);
    const callerGone = signal?.aborted === true;
    if (outcome.transient && !callerGone && attempt <= retries) {
      try {
        await sleep(this.#backoff(attempt), undefined, { signal });
      } catch {
        this.health.neutral();
        throw outcome.error;
      }
      return;
    }
    this.#settle(outcome, callerGone);
    throw outcome.error;
  }

  /** Zips: retried only until the response headers arrive; the body streams once, capped. */
  async #fetchZip(req: Request, signal: AbortSignal | undefined): Promise<ZipBody> {
    this.#admit(req);
    const retries = this.#opts.retries ?? 2;
    const maxBytes = this.#limits.zip;
    const zipTimeoutMs = this.#opts.zipTimeoutMs ?? 15 * 60_000;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let status: number | undefined;
      const deadline = new Deadline(zipTimeoutMs, signal);
      let release: Release | undefined;
      let outcome: AttemptFailure;
      try {
        release = await this.#limit.acquire(deadline.signal);
        const res = await this.#transport.get(req.rel, deadline.signal);
        status = res.status;
        if (res.status !== 200) throw await this.#statusFailure(req, res);
        if (res.contentLength !== undefined && res.contentLength > maxBytes) {
          discard(res.body);
          throw this.#tooLarge(req, maxBytes);
        }
        const body = this.#streamZip(req, res, maxBytes, deadline, signal, release, started, attempt);
        release = undefined; // now owned by the stream
        return res.contentLength === undefined ? { body } : { body, size: res.contentLength };
      } catch (err) {
        outcome = this.#classify(req, err, deadline, signal, status);
        deadline.clear();
      } finally {
        release?.();
      }
      await this.#afterFailure(req, started, attempt, retries, outcome, signal);
    }
  }

  #streamZip(
    req: Request,
    res: RawResponse,
    maxBytes: number,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    release: Release,
    started: number,
    attempt: number,
  ): Readable {
    const src = res.body;
    const out = new PassThrough();
    let received = 0;
    let settled = false;
    const settle = (failure: AttemptFailure | undefined, neutral = false) => {
      if (settled) return;
      settled = true;
      deadline.clear();
      release();
      this.#publish(req, started, attempt, failure?.status ?? res.status, failure?.error);
      if (neutral) this.health.neutral();
      else if (failure === undefined) this.health.success();
      else this.#settle(failure, false);
    };
    src.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        const err = this.#tooLarge(req, maxBytes);
        src.destroy();
        settle(new AttemptFailure(err, false, res.status));
        out.destroy(err);
        return;
      }
      if (!out.write(chunk)) src.pause();
    });
    out.on("drain", () => src.resume());
    src.on("end", () => {
      settle(undefined);
      out.end();
    });
    src.on("error", (err) => {
      // A socket error after the body ended (or after the consumer left) concerns
      // nobody: re-raising it on `out`, which may have no listener left, would crash.
      if (settled) return;
      const failure = this.#classify(req, err, deadline, signal, res.status);
      settle(failure);
      out.destroy(failure.error);
    });
    out.on("close", () => {
      // The consumer went away early: stop downloading.
      if (!settled) {
        src.destroy();
        settle(undefined, true);
      }
    });
    return out;
  }

  /** Fails fast while the breaker is open. */
  #admit(req: Request): void {
    if (this.health.tryAcquire()) return;
    const wait = Math.ceil(this.health.retryInMs() / 1000);
    const err = new UpstreamError(
      `upstream ${this.name} skipped after ${this.health.consecutiveFailures} consecutive failures; ` +
        (wait > 0 ? `next probe in ${wait}s` : "a probe is in flight"),
      details(req),
    );
    // attempt 0: the breaker answered, nothing was sent.
    this.#publish(req, performance.now(), 0, undefined, err);
    throw err;
  }

  #settle(outcome: AttemptFailure, callerGone: boolean): void {
    if (callerGone) this.health.neutral();
    else if (outcome.transient) this.health.failure();
    // A definite answer (404, 403, bad JSON, too large) says the upstream is up.
    else this.health.success();
  }

  #backoff(attempt: number): number {
    return backoffDelay(
      attempt,
      this.#opts.retryBaseDelayMs ?? 200,
      this.#opts.retryMaxDelayMs ?? 2000,
      this.#random(),
    );
  }

  #publish(req: Request, started: number, attempt: number, status?: number, error?: GoarkError): void {
    publishUpstreamRequest({
      upstream: this.name,
      route: req.route,
      module: req.module,
      ...(req.version === undefined ? {} : { version: req.version }),
      ...(status === undefined ? {} : { status }),
      durationMs: performance.now() - started,
      attempt,
      ...(error === undefined ? {} : { error: error.code }),
    });
  }

  #tooLarge(req: Request, maxBytes: number): TooLargeError {
    return new TooLargeError(
      `${this.#transport.describe(req.rel)}: response exceeds the ${formatBytes(maxBytes)} limit for ${req.route}`,
      details(req),
    );
  }

  async #statusFailure(req: Request, res: RawResponse): Promise<AttemptFailure> {
    const reason = await readErrorReason(res);
    const where = `${this.#transport.describe(req.rel)}: ${res.status} ${res.statusText}`.trimEnd();
    const message = reason === "" ? where : `${where}: ${reason}`;
    if (res.status === 404) return new AttemptFailure(new NotFoundError(message, details(req)), false, 404);
    if (res.status === 410) return new AttemptFailure(new GoneError(message, details(req)), false, 410);
    const transient = res.status >= 500 || res.status === 429;
    return new AttemptFailure(new UpstreamError(message, details(req)), transient, res.status);
  }

  #classify(
    req: Request,
    err: unknown,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    status: number | undefined,
  ): AttemptFailure {
    if (err instanceof AttemptFailure) return err;
    const where = this.#transport.describe(req.rel);
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      if (reason instanceof GoarkError) return new AttemptFailure(reason, false, status);
      return new AttemptFailure(
        new UpstreamError(`${where}: cancelled by the caller`, details(req, reason)),
        false,
      );
    }
    if (deadline.fired) {
      return new AttemptFailure(
        new TimeoutError(`${where}: no complete answer within ${deadline.ms} ms`, details(req, err)),
        true,
        status,
      );
    }
    if (err instanceof GoarkError) return new AttemptFailure(err, isTransientGoarkError(err), status);
    const code = (err as { code?: unknown })?.code;
    switch (code) {
      case "UND_ERR_CONNECT_TIMEOUT":
        return new AttemptFailure(
          new TimeoutError(
            `${where}: connect timed out after ${this.#opts.connectTimeoutMs ?? 10_000} ms`,
            details(req, err),
          ),
          true,
          status,
        );
      case "UND_ERR_HEADERS_TIMEOUT":
        return new AttemptFailure(
          new TimeoutError(
            `${where}: no response headers within ${this.#opts.headersTimeoutMs ?? 30_000} ms`,
            details(req, err),
          ),
          true,
          status,
        );
      case "UND_ERR_BODY_TIMEOUT":
        return new AttemptFailure(
          new TimeoutError(
            `${where}: response body stalled for more than ${this.#opts.readTimeoutMs ?? 30_000} ms`,
            details(req, err),
          ),
          true,
          status,
        );
    }
    const text = typeof code === "string" ? code : err instanceof Error ? err.message : String(err);
    return new AttemptFailure(new UpstreamError(`${where}: ${text}`, details(req, err)), true, status);
  }
}

// Typed errors raised on our side (a refused redirect, a size cap, a directory
// where a file should be) are answers, not outages; only timeouts are retried.
function isTransientGoarkError(err: GoarkError): boolean {
  return err.code === "TIMEOUT";
}

/**
 * The wait before retry number `attempt` (1-based): the step doubles from
 * `baseMs` up to `maxMs`, and a random half of it is dropped ("equal jitter"),
 * so retries from many callers spread out but never come back at once.
 * `random` is in [0, 1).
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const step = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return step / 2 + (random * step) / 2;
}

function isNotExistCode(err: unknown): boolean {
  return err instanceof GoarkError && (err.code === "NOT_FOUND" || err.code === "GONE");
}

function details(req: Request, cause?: unknown) {
  return {
    module: req.module,
    ...(req.version === undefined ? {} : { version: req.version }),
    ...(cause === undefined ? {} : { cause }),
  };
}

function formatBytes(n: number): string {
  return n % MiB === 0 ? `${n / MiB} MiB` : `${n} bytes`;
}

/** An AbortSignal that fires at a deadline or when the caller's signal does. */
class Deadline {
  readonly ms: number;
  readonly signal: AbortSignal;
  fired = false;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;

  constructor(ms: number, caller: AbortSignal | undefined) {
    this.ms = ms;
    this.#timer = setTimeout(() => {
      this.fired = true;
      this.#controller.abort(new Error(`deadline of ${ms} ms exceeded`));
    }, ms);
    this.#timer.unref();
    this.signal =
      caller === undefined ? this.#controller.signal : AbortSignal.any([caller, this.#controller.signal]);
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

async function readLimited(res: RawResponse, maxBytes: number, tooLarge: () => GoarkError): Promise<Buffer> {
  if (res.contentLength !== undefined && res.contentLength > maxBytes) {
    discard(res.body);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      discard(res.body);
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

const MAX_REASON_BYTES = 4096;
const MAX_REASON_CHARS = 300;

/**
 * The first line of a plain-text error body, when it is safe to show: the
 * go command's rules (text/plain in UTF-8 or ASCII, valid UTF-8, no control
 * characters but whitespace), cut to one line.
 */
async function readErrorReason(res: RawResponse): Promise<string> {
  const body = res.body;
  try {
    const type = res.contentType?.toLowerCase() ?? "";
    const [media = "", ...params] = type.split(";").map((s) => s.trim());
    const charset =
      params
        .find((p) => p.startsWith("charset="))
        ?.slice(8)
        .replace(/"/g, "") ?? "";
    if (media !== "text/plain" || !["", "utf-8", "us-ascii"].includes(charset)) return "";
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= MAX_REASON_BYTES) break;
    }
    const bytes = Buffer.concat(chunks).subarray(0, MAX_REASON_BYTES);
    let text: string;
    try {
      // A cut at MAX_REASON_BYTES may split a character; stream mode tolerates that.
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: total >= MAX_REASON_BYTES });
    } catch {
      return "";
    }
    if (/[^\P{Cc}\t\n\v\f\r\u0085]/u.test(text) || /[\p{Cf}\p{Co}\p{Cn}]/u.test(text)) return "";
    const line = (text.split("\n")[0] ?? "").trim();
    return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}…` : line;
  } catch {
    return "";
  } finally {
    discard(body);
  }
}

/** Go's pathEscape: url.PathEscape per segment, `/` left as is. */
export function escapeUrlPath(rel: string): string {
  return rel
    .split("/")
    .map((seg) => seg.replace(/[^A-Za-z0-9\-_.~$&+:=@]/gu, (c) => percentEncode(c)))
    .join("/");
}

function percentEncode(c: string): string {
  return Array.from(Buffer.from(c, "utf8"), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(
    "",
  );
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

class HttpTransport implements Transport {
  readonly #base: URL;
  readonly #dispatcher: Dispatcher;
  readonly #owned: boolean;
  readonly #opts: ProxySourceOptions;
  readonly #auth: string | undefined;

  constructor(base: URL, opts: ProxySourceOptions) {
    this.#base = new URL(base);
    this.#opts = opts;
    if (base.username !== "" || base.password !== "") {
      const user = decodeURIComponent(base.username);
      const pass = decodeURIComponent(base.password);
      this.#auth = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
      this.#base.username = "";
      this.#base.password = "";
    }
    this.#owned = opts.dispatcher === undefined;
    this.#dispatcher =
      opts.dispatcher ??
      outboundDispatcher({
        connect: { timeout: opts.connectTimeoutMs ?? 10_000 },
        keepAliveTimeout: 30_000,
        connections: opts.limit?.max ?? opts.maxConcurrent ?? 16,
      });
  }

  #url(rel: string): URL {
    const url = new URL(this.#base);
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/${escapeUrlPath(rel)}`;
    return url;
  }

  describe(rel: string): string {
    return `GET ${redactUrl(this.#url(rel).toString())}`;
  }

  async get(rel: string, signal: AbortSignal): Promise<RawResponse> {
    let url = this.#url(rel);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...this.#opts.headers };
      if (this.#auth !== undefined && url.origin === this.#base.origin) headers.authorization = this.#auth;
      const res = await this.#dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: "GET",
        headers,
        signal,
        headersTimeout: this.#opts.headersTimeoutMs ?? 30_000,
        bodyTimeout: this.#opts.readTimeoutMs ?? 30_000,
      });
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode) && typeof location === "string") {
        await res.body.dump().catch(() => {});
        if (hop >= MAX_REDIRECTS) {
          throw new UpstreamError(`${this.describe(rel)}: stopped after ${MAX_REDIRECTS} redirects`);
        }
        const next = new URL(location, url);
        if (url.protocol === "https:" && next.protocol !== "https:") {
          throw new UpstreamError(
            `${this.describe(rel)}: refusing redirect from https to ${redactUrl(next.toString())}`,
          );
        }
        if (next.protocol !== "https:" && next.protocol !== "http:") {
          throw new UpstreamError(`${this.describe(rel)}: refusing redirect to a ${next.protocol} URL`);
        }
        url = next;
        continue;
      }
      const lengthHeader = res.headers["content-length"];
      const length = typeof lengthHeader === "string" ? Number(lengthHeader) : Number.NaN;
      const type = res.headers["content-type"];
      return {
        status: res.statusCode,
        statusText: STATUS_TEXT[res.statusCode] ?? "",
        body: res.body,
        ...(Number.isSafeInteger(length) && length >= 0 ? { contentLength: length } : {}),
        ...(typeof type === "string" ? { contentType: type } : {}),
      };
    }
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#dispatcher.close();
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  410: "Gone",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * A `file://` proxy: the same layout read from a directory. A missing file is
 * a 404 and a permission error a 403, as for the go command; paths that would
 * leave the root (lexically or through a symlink) are refused.
 */
class FileTransport implements Transport {
  readonly #root: string;
  readonly #url: URL;

  constructor(url: URL) {
    this.#url = url;
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch (err) {
      throw new ConfigError(`upstream URL ${url.href} is not an absolute file:// path`, { cause: err });
    }
    if (!isAbsolute(root)) throw new ConfigError(`upstream URL ${url.href} is not an absolute file:// path`);
    this.#root = resolvePath(root);
  }

  describe(rel: string): string {
    return `reading ${this.#url.href.replace(/\/+$/, "")}/${rel}`;
  }

  async get(rel: string, signal: AbortSignal): Promise<RawResponse> {
    signal.throwIfAborted();
    const file = resolveInsideRoot(this.#root, rel);
    if (file === undefined) return emptyResponse(403, "Forbidden");
    let handle: Awaited<ReturnType<typeof openFile>>;
    try {
      // Symlinks must not lead out of the tree either.
      const [realRoot, realFile] = await Promise.all([realpath(this.#root), realpath(file)]);
      if (resolveInsideRoot(realRoot, relative(realRoot, realFile)) === undefined) {
        return emptyResponse(403, "Forbidden");
      }
      handle = await openFile(realFile, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return emptyResponse(404, "Not Found");
      if (code === "EACCES" || code === "EPERM") return emptyResponse(403, "Forbidden");
      throw new UpstreamError(`${this.describe(rel)}: ${code ?? (err as Error).message}`, { cause: err });
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        throw new UpstreamError(`${this.describe(rel)}: not a regular file`);
      }
      const body = handle.createReadStream({ signal });
      return { status: 200, statusText: "OK", body, contentLength: stat.size };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {}
}

/** Drops a body we will not read; a destroyed undici body errors, so listen first. */
function discard(body: Readable): void {
  if (body.destroyed) return;
  body.on("error", () => {});
  body.destroy();
}

function emptyResponse(status: number, statusText: string): RawResponse {
  const body = new PassThrough();
  body.end();
  return { status, statusText, body };
}

/** `root/rel` when it stays inside root, else undefined. */
export function resolveInsideRoot(root: string, rel: string): string | undefined {
  if (rel.includes("\0") || isAbsolute(rel)) return undefined;
  const full = resolvePath(root, rel);
  const back = relative(root, full);
  if (back === "" || back === ".." || back.startsWith(`..${sep}`) || isAbsolute(back)) return undefined;
  return join(root, back);
}
