import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Oracle, startOracle } from "../../test/helpers/oracle.ts";
import { GoarkError } from "../errors.ts";
import {
  checkKey,
  checkKeyPrefix,
  infoKey,
  isImmutableKey,
  latestKey,
  listKey,
  modKey,
  parseKey,
  versionDirKey,
  zipKey,
} from "./keys.ts";

let oracle: Oracle;
before(async () => {
  oracle = await startOracle();
});
after(() => oracle.close());

async function goEscape(op: "module.EscapePath" | "module.EscapeVersion", s: string): Promise<string> {
  const a = await oracle.ask<string>(op, [s]);
  assert.equal(a.err, undefined, `${op}(${s}): ${a.err}`);
  return a.v!;
}

const CASES: [string, string][] = [
  ["github.com/Azure/azure-sdk-for-go", "v1.0.0"],
  ["example.com/m", "v1.0.0-RC1"],
  ["gopkg.in/yaml.v2", "v2.4.0"],
  ["github.com/BurntSushi/toml", "v0.3.1"],
  ["example.com/m", "v2.0.0+incompatible"],
  ["example.com/m/v3", "v3.0.0-20190101000000-abcdefABCDEF"],
];

describe("storage keys", () => {
  it("are the go command's download-cache paths (escaping from x/mod)", async () => {
    for (const [m, v] of CASES) {
      const em = await goEscape("module.EscapePath", m);
      const ev = await goEscape("module.EscapeVersion", v);
      assert.equal(versionDirKey(m), `${em}/@v/`);
      assert.equal(listKey(m), `${em}/@v/list`);
      assert.equal(latestKey(m), `${em}/@latest`);
      assert.equal(infoKey(m, v), `${em}/@v/${ev}.info`);
      assert.equal(modKey(m, v), `${em}/@v/${ev}.mod`);
      assert.equal(zipKey(m, v), `${em}/@v/${ev}.zip`);
      for (const key of [listKey(m), latestKey(m), infoKey(m, v), modKey(m, v), zipKey(m, v)]) checkKey(key);
    }
  });

  it("parse back to module, kind and version", () => {
    for (const [m, v] of CASES) {
      assert.deepEqual(parseKey(listKey(m)), { module: m, kind: "list" });
      assert.deepEqual(parseKey(latestKey(m)), { module: m, kind: "latest" });
      assert.deepEqual(parseKey(infoKey(m, v)), { module: m, kind: "info", version: v });
      assert.deepEqual(parseKey(modKey(m, v)), { module: m, kind: "mod", version: v });
      assert.deepEqual(parseKey(zipKey(m, v)), { module: m, kind: "zip", version: v });
    }
  });

  it("parse anything else as outside the layout", () => {
    for (const key of [
      "example.com/m/@v/v1.0.0.ziphash",
      "example.com/m/@v/v1.0.0.lock",
      "example.com/m/@v/list.lock",
      "example.com/m/@v/master.info",
      "example.com/m/@v/v1.0.info",
      "example.com/m/@v/v1.0.0+meta.zip",
      "example.com/m/@v/.zip",
      "example.com/m/@v/sub/v1.0.0.zip",
      "example.com/!!m/@v/list",
      "example.com/M/@v/list",
      "@v/list",
      "sumdb/sum.golang.org/latest",
    ]) {
      assert.equal(parseKey(key), undefined, key);
    }
  });

  it("only store canonical versions", () => {
    for (const v of ["v1.0", "v1", "master", "v1.0.0+build", "1.0.0", ""]) {
      assert.throws(
        () => zipKey("example.com/m", v),
        (err: unknown) => err instanceof GoarkError && err.code === "INVALID_VERSION",
        v,
      );
    }
    assert.throws(
      () => listKey("example.com/../m"),
      (err: unknown) => err instanceof GoarkError && err.code === "INVALID_PATH",
    );
  });

  it("mark versioned artefacts immutable and answers replaceable", () => {
    assert.equal(isImmutableKey(zipKey("example.com/m", "v1.0.0")), true);
    assert.equal(isImmutableKey(modKey("example.com/m", "v1.0.0")), true);
    assert.equal(isImmutableKey(infoKey("example.com/m", "v1.0.0")), true);
    assert.equal(isImmutableKey(listKey("example.com/m")), false);
    assert.equal(isImmutableKey(latestKey("example.com/m")), false);
    assert.equal(isImmutableKey("example.com/m/@v/sub/x.zip"), false);
    assert.equal(isImmutableKey("sumdb/x.zip"), false);
  });

  it("accept list prefixes and refuse escaping ones", () => {
    for (const p of ["", "example.com/", "example.com/m/@v/", "example.com/m/@v/v1."]) checkKeyPrefix(p);
    for (const p of ["/", "../", "a/../", "a//", "/a", "a\\b", "%2e%2e/"]) {
      assert.throws(
        () => checkKeyPrefix(p),
        (err: unknown) => err instanceof GoarkError && err.code === "INVALID_PATH",
        p,
      );
    }
  });
});
