/** ProxyRouter sends http through HTTP_PROXY, https through HTTPS_PROXY only, NO_PROXY direct (as Go does). */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { ProxyRouter } from "./proxy-router.ts";

/** A TCP listener that records the first bytes of each connection and closes it. */
async function recorder(): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((s: Socket) => {
    s.once("data", (b) => {
      seen.push(b.subarray(0, 64).toString("latin1"));
      // An answer, not a bare close: undici reconnects for ever to a proxy that closes before answering.
      s.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { server, port, seen };
}

describe("ProxyRouter", () => {
  let proxy: Awaited<ReturnType<typeof recorder>>;
  let target: Awaited<ReturnType<typeof recorder>>;
  before(async () => {
    proxy = await recorder();
    target = await recorder();
  });
  after(() => {
    proxy.server.close();
    target.server.close();
  });

  async function send(router: ProxyRouter, url: string): Promise<void> {
    const u = new URL(url);
    await router
      .request({ origin: u.origin, path: u.pathname, method: "GET", headersTimeout: 2000 })
      .then((r) => r.body.dump())
      .catch(() => undefined);
    await router.close();
  }

  test("with HTTP_PROXY alone, https goes direct and http goes through the proxy", async () => {
    proxy.seen.length = 0;
    target.seen.length = 0;
    const env = { httpProxy: `http://127.0.0.1:${proxy.port}` };
    await send(new ProxyRouter(env, {}), `https://127.0.0.1:${target.port}/x`);
    assert.deepEqual(proxy.seen, [], "the http proxy saw the https request");
    assert.equal(target.seen.length, 1);
    assert.equal(target.seen[0]!.charCodeAt(0), 0x16, "a TLS ClientHello reached the target directly");

    await send(new ProxyRouter(env, {}), `http://127.0.0.1:${target.port}/y`);
    assert.equal(proxy.seen.length, 1);
    assert.match(proxy.seen[0]!, new RegExp(`^GET http://127\\.0\\.0\\.1:${target.port}/y `));
  });

  test("HTTPS_PROXY carries https as CONNECT; NO_PROXY hosts go direct", async () => {
    proxy.seen.length = 0;
    target.seen.length = 0;
    const env = { httpsProxy: `http://127.0.0.1:${proxy.port}` };
    await send(new ProxyRouter(env, {}), `https://example.invalid:${target.port}/x`);
    assert.equal(proxy.seen.length, 1);
    assert.match(proxy.seen[0]!, new RegExp(`^CONNECT example\\.invalid:${target.port} `));
    // http is not covered by HTTPS_PROXY.
    await send(new ProxyRouter(env, {}), `http://127.0.0.1:${target.port}/y`);
    assert.equal(proxy.seen.length, 1);
    assert.equal(target.seen.length, 1);

    await send(new ProxyRouter({ ...env, noProxy: "127.0.0.1" }, {}), `https://127.0.0.1:${target.port}/z`);
    assert.equal(proxy.seen.length, 1, "NO_PROXY host went through the proxy");
    assert.equal(target.seen.length, 2);
  });
});
