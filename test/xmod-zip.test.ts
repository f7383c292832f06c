/**
 * Conformance: golang.org/x/mod's own zip test cases, read at run time from
 * Debian's golang-golang-x-mod-dev, run against src/module/zip.ts the way
 * x/mod's zip_test.go runs them. Every case must give Go's recorded answer:
 * the valid / omitted / invalid lists, the error, and the h1 hash.
 */

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { after, describe, test } from "node:test";
import { hashDir, hashZip } from "../src/module/dirhash.ts";
import { decodeGoBytes } from "../src/module/go-bytes.ts";
import {
  type CheckedFiles,
  checkDir,
  checkedFilesError,
  checkFiles,
  checkZip,
  create,
  createFromDir,
  unzip,
  verifyZip,
  type ZipSourceFile,
} from "../src/module/zip.ts";
import { writeTestZip } from "./helpers/test-zip.ts";
import { parseTxtar, type Txtar, type TxtarFile } from "./helpers/txtar.ts";

const TESTDATA = "/usr/share/gocode/src/golang.org/x/mod/zip/testdata";

interface Case {
  name: string;
  path: string;
  version: string;
  wantErr: string;
  hash: string;
  archive: Txtar;
}

/** x/mod's readTest: key=value lines in the comment, `#` starting a comment. */
function readCase(file: string): Case {
  const archive = parseTxtar(readFileSync(file));
  const c: Case = { name: file, path: "", version: "", wantErr: "", hash: "", archive };
  const lines = archive.comment.toString("latin1").split("\n");
  lines.forEach((raw, n) => {
    let line = raw;
    const hash = line.indexOf("#");
    if (hash >= 0) line = line.slice(0, hash);
    // Bytes were read as latin1 so that none is lost; decode as Go sees them.
    line = decodeGoBytes(Buffer.from(line, "latin1")).trim();
    if (line === "") return;
    const eq = line.indexOf("=");
    assert.ok(eq >= 0, `${file}:${n + 1}: missing = separator`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === "path") c.path = value;
    else if (key === "version") c.version = value;
    else if (key === "wantErr") c.wantErr = value;
    else if (key === "hash") c.hash = value;
    else assert.fail(`${file}:${n + 1}: unknown key ${key}`);
  });
  return c;
}

function casesIn(dir: string): string[] {
  return readdirSync(join(TESTDATA, dir))
    .filter((f) => f.endsWith(".txt"))
    .sort();
}

/** x/mod's formatCheckedFiles. */
function formatChecked(cf: CheckedFiles): string {
  let s = "valid:\n";
  for (const f of cf.valid) s += f + "\n";
  s += "\nomitted:\n";
  for (const f of cf.omitted) s += `${f.path}: ${f.err}\n`;
  s += "\ninvalid:\n";
  for (const f of cf.invalid) s += `${f.path}: ${f.err}\n`;
  return s;
}

function memoryFile(f: TxtarFile): ZipSourceFile {
  return {
    path: f.name,
    lstat: async () => ({ isFile: true, isSymlink: false, size: f.data.length }),
    open: () => Readable.from([f.data]),
  };
}

function splitWant(files: TxtarFile[]): { want: string; rest: TxtarFile[] } {
  const i = files.findIndex((f) => f.name === "want");
  assert.ok(i >= 0, "case has a want section");
  return { want: files[i]!.data.toString("utf8"), rest: files.filter((_, j) => j !== i) };
}

/** The error check of x/mod's check tests: Err() is exactly "the invalid files", if any. */
function assertErrIsInvalidList(cf: CheckedFiles): void {
  const err = checkedFilesError(cf);
  assert.equal(err !== undefined, cf.invalid.length > 0);
  for (const e of cf.invalid) assert.ok(err!.message.includes(`${e.path}: ${e.err}`), err!.message);
}

const scratch = await mkdtemp(join(tmpdir(), "goark-xmod-zip-"));
after(() => rm(scratch, { recursive: true, force: true }));
let seq = 0;
async function tempDir(): Promise<string> {
  const d = join(scratch, String(seq++));
  await mkdir(d, { recursive: true });
  return d;
}

async function extractToDir(files: TxtarFile[]): Promise<string> {
  const dir = await tempDir();
  for (const f of files) {
    const p = join(dir, f.name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, f.data);
  }
  return dir;
}

async function extractToZip(files: TxtarFile[]): Promise<string> {
  const zipPath = join(await tempDir(), "txtar.zip");
  await writeTestZip(zipPath, files);
  return zipPath;
}

/**
 * Our strings hold a raw byte b of invalid UTF-8 as the lone surrogate
 * U+DC00+b (src/module/go-bytes.ts); goQuote (go-string.ts) prints that as
 * \udcXX where Go prints the byte as \xXX. Only that spelling is mapped.
 */
