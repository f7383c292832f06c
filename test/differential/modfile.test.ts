/**
 * Differential test: src/module/modfile.ts against golang.org/x/mod/modfile
 * (Debian's v0.7.0) Parse and ParseLax with a nil VersionFixer, on random
 * go.mod texts: blocks of require/exclude/replace/retract, comments,
 * deprecations, quoting, CRLF, garbage and invalid UTF-8.
 *
 * goark follows current x/mod where it differs from v0.7.0. Random inputs never
 * use those constructs (the generator flags them and keeps them out); the
 * table at the end pins the current behaviour with explicit expectations:
 *
 * | Construct ([new])                                   | x/mod v0.7.0 (oracle)                 | current x/mod (goark)                   |
 * |-----------------------------------------------------|---------------------------------------|-----------------------------------------|
 * | `go 1.21.0`, `go 1.21rc1` (Go 1.21 go-line format)   | strict: error; lax: cut to `1.21`     | accepted as written                     |
 * | invalid go line error text                          | "must match format 1.23"              | "must match format 1.23.0"              |
 * | `toolchain go1.21.0` (Go 1.21)                      | strict: unknown directive; lax: skip  | strict: parsed, checked; lax: skipped   |
 * | `godebug k=v` (Go 1.23), `tool p` (Go 1.24)         | strict: unknown directive/block       | parsed (strict only)                    |
 * | `ignore ./dir` (Go 1.25)                            | strict: unknown directive             | parsed, also by the lax parser          |
 * | `replace m => .` / `=> ..` (x/mod v0.15)            | not a directory path                  | directory path                          |
 * | replace-without-version error text (x/mod v0.15)    | "(rooted or starting with ./ or ../)" | "(rooted or starting with . or ..)"     |
 *
 * The two wording changes are mapped back before texts are compared.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ModFile, modulePathOf, parseModFile, parseModFileResult } from "../../src/module/modfile.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import {
  anyVersion,
  distinct,
  plausibleModulePath,
  pseudoVersionLike,
  Rng,
  seedFromEnv,
} from "./generators.ts";
import { differential } from "./harness.ts";

const N = 5000;

let oracle: Oracle;
before(async () => {
  oracle = await startOracle();
});
after(async () => {
  await oracle?.close();
});

// ---- Generator ----

/** 0 while generating a clean file (no hostile tokens), 1 otherwise. */
let hostile = 1;

function version(rng: Rng): string {
  return rng.oneOf<string>([
    [
      14,
      () => rng.pick(["v1.0.0", "v1.2.3", "v0.1.0", "v2.0.0", "v1.0.0-pre", "v2.0.0+incompatible", "v3.1.4"]),
    ],
    [3, () => pseudoVersionLike(rng)],
    [3 * hostile, () => anyVersion(rng)],
    [hostile, () => rng.pick(["v1.2", "v1", "master", "latest", '"v1.0.0"', "`v1.0.0`", '"v1', "v1.0.0'"])],
  ]);
}

