import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import {
  notFound,
  refusedPort,
  type ScriptedUpstream,
  sendText,
  startScriptedUpstream,
} from "../../test/helpers/scripted-upstream.ts";
import {
  GoneError,
  InvalidInfoError,
  InvalidVersionError,
  NotFoundError,
  TimeoutError,
  TooLargeError,
  UpstreamError,
} from "../errors.ts";
import {
  UPSTREAM_HEALTH,
  UPSTREAM_REQUEST,
  type UpstreamHealthEvent,
  type UpstreamRequestEvent,
} from "../observability/events.ts";
import { ConcurrencyLimit } from "./concurrency-limit.ts";
import { backoffDelay, ProxySource, type ProxySourceOptions, resolveInsideRoot } from "./proxy-source.ts";

const fast: ProxySourceOptions = {
  connectTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  readTimeoutMs: 1000,
  requestTimeoutMs: 3000,
  retries: 0,
  retryBaseDelayMs: 5,
  retryMaxDelayMs: 20,
};

const sources: ProxySource[] = [];
function source(url: string, opts: ProxySourceOptions = {}): ProxySource {
  const s = new ProxySource(url, { ...fast, ...opts });
  sources.push(s);
  return s;
}

let up: ScriptedUpstream;
before(async () => {
  up = await startScriptedUpstream();
});
after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await up.close();
});

function fresh(handler: Parameters<ScriptedUpstream["handle"]>[0]): void {
  up.requests.length = 0;
  up.handle(handler);
}

function json(res: ServerResponse, value: unknown): void {
  sendText(res, 200, JSON.stringify(value), "application/json");
}

function collectEvents(): { events: UpstreamRequestEvent[]; stop: () => void } {
  const events: UpstreamRequestEvent[] = [];
  const listener = (m: unknown) => events.push(m as UpstreamRequestEvent);
  diagnosticsChannel.subscribe(UPSTREAM_REQUEST, listener);
  return { events, stop: () => diagnosticsChannel.unsubscribe(UPSTREAM_REQUEST, listener) };
}

describe("request paths", () => {
  test("module and version are case-escaped, then URL-escaped like Go's pathEscape", async () => {
    fresh((_req, res) => json(res, { Version: "v1.0.0-RC1" }));
    await source(up.url).info("example.com/Upper/M", "v1.0.0-RC1");
    // The go command (1.19.8) requested exactly this path for the same module and version.
    assert.deepEqual(up.requests, ["/example.com/%21upper/%21m/@v/v1.0.0-%21r%21c1.info"]);
  });

  test("the base path (trailing slash trimmed) and query are kept", async () => {
    fresh((_req, res) => sendText(res, 200, ""));
    await source(`${up.url}/base/path/?token=abc`).list("example.com/m");
    assert.deepEqual(up.requests, ["/base/path/example.com/m/@v/list?token=abc"]);
  });

  test("every route has its path", async () => {
    fresh((req, res) => {
      if (req.url?.endsWith(".info") || req.url?.endsWith("@latest")) json(res, { Version: "v1.0.0" });
      else sendText(res, 200, "module example.com/m\n");
    });
    const s = source(up.url);
    await s.list("example.com/m");
    await s.latest("example.com/m");
    await s.info("example.com/m", "master");
    await s.mod("example.com/m", "v1.0.0");
    const zip = await s.zip("example.com/m", "v1.0.0");
    zip.body.resume();
    assert.deepEqual(up.requests, [
      "/example.com/m/@v/list",
      "/example.com/m/@latest",
      "/example.com/m/@v/master.info",
      "/example.com/m/@v/v1.0.0.mod",
      "/example.com/m/@v/v1.0.0.zip",
    ]);
  });

  test("an invalid path or query never reaches the network", async () => {
    fresh(notFound);
    const s = source(up.url);
    await assert.rejects(s.info("example.com/m", "../../../etc/passwd"), InvalidVersionError);
    await assert.rejects(s.list("Example.com/m"), (e: Error) => e.name === "InvalidPathError");
    assert.deepEqual(up.requests, []);
  });
});

