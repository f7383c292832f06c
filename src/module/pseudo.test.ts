import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidVersionError } from "../errors.ts";
import {
  checkPseudoVersionCommit,
  commitVersion,
  isPseudoVersion,
  isZeroPseudoVersion,
  parsePseudoVersion,
  pseudoVersion,
  pseudoVersionBase,
  pseudoVersionBaseFromTags,
  pseudoVersionRev,
  pseudoVersionTime,
  tagToVersion,
  zeroPseudoVersion,
} from "./pseudo.ts";
import { inputOf, vectors } from "./testdata/go-vectors.ts";

function resultOf(f: () => string): { err?: string; val?: string } {
  try {
    const val = f();
    return val === "" ? {} : { val };
  } catch (e) {
    assert.ok(e instanceof InvalidVersionError, `untyped error ${e}`);
    return { err: e.message };
  }
}

/** Go's time.RFC3339 of a UTC time with whole seconds. */
function rfc3339(t: Date): string {
  const y = t.getUTCFullYear();
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${String(y).padStart(4, "0")}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())}` +
    `T${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())}Z`
  );
}

describe("pseudo-version syntax agrees with x/mod on the whole corpus", () => {
  test("isPseudoVersion, isZeroPseudoVersion, base, time, rev", () => {
    let pseudos = 0;
    for (const v of vectors.strings) {
      const s = inputOf(v);
      assert.equal(isPseudoVersion(s), v.isPseudo, `isPseudoVersion(${s})`);
      assert.equal(isZeroPseudoVersion(s), v.isZeroPseudo, `isZeroPseudoVersion(${s})`);
      if (v.isPseudo) pseudos++;
      if (v.raw !== undefined) {
        assert.throws(() => pseudoVersionBase(s), InvalidVersionError);
        continue;
      }
      assert.deepEqual(
        resultOf(() => pseudoVersionBase(s)),
        v.pseudoBase,
        `pseudoVersionBase(${s})`,
      );
      assert.deepEqual(
        resultOf(() => pseudoVersionRev(s)),
        v.pseudoRev,
        `pseudoVersionRev(${s})`,
      );
      assert.deepEqual(
        resultOf(() => rfc3339(pseudoVersionTime(s))),
        v.pseudoTime.err === undefined ? { val: v.pseudoTime.val } : { err: v.pseudoTime.err },
        `pseudoVersionTime(${s})`,
      );
    }
    assert.ok(pseudos > 30, "the corpus should hold many pseudo-versions");
  });

  test("pseudoVersion(major, older, time, rev) builds what x/mod builds", () => {
    assert.ok(vectors.pseudo.length > 100);
    for (const { major, older, timeMs, rev, out } of vectors.pseudo) {
      assert.equal(
        pseudoVersion(major ?? "", older, new Date(timeMs), rev),
        out,
        `${major} ${older} ${timeMs}`,
      );
    }
  });

  test("zeroPseudoVersion matches Go's zero time and revision", () => {
    // module.ZeroPseudoVersion("v0") and ("v2") from x/mod v0.7.0.
    assert.equal(zeroPseudoVersion(""), "v0.0.0-00010101000000-000000000000");
    assert.equal(zeroPseudoVersion("v2"), "v2.0.0-00010101000000-000000000000");
    const year1 = new Date(0);
    year1.setUTCFullYear(1, 0, 1);
    assert.equal(pseudoVersion("v2", "", year1, "000000000000"), zeroPseudoVersion("v2"));
  });

  test("parsePseudoVersion splits the three forms", () => {
    assert.deepEqual(parsePseudoVersion("v0.0.0-20191109021931-daa7c04131f5"), {
      base: "v0.0.0",
      timestamp: "20191109021931",
      rev: "daa7c04131f5",
      build: "",
    });
    assert.deepEqual(parsePseudoVersion("v2.0.1-0.20191109021931-daa7c04131f5+incompatible"), {
      base: "v2.0.1-0",
      timestamp: "20191109021931",
      rev: "daa7c04131f5",
      build: "+incompatible",
    });
    assert.deepEqual(parsePseudoVersion("v1.2.3-pre.0.20191109021931-daa7c04131f5").base, "v1.2.3-pre.0");
    assert.throws(
      () => parsePseudoVersion("v1.2.3"),
      /^InvalidVersionError: pseudo-version "v1.2.3" invalid: syntax error$/,
    );
  });

  test("an invalid date is refused", () => {
    assert.throws(() => pseudoVersion("", "", new Date(Number.NaN), "abc"), InvalidVersionError);
  });

  test("the syntax check stays fast on long hostile input", () => {
    const hostile = "v1.2.3-" + ".0.12345678901234-a".repeat(20_000) + "!";
    const start = process.hrtime.bigint();
    assert.equal(isPseudoVersion(hostile), false);
    assert.equal(isPseudoVersion(hostile.slice(0, -1)), false);
    assert.ok(process.hrtime.bigint() - start < 2_000_000_000n);
  });
});

describe("choosing a commit's version from its tags (modfetch coderepo rules)", () => {
  const T = new Date(Date.UTC(2019, 10, 9, 2, 19, 31, 250));
  const rev = "daa7c04131f5";

  test("tagToVersion", () => {
    assert.deepEqual(tagToVersion("v1.2.3"), { version: "v1.2.3", canonical: true });
    assert.deepEqual(tagToVersion("v1.2.3+meta"), { version: "v1.2.3", canonical: false });
    assert.deepEqual(tagToVersion("v1.2"), { version: "", canonical: false });
    assert.deepEqual(tagToVersion("sub/v1.2.3", "sub/"), { version: "v1.2.3", canonical: true });
    assert.deepEqual(tagToVersion("v1.2.3", "sub/"), { version: "", canonical: false });
    assert.deepEqual(tagToVersion("v0.0.0-20191109021931-daa7c04131f5"), { version: "", canonical: false });
    assert.deepEqual(tagToVersion("v2.0.0+incompatible"), { version: "v2.0.0", canonical: false });
  });

  test("the highest allowed ancestor tag becomes the base", () => {
    const tags = ["v1.2.3", "v1.10.0", "v1.11.0-rc.1", "v2.0.0", "v1.12", "junk", "sub/v9.0.0"];
    assert.equal(pseudoVersionBaseFromTags(tags, { pathMajor: "" }), "v1.11.0-rc.1");
    assert.equal(
      pseudoVersionBaseFromTags(tags, { pathMajor: "", isRetracted: (v) => v.startsWith("v1.11") }),
      "v1.10.0",
    );
    assert.equal(
      pseudoVersionBaseFromTags(tags, { pathMajor: "", canUseIncompatible: () => true }),
      "v2.0.0",
    );
    assert.equal(pseudoVersionBaseFromTags(tags, { pathMajor: "/v2" }), "v2.0.0");
    assert.equal(pseudoVersionBaseFromTags(tags, { pathMajor: "/v3" }), "");
    assert.equal(pseudoVersionBaseFromTags(tags, { pathMajor: "", tagPrefix: "sub/" }), "");
    assert.equal(pseudoVersionBaseFromTags(["v1.2.3+meta"], { pathMajor: "" }), "v1.2.3");
  });

  test("commitVersion picks the form", () => {
    const none = { time: T, short: rev, tags: [], ancestorTags: [] };
    assert.equal(commitVersion(none, { pathMajor: "" }), "v0.0.0-20191109021931-daa7c04131f5");
    assert.equal(commitVersion(none, { pathMajor: "/v2" }), "v2.0.0-20191109021931-daa7c04131f5");
    assert.equal(commitVersion(none, { pathMajor: ".v1" }), "v1.0.0-20191109021931-daa7c04131f5");
    const release = { ...none, ancestorTags: ["v1.2.3"] };
    assert.equal(commitVersion(release, { pathMajor: "" }), "v1.2.4-0.20191109021931-daa7c04131f5");
    const pre = { ...none, ancestorTags: ["v1.2.3", "v1.3.0-pre"] };
    assert.equal(commitVersion(pre, { pathMajor: "" }), "v1.3.0-pre.0.20191109021931-daa7c04131f5");
    const incompatible = { ...none, ancestorTags: ["v2.0.0"] };
    assert.equal(
      commitVersion(incompatible, { pathMajor: "", canUseIncompatible: () => true }),
      "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
    );
    assert.equal(commitVersion(incompatible, { pathMajor: "" }), "v0.0.0-20191109021931-daa7c04131f5");
    const tagged = { ...none, tags: ["v1.5.0", "v1.4.0", "v1.6.0+meta"], ancestorTags: ["v1.5.0"] };
    assert.equal(commitVersion(tagged, { pathMajor: "" }), "v1.5.0");
    const taggedV2 = { ...none, tags: ["v2.1.0"] };
    assert.equal(
      commitVersion(taggedV2, { pathMajor: "", canUseIncompatible: () => true }),
      "v2.1.0+incompatible",
    );
  });

  test("checkPseudoVersionCommit", () => {
    const commit = { time: T, short: rev, tags: ["v1.2.3+meta"] };
    const m = "example.com/m";
    assert.equal(
      checkPseudoVersionCommit(m, "v0.0.0-20191109021931-daa7c04131f5", commit, { pathMajor: "" }),
      "",
    );
    assert.equal(
      checkPseudoVersionCommit(m, "v1.2.4-0.20191109021931-daa7c04131f5", commit, { pathMajor: "" }),
      "v1.2.3",
    );
    const bad: [string, string][] = [
      ["v0.0.0-20191109021931-daa7c04131f5ff", "revision is longer than canonical (expected daa7c04131f5)"],
      ["v0.0.0-20191109021931-daa7c041", "revision is shorter than canonical (expected daa7c04131f5)"],
      ["v0.0.0-20191109021931-aaaaaaaaaaaa", "does not match short name of revision (expected daa7c04131f5)"],
      [
        "v0.0.0-20191109021932-daa7c04131f5",
        "does not match version-control timestamp (expected 20191109021931)",
      ],
      ["v1.0.0-20191109021931-daa7c04131f5", "major version without preceding tag must be v0, not v1"],
      ["v1.2.3", "syntax error"],
    ];
    for (const [v, problem] of bad) {
      assert.throws(
        () => checkPseudoVersionCommit(m, v, commit, { pathMajor: "" }),
        (e: unknown) =>
          e instanceof InvalidVersionError && e.message === `${m}@${v}: invalid pseudo-version: ${problem}`,
        v,
      );
    }
    // Go strips +incompatible before looking for the base, so form (1) with it passes this stage.
    assert.equal(
      checkPseudoVersionCommit(m, "v0.0.0-20191109021931-daa7c04131f5+incompatible", commit, {
        pathMajor: "",
      }),
      "",
    );
    assert.throws(
      () =>
        checkPseudoVersionCommit(
          m,
          "v1.2.4-0.20191109021931-daa7c04131f5",
          { ...commit, tags: ["v1.2.3"] },
          {
            pathMajor: "",
          },
        ),
      /tag \(v1\.2\.3\) found on revision daa7c04131f5 is already canonical/,
    );
  });
});