function modPath(rng: Rng): string {
  const p = rng.chance(0.85)
    ? plausibleModulePath(rng)
    : rng.pick([
        "example.com/a b",
        "example.com/v1",
        "gopkg.in/yaml",
        "x",
        "EXAMPLE.com/x",
        "a.b/c/v2",
        "é.com/x",
      ]);
  return rng.oneOf<string>([
    [30, () => (/[\s"]/.test(p) ? JSON.stringify(p) : p)],
    [4, () => JSON.stringify(p)],
    [hostile, () => rng.pick([`"${p}`, `\`${p}\``, `'${p}'`, `"${p}\\q"`, `"${p}\\u00e9"`])],
  ]);
}

const COMMENTS = [
  "// indirect",
  "//indirect",
  "// indirect; needed by x",
  "// indirect extra",
  "// a comment",
  "// Deprecated: use example.com/other",
  "//",
  "// \u00e9t\u00e9",
];

function suffix(rng: Rng): string {
  return rng.chance(0.3) ? " " + rng.pick(COMMENTS) : "";
}

function requireLine(rng: Rng): string {
  return rng.oneOf<string>([
    [16, () => `${modPath(rng)} ${version(rng)}`],
    [hostile, () => modPath(rng)],
    [hostile, () => `${modPath(rng)} ${version(rng)} ${version(rng)}`],
  ]);
}

/** `replace` arguments; directory targets "." and ".." alone are [new], so never made here. */
function replaceLine(rng: Rng): string {
  const old = rng.chance(0.5) ? modPath(rng) : `${modPath(rng)} ${version(rng)}`;
  const target = rng.oneOf<string>([
    [4, () => `${modPath(rng)} ${version(rng)}`],
    [
      3,
      () =>
        rng.pick([
          "../local",
          "./x",
          "/abs/dir",
          "C:\\dir",
          ".\\win",
          "..\\win",
          "\\root",
          "./x\\y",
          "./a b",
        ]),
    ],
    [hostile, () => rng.pick(["other.com/x", "other.com/x@v1.0.0", "./dir v1.0.0", '"./q"', ""])],
  ]);
  return `${old} ${rng.chance(0.9) ? "=>" : rng.pick(["->", "= >"])} ${target}`;
}

function retractLine(rng: Rng): string {
  return rng.oneOf<string>([
    [5, () => version(rng)],
    [4, () => `[${version(rng)}, ${version(rng)}]`],
    [
      hostile,
      () =>
        rng.pick([
          "[v1.0.0",
          "[v1.0.0,",
          "[v1.0.0, v1.1.0",
          "[",
          "v1.0.0 extra",
          "[v1.0.0 v1.1.0]",
          "(v1.0.0)",
          "",
        ]),
    ],
  ]);
}

/** Block or line forms of a directive. */
function directive(rng: Rng, verb: string, arg: () => string): string {
  if (rng.chance(0.35)) {
    const lines = rng.repeat(0, 4, () =>
      rng.chance(0.2) ? `\t${rng.pick(COMMENTS)}` : `\t${arg()}${suffix(rng)}`,
    );
    const open = rng.pick([`${verb} (`, `${verb} (`, `${verb}(`, `${verb} ( // block comment`]);
    const close = rng.chance(1 - 0.05 * hostile) ? rng.pick([")", ")", ") // end"]) : rng.pick(["", "))"]);
    return [open, ...lines, close].join("\n");
  }
  return `${verb} ${arg()}${suffix(rng)}`;
}

/** go-line values that x/mod v0.7.0 and current x/mod judge alike. */
const GO_VALUES = [
  "1.19",
  "1.2",
  "1.0",
  "2.0",
  "1.17",
  "1",
  "1.19beta",
  "v1.19",
  "1.02",
  "01.2",
  "abc",
  "1.19 extra",
  "",
];

const GARBAGE = [
  "foo",
  "bar baz",
  "(",
  ")",
  "=>",
  '"',
  "`",
  ",",
  "[",
  "]",
  "//",
  "/*",
  "{",
  "}",
  "\\",
  "é",
  "\u0000",
  "\ufeff",
  "\ud800",
  "use ./x",
  "frobnicate x",
  "module",
  "require",
  "exclude x",
  "go",
  '"quoted',
];

function goMod(rng: Rng): string {
  hostile = rng.chance(0.45) ? 0 : 1;
  const stmts: string[] = [];
  if (rng.chance(0.85)) {
    const dep = rng.chance(0.2)
      ? `// ${rng.pick(["Deprecated: gone", "Comment.\n//\n// Deprecated: in a paragraph", "Deprecated:"])}\n`
      : "";
    stmts.push(
      dep + (rng.chance(0.9) ? `module ${modPath(rng)}` : directive(rng, "module", () => modPath(rng))),
    );
  }
  const n = rng.range(0, 8);
  for (let i = 0; i < n; i++) {
    stmts.push(
      rng.oneOf<string>([
        [2, () => `go ${hostile ? rng.pick(GO_VALUES) : rng.pick(["1.19", "1.16", "1.2"])}`],
        [5, () => directive(rng, "require", () => requireLine(rng))],
        [2, () => directive(rng, "exclude", () => requireLine(rng))],
        [3, () => directive(rng, "replace", () => replaceLine(rng))],
        [
          3,
          () => {
            const before = rng.chance(0.4)
              ? `// ${rng.pick(["bad release", "Security bug.", "two\n// lines"])}\n`
              : "";
            return before + directive(rng, "retract", () => retractLine(rng));
          },
        ],
        [2, () => rng.pick(COMMENTS)],
        [1, () => ""],
        [2 * hostile, () => rng.repeat(1, 3, () => rng.pick(GARBAGE)).join(" ")],
      ]),
    );
  }
  let text = stmts.join("\n") + (rng.chance(0.9) ? "\n" : "");
  if (rng.chance(0.05)) text = text.replace(/\n/g, "\r\n");
  return text;
}

// ---- Comparison ----

interface GoModFileJSON {
  module?: { path: string };
  deprecated?: string;
  go?: string;
  require: unknown[];
  exclude: unknown[];
  replace: unknown[];
  retract: unknown[];
}

/** goark's ModFile in the oracle's shape; [new]-only fields appear only when set (they must not be). */
function asGoShape(mf: ModFile): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (mf.module) out.module = { path: mf.module.path };
  if (mf.module?.deprecated) out.deprecated = mf.module.deprecated;
  if (mf.go !== undefined) out.go = mf.go;
  out.require = mf.require.map((r) => ({ path: r.path, version: r.version, indirect: r.indirect }));
  out.exclude = mf.exclude.map((r) => ({ path: r.path, version: r.version }));
  out.replace = mf.replace.map((r) => ({
    old: r.old.version ? { path: r.old.path, version: r.old.version } : { path: r.old.path },
    new: r.new.version ? { path: r.new.path, version: r.new.version } : { path: r.new.path },
  }));
  out.retract = mf.retract.map((r) => ({ low: r.low, high: r.high, rationale: r.rationale }));
  if (mf.toolchain !== undefined) out.toolchain = mf.toolchain;
  for (const k of ["godebug", "tool", "ignore"] as const) if (mf[k].length > 0) out[k] = mf[k];
  return out;
}

function fromGo(v: unknown): Record<string, unknown> {
  const g = v as GoModFileJSON;
  const out: Record<string, unknown> = {};
  if (g.module) out.module = g.module;
  if (g.deprecated) out.deprecated = g.deprecated;
  if (g.go !== undefined) out.go = g.go;
  Object.assign(out, { require: g.require, exclude: g.exclude, replace: g.replace, retract: g.retract });
  return out;
}

/** goark's error text with the two documented [new] wordings mapped back to v0.7.0's. */
function oldWording(s: string): string {
  return s
    .replaceAll("must match format 1.23.0", "must match format 1.23")
    .replaceAll("(rooted or starting with . or ..)", "(rooted or starting with ./ or ../)");
}

describe("go.mod parsing agrees with x/mod/modfile", () => {
  const rng = new Rng(seedFromEnv(30));
  const texts = distinct(N, () => goMod(rng));

  for (const lax of [false, true]) {
    const name = lax ? "ParseLax" : "Parse";
    test(`${name} (${texts.length} files)`, () =>
      differential(oracle, {
        name: `modfile.${name}`,
        inputs: texts,
        oracle: (t) => [`modfile.${name}`, ["go.mod", t]],
        goark: (t) => {
          const r = parseModFileResult(t, "go.mod", { lax });
          if (!r.ok) throw new Error(r.errors.join("\n"));
          return asGoShape(r.modFile);
        },
        allowUntypedErrors: true,
        fromGo,
        compareErrorText: (_t, go, ours) => go === oldWording(ours),
      }));
  }

  test("parseModFile throws a typed ModFileError naming the first problem", async () => {
    const bad = texts.filter((t) => !parseModFileResult(t).ok).slice(0, 200);
    assert.ok(bad.length > 50);
    for (const t of bad) {
      const go = await oracle.ask("modfile.Parse", ["go.mod", t]);
      assert.throws(
        () => parseModFile(t),
        (e: Error) =>
          e.constructor.name === "ModFileError" && oldWording(e.message).startsWith(go.err!.split("\n")[0]!),
      );
    }
  });

  test("modulePathOf (modfile.ModulePath)", () =>
    differential(oracle, {
      name: "modulePathOf",
      inputs: texts,
      oracle: (t) => ["modfile.ModulePath", [t]],
      goark: (t) => parseModulePathOf(t),
      mix: { classes: ["none", "some"], classify: ({ v }) => (v === "" ? "none" : "some") },
    }));
});

/** Go answers "" for "no module path"; goark answers undefined. */
function parseModulePathOf(t: string): string {
  return modulePathOf(t) ?? "";
}

// ---- [new] constructs, pinned ----

interface NewCase {
  text: string;
  lax?: boolean;
  /** Expected fields (checked one by one), or the expected error text. */
  want: Partial<ModFile> | { err: string };
}

const M = "module example.com/m\n";

const NEW_CASES: NewCase[] = [
  // Go 1.21 go-line format (mod.md "go directive": 1.21.0, 1.21rc1).
  { text: `${M}go 1.21.0\n`, want: { go: "1.21.0" } },
  { text: `${M}go 1.21rc1\n`, want: { go: "1.21rc1" } },
  { text: `${M}go 1.21.0\n`, lax: true, want: { go: "1.21.0" } },
  {
    text: `${M}go 1.2.3.4\n`,
    want: { err: "go.mod:2: invalid go version '1.2.3.4': must match format 1.23.0" },
  },
  { text: `${M}go 1.21.0-x\n`, lax: true, want: { go: "1.21" } },
  // toolchain (Go 1.21): "default" or go1[.…]; main module only.
  { text: `${M}toolchain go1.21.0\n`, want: { toolchain: "go1.21.0" } },
  { text: `${M}toolchain default\n`, want: { toolchain: "default" } },
  { text: `${M}toolchain go1.21.0\n`, lax: true, want: { toolchain: undefined } },
  {
    text: `${M}toolchain 1.21\n`,
    want: { err: "go.mod:2: invalid toolchain version '1.21': must match format go1.23.0 or default" },
  },
  {
    text: `${M}toolchain go1.21.0\ntoolchain go1.22.0\n`,
    want: { err: "go.mod:3: repeated toolchain statement" },
  },
  { text: `${M}toolchain\n`, want: { err: "go.mod:2: toolchain directive expects exactly one argument" } },
  // godebug (Go 1.23): key=value, line or block.
  { text: `${M}godebug panicnil=1\n`, want: { godebug: [{ key: "panicnil", value: "1" }] } },
  {
    text: `${M}godebug (\n\ta=b\n\tc=d\n)\n`,
    want: {
      godebug: [
        { key: "a", value: "b" },
        { key: "c", value: "d" },
      ],
    },
  },
  { text: `${M}godebug nokey\n`, want: { err: "go.mod:2: usage: godebug key=value" } },
  { text: `${M}godebug a=b\n`, lax: true, want: { godebug: [] } },
  // tool (Go 1.24) and ignore (Go 1.25).
  { text: `${M}tool example.com/m/cmd/x\n`, want: { tool: ["example.com/m/cmd/x"] } },
  {
    text: `${M}tool (\n\texample.com/a\n\texample.com/b\n)\n`,
    want: { tool: ["example.com/a", "example.com/b"] },
  },
  { text: `${M}ignore ./node_modules\n`, want: { ignore: ["./node_modules"] } },
  { text: `${M}ignore ./node_modules\n`, lax: true, want: { ignore: ["./node_modules"] } },
  // x/mod v0.15: "." and ".." alone are directory paths.
  {
    text: `${M}replace example.com/x => .\n`,
    want: { replace: [{ old: { path: "example.com/x" }, new: { path: "." } }] },
  },
  {
    text: `${M}replace example.com/x => .. v1.0.0\n`,
    want: { err: 'go.mod:2: replacement module directory path ".." cannot have version' },
  },
  {
    text: `${M}replace example.com/x => other.com/y\n`,
    want: {
      err: "go.mod:2: replacement module without version must be directory path (rooted or starting with . or ..)",
    },
  },
];

describe("[new] go.mod constructs follow current x/mod (documented behaviour)", () => {
  for (const c of NEW_CASES) {
    test(`${c.lax ? "lax " : ""}${JSON.stringify(c.text)}`, () => {
      const r = parseModFileResult(c.text, "go.mod", { lax: c.lax === true });
      if ("err" in c.want) {
        assert.equal(r.ok, false, `expected an error, got ${JSON.stringify(r)}`);
        if (!r.ok) assert.equal(r.errors.join("\n"), c.want.err);
        return;
      }
      assert.ok(r.ok, `unexpected errors: ${JSON.stringify(r)}`);
      for (const [k, v] of Object.entries(c.want)) {
        assert.deepEqual((r.modFile as unknown as Record<string, unknown>)[k], v, k);
      }
    });
  }
});
