/**
 * Differential test for zips from outside: src/module/zip.ts checkZip,
 * verifyZip and unzip, and dirhash.hashZip, against x/mod's CheckZip, Unzip
 * and HashZip (Debian's v0.7.0; checkZip has no [new] rule), on hand-built
 * hostile zips: missing or wrong prefixes, directory entries, unclean and
 * absolute names, go.mod in subdirectories or in upper case, case
 * collisions, duplicates, file-vs-directory clashes, invalid UTF-8 names,
 * symlink modes.
 *
 * checkZip and hashZip must agree with Go exactly. verifyZip and unzip are
 * goark's stricter gates for untrusted zips: whatever Go rejects they must
 * reject, and a zip Go accepts that holds only regular files and directory
 * entries they must accept, with Go's h1.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { crc32 } from "node:zlib";
import { hashZip } from "../../src/module/dirhash.ts";
import { type CheckedFiles, checkZip, unzip, verifyZip } from "../../src/module/zip.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import { distinct, Rng, seedFromEnv } from "./generators.ts";
import { outcome } from "./harness.ts";

const ZIPS = 500;

let oracle: Oracle;
let work: string;
before(async () => {
  oracle = await startOracle();
  work = await mkdtemp(join(tmpdir(), "goark-diff-zipcheck-"));
});
after(async () => {
  await oracle?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

// ---- A minimal stored-zip writer (any names, any modes; no library checks in the way) ----

interface Entry {
  /** Entry name; U+DC80..U+DCFF stand for raw bytes (invalid UTF-8). */
  name: string;
  data: string;
  /** Unix mode for the external attributes (0o100644 file, 0o40755 dir, 0o120777 symlink). */
  mode: number;
}

function nameBytes(s: string): Buffer {
  const parts: Buffer[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    parts.push(c >= 0xdc80 && c <= 0xdcff ? Buffer.from([c - 0xdc00]) : Buffer.from(ch, "utf8"));
  }
  return Buffer.concat(parts);
}

