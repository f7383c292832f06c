import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidPathError, InvalidVersionError } from "../errors.ts";
import {
  canonicalVersion,
  check,
  checkFilePath,
  checkImportPath,
  checkPath,
  checkPathMajor,
  compilePrefixPatterns,
  escapePath,
  escapeVersion,
  isValidFilePath,
  isValidImportPath,
  isValidModulePath,
  matchGlob,
  matchPathMajor,
  matchPrefixPatterns,
  pathMajorPrefix,
  sortModuleVersions,
  splitPathVersion,
  unescapePath,
  unescapeVersion,
} from "./path.ts";
import { inputOf, vectors } from "./testdata/go-vectors.ts";

/** The error text f throws ("" if none); only our typed errors may escape. */
function errorOf(f: () => unknown): string {
  try {
    f();
    return "";
  } catch (e) {
    assert.ok(e instanceof InvalidPathError || e instanceof InvalidVersionError, `untyped error ${e}`);
    return e.message;
  }
}

function resultOf(f: () => string): { err?: string; val?: string } {
  try {
    const val = f();
    return val === "" ? {} : { val };
  } catch (e) {
    assert.ok(e instanceof InvalidPathError || e instanceof InvalidVersionError, `untyped error ${e}`);
    return { err: e.message };
  }
}

/** For inputs that are invalid UTF-8, Go's quoting of the bytes cannot be reproduced: compare presence only. */
function sameOutcome(got: string, want: string | undefined, raw: boolean, what: string): void {
  if (raw) assert.equal(got !== "", (want ?? "") !== "", what);
  else assert.equal(got, want ?? "", what);
}

describe("path checks agree with x/mod on the whole corpus", () => {
  test("checkPath, checkImportPath, checkFilePath and the boolean forms", () => {
    for (const v of vectors.strings) {
      const s = inputOf(v);
      const raw = v.raw !== undefined;
      sameOutcome(
        errorOf(() => checkPath(s)),
        v.module,
        raw,
        `checkPath(${JSON.stringify(s)})`,
      );
      sameOutcome(
        errorOf(() => checkImportPath(s)),
        v.import,
        raw,
        `checkImportPath(${JSON.stringify(s)})`,
      );
      sameOutcome(
        errorOf(() => checkFilePath(s)),
        v.file,
        raw,
        `checkFilePath(${JSON.stringify(s)})`,
      );
      assert.equal(isValidModulePath(s), v.module === undefined, s);
      assert.equal(isValidImportPath(s), v.import === undefined, s);
      assert.equal(isValidFilePath(s), v.file === undefined, s);
    }
  });

  test("splitPathVersion", () => {
    for (const v of vectors.strings) {
      const s = inputOf(v);
      const got = splitPathVersion(s);
      const [prefix, pathMajor, ok] = v.split;
      assert.equal(got.ok, ok, s);
      assert.equal(got.pathMajor, pathMajor, s);
      if (v.raw === undefined) assert.equal(got.prefix, prefix, s);
      assert.equal(got.prefix + got.pathMajor, s);
    }
  });

  test("escapePath / unescapePath / escapeVersion / unescapeVersion", () => {
    for (const v of vectors.strings) {
      const s = inputOf(v);
      const raw = v.raw !== undefined;
      const cases = [
        ["escapePath", resultOf(() => escapePath(s)), v.escapePath],
        ["unescapePath", resultOf(() => unescapePath(s)), v.unescapePath],
        ["escapeVersion", resultOf(() => escapeVersion(s)), v.escapeVersion],
        ["unescapeVersion", resultOf(() => unescapeVersion(s)), v.unescapeVersion],
      ] as const;
      for (const [name, got, want] of cases) {
        const what = `${name}(${JSON.stringify(s)})`;
        if (raw) {
          assert.equal(got.err !== undefined, want.err !== undefined, what);
          continue;
        }
        assert.equal(got.val, want.val, what);
        if (want.err?.startsWith("internal error: inconsistency in EscapePath")) {
          // Go's text does not name the input; ours adds it after Go's words.
          assert.ok(got.err?.startsWith(want.err), what);
        } else {
          assert.equal(got.err, want.err, what);
        }
      }
    }
  });

  test("canonicalVersion keeps +incompatible", () => {
    for (const v of vectors.strings) {
      if (v.raw === undefined) assert.equal(canonicalVersion(v.in), v.canonicalVersion ?? "", v.in);
    }
  });
});