describe("answers", () => {
  test("list keeps valid, non-pseudo versions with their times, split like the go client", async () => {
    fresh((_req, res) =>
      sendText(
        res,
        200,
        "v1.0.0\nv1.1.0 2020-01-02T03:04:05Z\n\n  v1.2.0\t extra fields \r\nnot-a-version\nv0.0.0-20200101000000-abcdefabcdef\nv1.3\n",
      ),
    );
    assert.deepEqual(await source(up.url).list("example.com/m"), [
      { version: "v1.0.0" },
      { version: "v1.1.0", time: "2020-01-02T03:04:05Z" },
      { version: "v1.2.0", time: "extra" },
      { version: "v1.3" },
    ]);
  });

  test(".info must be a JSON object with a Version string", async () => {
    const s = source(up.url);
    for (const body of ["not json", "[]", "null", '{"Version": 3}', '{"Time":"2020-01-01T00:00:00Z"}']) {
      fresh((_req, res) => sendText(res, 200, body, "application/json"));
      await assert.rejects(s.info("example.com/m", "v1.0.0"), InvalidInfoError, body);
    }
    fresh((_req, res) =>
      json(res, { Version: "v1.0.0", Time: "2020-01-01T00:00:00Z", Origin: { VCS: "git" } }),
    );
    assert.deepEqual(await s.info("example.com/m", "v1.0.0"), {
      Version: "v1.0.0",
      Time: "2020-01-01T00:00:00Z",
      Origin: { VCS: "git" },
    });
  });

  test("404 and 410 map to NotFound and Gone with the upstream's first line", async () => {
    const s = source(up.url);
    fresh((_req, res) => sendText(res, 404, "not found: unknown revision v9.9.9\nsecond line\n"));
    await assert.rejects(
      s.info("example.com/m", "v9.9.9"),
      (e: unknown) =>
        e instanceof NotFoundError &&
        e.message ===
          `GET ${up.url}/example.com/m/@v/v9.9.9.info: 404 Not Found: not found: unknown revision v9.9.9` &&
        e.module === "example.com/m" &&
        e.version === "v9.9.9",
    );
    fresh((_req, res) => sendText(res, 410, "gone: removed\n"));
    await assert.rejects(
      s.mod("example.com/m", "v1.0.0"),
      (e: unknown) => e instanceof GoneError && /gone: removed$/.test(e.message),
    );
  });

  test("error bodies that are not safe plain text are not repeated", async () => {
    const s = source(up.url);
    for (const [body, type] of [
      ["evil \u001b[31m red", "text/plain"],
      ["<html>not found</html>", "text/html"],
      ["latin1", "text/plain; charset=iso-8859-1"],
    ]) {
      fresh((_req, res) => sendText(res, 404, body as string, type));
      await assert.rejects(
        s.list("example.com/m"),
        (e: unknown) => e instanceof NotFoundError && /404 Not Found$/.test(e.message),
      );
    }
  });

  test("403 and other 4xx are upstream errors and are not retried", async () => {
    fresh((_req, res) => sendText(res, 403, "forbidden\n"));
    await assert.rejects(source(up.url, { retries: 2 }).list("example.com/m"), UpstreamError);
    assert.equal(up.requests.length, 1);
  });

  test("redirects are followed, a bounded number of times", async () => {
    fresh((req, res) => {
      if (req.url === "/example.com/m/@v/list") {
        res.writeHead(302, { location: "/elsewhere/list" });
        res.end();
      } else sendText(res, 200, "v1.0.0\n");
    });
    assert.deepEqual(await source(up.url).list("example.com/m"), [{ version: "v1.0.0" }]);
    fresh((_req, res) => {
      res.writeHead(307, { location: "/loop" });
      res.end();
    });
    await assert.rejects(
      source(up.url).list("example.com/m"),
      (e: unknown) => e instanceof UpstreamError && /10 redirects/.test(e.message),
    );
    assert.equal(up.requests.length, 11);
  });
});

