import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidPathError, InvalidVersionError, ModFileError } from "../errors.ts";
import { EMPTY_GO_MOD_HASH, formatGoSum, formatGoSumLine, type GoSumEntry, parseGoSum } from "./gosum.ts";

/**
 * Inputs and what the go command's readGoSum loop (cmd/go/internal/modfetch,
 * go1.19, run as a small Go program) made of them: [path, version-field, hash]
 * triples, or the line number and field count of its "wrong number of fields" error.
 */
const cases: [string, [string, string, string][] | { line: number; fields: number }][] = [
  [
    "rsc.io/sampler v1.0.0 h1:SRJnjyQ07sAtq6G4RcfJEmz8JxqLyj3PoGXG2VhbDWo=\nrsc.io/sampler v1.0.0/go.mod h1:cqxpM3ZVz9VtirqxZPmrWzkQ+UkiNiGtkrN+B+i8kx8=\n",
    [
      ["rsc.io/sampler", "v1.0.0", "h1:SRJnjyQ07sAtq6G4RcfJEmz8JxqLyj3PoGXG2VhbDWo="],
      ["rsc.io/sampler", "v1.0.0/go.mod", "h1:cqxpM3ZVz9VtirqxZPmrWzkQ+UkiNiGtkrN+B+i8kx8="],
    ],
  ],
  ["", []],
  ["\n\n  \t\r\n", []],
  [
    "a.com/x v1.0.0 h1:abc=\r\n\r\na.com/x v1.0.0/go.mod h1:def=",
    [
      ["a.com/x", "v1.0.0", "h1:abc="],
      ["a.com/x", "v1.0.0/go.mod", "h1:def="],
    ],
  ],
  ["a.com/x\u00a0v1.0.0\u3000h1:abc=\u2028\n", [["a.com/x", "v1.0.0", "h1:abc="]]],
  ["a.com/x v1.0.0 h1:abc=\n\na.com/y v1.0.0\n", { line: 3, fields: 2 }],
  ["a.com/x v1.0.0 h1:abc= extra\n", { line: 1, fields: 4 }],
  [
    "a.com/x v1.0.0/go.mod h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=\na.com/x v1.0.0 h2:future\n",
    [["a.com/x", "v1.0.0", "h2:future"]],
  ],
  ["a.com/x v1.0.0\u200bx h1:abc=\n", [["a.com/x", "v1.0.0\u200bx", "h1:abc="]]],
  ["a.com/x v1.0.0 h1:abc=\u000b\u000c\u0085\n", [["a.com/x", "v1.0.0", "h1:abc="]]],
  ["\n\n\nonly-one\n", { line: 4, fields: 1 }],
];

describe("parseGoSum agrees with the go command's readGoSum", () => {
  for (const [text, want] of cases) {
    it(JSON.stringify(text).slice(0, 60), () => {
      if (Array.isArray(want)) {
        const expected: GoSumEntry[] = want.map(([path, v, hash]) => ({
          path,
          version: v.endsWith("/go.mod") ? v.slice(0, -7) : v,
          goMod: v.endsWith("/go.mod"),
          hash,
        }));
        assert.deepEqual(parseGoSum(text), expected);
        assert.deepEqual(parseGoSum(new TextEncoder().encode(text)), expected);
      } else {
        assert.throws(
          () => parseGoSum(text, "dir/go.sum"),
          (e: unknown) =>
            e instanceof ModFileError &&
            e.path === "dir/go.sum" &&
            e.message.startsWith(
              `dir/go.sum:${want.line}: malformed go.sum line: wrong number of fields ${want.fields}`,
            ) &&
            !e.message.includes("\n"),
        );
      }
    });
  }
  it("drops the empty-go.mod hash of the old bug", () => {
    assert.equal(EMPTY_GO_MOD_HASH, "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=");
  });
});

describe("formatGoSumLine", () => {
  it("writes the zip and go.mod lines", () => {
    // The rsc.io/sampler lines of Go's own test scripts (mod_get_changes.txt).
    assert.equal(
      formatGoSumLine("rsc.io/sampler", "v1.0.0", "h1:SRJnjyQ07sAtq6G4RcfJEmz8JxqLyj3PoGXG2VhbDWo=", false),
      "rsc.io/sampler v1.0.0 h1:SRJnjyQ07sAtq6G4RcfJEmz8JxqLyj3PoGXG2VhbDWo=",
    );
    assert.equal(
      formatGoSumLine("rsc.io/sampler", "v1.0.0", "h1:cqxpM3ZVz9VtirqxZPmrWzkQ+UkiNiGtkrN+B+i8kx8=", true),
      "rsc.io/sampler v1.0.0/go.mod h1:cqxpM3ZVz9VtirqxZPmrWzkQ+UkiNiGtkrN+B+i8kx8=",
    );
  });
  it("refuses fields that would break the line", () => {
    assert.throws(() => formatGoSumLine("a b", "v1.0.0", "h1:x", false), InvalidPathError);
    assert.throws(() => formatGoSumLine("", "v1.0.0", "h1:x", false), InvalidPathError);
    assert.throws(() => formatGoSumLine("a.com/x", "v1.0.0\n", "h1:x", false), InvalidVersionError);
    assert.throws(() => formatGoSumLine("a.com/x", "v1.0.0", "h1:x\nevil v1 h1:y", false), ModFileError);
  });
  it("round-trips through parseGoSum", () => {
    const line = formatGoSumLine("example.com/m", "v0.0.0-20191109021931-daa7c04131f5", "h1:abc=", true);
    assert.deepEqual(parseGoSum(line), [
      { path: "example.com/m", version: "v0.0.0-20191109021931-daa7c04131f5", goMod: true, hash: "h1:abc=" },
    ]);
  });
});

describe("formatGoSum", () => {
  it("sorts like module.Sort, merges duplicates and ends every line", () => {
    const e = (path: string, version: string, goMod: boolean, hash: string): GoSumEntry => ({
      path,
      version,
      goMod,
      hash,
    });
    const text = formatGoSum([
      e("b.com/x", "v1.10.0", false, "h1:b"),
      e("b.com/x", "v1.9.0", true, "h1:c"),
      e("b.com/x", "v1.9.0", false, "h1:d"),
      e("a.com/x", "v1.0.0", false, "h1:z"),
      e("a.com/x", "v1.0.0", false, "h1:a"),
      e("a.com/x", "v1.0.0", false, "h1:z"),
      e("b.com/x", "v1.10.0-rc.1", false, "h1:e"),
    ]);
    assert.equal(
      text,
      "a.com/x v1.0.0 h1:a\na.com/x v1.0.0 h1:z\nb.com/x v1.9.0 h1:d\nb.com/x v1.9.0/go.mod h1:c\n" +
        "b.com/x v1.10.0-rc.1 h1:e\nb.com/x v1.10.0 h1:b\n",
    );
    assert.equal(formatGoSum([]), "");
  });
});
