// The go command is the oracle: for each GOPROXY list and upstream behaviour,
// the real `go` (1.19) and goark's chain must ask the same upstreams in the
// same order, succeed or fail alike, and blame the same upstream; and with no
// @latest they must pick the same version from `list`.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { GoClient, type GoClient as GoClientType } from "../../test/helpers/go-client.ts";
import {
  refusedPort,
  type ScriptedUpstream,
  sendText,
  startScriptedUpstream,
} from "../../test/helpers/scripted-upstream.ts";
import { createChain } from "./chain.ts";
import { parseGoproxyList } from "./goproxy-list.ts";
import { ProxySource } from "./proxy-source.ts";

// A host under .invalid: `direct` and GOPRIVATE lookups by the go command fail fast, offline.
const MODULE = "goark.invalid/m";

type Mode = "ok" | "404" | "410" | "500";

function serve(mode: Mode) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (mode === "ok" || req.url?.endsWith(".mod")) {
      if (req.url?.endsWith(".info")) {
        return sendText(
          res,
          200,
          JSON.stringify({ Version: "v1.0.0", Time: "2020-01-01T00:00:00Z" }),
          "application/json",
        );
      }
      if (req.url?.endsWith(".mod")) return sendText(res, 200, `module ${MODULE}\n`);
    }
    if (mode === "410") return sendText(res, 410, "gone\n");
    if (mode === "500") return sendText(res, 500, "boom\n");
    return sendText(res, 404, "not found\n");
  };
}

interface Outcome {
  /** Names of the upstreams asked for the .info, in order. */
  asked: string[];
  ok: boolean;
  /** Who the reported error blames: an upstream name, "off", or "direct". */
  blamed?: string;
}

describe("GOPROXY chain vs the go command", () => {
  const names = ["A", "B", "C"] as const;
  const servers = new Map<string, ScriptedUpstream>();
  let refusedUrl: string;
  before(async () => {
    for (const n of names) servers.set(n, await startScriptedUpstream());
    refusedUrl = `http://127.0.0.1:${await refusedPort()}`;
  });
  after(async () => {
    for (const s of servers.values()) await s.close();
  });

  function urlOf(name: string): string {
    return name === "R" ? refusedUrl : servers.get(name)!.url;
  }

  function expand(template: string): string {
    return template.replace(/\b[ABCR]\b/g, (n) => urlOf(n));
  }

  function reset(modes: Record<string, Mode>): void {
    for (const [name, s] of servers) {
      s.requests.length = 0;
      s.handle(serve(modes[name] ?? "ok"));
    }
  }

  function blame(message: string): string {
    for (const n of [...names, "R"]) if (message.includes(new URL(urlOf(n)).host)) return n;
    if (message.includes("GOPROXY=off")) return "off";
    return "direct";
  }

  async function runGo(goproxy: string, env: Record<string, string>): Promise<Outcome> {
    const log: string[] = [];
    for (const [name, s] of servers) {
      const orig = s.requests.push.bind(s.requests);
      s.requests.push = (...items: string[]) => {
        for (const it of items) if (it.endsWith(".info")) log.push(name);
        return orig(...items);
      };
    }
    let go: GoClientType | undefined;
    try {
      go = await GoClient.create({ proxy: goproxy, env });
      const r = await go.run(["list", "-m", "-json", `${MODULE}@v1.0.0`], { timeoutMs: 60_000 });
      return r.code === 0 ? { asked: log, ok: true } : { asked: log, ok: false, blamed: blame(r.stderr) };
    } finally {
      for (const s of servers.values()) delete (s.requests as { push?: unknown }).push;
      await go?.close();
    }
  }

  async function runGoark(goproxy: string, priv: string): Promise<Outcome> {
    const log: string[] = [];
    const chain = createChain(goproxy, {
      private: priv === "" ? undefined : priv,
      upstream: { retries: 0, requestTimeoutMs: 5000 },
      createUpstream: (url) => {
        const src = new ProxySource(url, { retries: 0, requestTimeoutMs: 5000 });
        const name = [...names, "R"].find((n) => urlOf(n) === url) ?? url;
        const info = src.info.bind(src);
        src.info = (m, q, o) => {
          // Like the servers' logs: a refused connection reaches no server.
          if (name !== "R") log.push(name);
          return info(m, q, o);
        };
        return src;
      },
    });
    try {
      await chain.info(MODULE, "v1.0.0");
      return { asked: log, ok: true };
    } catch (err) {
      return { asked: log, ok: false, blamed: blame((err as Error).message) };
    } finally {
      await chain.close();
    }
  }

  const cases: { goproxy: string; modes: Record<string, Mode>; private?: string }[] = [];
  const templates = [
    "A,B",
    "A|B",
    "A,,B",
    " A , B ",
    "A,|B",
    "A|,B",
    "A,B|C",
    "A|B,C",
    "A,off",
    "A|off",
    "off,A",
    "A,direct,B",
    "A|direct",
    "R|B",
    "R,B",
  ];
  const modeSets: Record<string, Mode>[] = [
    { A: "ok" },
    { A: "404" },
    { A: "410" },
    { A: "500" },
    { A: "404", B: "404" },
    { A: "500", B: "404" },
    { A: "404", B: "500" },
    { A: "500", B: "500" },
  ];
  for (const goproxy of templates) for (const modes of modeSets) cases.push({ goproxy, modes });
  cases.push({ goproxy: "A,B", modes: {}, private: "goark.invalid" });
  cases.push({ goproxy: "A|B,direct", modes: {}, private: "*.invalid" });
  cases.push({ goproxy: "off", modes: {}, private: "goark.invalid/m" });
  cases.push({ goproxy: "A,B", modes: { A: "404" }, private: "other.invalid" });

  test(`${cases.length} lists × behaviours agree`, { timeout: 600_000 }, async () => {
    const disagreements: string[] = [];
    for (const c of cases) {
      const goproxy = expand(c.goproxy);
      reset(c.modes);
      const env = { GOPRIVATE: c.private ?? "" };
      const want = await runGo(goproxy, env);
      reset(c.modes);
      const got = await runGoark(goproxy, c.private ?? "");
      const label = `GOPROXY=${JSON.stringify(c.goproxy)} modes=${JSON.stringify(c.modes)} private=${c.private ?? ""}`;
      try {
        assert.deepEqual(got, want);
      } catch {
        disagreements.push(`${label}\n  go:     ${JSON.stringify(want)}\n  goark:  ${JSON.stringify(got)}`);
      }
    }
    assert.deepEqual(disagreements, []);
    // The oracle really exercised both outcomes.
    assert.ok(cases.length > 100);
  });

  test("lists Go rejects are rejected", async () => {
    for (const goproxy of ["ftp://x", ",", " | ", "foo", "/abs/path", "file://host/x", "http:x"]) {
      const go = await GoClient.create({ proxy: goproxy });
      try {
        const r = await go.run(["list", "-m", "-json", `${MODULE}@v1.0.0`], { timeoutMs: 60_000 });
        assert.notEqual(r.code, 0, goproxy);
        assert.match(r.stderr, /proxy URL|GOPROXY list|parse/, goproxy);
        assert.throws(() => parseGoproxyList(goproxy), goproxy);
      } finally {
        await go.close();
      }
    }
  });

  test("host-like entries get https:// (the go command speaks TLS to them)", async () => {
    const a = servers.get("A")!;
    const hostPort = new URL(a.url).host;
    const go = await GoClient.create({ proxy: `${hostPort},,direct` });
    try {
      const r = await go.run(["list", "-m", "-json", `${MODULE}@v1.0.0`], { timeoutMs: 60_000 });
      assert.match(r.stderr, new RegExp(`https://${hostPort.replace(/\./g, "\\.")}/`));
    } finally {
      await go.close();
    }
    assert.deepEqual(
      parseGoproxyList(`${hostPort},,direct`).map((s) => s.url),
      [`https://${hostPort}`, "direct"],
    );
  });
});