describe("@latest", () => {
  test("a 200 @latest is used as is", async () => {
    fresh((_req, res) => json(res, { Version: "v1.4.0", Time: "2020-01-01T00:00:00Z" }));
    assert.equal((await source(up.url).latest("example.com/m")).Version, "v1.4.0");
    assert.deepEqual(up.requests, ["/example.com/m/@latest"]);
  });

  test("a 404 @latest falls back to the newest timestamped list line, then its .info", async () => {
    fresh((req, res) => {
      if (req.url?.endsWith("/@v/list")) {
        sendText(
          res,
          200,
          "v0.0.0-20200101000000-aaaaaaaaaaaa\nv0.0.0-20210101000000-bbbbbbbbbbbb\nv1.0.0\nv0.0.0-20190101000000-cccccccccccc\n",
        );
      } else if (req.url?.endsWith(".info")) json(res, { Version: "v0.0.0-20210101000000-bbbbbbbbbbbb" });
      else notFound(req, res);
    });
    assert.equal(
      (await source(up.url).latest("example.com/m")).Version,
      "v0.0.0-20210101000000-bbbbbbbbbbbb",
    );
    assert.deepEqual(up.requests, [
      "/example.com/m/@latest",
      "/example.com/m/@v/list",
      "/example.com/m/@v/v0.0.0-20210101000000-bbbbbbbbbbbb.info",
    ]);
  });

  test("no usable line is a not-found 'no commits'", async () => {
    fresh((req, res) =>
      req.url?.endsWith("/@v/list") ? sendText(res, 200, "v1.0.0\n") : notFound(req, res),
    );
    await assert.rejects(
      source(up.url).latest("example.com/m"),
      (e: unknown) => e instanceof NotFoundError && /no commits/.test(e.message),
    );
  });

  test("a failing @latest (not 404/410) does not fall back", async () => {
    fresh((_req, res) => sendText(res, 500, "boom\n"));
    await assert.rejects(source(up.url).latest("example.com/m"), UpstreamError);
    assert.deepEqual(up.requests, ["/example.com/m/@latest"]);
  });

  test("the fallback can be turned off", async () => {
    fresh(notFound);
    await assert.rejects(source(up.url, { latestFromList: false }).latest("example.com/m"), NotFoundError);
    assert.deepEqual(up.requests, ["/example.com/m/@latest"]);
  });
});

describe("retries", () => {
  test("5xx is retried a bounded number of times with jittered, growing delays", async () => {
    const times: number[] = [];
    fresh((_req, res) => {
      times.push(performance.now());
      sendText(res, 503, "busy\n");
    });
    const randoms = [0, 1];
    const s = source(up.url, {
      retries: 2,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 1000,
      random: () => randoms.shift() ?? 0.5,
    });
    const { events, stop } = collectEvents();
    await assert.rejects(s.list("example.com/m"), UpstreamError);
    stop();
    assert.equal(up.requests.length, 3);
    // Attempt 1 waits 100 ms × [0.5, 1] with random 0 → 50 ms; attempt 2 waits 200 ms × [0.5, 1] with random 1 → 200 ms.
    // Timers only promise lower bounds; the exact values are checked on backoffDelay below.
    const gap1 = times[1]! - times[0]!;
    const gap2 = times[2]! - times[1]!;
    assert.ok(gap1 >= 48, `first backoff ${gap1}`);
    assert.ok(gap2 >= 198, `second backoff ${gap2}`);
    const mine = events.filter((e) => e.upstream === s.name);
    assert.deepEqual(
      mine.map((e) => [e.attempt, e.status, e.error, e.route]),
      [
        [1, 503, "UPSTREAM", "list"],
        [2, 503, "UPSTREAM", "list"],
        [3, 503, "UPSTREAM", "list"],
      ],
    );
  });

  test("backoff doubles up to the cap and keeps a random 50–100 % of each step", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, 200, 2000, 0)),
      [100, 200, 400, 800, 1000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, 200, 2000, 0.999999)).map(Math.round),
      [200, 400, 800, 1600, 2000],
    );
    assert.equal(backoffDelay(2, 200, 2000, 0.5), 300);
  });

  test("a transient failure followed by success is invisible to the caller", async () => {
    let n = 0;
    fresh((_req, res) => (n++ === 0 ? sendText(res, 502, "bad gateway\n") : sendText(res, 200, "v1.0.0\n")));
    assert.deepEqual(await source(up.url, { retries: 2 }).list("example.com/m"), [{ version: "v1.0.0" }]);
    assert.equal(up.requests.length, 2);
  });

  test("404 is an answer, never retried", async () => {
    fresh(notFound);
    await assert.rejects(source(up.url, { retries: 2 }).list("example.com/m"), NotFoundError);
    assert.equal(up.requests.length, 1);
  });

  test("connection refused is an upstream error, retried", async () => {
    const port = await refusedPort();
    const s = source(`http://127.0.0.1:${port}`, { retries: 1 });
    const { events, stop } = collectEvents();
    await assert.rejects(
      s.list("example.com/m"),
      (e: unknown) => e instanceof UpstreamError && /ECONNREFUSED/.test(e.message),
    );
    stop();
    assert.deepEqual(
      events.filter((e) => e.upstream === s.name).map((e) => e.attempt),
      [1, 2],
    );
  });

  test("a caller's abort stops at once, without retries", async () => {
    fresh(() => {}); // never answers
    const ac = new AbortController();
    const p = source(up.url, { retries: 3 }).list("example.com/m", { signal: ac.signal });
    for (let i = 0; i < 200 && up.requests.length === 0; i++) await sleep(10);
    ac.abort();
    await assert.rejects(p, UpstreamError);
    assert.equal(up.requests.length, 1);
  });
});