describe("module.Check and CheckPathMajor", () => {
  test("check(path, version) agrees with x/mod", () => {
    assert.ok(vectors.check.length > 1000);
    for (const [path, version, want] of vectors.check) {
      assert.equal(
        errorOf(() => check(path, version)),
        want,
        `check(${path}, ${version})`,
      );
    }
  });

  test("checkPathMajor / matchPathMajor agree with x/mod", () => {
    for (const [pathMajor, version, want] of vectors.checkPathMajor) {
      assert.equal(
        errorOf(() => checkPathMajor(version, pathMajor)),
        want,
        `checkPathMajor(${version}, ${pathMajor})`,
      );
      assert.equal(matchPathMajor(version, pathMajor), want === "");
    }
  });

  test("errors carry their code and the module and version", () => {
    try {
      check("example.com/m", "v2.0.0");
      assert.fail("expected an error");
    } catch (e) {
      assert.ok(e instanceof InvalidVersionError);
      assert.equal(e.code, "INVALID_VERSION");
      assert.equal(e.module, "example.com/m");
      assert.equal(e.version, "v2.0.0");
      // Text from go1.19 + x/mod v0.7.0.
      assert.equal(e.message, "example.com/m@v2.0.0: invalid version: should be v0 or v1, not v2");
    }
    try {
      checkPath("localhost/x");
      assert.fail("expected an error");
    } catch (e) {
      assert.ok(e instanceof InvalidPathError);
      assert.equal(e.code, "INVALID_PATH");
      assert.equal(e.module, "localhost/x");
      assert.equal(e.message, 'malformed module path "localhost/x": missing dot in first path element');
    }
    try {
      checkFilePath("a/b:c");
      assert.fail("expected an error");
    } catch (e) {
      assert.ok(e instanceof InvalidPathError);
      assert.equal(e.path, "a/b:c");
    }
  });

  test("pathMajorPrefix", () => {
    // x/mod's PathMajorPrefix answers (it panics where we throw).
    assert.equal(pathMajorPrefix(""), "");
    assert.equal(pathMajorPrefix("/v2"), "v2");
    assert.equal(pathMajorPrefix(".v1"), "v1");
    assert.equal(pathMajorPrefix(".v1-unstable"), "v1");
    assert.throws(() => pathMajorPrefix("v2"), InvalidPathError);
    assert.throws(() => pathMajorPrefix("/vx"), InvalidPathError);
  });
});

describe("invalid UTF-8 (lone surrogates) is rejected like Go rejects bad bytes", () => {
  test("every check refuses lone surrogates, even inside letters-only file names", () => {
    for (const s of ["example.com/\ud800", "example.com/\udfff", "a/\udc00b", "\ud83d", "x.y/\ude00\ud83d"]) {
      assert.match(
        errorOf(() => checkPath(s)),
        /invalid UTF-8$/,
      );
      assert.match(
        errorOf(() => checkImportPath(s)),
        /invalid UTF-8$/,
      );
      assert.match(
        errorOf(() => checkFilePath(s)),
        /invalid UTF-8$/,
      );
      assert.throws(() => escapePath(s), InvalidPathError);
      assert.throws(() => unescapePath(s), InvalidPathError);
      assert.throws(() => escapeVersion(s), InvalidVersionError);
      assert.throws(() => unescapeVersion(s), InvalidVersionError);
    }
    // A surrogate pair is one valid rune: U+1F600 is not a letter, U+20000 is.
    assert.equal(
      errorOf(() => checkFilePath("a/\u{20000}")),
      "",
    );
    assert.equal(
      errorOf(() => checkFilePath("a/\u{1F600}")),
      "malformed file path \"a/\u{1F600}\": invalid char '\u{1F600}'",
    );
  });
});

describe("prefix patterns (GOPRIVATE syntax)", () => {
  test("matchPrefixPatterns agrees with x/mod", () => {
    for (const { globs, target, match } of vectors.globs) {
      assert.equal(
        matchPrefixPatterns(globs, target),
        match,
        `${JSON.stringify(globs)} ~ ${JSON.stringify(target)}`,
      );
      assert.equal(compilePrefixPatterns(globs)(target), match);
    }
  });

  test("matchGlob agrees with path.Match (errors count as no match)", () => {
    for (const { pattern, name, match, err } of vectors.pathMatch) {
      assert.equal(
        matchGlob(pattern, name),
        match && !err,
        `${JSON.stringify(pattern)} ~ ${JSON.stringify(name)}`,
      );
    }
  });

  test("a compiled matcher is reusable and stays fast on hostile patterns", () => {
    const m = compilePrefixPatterns("*.corp.example.com,rsc.io/private");
    assert.equal(m("git.corp.example.com/xyzzy"), true);
    assert.equal(m("rsc.io/private/quux"), true);
    assert.equal(m("rsc.io/privat"), false);
    const start = process.hrtime.bigint();
    const hostile = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
    assert.equal(matchGlob(hostile, "a".repeat(40)), false);
    assert.ok(process.hrtime.bigint() - start < 2_000_000_000n, "glob matching took too long");
  });
});

test("sortModuleVersions gives module.Sort's order", () => {
  const list = vectors.sortIn.map((m) => ({ path: m.Path, version: m.Version }));
  sortModuleVersions(list);
  assert.deepEqual(
    list,
    vectors.sortOut.map((m) => ({ path: m.Path, version: m.Version })),
  );
});
