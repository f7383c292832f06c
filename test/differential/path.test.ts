/**
 * Differential test: src/module/path.ts against golang.org/x/mod/module
 * (Debian's v0.7.0). No [new] rule applies to paths: module.go's path rules
 * are unchanged since v0.7.0 (PROTOCOL.md §2 has no [new] mark), so every
 * answer, error texts included, must equal Go's.
 */
import { after, before, describe, test } from "node:test";
import * as path from "../../src/module/path.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import {
  anyPath,
  anyVersion,
  distinct,
  escapedString,
  globList,
  plausibleModulePath,
  Rng,
  seedFromEnv,
} from "./generators.ts";
import { BOOL_MIX, differential } from "./harness.ts";

const N = 5000;

let oracle: Oracle;
before(async () => {
  oracle = await startOracle();
});
after(async () => {
  await oracle?.close();
});

const paths = distinct(
  N,
  (
    (rng) => () =>
      anyPath(rng)
  )(new Rng(seedFromEnv(1))),
);
const versions = distinct(
  N,
  (
    (rng) => () =>
      anyVersion(rng)
  )(new Rng(seedFromEnv(2))),
);

describe("module paths agree with x/mod", () => {
  for (const [name, op, fn] of [
    ["checkPath", "module.CheckPath", path.checkPath],
    ["checkImportPath", "module.CheckImportPath", path.checkImportPath],
    ["checkFilePath", "module.CheckFilePath", path.checkFilePath],
  ] as const) {
    test(`${name} (${paths.length} paths)`, () =>
      differential(oracle, {
        name,
        inputs: paths,
        oracle: (p) => [op, [p]],
        goark: (p) => {
          fn(p);
          return true;
        },
        compareErrorText: true,
      }));
  }

  test("splitPathVersion", () =>
    differential(oracle, {
      name: "splitPathVersion",
      inputs: paths,
      oracle: (p) => ["module.SplitPathVersion", [p]],
      goark: (p) => {
        const { prefix, pathMajor, ok } = path.splitPathVersion(p);
        return { prefix, pathMajor, ok };
      },
      mix: {
        classes: ["no suffix", "/vN", ".vN", "bad suffix"],
        classify: ({ v }) => {
          const r = v as { ok: boolean; pathMajor: string };
          return !r.ok
            ? "bad suffix"
            : r.pathMajor === ""
              ? "no suffix"
              : r.pathMajor[0] === "/"
                ? "/vN"
                : ".vN";
        },
      },
    }));

  test("escapePath", () =>
    differential(oracle, {
      name: "escapePath",
      inputs: paths,
      oracle: (p) => ["module.EscapePath", [p]],
      goark: (p) => path.escapePath(p),
      compareErrorText: true,
    }));

  const escaped = distinct(
    N,
    (
      (rng) => () =>
        escapedString(rng)
    )(new Rng(seedFromEnv(3))),
  );
  test("unescapePath", () =>
    differential(oracle, {
      name: "unescapePath",
      inputs: escaped,
      oracle: (p) => ["module.UnescapePath", [p]],
      goark: (p) => path.unescapePath(p),
      compareErrorText: true,
    }));

  test("escapeVersion", () =>
    differential(oracle, {
      name: "escapeVersion",
      inputs: [...versions, ...paths.slice(0, 1000)],
      oracle: (v) => ["module.EscapeVersion", [v]],
      goark: (v) => path.escapeVersion(v),
      // Go's "internal error: inconsistency in EscapePath" names nothing; goark
      // appends the offending version (house rule: errors name the thing).
      compareErrorText: (_v, go, ours) =>
        go === ours || (go.startsWith("internal error") && ours.startsWith(go)),
    }));

  test("unescapeVersion", () =>
    differential(oracle, {
      name: "unescapeVersion",
      inputs: escaped,
      oracle: (v) => ["module.UnescapeVersion", [v]],
      goark: (v) => path.unescapeVersion(v),
      compareErrorText: true,
    }));

  test("canonicalVersion", () =>
    differential(oracle, {
      name: "canonicalVersion",
      inputs: versions,
      oracle: (v) => ["module.CanonicalVersion", [v]],
      goark: (v) => path.canonicalVersion(v),
      mix: { classes: ["invalid", "valid"], classify: ({ v }) => (v === "" ? "invalid" : "valid") },
    }));
});

