import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { globListProblem, KNOWN_SUMDB_KEYS, parseSumDb } from "./go-env-syntax.ts";

const SNIPPET = fileURLToPath(new URL("../../test/oracle-snippets/glob-syntax.go", import.meta.url));

test("glob syntax agrees with Go's path.Match on which patterns are malformed", () => {
  const patterns = [
    "*.corp.example.com",
    "rsc.io/private",
    "github.com/*/x",
    "a[b",
    "[]a]",
    "[a-]",
    "[-a]",
    "x\\",
    "[^a-z]",
    "[\\]]",
    "a[",
    "*[",
    "ab[c",
    "a\\[",
    "[a-\\z]",
    "[a-z",
    "[^]",
    "[!a]",
    "héllo/[é-ö]",
    "?",
    "a[b-c-d]",
  ];
  const out = execFileSync("go", ["run", SNIPPET, ...patterns], {
    cwd: "/tmp",
    env: { ...process.env, GO111MODULE: "off", GOCACHE: process.env.GOCACHE ?? "/tmp/gocache", GOFLAGS: "" },
    encoding: "utf8",
  });
  const goSays = out.trim().split("\n");
  assert.equal(goSays.length, patterns.length);
  patterns.forEach((p, i) => {
    const ours = globListProblem(p) === undefined ? "ok" : "bad";
    assert.equal(ours, goSays[i], `pattern ${JSON.stringify(p)}`);
  });
});

test("glob lists: empty items and trailing slashes are skipped like MatchPrefixPatterns", () => {
  assert.equal(globListProblem(""), undefined);
  assert.equal(globListProblem(",,rsc.io/private/,"), undefined);
  assert.match(globListProblem("good.example,bad[")!, /bad\[/);
});

test("GOSUMDB: the built-in key parses, names and URLs are derived as dbDial does", () => {
  assert.deepEqual(parseSumDb("off"), { off: true });
  assert.deepEqual(parseSumDb("sum.golang.org"), {
    off: false,
    name: "sum.golang.org",
    key: KNOWN_SUMDB_KEYS["sum.golang.org"],
    url: "https://sum.golang.org",
  });
  assert.deepEqual(parseSumDb("sum.golang.google.cn"), {
    off: false,
    name: "sum.golang.org",
    key: KNOWN_SUMDB_KEYS["sum.golang.org"],
    url: "https://sum.golang.google.cn",
  });
  assert.equal(
    typeof parseSumDb("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"),
    "object",
  );
});
