/**
 * A plain HTTP forward proxy on 127.0.0.1 standing in for a company egress
 * proxy: it takes absolute-form requests (`GET http://host/path`), forwards
 * made-up host names to the loopback servers they stand for, and loopback
 * addresses as they are; everything else gets 502. CONNECT is refused. Every
 * request is recorded, so a test can tell what went through it.
 */
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";

export interface ForwardProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** "GET http://host/path" and "CONNECT host:port", in arrival order. */
  readonly seen: string[];
  close(): Promise<void>;
}

/** routes: made-up host (host[:port]) → the http://127.0.0.1:PORT origin it stands for. */
export async function startForwardProxy(routes: Record<string, string>): Promise<ForwardProxy> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400, { "content-type": "text/plain" });
      return res.end("forward proxy: want an absolute-form request\n");
    }
    const origin =
      routes[target.host] ?? (target.hostname === "127.0.0.1" ? `http://${target.host}` : undefined);
    if (target.protocol !== "http:" || origin === undefined) {
      res.writeHead(502, { "content-type": "text/plain" });
      return res.end(`forward proxy: no route to ${target.host}\n`);
    }
    const to = new URL(origin);
    const upstream = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: target.pathname + target.search,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`forward proxy: ${err.message}\n`);
    });
    req.pipe(upstream);
  });
  server.on("connect", (req, socket) => {
    seen.push(`CONNECT ${req.url}`);
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
