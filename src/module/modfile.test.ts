import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { GoarkError, ModFileError, TooLargeError } from "../errors.ts";
import {
  autoQuote,
  formatModuleOnly,
  isRetracted,
  type ModFile,
  modulePathOf,
  mustQuote,
  parseModFile,
  parseModFileResult,
} from "./modfile.ts";

/** What x/mod v0.7.0 said, as written by the generator (see the file's "about"). */
interface Expected {
  input: string;
  strict: unknown;
  lax: unknown;
  modulePath: string;
}
const data = JSON.parse(readFileSync(new URL("./testdata/modfile-xmod.json", import.meta.url), "utf8")) as {
  cases: Record<string, Expected>;
};

function input(s: string): string | Uint8Array {
  return s.startsWith("b64:") ? new Uint8Array(Buffer.from(s.slice(4), "base64")) : s;
}

/**
 * Wording that changed after x/mod v0.7.0 [new]: the go line now admits patch
 * releases ("must match format 1.23.0", x/mod v0.10+), and "." / ".." count as
 * directory paths ("starting with . or ..", x/mod v0.15+).
 */
function currentWording(err: string): string {
  return err
    .replaceAll("must match format 1.23", "must match format 1.23.0")
    .replaceAll("(rooted or starting with ./ or ../)", "(rooted or starting with . or ..)");
}

/** Our ModFile in the generator's JSON shape (omitting fields x/mod v0.7.0 lacks). */
function asOracleJSON(mf: ModFile): unknown {
  const out: Record<string, unknown> = {};
  if (mf.module !== undefined) out.module = { ...mf.module };
  if (mf.go !== undefined) out.go = mf.go;
  out.require = mf.require;
  out.exclude = mf.exclude;
  out.replace = mf.replace;
  out.retract = mf.retract;
  return out;
}

function check(name: string, got: ReturnType<typeof parseModFileResult>, want: unknown): void {
  const w = want as { err?: string };
  if (w.err !== undefined) {
    assert.equal(got.ok, false, `${name}: Go reported ${JSON.stringify(w.err)} but we parsed it`);
    if (!got.ok) assert.equal(got.errors.join("\n"), currentWording(w.err), name);
    return;
  }
  assert.ok(got.ok, `${name}: we failed with ${JSON.stringify(got.ok ? "" : got.errors)}`);
  if (!got.ok) return;
  assert.deepEqual(asOracleJSON(got.modFile), want, name);
  // None of these inputs uses a directive newer than x/mod v0.7.0.
  assert.equal(got.modFile.toolchain, undefined, name);
  assert.deepEqual([got.modFile.godebug, got.modFile.tool, got.modFile.ignore], [[], [], []], name);
}

describe("parseModFile agrees with x/mod modfile", () => {
  const names = Object.keys(data.cases);
  it("has the generated corpus", () => assert.ok(names.length > 150));
  for (const name of names) {
    const c = data.cases[name]!;
    it(name, () => {
      check(`${name} (strict)`, parseModFileResult(input(c.input), "go.mod"), c.strict);
      check(`${name} (lax)`, parseModFileResult(input(c.input), "go.mod", { lax: true }), c.lax);
      assert.equal(
        modulePathOf(input(c.input)),
        c.modulePath === "" ? undefined : c.modulePath,
        `${name} (ModulePath)`,
      );
    });
  }
});

