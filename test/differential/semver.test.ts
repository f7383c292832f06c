/**
 * Differential test: src/module/semver.ts and src/module/pseudo.ts against
 * golang.org/x/mod/semver and module/pseudo.go (Debian's v0.7.0). Neither has
 * changed behaviour since v0.7.0 (no [new] marks in PROTOCOL.md §3.1-3.2 for
 * these functions), so every answer must equal Go's.
 */
import { after, before, describe, test } from "node:test";
import * as pseudo from "../../src/module/pseudo.ts";
import * as semver from "../../src/module/semver.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import { anyVersion, distinct, pseudoVersionLike, Rng, seedFromEnv } from "./generators.ts";
import { BOOL_MIX, differential } from "./harness.ts";

const N = 5000;

let oracle: Oracle;
before(async () => {
  oracle = await startOracle();
});
after(async () => {
  await oracle?.close();
});

const rng = new Rng(seedFromEnv(10));
const versions = distinct(N, () => anyVersion(rng));
const EMPTY_MIX = {
  classes: ["empty", "non-empty"],
  classify: ({ v }: { v?: unknown }) => (v === "" ? "empty" : "non-empty"),
};

describe("semver agrees with x/mod/semver", () => {
  test(`isValid (${versions.length} versions)`, () =>
    differential(oracle, {
      name: "semver.isValid",
      inputs: versions,
      oracle: (v) => ["semver.IsValid", [v]],
      goark: (v) => semver.isValid(v),
      mix: BOOL_MIX,
    }));

  for (const [name, op, fn] of [
    ["canonical", "semver.Canonical", semver.canonical],
    ["major", "semver.Major", semver.major],
    ["majorMinor", "semver.MajorMinor", semver.majorMinor],
    ["prerelease", "semver.Prerelease", semver.prerelease],
    ["build", "semver.Build", semver.build],
  ] as const) {
    test(name, () =>
      differential(oracle, {
        name: `semver.${name}`,
        inputs: versions,
        oracle: (v) => [op, [v]],
        goark: (v) => fn(v),
        mix: EMPTY_MIX,
      }),
    );
  }

  // Pairs drawn mostly from a small pool so that equal and near-equal versions meet.
  const pool = distinct(400, () => (rng.chance(0.8) ? anyVersion(rng) : rng.pick(versions)));
  const pairs = distinct(N, () => [
    rng.pick(pool),
    rng.chance(0.1) ? rng.pick(pool) + "+build" : rng.pick(pool),
  ]);
  test(`compare (${pairs.length} pairs)`, () =>
    differential(oracle, {
      name: "semver.compare",
      inputs: pairs,
      oracle: ([a, b]) => ["semver.Compare", [a!, b!]],
      goark: ([a, b]) => semver.compare(a!, b!),
      mix: { classes: ["-1", "0", "1"], classify: ({ v }) => String(v) },
    }));

  test("max", () =>
    differential(oracle, {
      name: "semver.max",
      inputs: pairs,
      oracle: ([a, b]) => ["semver.Max", [a!, b!]],
      goark: ([a, b]) => semver.max(a!, b!),
      mix: false,
    }));

  test("sort (ties broken by string order)", () => {
    const lists = distinct(500, () => rng.repeat(0, 15, () => rng.pick(pool)));
    return differential(oracle, {
      name: "semver.sort",
      inputs: lists,
      oracle: (l) => ["semver.Sort", [l]],
      goark: (l) => semver.sort([...l]),
      mix: false,
    });
  });
});

describe("pseudo-versions agree with x/mod/module", () => {
  const prng = new Rng(seedFromEnv(11));
  const candidates = distinct(N, () => (prng.chance(0.8) ? pseudoVersionLike(prng) : prng.pick(versions)));

  test(`isPseudoVersion (${candidates.length} versions)`, () =>
    differential(oracle, {
      name: "isPseudoVersion",
      inputs: candidates,
      oracle: (v) => ["module.IsPseudoVersion", [v]],
      goark: (v) => pseudo.isPseudoVersion(v),
      mix: BOOL_MIX,
    }));

  test("isZeroPseudoVersion", () =>
    differential(oracle, {
      name: "isZeroPseudoVersion",
      inputs: [
        ...candidates,
        "v0.0.0-00010101000000-000000000000",
        "v2.0.0-00010101000000-000000000000",
        "v0.0.0-00010101000000-000000000000+incompatible",
        "v1.0.0-00010101000000-000000000000",
      ],
      oracle: (v) => ["module.IsZeroPseudoVersion", [v]],
      goark: (v) => pseudo.isZeroPseudoVersion(v),
      mix: false,
    }));

  for (const [name, op, fn] of [
    ["pseudoVersionBase", "module.PseudoVersionBase", pseudo.pseudoVersionBase],
    ["pseudoVersionRev", "module.PseudoVersionRev", pseudo.pseudoVersionRev],
  ] as const) {
    test(name, () =>
      differential(oracle, {
        name,
        inputs: candidates,
        oracle: (v) => [op, [v]],
        goark: (v) => fn(v),
        compareErrorText: true,
      }),
    );
  }

  test("pseudoVersionTime", () =>
    differential(oracle, {
      name: "pseudoVersionTime",
      inputs: candidates,
      oracle: (v) => ["module.PseudoVersionTime", [v]],
      goark: (v) => pseudo.pseudoVersionTime(v),
      // Go answers time.RFC3339 in UTC: 2019-11-09T02:19:31Z.
      fromGoark: (d) => (d as Date).toISOString().replace(/\.\d{3}Z$/, "Z"),
      compareErrorText: true,
    }));

  const inputs = distinct(N, () => {
    const major = prng.pick(["", "v0", "v1", "v2", "v10"]);
    const older = prng.chance(0.2) ? "" : prng.chance(0.7) ? prng.pick(versions) : prng.pick(candidates);
    // Any second from year 1 to 9999: the timestamp is always 14 digits.
    const seconds = prng.chance(0.8)
      ? prng.range(0, 2_000_000_000)
      : prng.range(-62_135_596_800, 253_402_300_799);
    const rev = prng.pick(["daa7c04131f5", "000000000000", "abc", "0123456789abcdef0123", ""]);
    return [major, older, seconds, rev] as const;
  });
  test(`pseudoVersion (${inputs.length} inputs)`, () =>
    differential(oracle, {
      name: "pseudoVersion",
      inputs,
      oracle: ([major, older, seconds, rev]) => ["module.PseudoVersion", [major, older, seconds, rev]],
      goark: ([major, older, seconds, rev]) =>
        pseudo.pseudoVersion(major, older, new Date(seconds * 1000), rev),
      mix: false,
    }));

  test("zeroPseudoVersion", () =>
    differential(oracle, {
      name: "zeroPseudoVersion",
      inputs: ["", "v0", "v1", "v2", "v10"],
      oracle: (m) => ["module.ZeroPseudoVersion", [m]],
      goark: (m) => pseudo.zeroPseudoVersion(m),
      mix: false,
    }));
});
