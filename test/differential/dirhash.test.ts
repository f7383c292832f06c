/**
 * Differential test: src/module/dirhash.ts's in-memory hashes against
 * golang.org/x/mod/sumdb/dirhash (Debian's v0.7.0; Hash1 is unchanged since).
 * Names are sorted as Go sorts strings (by UTF-8 bytes), which differs from
 * JS's UTF-16 order for characters above U+FFFF, so the names mix those in.
 */
import { after, before, describe, test } from "node:test";
import { hash1, hashBytesFiles, hashGoMod } from "../../src/module/dirhash.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import { distinct, Rng, seedFromEnv } from "./generators.ts";
import { differential } from "./harness.ts";

let oracle: Oracle;
before(async () => {
  oracle = await startOracle();
});
after(async () => {
  await oracle?.close();
});

const NAME_PARTS = [
  "a",
  "B",
  "go.mod",
  "m@v1.0.0/",
  "é",
  "\uffff",
  "\ue000",
  "😀",
  "\u{10000}",
  " ",
  "\t",
  "z",
  "\n",
];

function name(rng: Rng): string {
  return rng.repeat(1, 4, () => rng.pick(NAME_PARTS)).join("");
}

function content(rng: Rng): string {
  return rng.oneOf<string>([
    [3, () => ""],
    [5, () => `module example.com/m${rng.u32()}\n\ngo 1.19\n`],
    [2, () => "x".repeat(rng.range(0, 5000))],
    [1, () => "é\u0000\r\n😀"],
  ]);
}

describe("dirhash agrees with x/mod/sumdb/dirhash", () => {
  const rng = new Rng(seedFromEnv(40));

  test("hashGoMod", () =>
    differential(oracle, {
      name: "hashGoMod",
      inputs: distinct(500, () => content(rng)),
      oracle: (c) => ["dirhash.HashGoMod", [c]],
      goark: (c) => hashGoMod(c),
      mix: false,
    }));

  // Distinct names per set: a name given twice is not a meaningful file list.
  const sets = distinct(1000, () => {
    const names = [...new Set(rng.repeat(0, 8, () => name(rng)))];
    return names.map((n) => ({ name: n, data: content(rng) }));
  });

  test("hashBytesFiles (Hash1 over in-memory files; newline in a name is an error)", () =>
    differential(oracle, {
      name: "hashBytesFiles",
      inputs: sets,
      oracle: (files) => ["dirhash.Hash1", [files.map((f) => f.name), files.map((f) => f.data)]],
      goark: (files) => hashBytesFiles(files),
    }));

  test("hash1 (streams)", () =>
    differential(oracle, {
      name: "hash1",
      inputs: sets,
      oracle: (files) => ["dirhash.Hash1", [files.map((f) => f.name), files.map((f) => f.data)]],
      goark: async (files) => {
        const { Readable } = await import("node:stream");
        const byName = new Map(files.map((f) => [f.name, f.data]));
        return hash1(
          files.map((f) => f.name),
          (n) => Readable.from([Buffer.from(byName.get(n)!)]),
        );
      },
    }));
});
