import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError } from "../errors.ts";
import { loadConfig, loadConfigDetailed } from "./load.ts";
import { OPTIONS } from "./options.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "goark-config-"));
}

/** Asserts that loading throws a one-line ConfigError mentioning every fragment. */
function assertConfigError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.message.includes("\n"), false, `not one line: ${err.message}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" lacks "${f}"`);
    return true;
  });
}

describe("loadConfig defaults", () => {
  test("every default is valid and typed", () => {
    const cwd = tempDir();
    const c = loadConfig({ env: {}, cwd });
    assert.deepEqual(c.listen, { host: "127.0.0.1", port: 3000 });
    assert.deepEqual(c.storage, { kind: "disk", path: join(cwd, "goark-data") });
    assert.equal(c.upstream, "https://proxy.golang.org,direct");
    assert.equal(c.sumdb, "sum.golang.org");
    assert.equal(c.private, "");
    assert.equal(c.offline, false);
    assert.equal(c.logLevel, "info");
    assert.equal(c.listTtl, 60_000);
    assert.equal(c.notFoundTtl, 60_000);
    assert.equal(c.prefetchZips, false);
    assert.equal(c.upstreamConnectTimeout, 10_000);
    assert.equal(c.upstreamTimeout, 30_000);
    assert.equal(c.upstreamRetries, 2);
    assert.equal(c.upstreamConcurrency, 16);
    assert.equal(c.shutdownTimeout, 25_000);
    assert.equal(c.memoryCacheBytes, 64 * 1024 * 1024);
  });

  test("the option table names every key once, with flag and env twins", () => {
    const c = loadConfig({ env: {}, cwd: tempDir() });
    assert.deepEqual(OPTIONS.map((o) => o.name).sort(), Object.keys(c).sort());
    const listTtl = OPTIONS.find((o) => o.name === "listTtl")!;
    assert.equal(listTtl.flag, "--list-ttl");
    assert.equal(listTtl.env, "GOARK_LIST_TTL");
    assert.equal(new Set(OPTIONS.map((o) => o.env)).size, OPTIONS.length);
  });
});

describe("loadConfig precedence: flags > env > file > defaults", () => {
  const cwd = tempDir();
  writeFileSync(
    join(cwd, "goark.yaml"),
    "listTtl: 10s\nupstreamRetries: 5\noffline: true\nlogLevel: debug\n",
  );
  const env = { GOARK_LIST_TTL: "20s", GOARK_UPSTREAM_RETRIES: "6" };

  test("flag wins over env and file", () => {
    const l = loadConfigDetailed({ flags: { listTtl: "30s" }, env, cwd });
    assert.equal(l.config.listTtl, 30_000);
    assert.equal(l.origin.listTtl, "flag");
    assert.equal(l.config.upstreamRetries, 6);
    assert.equal(l.origin.upstreamRetries, "env");
    assert.equal(l.config.logLevel, "debug");
    assert.equal(l.origin.logLevel, "file");
    assert.equal(l.config.listen.port, 3000);
    assert.equal(l.origin.listen, "default");
    assert.equal(l.file, join(cwd, "goark.yaml"));
  });

  test("env wins over file; the file over defaults", () => {
    assert.equal(loadConfig({ env, cwd }).listTtl, 20_000);
    assert.equal(loadConfig({ env: {}, cwd }).listTtl, 10_000);
  });

  test("a false flag overrides a true from the file", () => {
    assert.equal(loadConfig({ env: {}, cwd }).offline, true);
    assert.equal(loadConfig({ flags: { offline: false }, env: {}, cwd }).offline, false);
  });

  test("an empty environment variable counts as unset", () => {
    assert.equal(loadConfig({ env: { GOARK_LIST_TTL: "" }, cwd }).listTtl, 10_000);
  });

  test("flags that are not options are ignored", () => {
    assert.equal(loadConfig({ flags: { json: true, module: "x" }, env: {}, cwd }).listTtl, 10_000);
  });

  test("--config, then GOARK_CONFIG, choose the file; ./goark.yaml only when neither does", () => {
    const other = join(cwd, "other.yaml");
    writeFileSync(other, "listTtl: 2m\n");
    assert.equal(loadConfig({ flags: { config: "other.yaml" }, env: {}, cwd }).listTtl, 120_000);
    assert.equal(loadConfig({ env: { GOARK_CONFIG: other }, cwd }).listTtl, 120_000);
    const withBoth = loadConfigDetailed({
      flags: { config: other },
      env: { GOARK_CONFIG: "nope.yaml" },
      cwd,
    });
    assert.equal(withBoth.file, other);
    assert.equal(loadConfigDetailed({ env: {}, cwd: tempDir() }).file, undefined);
  });

  test("a relative storage path is relative to the file that sets it, else to cwd", () => {
    const dir = tempDir();
    const sub = join(dir, "etc");
    writeFileSync(join(dir, "g.yaml"), "storage: data\n");
    assert.deepEqual(loadConfig({ flags: { config: join(dir, "g.yaml") }, env: {}, cwd: sub }).storage, {
      kind: "disk",
      path: join(dir, "data"),
    });
    assert.deepEqual(loadConfig({ env: { GOARK_STORAGE: "data" }, cwd: sub }).storage, {
      kind: "disk",
      path: join(sub, "data"),
    });
  });
});

