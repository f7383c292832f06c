/**
 * How goark reaches an upstream checksum database, as the go command does
 * (cmd/go/internal/modfetch/sumdb.go, PROTOCOL.md 1.14): with an explicit URL
 * (`GOSUMDB="name+key URL"`) only that URL; otherwise each upstream proxy in
 * GOPROXY order is asked `<proxy>/sumdb/<name>/supported` — 200 means "use
 * this proxy for everything", 404/410 (or any error after a `|`) means "try
 * the next" — and `direct`, `off` or the end of the list mean
 * `https://<name>`, except that a proxy error seen after a `|` is reported
 * unless `direct` is reached (Go's TryProxies ranking). Responses are
 * size-capped and time-limited.
 */
import { GoarkError, NotFoundError, TimeoutError, TooLargeError, UpstreamError } from "../errors.ts";
import { parseGoproxyList, redactUrl } from "../source/goproxy-list.ts";
import { outboundFetch } from "../source/outbound-http.ts";

/** Largest body accepted from a database: tiles are 8 KiB, lookups and notes far smaller. */
export const MAX_SUMDB_RESPONSE = 1 << 20;

export interface SumdbRemoteOptions {
  /** The database name (host[/path]). */
  name: string;
  /** An explicit URL from GOSUMDB, bypassing proxies. */
  url?: string;
  /** The upstream list in GOPROXY syntax (proxies asked for `/sumdb/<name>/supported`). */
  upstream?: string;
  /** Per-request deadline. Default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class SumdbRemote {
  readonly name: string;
  readonly #explicit: string | undefined;
  readonly #upstream: string;
  readonly #timeout: number;
  readonly #fetch: typeof fetch;
  #base: Promise<string> | undefined;

  constructor(opts: SumdbRemoteOptions) {
    this.name = opts.name;
    this.#explicit = opts.url?.replace(/\/+$/, "");
    this.#upstream = opts.upstream ?? "off";
    this.#timeout = opts.timeoutMs ?? 30_000;
    // Through HTTP(S)_PROXY when the environment names one, as the go command reaches a database.
    this.#fetch = opts.fetch ?? outboundFetch;
  }

  /** The base URL the database is read from (decided once; a failed decision is retried next time). */
  base(signal?: AbortSignal): Promise<string> {
    if (this.#base === undefined) {
      const p = this.#findBase(signal);
      this.#base = p;
      p.catch(() => {
        if (this.#base === p) this.#base = undefined;
      });
    }
    return this.#base;
  }

  async #findBase(signal?: AbortSignal): Promise<string> {
    if (this.#explicit !== undefined) return this.#explicit;
    const direct = `https://${this.name}`;
    let list: ReturnType<typeof parseGoproxyList>;
    try {
      list = parseGoproxyList(this.#upstream);
    } catch {
      return direct;
    }
    // As Go's TryProxies reports it: a proxy's error other than "not found"
    // stops the walk after `,`; after `|` the walk goes on, but unless it
    // reaches `direct` that error is still what the client gets.
    let proxyError: UpstreamError | undefined;
    for (const entry of list) {
      if (entry.kind === "direct") return direct;
      if (entry.kind !== "proxy") continue; // off ends the list; noproxy is not this walk's business
      if (!/^https?:/i.test(entry.url)) continue; // file:// proxies cannot proxy a database
      const base = `${entry.url.replace(/\/+$/, "")}/sumdb/${this.name}`;
      try {
        await this.#get(`${base}/supported`, signal);
        return base;
      } catch (err) {
        if (err instanceof NotFoundError) continue;
        proxyError ??= new UpstreamError(
          `checksum database ${this.name}: asking ${redactUrl(entry.url)} whether it proxies the database failed: ${(err as Error).message}`,
          { cause: err },
        );
        if (!entry.fallBackOnError) throw proxyError;
      }
    }
    if (proxyError !== undefined) throw proxyError;
    return direct;
  }

  /** The body at path ("/latest", "/lookup/…", "/tile/…"); NotFoundError for 404/410. */
  async read(path: string, signal?: AbortSignal): Promise<Uint8Array> {
    const base = await this.base(signal);
    return this.#get(`${base}${path}`, signal);
  }

  async #get(url: string, signal?: AbortSignal): Promise<Uint8Array> {
    const shown = redactUrl(url);
    const deadline = AbortSignal.timeout(this.#timeout);
    const all = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let res: Response;
    try {
      res = await this.#fetch(url, { signal: all, redirect: "follow" });
    } catch (err) {
      if (deadline.aborted) throw new TimeoutError(`${shown}: no answer within ${this.#timeout} ms`);
      throw new UpstreamError(`${shown}: ${describe(err)}`, { cause: err });
    }
    try {
      if (res.status === 404 || res.status === 410) {
        throw new NotFoundError(`${shown}: ${res.status} ${await shortText(res)}`);
      }
      if (res.status !== 200) throw new UpstreamError(`${shown}: ${res.status} ${await shortText(res)}`);
      const declared = Number(res.headers.get("content-length") ?? Number.NaN);
      if (declared > MAX_SUMDB_RESPONSE) {
        throw new TooLargeError(
          `${shown}: response of ${declared} bytes, over the ${MAX_SUMDB_RESPONSE}-byte limit`,
        );
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      if (res.body !== null) {
        for await (const chunk of res.body) {
          size += chunk.length;
          if (size > MAX_SUMDB_RESPONSE) {
            throw new TooLargeError(`${shown}: response over the ${MAX_SUMDB_RESPONSE}-byte limit`);
          }
          chunks.push(chunk);
        }
      }
      return Buffer.concat(chunks);
    } catch (err) {
      await res.body?.cancel().catch(() => undefined);
      if (err instanceof GoarkError) throw err;
      if (deadline.aborted) throw new TimeoutError(`${shown}: body not complete within ${this.#timeout} ms`);
      throw new UpstreamError(`${shown}: ${describe(err)}`, { cause: err });
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

/** The first line of an error body, short, for messages. */
async function shortText(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 300);
    return text
      .split("\n")[0]!
      .replace(/[\x00-\x1f\x7f]/g, " ")
      .trim();
  } catch {
    return "";
  }
}