function buildZip(entries: Entry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = nameBytes(e.name);
    const data = Buffer.from(e.data);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((e.mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// ---- Generator ----

const MODULE = "example.com/m";
const VERSION = "v1.0.0";
const PREFIX = `${MODULE}@${VERSION}/`;

const NAMES = [
  "go.mod",
  "GO.MOD",
  "sub/go.mod",
  "sub/Go.Mod",
  "a.go",
  "A.go",
  "b/c.go",
  "B/c.go",
  "b",
  "b/",
  "sub/",
  "LICENSE",
  "vendor/x/y.go",
  "vendor/modules.txt",
  "./a.go",
  "a/../b.go",
  "a//b.go",
  "/abs.go",
  "..",
  "../escape.go",
  "x/..",
  "aux.c",
  "con/x.go",
  "é.go",
  "\u212a.go",
  "k.go",
  "bad\udcff.go",
  "a:b.go",
  "a\\b.go",
  "new\nline.go",
  ".hidden",
  "...",
  "",
];

function genEntries(rng: Rng): Entry[] {
  const n = rng.range(0, 8);
  const entries: Entry[] = [];
  const clean = rng.chance(0.35);
  for (let i = 0; i < n; i++) {
    const rel = clean
      ? rng.pick(["a.go", "b/c.go", "LICENSE", "go.mod", "d/e/f.txt", "é.go", "x.go", "b/"])
      : rng.pick(NAMES);
    const prefix =
      clean || rng.chance(0.85)
        ? PREFIX
        : rng.pick(["", "example.com/m@v1.0.1/", "example.com/M@v1.0.0/", "example.com/m@v1.0.0"]);
    const isDir = rel.endsWith("/") || rel === "";
    const mode = isDir ? 0o40755 : rng.chance(0.05) ? 0o120777 : 0o100644;
    entries.push({ name: prefix + rel, data: isDir ? "" : `data ${i} ${rng.u32()}\n`, mode });
  }
  if (rng.chance(0.05) && entries.length > 0) entries.push({ ...entries[0]! }); // an exact duplicate
  return entries;
}

function label(entries: Entry[]): string {
  return JSON.stringify(entries.map((e) => (e.mode === 0o120777 ? `${e.name} (symlink)` : e.name)));
}

// ---- Comparison ----

interface GoChecked {
  valid: string[];
  invalid: { path: string; err: string }[];
  sizeError?: string;
  err?: string;
}

const shown = (s: string) => s.replace(/[\udc80-\udcff]/g, "\ufffd");

function normal(cf: GoChecked | CheckedFiles, texts: boolean) {
  return {
    valid: cf.valid.map(shown).sort(),
    invalid: cf.invalid.map((e) => (texts ? `${shown(e.path)}: ${shown(e.err)}` : shown(e.path))).sort(),
    sizeError: cf.sizeError,
  };
}

describe("checking zips from outside agrees with x/mod", () => {
  test(`checkZip, hashZip, verifyZip, unzip on ${ZIPS} hand-built zips`, async () => {
    const rng = new Rng(seedFromEnv(50));
    const cases = distinct(ZIPS, () => genEntries(rng), label);
    const mismatches: string[] = [];
    const miss = (entries: Entry[], what: string, goark: unknown, go: unknown) =>
      mismatches.push(
        `  zip: ${label(entries)}\n    ${what}\n    goark: ${JSON.stringify(goark)}\n    go:    ${JSON.stringify(go)}`,
      );
    let accepted = 0;
    const one = async (i: number, entries: Entry[]) => {
      const file = join(work, `z${i}.zip`);
      await writeFile(file, buildZip(entries));
      const texts = !entries.some((e) => /[\udc80-\udcff]/.test(e.name));

      const go = await oracle.ask<GoChecked>("zip.CheckZip", [MODULE, VERSION, file]);
      const ours = await outcome(() => checkZip(MODULE, VERSION, file));
      const goOk = go.err === undefined && go.v!.err === undefined;
      if ((go.err === undefined) !== (ours.err === undefined)) {
        miss(entries, "checkZip fails on one side", ours, go);
      } else if (go.v && !isDeepStrictEqual(normal(ours.v as CheckedFiles, texts), normal(go.v, texts))) {
        miss(entries, "checkZip lists differ", normal(ours.v as CheckedFiles, texts), normal(go.v, texts));
      }

      const goHash = await oracle.ask<string>("dirhash.HashZip", [file]);
      const ourHash = await outcome(() => hashZip(file));
      if (goHash.v !== ourHash.v || (goHash.err === undefined) !== (ourHash.err === undefined)) {
        miss(entries, "hashZip differs", ourHash, goHash);
      }

      const verified = await outcome(() => verifyZip(MODULE, VERSION, file));
      const unzipped = await outcome(() => unzip(join(work, `u${i}`), MODULE, VERSION, file));
      const goUnzip = await oracle.ask("zip.Unzip", [join(work, `g${i}`), MODULE, VERSION, file]);
      const plain = entries.every((e) => e.mode !== 0o120777);
      if (!goOk) {
        if (verified.err === undefined) miss(entries, "verifyZip accepts a zip x/mod rejects", verified, go);
        if (unzipped.err === undefined) miss(entries, "unzip accepts a zip x/mod rejects", unzipped, go);
      } else if (plain) {
        accepted++;
        const want = goHash.v;
        if ((verified.v as { h1?: string } | undefined)?.h1 !== want)
          miss(entries, "verifyZip", verified, want);
        if ((unzipped.v as { h1?: string } | undefined)?.h1 !== want) miss(entries, "unzip", unzipped, want);
        if (goUnzip.err !== undefined) miss(entries, "x/mod Unzip fails where CheckZip passed", {}, goUnzip);
      }
      if (verified.err !== undefined && !verified.typed)
        miss(entries, "verifyZip threw an untyped error", verified, {});
    };
    // A few zips at a time: the time goes to file I/O and oracle round trips.
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < cases.length; i = next++) await one(i, cases[i]!);
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    assert.ok(
      accepted > ZIPS / 10 && accepted < ZIPS * 0.9,
      `lopsided generator: ${accepted}/${cases.length} accepted`,
    );
    if (mismatches.length > 0) {
      assert.fail(
        `goark disagrees with x/mod on ${mismatches.length} checks (first 20):\n${mismatches.slice(0, 20).join("\n")}`,
      );
    }
  });

  test("module path and version are checked first (non-canonical, mismatched major, bad path)", async () => {
    const file = join(work, "mv.zip");
    await writeFile(file, buildZip([{ name: `${PREFIX}a.go`, data: "package m\n", mode: 0o100644 }]));
    for (const [m, v] of [
      [MODULE, "v1.0"],
      [MODULE, "v2.0.0"],
      [`${MODULE}/v2`, "v1.0.0"],
      ["Example.com/m", VERSION],
      [MODULE, "v2.0.0+incompatible"],
    ] as const) {
      const go = await oracle.ask("zip.CheckZip", [m, v, file]);
      const ours = await outcome(() => checkZip(m, v, file));
      assert.equal(
        ours.err === undefined,
        go.err === undefined,
        `${m}@${v}: goark ${JSON.stringify(ours)} go ${JSON.stringify(go)}`,
      );
      if (go.err !== undefined) assert.equal(ours.err, go.err, `${m}@${v}`);
    }
  });
});