describe("timeouts", () => {
  test("no response headers in time → TimeoutError", async () => {
    fresh(() => {});
    await assert.rejects(
      source(up.url, { headersTimeoutMs: 100 }).info("example.com/m", "v1.0.0"),
      (e: unknown) => e instanceof TimeoutError && /headers/.test(e.message),
    );
  });

  test("a body that stalls longer than the read timeout → TimeoutError", async () => {
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"Vers');
      // then nothing
    });
    await assert.rejects(
      source(up.url, { readTimeoutMs: 150 }).info("example.com/m", "v1.0.0"),
      (e: unknown) => e instanceof TimeoutError && /stalled/.test(e.message),
    );
  });

  test("a slow trickle that never stalls still ends at the request deadline", async () => {
    let writes = 0;
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => {
        if (writes++ > 200 || res.destroyed) {
          clearInterval(timer);
          res.end();
        } else res.write(" ");
      }, 10);
      res.on("close", () => clearInterval(timer));
    });
    const started = performance.now();
    await assert.rejects(
      source(up.url, { readTimeoutMs: 1000, requestTimeoutMs: 250 }).info("example.com/m", "v1.0.0"),
      (e: unknown) => e instanceof TimeoutError && /250 ms/.test(e.message),
    );
    assert.ok(performance.now() - started < 1500);
  });

  test("a stalled zip body fails the stream with TimeoutError", async () => {
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/zip" });
      res.write(Buffer.alloc(10));
    });
    const { body } = await source(up.url, { readTimeoutMs: 150 }).zip("example.com/m", "v1.0.0");
    await assert.rejects(async () => {
      for await (const _ of body) {
        // drain
      }
    }, TimeoutError);
  });
});