describe("loadConfig rejects invalid values from every layer, naming key, layer and rule", () => {
  const cwd = tempDir();

  test("flags", () => {
    assertConfigError(
      () => loadConfig({ flags: { listTtl: "5x" }, env: {}, cwd }),
      "listTtl",
      "--list-ttl",
      "duration",
    );
    assertConfigError(
      () => loadConfig({ flags: { listen: "localhost" }, env: {}, cwd }),
      "listen",
      "--listen",
      "host:port",
    );
  });

  test("environment", () => {
    assertConfigError(
      () => loadConfig({ env: { GOARK_LOG_LEVEL: "loud" }, cwd }),
      "logLevel",
      "GOARK_LOG_LEVEL",
      "one of",
    );
    assertConfigError(
      () => loadConfig({ env: { GOARK_UPSTREAM_RETRIES: "-1" }, cwd }),
      "upstreamRetries",
      "GOARK_UPSTREAM_RETRIES",
      "integer from 0 to 10",
    );
  });

  test("file values, with file:key", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "goark.yaml"), "memoryCacheBytes: lots\n");
    assertConfigError(
      () => loadConfig({ env: {}, cwd: dir }),
      "memoryCacheBytes",
      "goark.yaml:memoryCacheBytes",
      "byte size",
    );
    writeFileSync(join(dir, "goark.yaml"), "listTtl: 300\n");
    assertConfigError(() => loadConfig({ env: {}, cwd: dir }), "goark.yaml:listTtl", "duration");
  });

  test("an invalid lower layer is reported even when a higher one overrides it", () => {
    assertConfigError(
      () => loadConfig({ flags: { listTtl: "1m" }, env: { GOARK_LIST_TTL: "soon" }, cwd }),
      "GOARK_LIST_TTL",
    );
  });

  test("unknown keys, bad YAML, a non-mapping, a missing file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "goark.yaml"), "listen: 127.0.0.1:1\nlistTTL: 5m\n");
    assertConfigError(() => loadConfig({ env: {}, cwd: dir }), "listTTL", "goark.yaml", "unknown key");
    writeFileSync(join(dir, "goark.yaml"), "listen: [1\n");
    assertConfigError(() => loadConfig({ env: {}, cwd: dir }), "goark.yaml", "YAML");
    writeFileSync(join(dir, "goark.yaml"), "- a\n- b\n");
    assertConfigError(() => loadConfig({ env: {}, cwd: dir }), "goark.yaml", "mapping");
    writeFileSync(join(dir, "goark.yaml"), "listTtl: 1m\nlistTtl: 2m\n");
    assertConfigError(() => loadConfig({ env: {}, cwd: dir }), "goark.yaml");
    assertConfigError(
      () => loadConfig({ flags: { config: "absent.yaml" }, env: {}, cwd: dir }),
      "absent.yaml",
      "ENOENT",
    );
  });

  test("an empty file is no settings", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "goark.yaml"), "# nothing yet\n");
    assert.equal(loadConfig({ env: {}, cwd: dir }).listTtl, 60_000);
  });
});