describe("parseModFile", () => {
  it("throws ModFileError with Go's position and message on one line", () => {
    assert.throws(
      () => parseModFile("module m\nrequire (\n\texample.com/a v1\n\tfoo\n)\n", "x/go.mod"),
      (e: unknown) => {
        assert.ok(e instanceof ModFileError && e instanceof GoarkError);
        assert.equal(e.code, "INVALID_MODFILE");
        assert.equal(e.path, "x/go.mod");
        assert.equal(e.message, "x/go.mod:4:2: usage: require module/path v1.2.3");
        return true;
      },
    );
    assert.throws(
      () => parseModFile("module m\nreplace x\n"),
      (e: unknown) =>
        e instanceof ModFileError && !e.message.includes("\n") && e.message.startsWith("go.mod:2: usage"),
    );
  });

  it("lists several errors in one message, bounded", () => {
    const many = "module m\n" + "bad line\n".repeat(300);
    const r = parseModFileResult(many);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.count, 300);
      assert.equal(r.errors.length, 100);
      assert.equal(r.errors[299 - 200], "go.mod:101: unknown directive: bad");
    }
    assert.throws(
      () => parseModFile(many),
      (e: unknown) =>
        e instanceof ModFileError &&
        e.message.startsWith("go.mod:2: unknown directive: bad; go.mod:3: unknown directive: bad;") &&
        e.message.endsWith("; and 295 more errors"),
    );
    // Lax parsing skips unknown directives altogether.
    assert.deepEqual(parseModFile(many, "go.mod", { lax: true }).module, { path: "m" });
  });

  it("rejects more than 16 MiB with TooLargeError, before parsing", () => {
    const big = new Uint8Array((16 << 20) + 1).fill(0x20);
    assert.throws(() => parseModFile(big), TooLargeError);
    assert.throws(() => parseModFile("x".repeat((16 << 20) + 1)), TooLargeError);
    // Exactly 16 MiB of blanks is a valid (empty) go.mod. Multi-byte characters count as bytes.
    assert.deepEqual(parseModFile(big.subarray(1)).require, []);
    assert.throws(() => parseModFile("é".repeat((8 << 20) + 1)), TooLargeError);
  });

  it("reads Uint8Array views and strings alike", () => {
    const text = "module example.com/m\nrequire example.com/a v1.0.0 // indirect\n";
    const buf = Buffer.from("xx" + text);
    const view = new Uint8Array(buf.buffer, buf.byteOffset + 2, buf.byteLength - 2);
    assert.deepEqual(parseModFile(view), parseModFile(text));
  });

  it("reads a lone surrogate in a string as Go reads its WTF-8 bytes (three invalid bytes)", () => {
    // Same answer as the corpus case invalid-utf8-col, whose input has the bytes ED A0 80 there.
    const r = parseModFileResult("module m\nfoo \ud800 \u0001\n");
    assert.deepEqual(r, { ok: false, errors: ["go.mod:2:9: unexpected input character '\\x01'"], count: 1 });
  });

  it("stays linear on hostile shapes", () => {
    const start = performance.now();
    const longLine = "module m\nrequire " + "a".repeat(4 << 20) + " v1.0.0\n";
    assert.equal(parseModFile(longLine).require[0]!.path.length, 4 << 20);
    const manyTokens = "module m\nfoo" + " x".repeat(1 << 20) + "\n";
    assert.throws(() => parseModFile(manyTokens), ModFileError);
    const manyComments = "module m\n" + "// c\n".repeat(1 << 18) + "retract v1.0.0\n";
    assert.equal(parseModFile(manyComments).retract[0]!.rationale.length, (1 << 18) * 2 - 1);
    const longComment = "module m // " + "/".repeat(4 << 20) + "\n";
    assert.equal(parseModFile(longComment).module!.path, "m");
    const goVersion = "module m\ngo 1." + "1".repeat(1 << 20) + "x\n";
    assert.equal(parseModFile(goVersion, "go.mod", { lax: true }).go, "1." + "1".repeat(1 << 20));
    const deprecation = "// Deprecated: " + "x ".repeat(1 << 20) + "\nmodule m\n";
    // The trailing blank goes with TrimSpace.
    assert.equal(parseModFile(deprecation).module!.deprecated!.length, (2 << 20) - 1);
    assert.ok(performance.now() - start < 20_000);
  });
});