describe("size limits", () => {
  test("a declared oversize .info is refused before reading", async () => {
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 2 << 20 });
      res.end();
    });
    await assert.rejects(source(up.url).info("example.com/m", "v1.0.0"), TooLargeError);
  });

  test("an endless .info body is cut off at the limit", async () => {
    let sent = 0;
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(16 << 10, 0x20);
      const pump = () => {
        // Bounded: stops at 64 MiB even if nobody cuts it off.
        while (sent < 64 << 20 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    await assert.rejects(
      source(up.url, { limits: { info: 100 << 10 } }).info("example.com/m", "v1.0.0"),
      (e: unknown) => e instanceof TooLargeError && /100 KiB|102400 bytes/.test(e.message),
    );
    assert.ok(sent < 64 << 20);
  });

  test("an endless zip stream errors with TooLargeError past the zip limit", async () => {
    let sent = 0;
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/zip" });
      const chunk = Buffer.alloc(64 << 10, 1);
      const pump = () => {
        while (sent < 256 << 20 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    const { body } = await source(up.url, { limits: { zip: 1 << 20 } }).zip("example.com/m", "v1.0.0");
    let received = 0;
    await assert.rejects(async () => {
      for await (const chunk of body) received += (chunk as Buffer).length;
    }, TooLargeError);
    assert.ok(received <= 1 << 20, `received ${received}`);
    assert.ok(sent < 256 << 20);
  });

  test("a declared oversize zip is refused before streaming", async () => {
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/zip", "content-length": 2 << 20 });
      res.end();
    });
    await assert.rejects(
      source(up.url, { limits: { zip: 1 << 20 } }).zip("example.com/m", "v1.0.0"),
      TooLargeError,
    );
  });

  test("a zip within the limit streams whole, with its size", async () => {
    const bytes = Buffer.from("PK\u0005\u0006".padEnd(22, "\0"), "latin1");
    fresh((_req, res) => {
      res.writeHead(200, { "content-type": "application/zip", "content-length": bytes.length });
      res.end(bytes);
    });
    const { body, size } = await source(up.url).zip("example.com/m", "v1.0.0");
    const got: Buffer[] = [];
    for await (const c of body) got.push(c as Buffer);
    assert.equal(size, bytes.length);
    assert.deepEqual(Buffer.concat(got), bytes);
  });
});

describe("health", () => {
  test("consecutive failures open the breaker; after the cooldown one probe goes through", async () => {
    let now = 1_000_000;
    let status = 500;
    fresh((_req, res) => sendText(res, status, status === 200 ? "v1.0.0\n" : "boom\n"));
    const s = source(up.url, { health: { failureThreshold: 2, cooldownMs: 5000, now: () => now } });
    const states: UpstreamHealthEvent[] = [];
    const onHealth = (m: unknown) => {
      if ((m as UpstreamHealthEvent).upstream === s.name) states.push(m as UpstreamHealthEvent);
    };
    diagnosticsChannel.subscribe(UPSTREAM_HEALTH, onHealth);
    const { events, stop } = collectEvents();
    await assert.rejects(s.list("example.com/m"), UpstreamError);
    await assert.rejects(s.list("example.com/m"), UpstreamError);
    assert.equal(s.health.state, "open");
    await assert.rejects(
      s.list("example.com/m"),
      (e: unknown) =>
        e instanceof UpstreamError &&
        /skipped after 2 consecutive failures; next probe in 5s/.test(e.message),
    );
    assert.equal(up.requests.length, 2);

    now += 5001;
    status = 200;
    // Half-open: the first caller probes, a concurrent one is still skipped.
    const probe = s.list("example.com/m");
    await assert.rejects(
      s.list("example.com/m"),
      (e: unknown) => e instanceof UpstreamError && /probe is in flight/.test(e.message),
    );
    assert.deepEqual(await probe, [{ version: "v1.0.0" }]);
    assert.equal(s.health.state, "closed");
    assert.equal(up.requests.length, 3);
    diagnosticsChannel.unsubscribe(UPSTREAM_HEALTH, onHealth);
    stop();
    assert.deepEqual(
      states.map((e) => [e.state, e.consecutiveFailures]),
      [
        ["open", 2],
        ["half-open", 2],
        ["closed", 0],
      ],
    );
    assert.deepEqual(
      events.filter((e) => e.upstream === s.name).map((e) => [e.attempt, e.status, e.error]),
      [
        [1, 500, "UPSTREAM"],
        [1, 500, "UPSTREAM"],
        [0, undefined, "UPSTREAM"],
        [0, undefined, "UPSTREAM"],
        [1, 200, undefined],
      ],
    );
  });

  test("a failed probe opens the breaker again", async () => {
    let now = 0;
    fresh((_req, res) => sendText(res, 500, "boom\n"));
    const s = source(up.url, { health: { failureThreshold: 1, cooldownMs: 1000, now: () => now } });
    await assert.rejects(s.list("example.com/m"), UpstreamError);
    now += 1001;
    await assert.rejects(s.list("example.com/m"), UpstreamError);
    assert.equal(s.health.state, "open");
    await assert.rejects(s.list("example.com/m"), /skipped/);
    assert.equal(up.requests.length, 2);
  });

  test("404 and 410 are answers, not failures", async () => {
    fresh(notFound);
    const s = source(up.url, { health: { failureThreshold: 2 } });
    for (let i = 0; i < 5; i++) await assert.rejects(s.list("example.com/m"), NotFoundError);
    assert.equal(s.health.state, "closed");
    assert.equal(up.requests.length, 5);
  });
});

