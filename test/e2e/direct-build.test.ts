/**
 * goark as the only GOPROXY of the real go client, with modules that exist
 * only in git: a spy upstream first in the chain (answering 404 to all, so
 * public modules fall through to direct) and private patterns for
 * git.goark.test/corp. The go client builds and runs a program whose graph
 * spans a tagged module, a +incompatible one, a subdirectory module and a
 * private module; the go.sum it writes equals the one the go command writes
 * fetching the same graph in direct mode; and no private module name ever
 * reaches the spy upstream.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type GitHost, startGitHost } from "../helpers/git-host.ts";
import { describe as describeRun, GoClient } from "../helpers/go-client.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";

const HOST = "git.goark.test";
const TIMEOUT = 300_000;

function gomod(path: string, requires: string[] = []): string {
  const req = requires.length === 0 ? "" : `\nrequire (\n${requires.map((r) => `\t${r}\n`).join("")})\n`;
  return `module ${path}\n\ngo 1.19\n${req}`;
}

describe("the go client builds through goark from git only", { timeout: TIMEOUT }, () => {
  let host: GitHost;
  let goark: GoarkInstance;
  let spy: Server;
  const spied: string[] = [];
  const clients: GoClient[] = [];
  const saved: Record<string, string | undefined> = {};

  const PROGRAM = {
    "go.mod": gomod("example.com/app", [
      `${HOST}/lib v1.1.0`,
      `${HOST}/legacy v2.0.0+incompatible`,
      `${HOST}/lib/tools v0.1.0`,
      `${HOST}/corp/secret v1.0.0`,
    ]),
    "main.go": `package main

import (
	"fmt"

	"${HOST}/corp/secret"
	"${HOST}/legacy"
	"${HOST}/lib"
	"${HOST}/lib/tools"
)

func main() { fmt.Println(lib.Name(), legacy.Old, tools.Tool, secret.Word()) }
`,
  };

  before(async () => {
    host = await startGitHost({ host: HOST });
    const lib = `${HOST}/lib`;
    await host.createRepo("lib", [
      {
        files: { "go.mod": gomod(lib), "lib.go": 'package lib\n\nfunc Name() string { return "lib-1.0" }\n' },
        tags: ["v1.0.0"],
      },
      {
        files: {
          "go.mod": gomod(lib),
          "lib.go": 'package lib\n\nfunc Name() string { return "lib-1.1" }\n',
          LICENSE: "lib licence\n",
          "tools/go.mod": gomod(`${lib}/tools`),
          "tools/tools.go": 'package tools\n\nconst Tool = "tools-0.1"\n',
        },
        tags: ["v1.1.0", "tools/v0.1.0"],
      },
    ]);
    await host.createRepo("legacy", [
      { files: { "legacy.go": 'package legacy\n\nconst Old = "legacy-1"\n' }, tags: ["v1.0.0"] },
      { files: { "legacy.go": 'package legacy\n\nconst Old = "legacy-2"\n' }, tags: ["v2.0.0"] },
    ]);
    await host.createRepo("corp/secret", [
      {
        files: {
          "go.mod": gomod(`${HOST}/corp/secret`, [`${lib} v1.0.0`]),
          "secret.go": `package secret\n\nimport "${lib}"\n\nfunc Word() string { return "secret+" + lib.Name() }\n`,
        },
        tags: ["v1.0.0"],
      },
    ]);

    spy = createServer((req, res) => {
      spied.push(req.url ?? "");
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not here\n");
    });
    await new Promise<void>((r) => spy.listen(0, "127.0.0.1", r));
    const spyUrl = `http://127.0.0.1:${(spy.address() as AddressInfo).port}`;

    // goark's direct source reads the egress proxy from its environment.
    for (const k of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]) {
      saved[k] = process.env[k];
    }
    process.env.HTTP_PROXY = process.env.http_proxy = host.proxyUrl;
    process.env.HTTPS_PROXY = process.env.https_proxy = host.proxyUrl;
    process.env.NO_PROXY = process.env.no_proxy = "127.0.0.1,localhost";
    goark = await startGoark({
      upstream: `${spyUrl},direct`,
      private: `${HOST}/corp`,
      insecure: HOST,
    });
  });

  after(async () => {
    await goark?.close();
    await Promise.all(clients.map((c) => c.close()));
    await new Promise<void>((r) => (spy ? spy.close(() => r()) : r()));
    await host?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const client = async (proxy: string, env: Record<string, string> = {}) => {
    const c = await GoClient.create({ proxy, env });
    clients.push(c);
    return c;
  };

  test("go build through goark equals go's direct mode, and private names stay private", async () => {
    const viaGoark = await client(goark.url, { GONOSUMDB: `${HOST}/corp` });
    const dir = await viaGoark.mainModule("app", PROGRAM);
    const tidy = await viaGoark.run(["mod", "tidy"], { cwd: dir });
    assert.equal(tidy.code, 0, describeRun(tidy));
    const build = await viaGoark.run(["build", "-o", "app", "."], { cwd: dir });
    assert.equal(build.code, 0, describeRun(build));
    const out = await new Promise<string>((ok, fail) =>
      execFile(join(dir, "app"), (err, stdout) => (err ? fail(err) : ok(stdout))),
    );
    assert.equal(out, "lib-1.1 legacy-2 tools-0.1 secret+lib-1.1\n");

    const direct = await client("direct", {
      HTTP_PROXY: host.proxyUrl,
      http_proxy: host.proxyUrl,
      HTTPS_PROXY: host.proxyUrl,
      https_proxy: host.proxyUrl,
      GOINSECURE: HOST,
    });
    const dir2 = await direct.mainModule("app", PROGRAM);
    const tidy2 = await direct.run(["mod", "tidy"], { cwd: dir2 });
    assert.equal(tidy2.code, 0, describeRun(tidy2));
    const sumViaGoark = await readFile(join(dir, "go.sum"), "utf8");
    const sumDirect = await readFile(join(dir2, "go.sum"), "utf8");
    assert.equal(sumViaGoark, sumDirect);
    assert.ok(sumDirect.includes(`${HOST}/legacy v2.0.0+incompatible h1:`), sumDirect);

    assert.ok(
      spied.some((u) => u.includes("/lib/")),
      `the spy saw public lookups: ${spied.join(", ")}`,
    );
    const leaked = spied.filter((u) => u.toLowerCase().includes("corp"));
    assert.deepEqual(leaked, [], "private module names reached the upstream");
  });
});