describe("module path/version pairs agree with x/mod", () => {
  const rng = new Rng(seedFromEnv(4));
  const pairs = distinct(N, () => {
    const p = rng.chance(0.7) ? plausibleModulePath(rng) : anyPath(rng);
    const v = rng.chance(0.5) ? versions[rng.int(versions.length)]! : majorishVersion(rng);
    return [p, v] as const;
  });

  test(`check (${pairs.length} pairs)`, () =>
    differential(oracle, {
      name: "check",
      inputs: pairs,
      oracle: ([p, v]) => ["module.Check", [p, v]],
      goark: ([p, v]) => {
        path.check(p, v);
        return true;
      },
      compareErrorText: true,
    }));

  const majors = [
    "",
    "/v2",
    "/v3",
    "/v10",
    ".v1",
    ".v0",
    ".v2",
    ".v2-unstable",
    ".v1-unstable",
    "/v1",
    "/v0",
  ];
  const majorPairs = distinct(N, () => [
    rng.chance(0.5) ? majorishVersion(rng) : rng.pick(versions),
    rng.pick(majors),
  ]);
  test("checkPathMajor", () =>
    differential(oracle, {
      name: "checkPathMajor",
      inputs: majorPairs,
      oracle: ([v, m]) => ["module.CheckPathMajor", [v!, m!]],
      goark: ([v, m]) => {
        path.checkPathMajor(v!, m!);
        return true;
      },
      compareErrorText: true,
    }));

  test("sortModuleVersions (module.Sort)", () => {
    const lists = distinct(300, () =>
      rng.repeat(0, 12, () => ({
        path: rng.pick(["a.com/x", "a.com/x/v2", "b.com/y", "a.com/X", "a.com/x-y", "é.com/z"]),
        version:
          rng.pick([
            ...versions.slice(0, 50),
            "v1.0.0",
            "v1.0.0/go.mod",
            "v1.2.3/go.mod",
            "v1.0.0-pre/go.mod",
          ]) + (rng.chance(0.1) ? "/go.mod" : ""),
      })),
    );
    return differential(oracle, {
      name: "sortModuleVersions",
      inputs: lists,
      oracle: (l) => ["module.Sort", [l.map((m) => m.path), l.map((m) => m.version)]],
      goark: (l) => path.sortModuleVersions(l.map((m) => ({ ...m }))).map((m) => [m.path, m.version]),
      mix: false,
    });
  });
});

function majorishVersion(rng: Rng): string {
  return rng.pick([
    "v0.1.0",
    "v1.0.0",
    "v1.2.3-pre",
    "v2.0.0",
    "v2.3.4",
    "v2.0.0+incompatible",
    "v3.0.0+incompatible",
    "v10.0.0",
    "v0.0.0-20191109021931-daa7c04131f5",
    "v1.0.0-20191109021931-daa7c04131f5",
    "v2.0.0-20191109021931-daa7c04131f5",
    "v1.999.0-0.20191109021931-daa7c04131f5",
    "v1.0.0+meta",
    "v2",
    "v1.2",
    "v1.0.0-0.20191109021931-daa7c04131f5+incompatible",
  ]);
}

describe("prefix patterns agree with x/mod (GOPRIVATE syntax)", () => {
  const rng = new Rng(seedFromEnv(5));
  const cases = distinct(N, () => {
    const target = rng.chance(0.8) ? plausibleModulePath(rng) : anyPath(rng);
    return [globList(rng, target), target] as const;
  });
  test(`matchPrefixPatterns (${cases.length} cases)`, () =>
    differential(oracle, {
      name: "matchPrefixPatterns",
      inputs: cases,
      oracle: ([g, t]) => ["module.MatchPrefixPatterns", [g, t]],
      goark: ([g, t]) => path.matchPrefixPatterns(g, t),
      mix: BOOL_MIX,
    }));
});
