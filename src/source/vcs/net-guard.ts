/**
 * Keeps discovery and git from becoming an SSRF hole: addresses in private,
 * loopback, link-local, shared and multicast ranges are refused unless the
 * module matches a configured private or insecure pattern. Also decides, as
 * curl and undici do from HTTP_PROXY/HTTPS_PROXY/NO_PROXY, whether a URL goes
 * through the egress proxy (then the proxy resolves names, not us).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { UpstreamError } from "../../errors.ts";

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 3],
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["2001:db8::", 32],
  ["64:ff9b::", 96],
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** True for addresses a public module's host must never resolve to. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[1] as string, "ipv4");
    return blocked.check(address, "ipv6");
  }
  return true;
}

export type LookupFn = (
  hostname: string,
  options: { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

function refusal(host: string, address: string): UpstreamError {
  return new UpstreamError(
    `${host} resolves to ${address}, a private or reserved address; refused (add the module to the private or insecure patterns to allow it)`,
  );
}

/**
 * A dns.lookup replacement for sockets that must not reach private ranges:
 * it resolves every address and fails if any is private.
 */
export function guardedLookup(resolve: LookupFn = dnsLookup as unknown as LookupFn) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    resolve(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(refusal(hostname, bad.address) as unknown as NodeJS.ErrnoException, "", 0);
      if (options.all) return callback(null, addresses);
      const first = addresses.find(
        (a) => options.family === undefined || options.family === 0 || a.family === options.family,
      );
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
}

/** Resolves host (unless it is an IP literal) and throws if any address is private. */
export async function assertPublicHost(
  host: string,
  resolve: LookupFn = dnsLookup as unknown as LookupFn,
): Promise<void> {
  const bare = host.replace(/^\[|\]$/g, "");
  if (isIP(bare) !== 0) {
    if (isPrivateAddress(bare)) throw refusal(host, bare);
    return;
  }
  if (bare === "localhost" || bare.endsWith(".localhost")) throw refusal(host, "127.0.0.1");
  const addresses = await new Promise<LookupAddress[]>((ok, fail) =>
    resolve(bare, { all: true }, (err, a) => (err ? fail(err) : ok(a))),
  ).catch((err: unknown) => {
    throw new UpstreamError(`cannot resolve ${host}: ${(err as Error).message}`, { cause: err });
  });
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw refusal(host, bad.address);
}

export interface ProxyEnv {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** The proxy settings of an environment (lower-case names win, as curl reads them). */
export function proxyEnv(env: NodeJS.ProcessEnv): ProxyEnv {
  const out: ProxyEnv = {};
  const http = env.http_proxy ?? env.HTTP_PROXY;
  const https = env.https_proxy ?? env.HTTPS_PROXY;
  const no = env.no_proxy ?? env.NO_PROXY;
  if (http) out.httpProxy = http;
  if (https) out.httpsProxy = https;
  if (no) out.noProxy = no;
  return out;
}

/** Whether a request to url goes through the proxy of env (NO_PROXY as curl reads it). */
export function usesProxy(url: URL, env: ProxyEnv): boolean {
  const proxy =
    url.protocol === "https:" ? env.httpsProxy : url.protocol === "http:" ? env.httpProxy : undefined;
  if (!proxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (let entry of (env.noProxy ?? "").split(/[,\s]+/)) {
    entry = entry.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return false;
    let entryPort = "";
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.includes("]")) {
      entry = m[1] as string;
      entryPort = m[2] as string;
    }
    if (entryPort !== "" && entryPort !== port) continue;
    entry = entry.replace(/^\*?\./, "");
    if (host === entry || host.endsWith(`.${entry}`)) return false;
  }
  return true;
}
