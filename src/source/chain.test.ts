// Fall-through and error-reporting rules of Go's modfetch.TryProxies
// (PROTOCOL.md 1.11); chain.go-oracle.test.ts compares the same cases with
// the go command itself.
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import {
  refusedPort,
  type ScriptedUpstream,
  sendText,
  startScriptedUpstream,
} from "../../test/helpers/scripted-upstream.ts";
import {
  ConfigError,
  DisabledError,
  type GoarkError,
  GoneError,
  NotFoundError,
  TimeoutError,
  UnsupportedError,
  UpstreamError,
} from "../errors.ts";
import { CHAIN_ANSWER, type ChainAnswerEvent } from "../observability/events.ts";
import { createChain, OFF_MESSAGE, PRIVATE_MESSAGE, SourceChain } from "./chain.ts";
import { DIRECT_NOT_AVAILABLE } from "./direct-placeholder.ts";
import { MemorySource } from "./memory-source.ts";
import type { Source } from "./source.ts";

type Mode = "ok" | "404" | "410" | "500" | "timeout" | "refused";

function handlerFor(mode: Mode) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    switch (mode) {
      case "ok":
        return sendText(res, 200, JSON.stringify({ Version: "v1.0.0" }), "application/json");
      case "404":
        return sendText(res, 404, "not found\n");
      case "410":
        return sendText(res, 410, "gone\n");
      case "500":
        return sendText(res, 500, "boom\n");
      default:
        return; // timeout: never answers
    }
  };
}