describe("value syntax", () => {
  const cwd = tempDir();
  const with_ = (flags: Record<string, unknown>) => loadConfig({ flags, env: {}, cwd });

  test("durations", () => {
    assert.equal(with_({ listTtl: "30s" }).listTtl, 30_000);
    assert.equal(with_({ listTtl: "1h30m" }).listTtl, 5_400_000);
    assert.equal(with_({ listTtl: "250ms" }).listTtl, 250);
    assert.equal(with_({ listTtl: "1.5s" }).listTtl, 1500);
    assert.equal(with_({ listTtl: "0" }).listTtl, 0);
    for (const bad of ["", "30", "5 m", "-5m", "5mm", "m", "1h-30m"])
      assertConfigError(() => with_({ listTtl: bad }), "listTtl");
  });

  test("byte sizes", () => {
    assert.equal(with_({ memoryCacheBytes: "0" }).memoryCacheBytes, 0);
    assert.equal(with_({ memoryCacheBytes: "512KiB" }).memoryCacheBytes, 512 * 1024);
    assert.equal(with_({ memoryCacheBytes: "2MB" }).memoryCacheBytes, 2_000_000);
    assert.equal(with_({ memoryCacheBytes: "1gib" }).memoryCacheBytes, 2 ** 30);
    for (const bad of ["1.5", "12 parsecs", "-1", "MiB"])
      assertConfigError(() => with_({ memoryCacheBytes: bad }), "memoryCacheBytes");
  });

  test("booleans", () => {
    for (const yes of ["true", "1", "yes", "on", "TRUE"]) assert.equal(with_({ offline: yes }).offline, true);
    for (const no of ["false", "0", "no", "off"]) assert.equal(with_({ offline: no }).offline, false);
    assertConfigError(() => with_({ offline: "maybe" }), "offline");
  });

  test("listen addresses", () => {
    assert.deepEqual(with_({ listen: "[::1]:8080" }).listen, { host: "::1", port: 8080 });
    assert.deepEqual(with_({ listen: ":0" }).listen, { host: "", port: 0 });
    assert.deepEqual(with_({ listen: "proxy.internal:443" }).listen, { host: "proxy.internal", port: 443 });
    for (const bad of ["3000", "::1:80", "host:65536", "host:http", "[zz]:1", "a b:1"])
      assertConfigError(() => with_({ listen: bad }), "listen");
  });

  test("storage locations", () => {
    assert.deepEqual(
      with_({ storage: "s3://goark-cache/team/a?endpoint=http://127.0.0.1:9000&region=eu-west-1" }).storage,
      {
        kind: "s3",
        bucket: "goark-cache",
        prefix: "team/a",
        endpoint: "http://127.0.0.1:9000",
        region: "eu-west-1",
      },
    );
    assert.deepEqual(with_({ storage: "s3://goark-cache" }).storage, {
      kind: "s3",
      bucket: "goark-cache",
      prefix: "",
    });
    assert.deepEqual(with_({ storage: "file:///srv/goark" }).storage, { kind: "disk", path: "/srv/goark" });
    for (const bad of [
      "",
      "s3://Ab/x",
      "s3://bucket/a/../b",
      "s3://bucket?acl=public",
      "gs://bucket/x",
      "s3://bucket?endpoint=ftp://x",
    ])
      assertConfigError(() => with_({ storage: bad }), "storage");
  });

  test("GOPROXY lists are parsed by the chain's own parser", () => {
    assert.equal(with_({ upstream: "proxy.example.com|direct" }).upstream, "proxy.example.com|direct");
    assert.equal(with_({ upstream: "off" }).upstream, "off");
    assert.equal(with_({ upstream: "file:///srv/mirror,direct" }).upstream, "file:///srv/mirror,direct");
    for (const bad of [" , |", "ftp://mirror", "noproxy", "file://host/dir"])
      assertConfigError(() => with_({ upstream: bad }), "upstream", "--upstream");
  });

  test("GOSUMDB values", () => {
    // Keys from golang.org/x/mod (sumdb/client_test.go) and Go's knownGOSUMDB.
    const testKey = "localhost.localdev/sumdb+00000c67+AcTrnkbUA+TU4heY3hkjiSES/DSQniBqIeQ/YppAUtK6";
    for (const ok of [
      "off",
      "sum.golang.org",
      "sum.golang.google.cn",
      testKey,
      `${testKey} http://127.0.0.1:1/`,
    ])
      assert.equal(with_({ sumdb: ok }).sumdb, ok);
    const wrongHash = testKey.replace("00000c67", "00000c68");
    for (const bad of ["sum.example.com", wrongHash, `${testKey} x y`, `${testKey} ftp://x`, "a+b"])
      assertConfigError(() => with_({ sumdb: bad }), "sumdb", "--sumdb");
  });
});
