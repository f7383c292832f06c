/** The `listen` setting: `host:port`, `[ipv6]:port`, or `:port` for every interface. */
import { isIPv6 } from "node:net";

export interface ListenAddress {
  /** "" means every interface (node's default for server.listen without a host). */
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export const LISTEN_RULE = "an address host:port, [ipv6]:port or :port with port 0-65535";

export function parseListenAddress(text: string): ListenAddress | undefined {
  const s = text.trim();
  const colon = s.lastIndexOf(":");
  if (colon < 0) return undefined;
  let host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (host.startsWith("[")) {
    if (!host.endsWith("]")) return undefined;
    host = host.slice(1, -1);
    if (!isIPv6(host)) return undefined;
  } else if (host !== "") {
    // A host name or IPv4 address; a bare IPv6 address must be bracketed.
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) return undefined;
  }
  return { host, port };
}

/** host:port as a URL authority (IPv6 bracketed, "" shown as 0.0.0.0 is left to the caller). */
export function formatListenAddress(addr: ListenAddress): string {
  const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
  return `${host}:${addr.port}`;
}
