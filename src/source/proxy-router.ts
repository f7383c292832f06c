/**
 * A dispatcher that routes each request the way Go's net/http
 * ProxyFromEnvironment does: http URLs through HTTP_PROXY, https URLs through
 * HTTPS_PROXY, NO_PROXY hosts direct. undici's EnvHttpProxyAgent falls back
 * to HTTP_PROXY for https when HTTPS_PROXY is unset; Go and curl go direct,
 * and an egress proxy configured for http only must not see https traffic.
 */
import { Agent, Dispatcher, ProxyAgent } from "undici";
import { type ProxyEnv, usesProxy } from "./vcs/net-guard.ts";

export class ProxyRouter extends Dispatcher {
  readonly #direct: Agent;
  readonly #http: ProxyAgent | undefined;
  readonly #https: ProxyAgent | undefined;
  readonly #env: ProxyEnv;

  /** agentOpts apply to the direct agent; proxyOpts are added for the two proxy agents. */
  constructor(env: ProxyEnv, agentOpts: Agent.Options, proxyOpts: Partial<ProxyAgent.Options> = {}) {
    super();
    this.#env = env;
    this.#direct = new Agent(agentOpts);
    // Plain http as an absolute-form request through the proxy, the way Go and curl send it (no CONNECT).
    const mk = (uri: string) =>
      new ProxyAgent({ ...agentOpts, ...proxyOpts, uri, proxyTunnel: false } as ProxyAgent.Options);
    this.#http = env.httpProxy ? mk(env.httpProxy) : undefined;
    this.#https = env.httpsProxy ? mk(env.httpsProxy) : undefined;
  }

  #pick(origin: string | URL | undefined): Dispatcher {
    if (origin === undefined) return this.#direct;
    const url = typeof origin === "string" ? new URL(origin) : origin;
    if (!usesProxy(url, this.#env)) return this.#direct;
    const via = url.protocol === "https:" ? this.#https : this.#http;
    return via ?? this.#direct;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#pick(opts.origin).dispatch(opts, handler);
  }

  #all(): Dispatcher[] {
    return [this.#direct, this.#http, this.#https].filter((d): d is Agent | ProxyAgent => d !== undefined);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const p = Promise.all(this.#all().map((d) => d.close())).then(() => undefined);
    if (callback === undefined) return p;
    void p.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === "function" ? null : (a ?? null);
    const callback = typeof a === "function" ? a : b;
    const p = Promise.all(this.#all().map((d) => d.destroy(err))).then(() => undefined);
    if (callback === undefined) return p;
    void p.then(callback, callback);
  }
}
