import assert from "node:assert/strict";
import { test } from "node:test";
import {
  build,
  byVersion,
  canonical,
  compare,
  isPrerelease,
  isValid,
  major,
  majorMinor,
  max,
  prerelease,
  sort,
} from "./semver.ts";
import { inputOf, vectors } from "./testdata/go-vectors.ts";

test("parse-derived answers agree with x/mod semver on the whole corpus", () => {
  assert.ok(vectors.strings.length > 300);
  for (const v of vectors.strings) {
    const s = inputOf(v);
    assert.equal(isValid(s), v.valid, `isValid(${JSON.stringify(s)})`);
    assert.equal(canonical(s), v.canonical ?? "", `canonical(${s})`);
    assert.equal(major(s), v.major ?? "", `major(${s})`);
    assert.equal(majorMinor(s), v.majorMinor ?? "", `majorMinor(${s})`);
    assert.equal(prerelease(s), v.prerelease ?? "", `prerelease(${s})`);
    assert.equal(build(s), v.build ?? "", `build(${s})`);
    assert.equal(isPrerelease(s), (v.prerelease ?? "") !== "", `isPrerelease(${s})`);
  }
});

test("compare agrees with x/mod for every pair", () => {
  const vs = vectors.versions;
  assert.ok(vs.length > 100);
  for (let i = 0; i < vs.length; i++) {
    for (let j = 0; j < vs.length; j++) {
      assert.equal(compare(vs[i]!, vs[j]!), vectors.compare[i]![j], `compare(${vs[i]}, ${vs[j]})`);
    }
  }
});

test("sort and max agree with x/mod", () => {
  const list = [...vectors.versions];
  assert.equal(sort(list), list);
  assert.deepEqual(list, vectors.sorted);
  for (const [a, b, want] of vectors.max) assert.equal(max(a, b), want, `max(${a}, ${b})`);
});

test("ties between equal-precedence versions break by Go's byte order", () => {
  // U+FFFF sorts before U+1F600 in UTF-8 although its UTF-16 code unit is higher.
  assert.deepEqual(["😀", "\uffff", "v1.0.0+b", "v1.0.0+a"].sort(byVersion), [
    "\uffff",
    "😀",
    "v1.0.0+a",
    "v1.0.0+b",
  ]);
});

test("the documented precedence chain", () => {
  // From semver.org, confirmed against x/mod by the vectors above.
  const chain = [
    "v0.9.0",
    "v1.0.0-alpha",
    "v1.0.0-alpha.1",
    "v1.0.0-alpha.beta",
    "v1.0.0-beta",
    "v1.0.0-beta.2",
    "v1.0.0-beta.11",
    "v1.0.0-rc.1",
    "v1.0.0",
    "v1.0.1-0.20191109021931-daa7c04131f5",
  ];
  for (let i = 0; i + 1 < chain.length; i++) {
    assert.equal(compare(chain[i]!, chain[i + 1]!), -1, `${chain[i]} < ${chain[i + 1]}`);
    assert.equal(compare(chain[i + 1]!, chain[i]!), 1);
  }
  assert.equal(compare("v1.2.3+a", "v1.2.3+b"), 0);
  assert.equal(compare("bad", "v0.0.0"), -1);
  assert.equal(compare("bad", "worse"), 0);
});

test("long inputs are handled in linear time", () => {
  const long = "v1.2.3-" + "a.".repeat(200_000) + "a";
  const start = process.hrtime.bigint();
  assert.equal(isValid(long), true);
  assert.equal(isValid(long + ".."), false);
  assert.equal(compare(long, long + ".b"), -1);
  assert.ok(process.hrtime.bigint() - start < 2_000_000_000n);
});
