import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import {
  latestFromList,
  latestFromListBody,
  parseListBody,
  parseRfc3339,
  splitListLines,
} from "./latest-fallback.ts";

// Go's time.Parse(time.RFC3339, s) is the oracle for the list timestamps.
const RFC3339_ORACLE = `package main

import (
	"bufio"
	"fmt"
	"os"
	"time"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		t, err := time.Parse(time.RFC3339, sc.Text())
		if err != nil {
			fmt.Println("error")
			continue
		}
		fmt.Println(t.Unix(), t.Nanosecond())
	}
}
`;

const TIMESTAMPS = [
  "2020-01-02T03:04:05Z",
  "2020-01-02T03:04:05.123456789Z",
  "2020-01-02T03:04:05.1234567891234Z",
  "2020-01-02T03:04:05,5Z",
  "2020-01-02T3:04:05Z",
  "2020-01-02T03:04:05+02:00",
  "2020-01-02T03:04:05-07:30",
  "2020-01-02t03:04:05Z",
  "2020-01-02T03:04:05z",
  "2020-01-02 03:04:05Z",
  "2020-01-02T03:04:05",
  "2020-02-29T00:00:00Z",
  "2019-02-29T00:00:00Z",
  "2020-13-01T00:00:00Z",
  "2020-04-31T00:00:00Z",
  "2020-01-01T24:00:00Z",
  "2020-01-01T23:60:00Z",
  "2020-01-01T23:59:60Z",
  "0001-01-01T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "0099-06-15T12:00:00Z",
  "9999-12-31T23:59:59Z",
  "20-01-01T00:00:00Z",
  "2020-1-01T00:00:00Z",
  "2020-01-01T00:00:00Zextra",
  "2020-01-01T00:00:00.Z",
  "",
];

test("parseRfc3339 agrees with Go's time.Parse(time.RFC3339)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "goark-rfc3339-"));
  try {
    await writeFile(join(dir, "main.go"), RFC3339_ORACLE);
    const run = promisify(execFile);
    const child = run("go", ["run", "main.go"], {
      cwd: dir,
      env: { ...process.env, GO111MODULE: "off", GOCACHE: join(tmpdir(), "goark-gocache"), GOFLAGS: "" },
    });
    child.child.stdin?.end(`${TIMESTAMPS.join("\n")}\n`);
    const { stdout } = await child;
    const want = stdout.trimEnd().split("\n");
    assert.equal(want.length, TIMESTAMPS.length);
    TIMESTAMPS.forEach((ts, i) => {
      const got = parseRfc3339(ts);
      assert.equal(got === undefined ? "error" : `${got.seconds} ${got.nanos}`, want[i], JSON.stringify(ts));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("list lines are split on newlines and Go's white space", () => {
  assert.deepEqual(splitListLines("v1.0.0\r\n v1.1.0\u00a0t\u0085x\n\nv2\ufeffz"), [
    ["v1.0.0"],
    ["v1.1.0", "t", "x"],
    [],
    ["v2\ufeffz"],
  ]);
  assert.deepEqual(parseListBody("v1.0.0 a b\nbad\nv1.2\n"), [
    { version: "v1.0.0", time: "a" },
    { version: "v1.2" },
  ]);
});

// The go command's choices for these bodies are checked live in chain.go-oracle.test.ts.
test("latestFromList picks the newest timestamp, skipping lines without one", () => {
  assert.equal(
    latestFromListBody(
      "v0.0.0-20200101000000-aaaaaaaaaaaa\nv0.0.0-20210101000000-bbbbbbbbbbbb 2019-01-01T00:00:00Z\nv1.0.0\n",
    ),
    "v0.0.0-20200101000000-aaaaaaaaaaaa",
  );
  assert.equal(latestFromListBody("v1.0.0 2020-01-01T00:00:00Z\nv1.1.0 2019-01-01T00:00:00Z\n"), "v1.0.0");
  assert.equal(latestFromListBody("v1.0.0\nv1.1.0\n"), undefined);
  assert.equal(latestFromListBody(""), undefined);
  // An unparsable time is Go's zero time and never wins.
  assert.equal(latestFromListBody("v1.0.0 yesterday\n"), undefined);
  // Equal times: the first line stays.
  assert.equal(
    latestFromList([
      { version: "v1.0.0", time: "2020-01-01T00:00:00Z" },
      { version: "v1.1.0", time: "2020-01-01T01:00:00+01:00" },
    ]),
    "v1.0.0",
  );
});
