import assert from "node:assert/strict";
import { test } from "node:test";
import { GoarkError } from "../errors.ts";
import { errorResponse } from "./error-response.ts";
import { isAllowedMethod, MAX_TARGET_BYTES, parseRoute } from "./route.ts";

// Request targets below are what go1.19 sends: module.EscapePath /
// EscapeVersion, then url.PathEscape with "/" kept (modfetch/proxy.go
// pathEscape); e.g. "!" goes out as "%21" (checked by running Go).
test("parses the five GOPROXY endpoints with case-escaping", () => {
  assert.deepEqual(parseRoute("/github.com/%21azure/azure-sdk-for-go/@v/list"), {
    kind: "list",
    module: "github.com/Azure/azure-sdk-for-go",
  });
  assert.deepEqual(parseRoute("/github.com/!azure/x/@latest"), {
    kind: "latest",
    module: "github.com/Azure/x",
  });
  assert.deepEqual(parseRoute("/example.com/m/@v/v1.0.0-%21r%21c1.mod"), {
    kind: "mod",
    module: "example.com/m",
    version: "v1.0.0-RC1",
  });
  assert.deepEqual(parseRoute("/example.com/m/v2/@v/v2.1.0.zip"), {
    kind: "zip",
    module: "example.com/m/v2",
    version: "v2.1.0",
  });
  assert.deepEqual(parseRoute("/example.com/m/@v/v2.0.0+incompatible.zip"), {
    kind: "zip",
    module: "example.com/m",
    version: "v2.0.0+incompatible",
  });
  assert.deepEqual(parseRoute("/gopkg.in/yaml.v2/@v/v2.4.0.info"), {
    kind: "info",
    module: "gopkg.in/yaml.v2",
    query: "v2.4.0",
  });
  // Ignored query string, as tools append ?go-get=1.
  assert.deepEqual(parseRoute("/example.com/m/@v/list?go-get=1"), { kind: "list", module: "example.com/m" });
});

test(".info passes queries through; .mod/.zip need a canonical version matching the path", () => {
  assert.deepEqual(parseRoute("/example.com/m/@v/master.info"), {
    kind: "info",
    module: "example.com/m",
    query: "master",
  });
  assert.deepEqual(parseRoute("/example.com/m/@v/v1.2.info"), {
    kind: "info",
    module: "example.com/m",
    query: "v1.2",
  });
  // v2.0.0 for an unsuffixed path: the go command asks .info, expecting +incompatible.
  assert.equal(parseRoute("/example.com/m/@v/v2.0.0.info").kind, "info");
  for (const bad of [
    "/example.com/m/@v/v1.2.mod",
    "/example.com/m/@v/v1.2.3+meta.zip",
    "/example.com/m/@v/master.zip",
    "/example.com/m/@v/v2.0.0.mod", // module.Check: should be v0 or v1
    "/example.com/m/v2/@v/v1.0.0.zip", // should be v2
  ]) {
    assert.throws(
      () => parseRoute(bad),
      (e: unknown) => e instanceof GoarkError && errorResponse(e).status === 404,
      bad,
    );
  }
});

test("special endpoints", () => {
  assert.deepEqual(parseRoute("/healthz"), { kind: "healthz" });
  assert.deepEqual(parseRoute("/readyz"), { kind: "readyz" });
  assert.deepEqual(parseRoute("/metrics"), { kind: "metrics" });
  assert.deepEqual(parseRoute("/sumdb/sum.golang.org/supported"), {
    kind: "sumdb",
    path: "sum.golang.org/supported",
  });
  assert.ok(isAllowedMethod("GET") && isAllowedMethod("HEAD"));
  assert.ok(!isAllowedMethod("POST") && !isAllowedMethod("get") && !isAllowedMethod(undefined));
});

function statusOf(target: string): number {
  try {
    parseRoute(target);
    return 200;
  } catch (e) {
    return errorResponse(e).status;
  }
}

test("hostile and invalid targets get 400 or 404 with a reason", () => {
  const cases: [string, number][] = [
    ["/example.com/m/@v/..%2f..%2fetc/passwd.info", 400],
    ["/example.com/m/@v/%2e%2e.info", 400],
    ["/example.com/../m/@v/list", 400],
    ["/example.com/./m/@v/list", 400],
    ["/example.com/m/@v/x%00.info", 400],
    ["/example.com/m/@v/x%zz.info", 400],
    ["/example.com/m/@v/%c3.info", 400],
    ["/example.com\\m/@v/list", 400],
    ["example.com/m/@v/list", 400],
    [`/example.com/${"a".repeat(MAX_TARGET_BYTES)}/@v/list`, 400],
    ["/", 404],
    ["/example.com/m", 404],
    ["/example.com/m/@v/", 404],
    ["/example.com/m/@v/v1.0.0.txt", 404],
    ["/example.com/m/@v/v1.0.0", 404],
    ["/example.com/m/@v/.info", 404],
    ["/Example.com/m/@v/list", 404], // upper case must be escaped
    ["/example.com/!!m/@v/list", 404], // bad escape
    ["/example.com/m/v1/@v/list", 404], // invalid module path
    ["/localhost/m/@latest", 404],
    ["/example.com/m/@v/V1.0.0.info", 404], // upper case in version must be escaped
    ["//example.com/m/@v/list", 404],
  ];
  for (const [target, status] of cases) {
    assert.equal(statusOf(target), status, target);
    try {
      parseRoute(target);
    } catch (e) {
      assert.ok(e instanceof GoarkError);
      assert.ok(e.message.length > 10, target);
    }
  }
});