describe("@latest fallback vs the go command", () => {
  let up: ScriptedUpstream;
  let body = "";
  before(async () => {
    up = await startScriptedUpstream((req, res) => {
      const url = req.url ?? "";
      if (url.endsWith("/@v/list")) return sendText(res, 200, body);
      const m = /\/@v\/(.+)\.info$/.exec(url);
      if (m)
        return sendText(res, 200, JSON.stringify({ Version: decodeURIComponent(m[1]!) }), "application/json");
      if (url.endsWith(".mod")) return sendText(res, 200, `module ${MODULE}\n`);
      return sendText(res, 404, "not found\n");
    });
  });
  after(async () => {
    await up.close();
  });

  const bodies = [
    "v0.0.0-20200101000000-aaaaaaaaaaaa\nv0.0.0-20210101000000-bbbbbbbbbbbb 2019-01-01T00:00:00Z\nv0.0.0-20190101000000-cccccccccccc\n",
    "v0.0.0-20200101000000-aaaaaaaaaaaa 2020-01-01T00:00:00Z\nv0.0.0-20190101000000-bbbbbbbbbbbb 2020-01-01T00:00:00Z\n",
    "v0.0.0-20200101000000-aaaaaaaaaaaa\nv0.0.0-20190101000000-bbbbbbbbbbbb 2022-01-01T3:00:00Z\n",
    "v0.0.0-20200101000000-aaaaaaaaaaaa\nv0.0.0-20190101000000-bbbbbbbbbbbb 2022-01-01T03:00:00z\n",
    "v0.0.0-20200101000000-aaaaaaaaaaaa\nv0.0.0-20190101000000-bbbbbbbbbbbb 2019-12-31T23:00:00-02:00\n",
    "junk\n\nv0.0.0-20190101000000-bbbbbbbbbbbb\tx\n v0.0.0-20180101000000-cccccccccccc \n",
    "junk\n",
    "",
  ];

  test("the same version is chosen from list when @latest is 404", { timeout: 300_000 }, async () => {
    const src = new ProxySource(up.url, { retries: 0 });
    const chosen: string[] = [];
    try {
      for (const b of bodies) {
        body = b;
        const go = await GoClient.create({ proxy: up.url });
        let want: string;
        try {
          const r = await go.run(["list", "-m", "-json", `${MODULE}@latest`], { timeoutMs: 60_000 });
          want = r.code === 0 ? (JSON.parse(r.stdout) as { Version: string }).Version : "error";
        } finally {
          await go.close();
        }
        const got = await src.latest(MODULE).then(
          (i) => i.Version,
          () => "error",
        );
        assert.equal(got, want, JSON.stringify(b));
        chosen.push(want);
      }
      // Guard against a vacuous oracle: Go picked versions, and failed where no line had a time.
      assert.deepEqual(chosen, [
        "v0.0.0-20200101000000-aaaaaaaaaaaa",
        "v0.0.0-20200101000000-aaaaaaaaaaaa",
        "v0.0.0-20190101000000-bbbbbbbbbbbb",
        "v0.0.0-20200101000000-aaaaaaaaaaaa",
        "v0.0.0-20190101000000-bbbbbbbbbbbb",
        "v0.0.0-20180101000000-cccccccccccc",
        "error",
        "error",
      ]);
    } finally {
      await src.close();
    }
  });
});