test("the concurrency cap bounds simultaneous fetches", async () => {
  let active = 0;
  let peak = 0;
  fresh(async (_req, res) => {
    active++;
    peak = Math.max(peak, active);
    await sleep(40);
    active--;
    sendText(res, 200, "v1.0.0\n");
  });
  const limit = new ConcurrencyLimit(2);
  const a = source(up.url, { limit });
  const b = source(up.url, { limit });
  await Promise.all([1, 2, 3, 4, 5, 6].map((i) => (i % 2 ? a : b).list(`example.com/m${i}`)));
  assert.equal(peak, 2);
  assert.equal(up.requests.length, 6);
});

describe("file:// upstreams", () => {
  let root: string;
  let outside: string;
  before(async () => {
    const base = await mkdtemp(join(tmpdir(), "goark-file-proxy-"));
    root = join(base, "tree");
    outside = join(base, "outside");
    await mkdir(join(root, "example.com/!upper/m/@v"), { recursive: true });
    await mkdir(join(root, "example.com/evil/@v"), { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, "secret.info"), '{"Version":"v6.6.6"}');
    const v = join(root, "example.com/!upper/m/@v");
    await writeFile(join(v, "list"), "v1.0.0\n");
    await writeFile(join(v, "v1.0.0.info"), '{"Version":"v1.0.0","Time":"2020-01-01T00:00:00Z"}');
    await writeFile(join(v, "v1.0.0.mod"), "module example.com/Upper/m\n");
    await writeFile(join(v, "v1.0.0.zip"), "zipbytes");
    await symlink(join(outside, "secret.info"), join(root, "example.com/evil/@v/v1.0.0.info"));
  });
  after(async () => {
    await rm(join(root, ".."), { recursive: true, force: true });
  });

  test("serves the same layout as HTTP", async () => {
    const s = source(pathToFileURL(root).href);
    assert.deepEqual(await s.list("example.com/Upper/m"), [{ version: "v1.0.0" }]);
    assert.equal((await s.info("example.com/Upper/m", "v1.0.0")).Time, "2020-01-01T00:00:00Z");
    assert.equal((await s.mod("example.com/Upper/m", "v1.0.0")).toString(), "module example.com/Upper/m\n");
    const zip = await s.zip("example.com/Upper/m", "v1.0.0");
    const chunks: Buffer[] = [];
    for await (const c of zip.body) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "zipbytes");
    assert.equal(zip.size, 8);
  });

  test("missing files are not found", async () => {
    const s = source(pathToFileURL(root).href);
    await assert.rejects(s.info("example.com/Upper/m", "v2.0.0"), NotFoundError);
    await assert.rejects(s.list("example.com/nothing"), NotFoundError);
    await assert.rejects(
      source(pathToFileURL(join(root, "missing-root")).href).list("example.com/m"),
      NotFoundError,
    );
  });

  test("a symlink leading out of the tree is refused", async () => {
    await assert.rejects(
      source(pathToFileURL(root).href).info("example.com/evil", "v1.0.0"),
      (e: unknown) => e instanceof UpstreamError && /403 Forbidden/.test(e.message),
    );
  });

  test("traversal in a query is rejected before the file system", async () => {
    const s = source(pathToFileURL(root).href);
    await assert.rejects(s.info("example.com/Upper/m", "../../../outside/secret"), InvalidVersionError);
    await assert.rejects(s.info("example.com/Upper/m", ".."), InvalidVersionError);
  });

  test("resolveInsideRoot keeps paths inside the root", () => {
    assert.equal(resolveInsideRoot("/srv/tree", "example.com/m/@v/list"), "/srv/tree/example.com/m/@v/list");
    for (const rel of ["../x", "a/../../x", "/etc/passwd", "", ".", "a/../..", "x\0y"]) {
      assert.equal(resolveInsideRoot("/srv/tree", rel), undefined, rel);
    }
  });
});
