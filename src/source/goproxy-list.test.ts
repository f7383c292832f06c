// Expected lists follow Go 1.19's modfetch/proxy.go proxyList; the error cases
// were confirmed with `GOPROXY=<value> go mod download -json example.com/m@v1.0.0`
// (go1.19.8), whose answers are quoted beside each case. The live comparison
// with the go command is in chain.go-oracle.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../errors.ts";
import { parseGoproxyList, redactUrl } from "./goproxy-list.ts";

const proxy = (url: string, fallBackOnError = false) => ({ kind: "proxy", url, fallBackOnError });
const direct = { kind: "direct", url: "direct", fallBackOnError: false };
const off = { kind: "off", url: "off", fallBackOnError: false };
const noproxy = { kind: "noproxy", url: "noproxy", fallBackOnError: false };

test("the default list", () => {
  assert.deepEqual(parseGoproxyList("https://proxy.golang.org,direct"), [
    proxy("https://proxy.golang.org"),
    direct,
  ]);
});

test("empty entries are skipped and the separator before them decides nothing", () => {
  assert.deepEqual(parseGoproxyList("https://a.example,,direct"), [proxy("https://a.example"), direct]);
  // The `|` right after an entry is what makes it fall back on any error.
  assert.deepEqual(parseGoproxyList("https://a.example|,https://b.example"), [
    proxy("https://a.example", true),
    proxy("https://b.example"),
  ]);
  assert.deepEqual(parseGoproxyList("https://a.example,|https://b.example"), [
    proxy("https://a.example"),
    proxy("https://b.example"),
  ]);
});

test("entries are trimmed", () => {
  assert.deepEqual(parseGoproxyList(" direct "), [direct]);
  assert.deepEqual(parseGoproxyList("  https://a.example |\tdirect"), [
    proxy("https://a.example", true),
    direct,
  ]);
});

test("off and direct end the list", () => {
  // go: "module lookup disabled by GOPROXY=off"
  assert.deepEqual(parseGoproxyList("off"), [off]);
  assert.deepEqual(parseGoproxyList("off,https://a.example"), [off]);
  assert.deepEqual(parseGoproxyList("direct,ftp://ignored"), [direct]);
  assert.deepEqual(parseGoproxyList("https://a.example|off|https://b.example"), [
    proxy("https://a.example", true),
    off,
  ]);
});

test("https:// is added to host-like entries only", () => {
  // go: `Get "https://b.example/example.com/m/@v/v1.0.0.info": ... no such host`
  assert.deepEqual(parseGoproxyList("a.example|b.example"), [
    proxy("https://a.example", true),
    proxy("https://b.example"),
  ]);
  assert.deepEqual(parseGoproxyList("127.0.0.1:8080/goproxy"), [proxy("https://127.0.0.1:8080/goproxy")]);
  assert.deepEqual(parseGoproxyList("localhost:3000"), [proxy("https://localhost:3000")]);
  assert.deepEqual(parseGoproxyList("file:///srv/goproxy"), [proxy("file:///srv/goproxy")]);
  assert.deepEqual(parseGoproxyList("HTTP://a.example"), [proxy("HTTP://a.example")]);
  // go keeps query and fragment: `Get "https://a.example/example.com/m/@v/v1.0.0.info?x=1#frag"`
  assert.deepEqual(parseGoproxyList("https://a.example?x=1"), [proxy("https://a.example?x=1")]);
});

test("entries Go rejects are ConfigErrors naming the entry", () => {
  const cases: [string, RegExp][] = [
    // go: invalid proxy URL scheme (must be https, http, file): ftp://x
    ["ftp://x", /"ftp:\/\/x".*https, http or file/],
    // go: invalid proxy URL missing scheme: foo
    ["foo", /"foo".*no URL scheme/],
    // go: invalid proxy URL missing scheme: /abs/path
    ["/abs/path", /"\/abs\/path".*no URL scheme/],
    // go: invalid file:// proxy URL with non-path elements: file://host/x
    ["file://host/x", /"file:\/\/host\/x".*non-path/],
    // go: parse "https://a b": invalid character " " in host name
    ["https://a b", /"https:\/\/a b".*not a valid URL/],
    // go: parse "https://http:x": invalid port ":x" after host
    ["http:x", /"http:x".*not a valid URL/],
    ["https://a.example,ftp://x,direct", /"ftp:\/\/x"/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => parseGoproxyList(value),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
      value,
    );
  }
});

test("a list with no entries is an error", () => {
  // go: GOPROXY list is not the empty string, but contains no entries
  for (const value of [",", " ", "|", " , | ", ""]) {
    assert.throws(() => parseGoproxyList(value), ConfigError, JSON.stringify(value));
  }
  assert.throws(() => parseGoproxyList(",", { noproxy: "*.corp.example" }), ConfigError);
});

test("private patterns put a hidden noproxy entry first, unless the list is exactly direct", () => {
  assert.deepEqual(parseGoproxyList("https://a.example,direct", { noproxy: "*.corp.example" }), [
    noproxy,
    proxy("https://a.example"),
    direct,
  ]);
  assert.deepEqual(parseGoproxyList("direct", { noproxy: "*.corp.example" }), [direct]);
  // Go compares the raw string, so a padded "direct" still gets the entry.
  assert.deepEqual(parseGoproxyList(" direct", { noproxy: "*.corp.example" }), [noproxy, direct]);
  assert.deepEqual(parseGoproxyList("off", { noproxy: "*.corp.example" }), [noproxy, off]);
  assert.deepEqual(parseGoproxyList("off", { noproxy: "" }), [off]);
});

test("redactUrl hides passwords only", () => {
  assert.equal(redactUrl("https://user:secret@a.example/p"), "https://user:xxxxx@a.example/p");
  assert.equal(redactUrl("https://a.example/p"), "https://a.example/p");
});