function goByteSpelling(message: string): string {
  return message.replace(/\\udc([89a-f][0-9a-f])/g, "\\x$1");
}

/** Runs fn expecting either Go's error (a substring) or success. */
async function expectOutcome<T>(c: Case, fn: () => Promise<T>): Promise<T | undefined> {
  if (c.wantErr === "") return fn();
  await assert.rejects(fn, (err: Error) => {
    const got = goByteSpelling(err.message);
    assert.ok(
      got.includes(c.wantErr),
      `error ${JSON.stringify(err.message)} lacks ${JSON.stringify(c.wantErr)}`,
    );
    return true;
  });
  return undefined;
}

test("x/mod test data is installed", () => {
  assert.ok(existsSync(TESTDATA), `${TESTDATA} is missing: install golang-golang-x-mod-dev`);
  for (const d of ["check_dir", "check_files", "check_zip", "create", "create_from_dir", "unzip"]) {
    assert.ok(casesIn(d).length >= 2, `${d} has cases`);
  }
});

describe("check_files", () => {
  for (const file of casesIn("check_files")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "check_files", file));
      const { want, rest } = splitWant(c.archive.files);
      const cf = await checkFiles(rest.map(memoryFile));
      assert.equal(formatChecked(cf), want);
      assertErrIsInvalidList(cf);
    });
  }
});

describe("check_dir", () => {
  for (const file of casesIn("check_dir")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "check_dir", file));
      const { want, rest } = splitWant(c.archive.files);
      const dir = await extractToDir(rest);
      const cf = await checkDir(dir);
      assert.equal(formatChecked(cf).replaceAll(dir, "$work"), want);
      assertErrIsInvalidList(cf);
    });
  }
});

describe("check_zip", () => {
  for (const file of casesIn("check_zip")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "check_zip", file));
      const { want, rest } = splitWant(c.archive.files);
      const zipPath = await extractToZip(rest);
      const cf = await checkZip(c.path, c.version, zipPath);
      assert.equal(formatChecked(cf), want);
      assertErrIsInvalidList(cf);
    });
  }
});

describe("create", () => {
  for (const file of casesIn("create")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "create", file));
      const zipPath = join(await tempDir(), "out.zip");
      const made = await expectOutcome(c, () =>
        create(zipPath, c.path, c.version, c.archive.files.map(memoryFile)),
      );
      if (!made) return;
      assert.equal(await hashZip(zipPath), c.hash);
      assert.equal(made.h1, c.hash, "h1 computed while writing");
    });
  }
});

describe("create_from_dir", () => {
  for (const file of casesIn("create_from_dir")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "create_from_dir", file));
      const dir = await extractToDir(c.archive.files);
      const zipPath = join(await tempDir(), "out.zip");
      const made = await expectOutcome(c, () => createFromDir(zipPath, c.path, c.version, dir));
      if (!made) return;
      assert.equal(await hashZip(zipPath), c.hash);
      assert.equal(made.h1, c.hash, "h1 computed while writing");
    });
  }
});

describe("unzip", () => {
  for (const file of casesIn("unzip")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "unzip", file));
      const zipPath = await extractToZip(c.archive.files);
      const dir = join(await tempDir(), "out");
      const got = await expectOutcome(c, () => unzip(dir, c.path, c.version, zipPath));
      if (!got) {
        assert.ok(!existsSync(dir), "nothing is left behind after a failed unzip");
        return;
      }
      assert.equal(await hashDir(dir, `${c.path}@${c.version}/`), c.hash);
      assert.equal(got.h1, c.hash, "h1 computed while extracting");
    });
  }
});

describe("verifyZip from memory (bundle import) agrees with verifyZip from the file", () => {
  for (const file of casesIn("unzip")) {
    test(file, async () => {
      const c = readCase(join(TESTDATA, "unzip", file));
      const zipPath = await extractToZip(c.archive.files);
      const data = await readFile(zipPath);
      const outcome = (p: Promise<{ h1: string }>) =>
        p.then(
          (v) => ({ h1: v.h1 }),
          (err: Error) => ({ err: `${err.constructor.name}: ${err.message}` }),
        );
      const fromFile = await outcome(verifyZip(c.path, c.version, zipPath));
      // A name with no file behind it: the bytes alone must do.
      const name = `${zipPath}.in-memory`;
      const fromMemory = await outcome(verifyZip(c.path, c.version, { name, data }));
      assert.deepEqual(JSON.parse(JSON.stringify(fromMemory).replaceAll(name, zipPath)), fromFile);
      // Where Go's Unzip accepts the zip, both give Go's hash.
      if (c.wantErr === "" && "h1" in fromFile) assert.equal(fromFile.h1, c.hash);
    });
  }
});