describe("parseModFile current Go rules [new]", () => {
  // Expectations from golang.org/x/mod's current modfile/rule.go (after v0.7.0),
  // which Debian's x/mod cannot answer for.
  it("accepts go lines with patch and prerelease parts (Go 1.21)", () => {
    for (const v of ["1.21.0", "1.21rc1", "1.22.3", "1.21.0rc2"]) {
      assert.equal(parseModFile(`module m\ngo ${v}\n`).go, v);
      assert.equal(parseModFile(`module m\ngo ${v}\n`, "go.mod", { lax: true }).go, v);
    }
    assert.throws(() => parseModFile("module m\ngo 1.21.0-x\n"), {
      message: "go.mod:2: invalid go version '1.21.0-x': must match format 1.23.0",
    });
    // A dependency's unparseable suffix is cut to major.minor, as ParseLax does.
    assert.equal(parseModFile("module m\ngo 1.21.0-x\n", "go.mod", { lax: true }).go, "1.21");
    assert.throws(() => parseModFile("module m\ngo 1.21.00\n"), ModFileError);
  });

  it("reads the toolchain line in the main module only", () => {
    assert.equal(parseModFile("module m\ntoolchain go1.21.3\n").toolchain, "go1.21.3");
    assert.equal(parseModFile("module m\ntoolchain default\n").toolchain, "default");
    assert.equal(parseModFile("module m\ntoolchain go1\n").toolchain, "go1");
    assert.throws(() => parseModFile("module m\ntoolchain 1.21\n"), {
      message: "go.mod:2: invalid toolchain version '1.21': must match format go1.23.0 or default",
    });
    assert.throws(() => parseModFile("module m\ntoolchain go1.21 go1.22\n"), {
      message: "go.mod:2: toolchain directive expects exactly one argument",
    });
    assert.throws(() => parseModFile("module m\ntoolchain go1.21\ntoolchain go1.22\n"), {
      message: "go.mod:3: repeated toolchain statement",
    });
    // ParseLax drops toolchain lines (not in its list of dependency directives).
    assert.equal(parseModFile("module m\ntoolchain 1.21\n", "go.mod", { lax: true }).toolchain, undefined);
  });

  it("reads godebug, tool and ignore, single and in blocks", () => {
    const mf = parseModFile(
      "module m\ngodebug default=go1.21\ngodebug (\n\tpanicnil=1\n\tx=\n)\ntool example.com/cmd/x\n" +
        'tool (\n\t"example.com/cmd/y"\n)\nignore ./node_modules\nignore (\n\tfoo\n\t"./a b"\n)\n',
    );
    assert.deepEqual(mf.godebug, [
      { key: "default", value: "go1.21" },
      { key: "panicnil", value: "1" },
      { key: "x", value: "" },
    ]);
    assert.deepEqual(mf.tool, ["example.com/cmd/x", "example.com/cmd/y"]);
    assert.deepEqual(mf.ignore, ["./node_modules", "foo", "./a b"]);
    for (const [line, message] of [
      ["godebug x", "go.mod:2: usage: godebug key=value"],
      ["godebug a=b c=d", "go.mod:2: usage: godebug key=value"],
      ['godebug "a=b"', "go.mod:2: usage: godebug key=value"],
      ["godebug a=b,c", "go.mod:2: usage: godebug key=value"],
      ["tool", "go.mod:2: tool directive expects exactly one argument"],
      ["tool a'b", "go.mod:2: invalid quoted string: unquoted string cannot contain quote"],
      ["ignore a b", "go.mod:2: ignore directive expects exactly one argument"],
      ['ignore "\\z"', "go.mod:2: invalid quoted string: invalid syntax"],
    ] as const) {
      assert.throws(() => parseModFile(`module m\n${line}\n`), { message }, line);
    }
    // Dependencies: godebug and tool are skipped; ignore is still read (and checked).
    const lax = parseModFile("module m\ngodebug x\ntool a b\nignore ./x\n", "go.mod", { lax: true });
    assert.deepEqual([lax.godebug, lax.tool, lax.ignore], [[], [], ["./x"]]);
    assert.throws(() => parseModFile("module m\nignore a b\n", "go.mod", { lax: true }), ModFileError);
  });

  it("treats . and .. as replacement directories", () => {
    const mf = parseModFile("module m\nreplace a.com/a => .\nreplace a.com/b => ..\n");
    assert.deepEqual(
      mf.replace.map((r) => r.new),
      [{ path: "." }, { path: ".." }],
    );
    assert.throws(() => parseModFile("module m\nreplace a.com/a => .. v1.0.0\n"), {
      message: 'go.mod:2: replacement module directory path ".." cannot have version',
    });
  });
});

