/**
 * The undici dispatcher behind goark's outbound HTTP (upstream proxies, the
 * checksum databases, `warm --server`): through the egress proxy that
 * HTTP_PROXY / HTTPS_PROXY name, hosts in NO_PROXY exempted, whenever the
 * environment sets one of them (lower- or upper-case, read as git and
 * discovery read them, src/source/vcs/net-guard.ts); a plain Agent otherwise.
 */
import { Agent, type Dispatcher, fetch as undiciFetch } from "undici";
import { ProxyRouter } from "./proxy-router.ts";
import { type ProxyEnv, proxyEnv } from "./vcs/net-guard.ts";

/** Whether env names an outbound proxy (then every request is routed by URL and NO_PROXY). */
export function hasProxy(env: NodeJS.ProcessEnv = process.env): boolean {
  const p = proxyEnv(env);
  return p.httpProxy !== undefined || p.httpsProxy !== undefined;
}

/**
 * A new dispatcher with opts (timeouts, pool size), proxy-aware when env sets
 * a proxy. The caller owns it and closes it.
 */
export function outboundDispatcher(
  opts: Agent.Options = {},
  env: NodeJS.ProcessEnv = process.env,
): Dispatcher {
  const proxy = proxyEnv(env);
  if (proxy.httpProxy === undefined && proxy.httpsProxy === undefined) return new Agent(opts);
  return proxyDispatcher(proxy, opts);
}

function proxyDispatcher(proxy: ProxyEnv, opts: Agent.Options): Dispatcher {
  // The connect timeout also bounds the connection to the proxy and the TLS
  // handshake through its tunnel (undici builds separate connectors for both).
  const timeout = typeof opts.connect === "object" ? opts.connect?.timeout : undefined;
  const tls =
    timeout === undefined || timeout === null ? {} : { proxyTls: { timeout }, requestTls: { timeout } };
  return new ProxyRouter(proxy, opts, tls);
}

const shared = new Map<string, Dispatcher>();

/** One long-lived dispatcher per proxy setting, for callers without a dispatcher of their own. */
export function sharedOutboundDispatcher(env: NodeJS.ProcessEnv = process.env): Dispatcher {
  const proxy = proxyEnv(env);
  const key = JSON.stringify([proxy.httpProxy, proxy.httpsProxy, proxy.noProxy]);
  let d = shared.get(key);
  if (d === undefined) {
    d = outboundDispatcher({ keepAliveTimeout: 30_000 }, env);
    shared.set(key, d);
  }
  return d;
}

/**
 * `fetch` over the shared outbound dispatcher of the current environment
 * (Node 20's global fetch knows nothing of proxy variables).
 */
export const outboundFetch: typeof fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
  undiciFetch(input as Parameters<typeof undiciFetch>[0], {
    ...(init as Parameters<typeof undiciFetch>[1]),
    dispatcher: sharedOutboundDispatcher(),
  })) as unknown as typeof fetch;
