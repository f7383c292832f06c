/**
 * Discovery rules the go command in this sandbox (Go 1.19) cannot judge —
 * `mod` entries need a proxy, the fourth meta-tag field is [new] in Go 1.25
 * (cmd/go/internal/vcs/discovery.go at golang/go HEAD) — and goark's own
 * guards around discovery: no private addresses for public modules, one host
 * only, bounded redirects and size. The page-shape rules Go 1.19 does judge
 * are in test/e2e/direct-discovery.test.ts.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { fetchGoGetPage, matchGoImport, parseMetaGoImports } from "./discovery.ts";
import { isPrivateAddress, usesProxy } from "./net-guard.ts";
import { applyRewrite } from "./repo-root.ts";

const meta = (c: string) => `<meta name="go-import" content="${c}">`;

describe("go-import meta tags", () => {
  test("mod entries come first and supersede other entries for the same prefix", () => {
    const imports = parseMetaGoImports(
      `<head>${meta("example.com/m git https://git.example.com/m")}${meta("example.com/m mod https://proxy.example.com")}${meta("example.com/n git https://git.example.com/n")}</head>`,
    );
    assert.deepEqual(
      imports.map((i) => [i.prefix, i.vcs]),
      [
        ["example.com/m", "mod"],
        ["example.com/n", "git"],
      ],
    );
    const m = matchGoImport(imports, "example.com/m/sub");
    assert.ok(!("error" in m));
    assert.equal(m.vcs, "mod");
  });

  test("[new] a fourth field names the repository subdirectory; five fields are ignored", () => {
    const imports = parseMetaGoImports(
      `<head>${meta("example.com/m git https://git.example.com/r foo/subdir")}${meta("example.com/x git https://git.example.com/x a b")}</head>`,
    );
    assert.equal(imports.length, 1);
    assert.equal(imports[0]?.subdir, "foo/subdir");
  });

  test("rewrite rules map path prefixes to repository URLs", () => {
    const rules = [
      { from: "git.corp.example/*", to: "ssh://git@git.internal:2222/*.git" },
      { from: "tools.corp.example/lint", to: "https://git.internal/lint" },
    ];
    assert.deepEqual(applyRewrite(rules, "git.corp.example/team/pkg/v2"), {
      root: "git.corp.example/team",
      vcs: "git",
      repo: "ssh://git@git.internal:2222/team.git",
      subdir: "",
      rewritten: true,
    });
    assert.equal(applyRewrite(rules, "tools.corp.example/lint/cmd")?.repo, "https://git.internal/lint");
    assert.equal(applyRewrite(rules, "tools.corp.example/linter"), undefined);
    assert.equal(applyRewrite(rules, "git.corp.example"), undefined);
  });
});

describe("discovery is not an SSRF hole", () => {
  let proxy: Server;
  let proxyUrl: string;
  const seen: string[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.end();

  before(async () => {
    // An HTTP proxy standing in for the internet: absolute-form requests arrive here.
    proxy = createServer((req, res) => {
      seen.push(req.url ?? "");
      handler(req, res);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => proxy.close(() => r())));

  test("private, loopback and link-local addresses are recognised", () => {
    for (const a of [
      "10.1.2.3",
      "127.0.0.1",
      "169.254.169.254",
      "172.20.0.1",
      "192.168.1.1",
      "100.64.0.1",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:10.0.0.1",
      "0.0.0.0",
    ]) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "172.32.0.1"])
      assert.equal(isPrivateAddress(a), false, a);
  });

  test("NO_PROXY entries keep hosts off the proxy", () => {
    const env = { httpsProxy: "http://proxy:3128", noProxy: "internal.example, .corp.example,10.0.0.1:8443" };
    assert.equal(usesProxy(new URL("https://go.dev/x"), env), true);
    assert.equal(usesProxy(new URL("https://internal.example/x"), env), false);
    assert.equal(usesProxy(new URL("https://a.corp.example/x"), env), false);
    assert.equal(usesProxy(new URL("https://corp.example/x"), env), false);
    assert.equal(usesProxy(new URL("https://10.0.0.1:8443/x"), env), false);
    assert.equal(usesProxy(new URL("https://10.0.0.1/x"), env), true);
    assert.equal(usesProxy(new URL("http://go.dev/x"), env), false, "no HTTP_PROXY: plain http goes direct");
  });

  test("a public module whose host resolves to a private address is refused before connecting", async () => {
    await assert.rejects(
      fetchGoGetPage("internal.goark.test/m", {
        insecure: false,
        allowPrivate: false,
        proxy: {},
        timeoutMs: 5000,
        lookup: (_h, _o, cb) => cb(null, [{ address: "10.9.8.7", family: 4 }]),
      }),
      /10\.9\.8\.7, a private or reserved address; refused/,
    );
    await assert.rejects(
      fetchGoGetPage("127.0.0.1/m", { insecure: true, allowPrivate: false, proxy: {}, timeoutMs: 5000 }),
      /private or reserved address; refused/,
    );
  });

  test("redirects stay on the module's host and are bounded", async () => {
    handler = (req, res) => {
      const u = new URL(req.url ?? "/", "http://x");
      if (u.hostname === "hop.goark.test") {
        res.writeHead(302, { location: "http://evil.goark.test/steal?go-get=1" });
        return res.end();
      }
      if (u.hostname === "loop.goark.test") {
        res.writeHead(302, { location: `http://loop.goark.test${u.pathname}x?go-get=1` });
        return res.end();
      }
      res.writeHead(404).end();
    };
    const opts = {
      insecure: true,
      allowPrivate: false,
      proxy: { httpProxy: proxyUrl, httpsProxy: "http://127.0.0.1:9" },
    };
    await assert.rejects(
      fetchGoGetPage("hop.goark.test/m", opts),
      /redirect to another host \(evil\.goark\.test\) refused/,
    );
    assert.ok(!seen.some((u) => u.includes("evil.goark.test")));
    await assert.rejects(
      fetchGoGetPage("loop.goark.test/m", { ...opts, maxRedirects: 3 }),
      /stopped after 3 redirects/,
    );
  });

  test("an oversized page is refused without reading it all", async () => {
    let written = 0;
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      const chunk = Buffer.alloc(64 << 10, 0x20);
      const pump = () => {
        while (written < 64 << 20) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
      res.on("close", () => undefined);
    };
    await assert.rejects(
      fetchGoGetPage("big.goark.test/m", {
        insecure: true,
        allowPrivate: false,
        proxy: { httpProxy: proxyUrl, httpsProxy: "http://127.0.0.1:9" },
        maxBytes: 1 << 20,
      }),
      /larger than 1048576 bytes; refused/,
    );
    assert.ok(written < 32 << 20, `the server wrote ${written} bytes before the refusal`);
  });
});