describe("isRetracted", () => {
  const mf = parseModFile(
    "module m\nretract v1.0.0\nretract [v1.2.0, v1.3.0]\nretract [v2.0.0-pre, v2.0.0-pre.3]\nretract v1.5\n",
  );
  it("uses closed semver intervals", () => {
    for (const v of ["v1.0.0", "v1.2.0", "v1.2.5", "v1.3.0", "v1.3.0+meta", "v1.2.0-0.x", "v2.0.0-pre.2"]) {
      assert.equal(isRetracted(mf, v), v !== "v1.2.0-0.x", v);
    }
    for (const v of [
      "v0.9.0",
      "v1.0.1",
      "v1.1.9",
      "v1.3.1",
      "v1.3.0-rc.1",
      "v2.0.0",
      "v2.0.0-pre.10",
      "v1.5.1",
    ]) {
      assert.equal(isRetracted(mf, v), v === "v1.3.0-rc.1", v);
    }
  });
  it("keeps retract versions as written (no canonicalization, like ParseLax)", () => {
    // "retract v1.5" is kept as "v1.5", which semver compares equal to v1.5.0.
    assert.equal(mf.retract[3]!.low, "v1.5");
    assert.equal(isRetracted(mf, "v1.5.0"), true);
    const odd = parseModFile("module m\nretract latest\n");
    assert.deepEqual(odd.retract, [{ low: "latest", high: "latest", rationale: "" }]);
    assert.equal(isRetracted(odd, "v1.0.0"), false);
  });
});

describe("formatModuleOnly", () => {
  it("writes what the go command synthesizes", () => {
    assert.equal(formatModuleOnly("example.com/m"), "module example.com/m\n");
    assert.equal(formatModuleOnly("golang.org/x/mod/v2"), "module golang.org/x/mod/v2\n");
  });
  // AutoQuote answers from x/mod v0.7.0 (modfile.AutoQuote, same Go program).
  const autoQuoted: [string, string][] = [
    ["example.com/m", "example.com/m"],
    ["", '""'],
    ["a b", '"a b"'],
    ['a"b', '"a\\"b"'],
    ["a'b", '"a\'b"'],
    ["a`b", '"a`b"'],
    ["(", "("],
    ["((", '"(("'],
    ["a,b", '"a,b"'],
    ["a//b", '"a//b"'],
    ["a/*b", '"a/*b"'],
    ["a\tb", '"a\\tb"'],
    ["é/世界", "é/世界"],
    ["a\u00a0b", '"a\\u00a0b"'],
    ["a\u200bb", '"a\\u200bb"'],
    ["a\x00b", '"a\\x00b"'],
    ["a\\b", "a\\b"],
    ["\u{1f600}", "\u{1f600}"],
    ["a\u{e0001}", '"a\\U000e0001"'],
  ];
  for (const [s, want] of autoQuoted) {
    it(`quotes ${JSON.stringify(s)} as Go does`, () => {
      assert.equal(autoQuote(s), want);
      assert.equal(mustQuote(s), want !== s);
      assert.equal(formatModuleOnly(s), `module ${want}\n`);
    });
  }
  it("round-trips through the parser", () => {
    for (const [s] of autoQuoted) {
      // Go leaves a lone "(" unquoted, which then opens a block: not round-trippable there either.
      if (s.includes("\x00") || s === "" || s === "(") continue;
      assert.equal(parseModFile(formatModuleOnly(s)).module?.path, s, s);
      // ModulePath cuts lines at "//" even inside quotes, so it finds no path there.
      assert.equal(modulePathOf(formatModuleOnly(s)), s.includes("//") ? undefined : s, s);
    }
  });
});