describe("fall-through matrix over real upstreams", () => {
  let a: ScriptedUpstream;
  let b: ScriptedUpstream;
  let refused: string;
  before(async () => {
    a = await startScriptedUpstream();
    b = await startScriptedUpstream(handlerFor("ok"));
    refused = `http://127.0.0.1:${await refusedPort()}`;
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  const modes: Mode[] = ["ok", "404", "410", "500", "timeout", "refused"];
  const wantError: Record<Exclude<Mode, "ok">, new (...args: never[]) => GoarkError> = {
    "404": NotFoundError,
    "410": GoneError,
    "500": UpstreamError,
    timeout: TimeoutError,
    refused: UpstreamError,
  };
  for (const sep of [",", "|"]) {
    for (const mode of modes) {
      const fallsThrough = mode === "404" || mode === "410" || (sep === "|" && mode !== "ok");
      test(`A${sep}B with A answering ${mode}: ${mode === "ok" ? "A answers" : fallsThrough ? "B answers" : "A's error"}`, async () => {
        a.handle(handlerFor(mode));
        a.requests.length = 0;
        b.requests.length = 0;
        const first = mode === "refused" ? refused : a.url;
        const chain = createChain(`${first}${sep}${b.url}`, {
          upstream: { retries: 0, headersTimeoutMs: 300, requestTimeoutMs: 10_000 },
        });
        try {
          const answer = chain.lookup("info", "example.com/m", "v1.0.0", (s) =>
            s.info("example.com/m", "v1.0.0"),
          );
          if (mode === "ok" || fallsThrough) {
            const got = await answer;
            assert.equal(got.value.Version, "v1.0.0");
            assert.equal(got.source, mode === "ok" ? first : b.url);
          } else {
            await assert.rejects(answer, wantError[mode]);
          }
          assert.equal(b.requests.length, mode !== "ok" && fallsThrough ? 1 : 0);
        } finally {
          await chain.close();
        }
      });
    }
  }
});

/** A chain over memory sources named a, b, c, wired through createChain. */
function memoryChain(goproxy: string, sources: Record<string, Source>, opts: { private?: string } = {}) {
  return createChain(goproxy, {
    ...opts,
    createUpstream: (url) => {
      const s = sources[new URL(url).hostname.split(".")[0] ?? ""];
      assert.ok(s, url);
      return s;
    },
  });
}

const boom = (name: string) => new UpstreamError(`${name}: 500 Internal Server Error`);
const missing = (name: string) => new NotFoundError(`${name}: 404 Not Found`);

describe("which error is reported", () => {
  test("the last not-found when every entry says not found", async () => {
    const a = new MemorySource("a").fail("example.com/m", missing("a"));
    const b = new MemorySource("b").fail("example.com/m", new GoneError("b: 410 Gone"));
    await assert.rejects(memoryChain("a.example,b.example", { a, b }).list("example.com/m"), /b: 410 Gone/);
  });

  test("a proxy failure beats a later not-found", async () => {
    const a = new MemorySource("a").fail("example.com/m", boom("a"));
    const b = new MemorySource("b").fail("example.com/m", missing("b"));
    await assert.rejects(memoryChain("a.example|b.example", { a, b }).list("example.com/m"), /a: 500/);
  });

  test("a later proxy failure replaces an earlier one", async () => {
    const a = new MemorySource("a").fail("example.com/m", boom("a"));
    const b = new MemorySource("b").fail("example.com/m", boom("b"));
    await assert.rejects(memoryChain("a.example|b.example", { a, b }).list("example.com/m"), /b: 500/);
  });

  test("a not-found after a failure under , does not matter: the chain stopped", async () => {
    const a = new MemorySource("a").fail("example.com/m", boom("a"));
    const b = new MemorySource("b");
    await assert.rejects(memoryChain("a.example,b.example", { a, b }).list("example.com/m"), /a: 500/);
    assert.equal(b.calls.length, 0);
  });

  test("direct's error wins over proxy errors", async () => {
    const a = new MemorySource("a").fail("example.com/m", boom("a"));
    await assert.rejects(
      memoryChain("a.example|direct", { a }).info("example.com/m", "v1.0.0"),
      (e: unknown) => e instanceof UnsupportedError && e.message.includes(DIRECT_NOT_AVAILABLE),
    );
  });

  test("off refuses, and counts as not-found for the ranking", async () => {
    await assert.rejects(
      memoryChain("off", {}).latest("example.com/m"),
      (e: unknown) => e instanceof DisabledError && e.message === `example.com/m: ${OFF_MESSAGE}`,
    );
    const a = new MemorySource("a").fail("example.com/m", missing("a"));
    await assert.rejects(memoryChain("a.example,off", { a }).list("example.com/m"), DisabledError);
    const c = new MemorySource("c").fail("example.com/m", boom("c"));
    await assert.rejects(memoryChain("c.example|off", { c }).list("example.com/m"), /c: 500/);
  });

  test("a failing answer under , is final even when a later entry has it", async () => {
    const a = new MemorySource("a").fail("example.com/m", new TimeoutError("a: timed out"));
    const b = new MemorySource("b").addVersion("example.com/m", "v1.0.0");
    await assert.rejects(
      memoryChain("a.example,b.example", { a, b }).info("example.com/m", "v1.0.0"),
      TimeoutError,
    );
  });
});

describe("private modules", () => {
  test("never reach a proxy; they go to direct", async () => {
    const a = new MemorySource("a")
      .addVersion("git.corp.example/x", "v1.0.0")
      .addVersion("example.com/m", "v1.0.0");
    const chain = memoryChain("a.example,direct", { a }, { private: "*.corp.example" });
    await assert.rejects(chain.info("git.corp.example/x", "v1.0.0"), UnsupportedError);
    assert.equal(a.calls.length, 0);
    assert.equal((await chain.info("example.com/m", "v1.0.0")).Version, "v1.0.0");
    assert.equal(a.calls.length, 1);
  });

  test("go to direct through the hidden noproxy entry even when direct is not listed, or with off", async () => {
    const a = new MemorySource("a").addVersion("git.corp.example/x", "v1.0.0");
    for (const list of ["a.example", "a.example|a.example", "off"]) {
      const chain = memoryChain(list, { a }, { private: "git.corp.example" });
      await assert.rejects(chain.mod("git.corp.example/x", "v1.0.0"), UnsupportedError, list);
    }
    assert.equal(a.calls.length, 0);
  });

  test("with a custom direct source, the private refusal of proxies stays not-found", async () => {
    const a = new MemorySource("a").addVersion("git.corp.example/x", "v1.0.0");
    const direct = new MemorySource("direct").addVersion("git.corp.example/x", "v1.0.0");
    const chain = createChain("https://a.example", {
      private: "git.corp.example",
      direct,
      createUpstream: () => a,
    });
    assert.deepEqual(
      (
        await chain.lookup("info", "git.corp.example/x", "v1.0.0", (s) =>
          s.info("git.corp.example/x", "v1.0.0"),
        )
      ).source,
      "direct",
    );
    // Built by hand without a noproxy entry, a private module meets only refusals.
    const bare = new SourceChain([{ kind: "proxy", source: a, fallBackOnError: false }], {
      private: "git.corp.example",
    });
    await assert.rejects(
      bare.list("git.corp.example/x"),
      (e: unknown) => e instanceof NotFoundError && e.message.includes(PRIVATE_MESSAGE),
    );
    assert.equal(a.calls.length, 0);
  });
});

describe("reporting the answering source", () => {
  test("lookup returns the source name; onAnswer and the diagnostics channel see every try", async () => {
    const a = new MemorySource("a").fail("example.com/m", missing("a"));
    const b = new MemorySource("b").addVersion("example.com/m", "v1.0.0", {
      info: { Time: "2020-01-01T00:00:00Z" },
    });
    const hooked: ChainAnswerEvent[] = [];
    const published: ChainAnswerEvent[] = [];
    const listener = (m: unknown) => published.push(m as ChainAnswerEvent);
    diagnosticsChannel.subscribe(CHAIN_ANSWER, listener);
    try {
      const chain = createChain("https://a.example,https://b.example", {
        createUpstream: (url) => (url.includes("a.example") ? a : b),
        onAnswer: (e) => hooked.push(e),
      });
      const got = await chain.lookup("info", "example.com/m", "v1.0.0", (s) =>
        s.info("example.com/m", "v1.0.0"),
      );
      assert.deepEqual(got, { value: { Version: "v1.0.0", Time: "2020-01-01T00:00:00Z" }, source: "b" });
      const want: ChainAnswerEvent = {
        route: "info",
        module: "example.com/m",
        version: "v1.0.0",
        source: "b",
        tried: [{ source: "a", error: "NOT_FOUND" }, { source: "b" }],
      };
      assert.deepEqual(hooked, [want]);
      assert.deepEqual(published, [want]);
      await assert.rejects(chain.list("example.com/other"));
      assert.deepEqual(hooked[1], {
        route: "list",
        module: "example.com/other",
        tried: [
          { source: "a", error: "NOT_FOUND" },
          { source: "b", error: "NOT_FOUND" },
        ],
        error: "NOT_FOUND",
      });
    } finally {
      diagnosticsChannel.unsubscribe(CHAIN_ANSWER, listener);
    }
  });

  test("the chain's name spells the list", () => {
    const chain = memoryChain("a.example|b.example,direct", {
      a: new MemorySource("a"),
      b: new MemorySource("b"),
    });
    assert.equal(chain.name, "a|b,direct");
  });

  test("a cancelled lookup stops before the next entry", async () => {
    const ac = new AbortController();
    const a = new MemorySource("a");
    const b = new MemorySource("b").addVersion("example.com/m", "v1.0.0");
    const chain = memoryChain("a.example,b.example", { a, b });
    const op = (s: Source) => {
      if (s === a) ac.abort(new TimeoutError("client went away"));
      return s.info("example.com/m", "v1.0.0");
    };
    await assert.rejects(
      chain.lookup("info", "example.com/m", "v1.0.0", op, { signal: ac.signal }),
      TimeoutError,
    );
    assert.equal(b.calls.length, 0);
  });

  test("an empty chain is a configuration error", () => {
    assert.throws(() => new SourceChain([]), ConfigError);
    assert.throws(() => createChain(" , "), ConfigError);
  });
});

test("breaker + `|`: a failing primary is skipped, the backup answers at once", async () => {
  const primary = await startScriptedUpstream(handlerFor("500"));
  const backup = await startScriptedUpstream(handlerFor("ok"));
  const chain = createChain(`${primary.url}|${backup.url}`, {
    upstream: { retries: 0, health: { failureThreshold: 2, cooldownMs: 60_000 } },
  });
  try {
    for (let i = 0; i < 5; i++) assert.equal((await chain.info("example.com/m", "v1.0.0")).Version, "v1.0.0");
    assert.equal(primary.requests.length, 2);
    assert.equal(backup.requests.length, 5);
  } finally {
    await chain.close();
    await primary.close();
    await backup.close();
  }
});
