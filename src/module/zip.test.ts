import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Oracle, startOracle } from "../../test/helpers/oracle.ts";
import { buildZip, type TestZipEntry, writeTestZip } from "../../test/helpers/test-zip.ts";
import { GoarkError, TooLargeError, ZipError } from "../errors.ts";
import { hashZip } from "./dirhash.ts";
import {
  type CheckedFiles,
  checkDir,
  checkedFilesError,
  checkFiles,
  checkZip,
  cleanPath,
  create,
  createFromDir,
  isVendoredPackage,
  MAX_GO_MOD,
  MAX_LICENSE,
  MAX_ZIP_FILE,
  strToFold,
  unzip,
  verifyZip,
  type ZipSourceFile,
} from "./zip.ts";

const execFileP = promisify(execFile);

const M = "example.com/m";
const V = "v1.0.0";
const P = `${M}@${V}/`;

let oracle: Oracle;
let scratch: string;
let seq = 0;
before(async () => {
  oracle = await startOracle();
  scratch = await mkdtemp(join(tmpdir(), "goark-zip-test-"));
});
after(async () => {
  await oracle.close();
  await rm(scratch, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = join(scratch, String(seq++));
  await mkdir(d, { recursive: true });
  return d;
}

async function writeTree(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await tempDir();
  for (const [name, data] of Object.entries(files)) {
    const p = join(dir, name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
  }
  return dir;
}

function memFile(path: string, data: string | Buffer, size?: number): ZipSourceFile {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  return {
    path,
    lstat: async () => ({ isFile: true, isSymlink: false, size: size ?? buf.length }),
    open: () => Readable.from([buf]),
  };
}

/** A file of `size` zero bytes that exists only as a size and a stream. */
function zeroFile(path: string, size: number): ZipSourceFile {
  return {
    path,
    lstat: async () => ({ isFile: true, isSymlink: false, size }),
    open: () =>
      Readable.from(
        (function* () {
          const chunk = Buffer.alloc(1 << 20);
          for (let left = size; left > 0; left -= chunk.length)
            yield left >= chunk.length ? chunk : chunk.subarray(0, left);
        })(),
      ),
  };
}

interface OracleChecked {
  valid: string[];
  omitted: { path: string; err: string }[];
  invalid: { path: string; err: string }[];
  sizeError?: string;
}

function relChecked(cf: CheckedFiles, dir: string): OracleChecked {
  const rel = (p: string): string =>
    p === dir ? "." : p.startsWith(dir + "/") ? p.slice(dir.length + 1) : p;
  return {
    valid: cf.valid.map(rel),
    omitted: cf.omitted.map((e) => ({ path: rel(e.path), err: e.err })),
    invalid: cf.invalid.map((e) => ({ path: rel(e.path), err: e.err })),
    ...(cf.sizeError === undefined ? {} : { sizeError: cf.sizeError }),
  };
}

/**
 * Our strings keep a raw byte b of invalid UTF-8 as U+DC00+b: goQuote prints
 * it as \\udcXX where Go prints \\xXX, and Go's JSON shows the byte as U+FFFD.
 * Only those spellings are mapped before comparing with the oracle.
 */
function asGoShows(cf: OracleChecked): OracleChecked {
  const path = (p: string): string => p.replace(/\p{Surrogate}/gu, "\ufffd");
  const err = (e: string): string => e.replace(/\\udc([89a-f][0-9a-f])/g, "\\x$1");
  return {
    valid: cf.valid.map(path),
    omitted: cf.omitted.map((e) => ({ path: path(e.path), err: err(e.err) })),
    invalid: cf.invalid.map((e) => ({ path: path(e.path), err: err(e.err) })),
    ...(cf.sizeError === undefined ? {} : { sizeError: cf.sizeError }),
  };
}

function stripErr(o: OracleChecked & { err?: string }): OracleChecked {
  const { err: _err, ...rest } = o;
  return rest;
}

// ---------------------------------------------------------------------------

describe("strToFold agrees with Go's strings.EqualFold orbits", () => {
  test("every code point Go 1.19's Unicode tables know", async () => {
    // Go prints, for each assigned rune up to the last cased one, the rune
    // x/mod's strToFold maps it to. Runes added to Unicode after Go 1.19's
    // tables (13.0) are not compared: goark folds them by Node's newer data.
    const dir = await tempDir();
    await writeFile(
      join(dir, "main.go"),
      `package main
import ("bufio";"fmt";"os";"unicode")
func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for r := rune(0); r < 0x1e944; r++ {
		if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf) { continue }
		m := r
		for { r0 := m; m = unicode.SimpleFold(r0); if m <= r0 { break } }
		if 'A' <= m && m <= 'Z' { m += 'a' - 'A' }
		fmt.Fprintf(w, "%x %x\\n", r, m)
	}
}
`,
    );
    const env = {
      ...process.env,
      GO111MODULE: "off",
      GOCACHE: process.env.GOCACHE || join(tmpdir(), "goark-oracle-gocache"),
    };
    const { stdout } = await execFileP("go", ["run", "main.go"], { cwd: dir, env, maxBuffer: 64 << 20 });
    const lines = stdout.trim().split("\n");
    assert.ok(lines.length > 50_000, "Go listed the assigned runes");
    const wrong: string[] = [];
    for (const line of lines) {
      const [r, m] = line.split(" ").map((x) => Number.parseInt(x, 16)) as [number, number];
      const got = strToFold(String.fromCodePoint(r)).codePointAt(0)!;
      if (got !== m) wrong.push(`U+${r.toString(16)}: Go ${m.toString(16)}, goark ${got.toString(16)}`);
    }
    assert.deepEqual(wrong.slice(0, 20), []);
  });

  test("examples", () => {
    assert.equal(strToFold("M.GO"), strToFold("m.go"));
    assert.equal(strToFold("\u212a.go"), strToFold("k.go")); // KELVIN SIGN folds with k
    assert.notEqual(strToFold("\u0131"), strToFold("i")); // dotless i does not
    assert.equal(strToFold("\u00b5"), strToFold("\u03bc")); // micro sign and mu
  });
});

describe("cleanPath is Go's path.Clean", () => {
  test("against the oracle's CheckFilePath-independent cases", () => {
    const cases: [string, string][] = [
      ["", "."],
      ["a/", "a"],
      ["a//b", "a/b"],
      ["./a", "a"],
      ["a/./b", "a/b"],
      ["a/../b", "b"],
      ["../a", "../a"],
      ["/../a", "/a"],
      ["/", "/"],
      ["a/b/..", "a"],
      ["..", ".."],
      ["a/../..", ".."],
    ];
    for (const [p, want] of cases) assert.equal(cleanPath(p), want, p);
  });
});

describe("vendored packages [new: rule by go version]", () => {
  // The table of golang/mod zip/vendor_test.go (newest, x/mod ≥ v0.22):
  // language versions written there as "go1.N" are go.mod versions "1.N" here.
  const pre124 = [undefined, "1.14", "1.21.0", "1.22.4", "1.23", "1.23.1", "1.2", "1.7", "1.9"];
  const after124 = ["1.24.0", "1.24", "1.99.0"];
  const pre125 = [...pre124, "1.24.0"];
  const after125 = ["1.25.0"];
  const allVers = [...pre124, ...after124];
  const table: { path: string; want: boolean; versions: (string | undefined)[] }[] = [
    { path: "vendor/foo/foo.go", want: true, versions: allVers },
    { path: "vendor/vendor.go", want: false, versions: allVers },
    { path: "vendor/foo/modules.txt", want: true, versions: allVers },
    { path: "modules.txt", want: false, versions: allVers },
    { path: "vendor/amodules.txt", want: false, versions: allVers },
    // golang.org/issue/63395
    { path: "vendor/modules.txt", want: false, versions: pre124 },
    { path: "vendor/modules.txt", want: true, versions: after124 },
    // golang.org/issue/37397
    { path: "pkg/vendor/vendor.go", want: true, versions: pre124 },
    { path: "pkg/vendor/vendor.go", want: false, versions: after124 },
    { path: "longpackagename/vendor/vendor.go", want: true, versions: pre124 },
    { path: "longpackagename/vendor/vendor.go", want: false, versions: after124 },
    // vendor as a package name below the module root
    { path: "pkg/vendor/foo/foo.go", want: true, versions: pre125 },
    { path: "longpackagename/vendor/foo/foo.go", want: true, versions: pre125 },
    { path: "pkg/vendor/foo/foo.go", want: false, versions: after125 },
    { path: "longpackagename/vendor/foo/foo.go", want: false, versions: after125 },
  ];
  for (const row of table) {
    for (const v of row.versions) {
      test(`${row.path} with go ${v ?? "(none)"}`, () => {
        assert.equal(isVendoredPackage(row.path, v), row.want);
      });
    }
  }

  test("language versions: prereleases count as their release, junk as none", () => {
    assert.equal(isVendoredPackage("vendor/modules.txt", "1.24rc1"), true);
    assert.equal(isVendoredPackage("vendor/modules.txt", "1.23.9"), false);
    assert.equal(isVendoredPackage("vendor/modules.txt", "banana"), false);
    assert.equal(isVendoredPackage("a/vendor/b/c.go", "1.25rc2"), false);
  });

  // The files of golang/mod zip/testdata/create/exclude_vendor_go124.txt. The
  // hash recorded there predates the nested-vendor fix (it drops
  // sub/vendor/sub.txt); by the newest table above sub/vendor/sub.txt is kept,
  // so the expected hash is Go's Hash1 of the files that rule keeps.
  const go124Files: Record<string, string> = {
    "go.mod":
      "module example.com/m\n\ngo 1.24\nmodules.txt is excluded in 1.24+. See golang.org/issue/63395\n",
    "vendor/modules.txt": "excluded\nsee comment in isVendoredPackage and golang.org/issue/31562.\n",
    "vendor/example.com/x/x.go": "excluded\n",
    "sub/vendor/sub.txt": "excluded\n",
  };
  const kept = ["go.mod", "sub/vendor/sub.txt"];
  const goHash = async (names: string[]): Promise<string> => {
    const a = await oracle.ask<string>("dirhash.Hash1", [
      names.map((n) => `example.com/m@v1.0.0/${n}`),
      names.map((n) => go124Files[n]!),
    ]);
    return a.v!;
  };

  test("create: exclude_vendor_go124", async () => {
    const out = join(await tempDir(), "m.zip");
    const files = Object.entries(go124Files).map(([p, d]) => memFile(p, d));
    const made = await create(out, "example.com/m", "v1.0.0", files);
    assert.deepEqual(made.valid, kept);
    assert.deepEqual(
      made.omitted.map((e) => e.path),
      ["vendor/modules.txt", "vendor/example.com/x/x.go"],
    );
    const want = await goHash(kept);
    assert.equal(made.h1, want);
    assert.equal(await hashZip(out), want);
  });

  test("createFromDir: exclude_vendor_go124", async () => {
    const dir = await writeTree(go124Files);
    const out = join(await tempDir(), "m.zip");
    const made = await createFromDir(out, "example.com/m", "v1.0.0", dir);
    assert.deepEqual(made.valid, kept);
    assert.equal(made.h1, await goHash(kept));
  });

  test("the same files under go 1.13 give x/mod's recorded exclude_vendor hash", async () => {
    // golang/mod zip/testdata/create/exclude_vendor.txt (in Debian's copy too).
    const files: Record<string, string> = { ...go124Files, "go.mod": "module example.com/m\n\ngo 1.13\n" };
    files["vendor/modules.txt"] = "included\nsee comment in isVendoredPackage and golang.org/issue/31562.\n";
    const made = await create(
      join(await tempDir(), "m.zip"),
      "example.com/m",
      "v1.0.0",
      Object.entries(files).map(([p, d]) => memFile(p, d)),
    );
    assert.equal(made.h1, "h1:5u93LDLN0Me+NGfZtRpA5mHxY8svfykHpq4CMSaBZyc=");
  });

  test("check_files: various_go124", async () => {
    // golang/mod zip/testdata/check_files/various_go124.txt
    const files = [
      memFile("valid.go", ""),
      memFile("not/../clean", ""),
      memFile("go.mod", "go 1.24\n"),
      memFile("invalid.go'", ""),
      memFile("vendor/x/y", ""),
      memFile("vendor/modules.txt", ""),
      memFile("sub/go.mod", "go 1.23\n"),
      memFile(".hg_archival.txt", ""),
      memFile("valid.go", "duplicate\n"),
      memFile("valid.go", "another duplicate\n"),
    ];
    const cf = await checkFiles(files);
    assert.deepEqual(cf.valid, ["valid.go", "go.mod"]);
    assert.deepEqual(cf.omitted, [
      { path: "vendor/x/y", err: "file is in vendor directory" },
      { path: "vendor/modules.txt", err: "file is in vendor directory" },
      { path: "sub/go.mod", err: "file is in another module" },
      { path: ".hg_archival.txt", err: "file is inserted by 'hg archive' and is always omitted" },
    ]);
    assert.deepEqual(cf.invalid, [
      { path: "not/../clean", err: "file path is not clean" },
      { path: "invalid.go'", err: `malformed file path "invalid.go'": invalid char '\\''` },
      { path: "valid.go", err: 'multiple entries for file "valid.go"' },
    ]);
  });

  test("check_dir: various_go124", async () => {
    // golang/mod zip/testdata/check_dir/various_go124.txt
    const dir = await writeTree({
      "go.mod": "go 1.24\n",
      "valid.go": "",
      "invalid.go'": "",
      "vendor/modules.txt": "",
      "vendor/x/y": "",
      "sub/go.mod": "go 1.23\n",
      ".hg_archival.txt": "",
      ".git/x": "",
    });
    const cf = relChecked(await checkDir(dir), dir);
    assert.deepEqual(cf.valid, ["go.mod", "valid.go"]);
    assert.deepEqual(cf.omitted, [
      { path: ".hg_archival.txt", err: "file is inserted by 'hg archive' and is always omitted" },
      { path: ".git", err: "directory is a version control repository" },
      { path: "sub", err: "directory is in another module" },
      { path: "vendor/modules.txt", err: "file is in vendor directory" },
      { path: "vendor/x/y", err: "file is in vendor directory" },
    ]);
    assert.deepEqual(cf.invalid, [
      { path: "invalid.go'", err: `malformed file path "invalid.go'": invalid char '\\''` },
    ]);
  });

  test("a go 1.25 module keeps nested vendor packages", async () => {
    const cf = await checkFiles([
      memFile("go.mod", "module example.com/m\n\ngo 1.25.0\n"),
      memFile("vendor/example.com/x/x.go", ""),
      memFile("pkg/vendor/foo/foo.go", ""),
    ]);
    assert.deepEqual(cf.valid, ["go.mod", "pkg/vendor/foo/foo.go"]);
  });

  test("a go 1.23 module keeps vendor/modules.txt and the offset bug", async () => {
    const cf = await checkFiles([
      memFile("go.mod", "module example.com/m\n\ngo 1.23\n"),
      memFile("vendor/modules.txt", ""),
      memFile("pkg/vendor/vendor.go", ""),
    ]);
    assert.deepEqual(cf.valid, ["go.mod", "vendor/modules.txt"]);
    assert.deepEqual(cf.omitted, [{ path: "pkg/vendor/vendor.go", err: "file is in vendor directory" }]);
  });

  test("a go 1.24 module keeps pkg/vendor/vendor.go, drops pkg/vendor/foo/foo.go", async () => {
    const cf = await checkFiles([
      memFile("go.mod", "module example.com/m\n\ngo 1.24.2\n"),
      memFile("vendor/modules.txt", ""),
      memFile("pkg/vendor/vendor.go", ""),
      memFile("pkg/vendor/foo/foo.go", ""),
    ]);
    assert.deepEqual(cf.valid, ["go.mod", "pkg/vendor/vendor.go"]);
    assert.deepEqual(
      cf.omitted.map((e) => e.path),
      ["vendor/modules.txt", "pkg/vendor/foo/foo.go"],
    );
  });
});

// ---------------------------------------------------------------------------

describe("directories, against x/mod v0.7.0 (the oracle)", () => {
  // Trees whose go.mod declares no go version (or an old one): the old vendor rule, which v0.7.0 has.
  const trees: Record<string, Record<string, string | Buffer>> = {
    plain: { "go.mod": "module example.com/m\n", "a.go": "package a\n", "b/b.go": "package b\n" },
    vendor: {
      "go.mod": "module example.com/m\n\ngo 1.16\n",
      "vendor/modules.txt": "# x\n",
      "vendor/example.com/x/x.go": "package x\n",
      "vendor/example.com/x/deeper/y.go": "package y\n",
      "pkg/vendor/vendor.go": "package vendor\n",
      "pkg/vendor/z/z.go": "package z\n",
      "vendor.go": "package m\n",
    },
    nested: {
      "go.mod": "module example.com/m\n",
      "sub/go.mod": "module example.com/m/sub\n",
      "sub/x.go'": "not read\n",
      "cap/GO.MOD": "module example.com/m/cap\n",
      "cap/c.go": "package c\n",
      "go.mod.d/go.mod/a.go": "package a\n",
    },
    vcs: {
      ".git/config": "x",
      ".hg/store": "x",
      ".svn/x": "x",
      ".bzr/x": "x",
      "sub/.git/x": "x",
      ".hg_archival.txt": "x",
      "sub/.hg_archival.txt": "x",
      "ok.go": "package ok\n",
    },
    invalid: {
      "GO.MOD": "module example.com/m\n",
      "bad'.go": "x",
      "con.go": "x",
      "a b.go": "x",
      "ünïcode.go": "package u\n",
    },
    collisions: { "m.go": "x", "M.GO": "x", "\u212a.go": "x", "k.go": "x", "Dir/a.go": "x", "dir/b.go": "x" },
    rawName: {
      "go.mod": "module example.com/m\n",
      [Buffer.from([0x61, 0xff, 0x2e, 0x67, 0x6f]).toString("latin1")]: "x",
    },
  };

  for (const [name, files] of Object.entries(trees)) {
    test(`tree ${name}`, async () => {
      const dir = name === "rawName" ? await rawNameTree() : await writeTree(files);
      const ours = relChecked(await checkDir(dir), dir);
      const go = await oracle.ask<OracleChecked & { err?: string }>("zip.CheckDir", [dir]);
      assert.equal(go.err, undefined);
      assert.deepEqual(asGoShows(ours), stripErr(go.v!));

      const ourZip = join(await tempDir(), "ours.zip");
      const goZip = join(await tempDir(), "go.zip");
      const goMade = await oracle.ask<{ createErr?: string; h1?: string }>("zip.CreateFromDir", [
        dir,
        "example.com/m",
        "v1.0.0",
        goZip,
      ]);
      if (goMade.v!.createErr !== undefined) {
        await assert.rejects(createFromDir(ourZip, "example.com/m", "v1.0.0", dir), ZipError);
        assert.ok(!existsSync(ourZip), "no zip is left behind");
        return;
      }
      const made = await createFromDir(ourZip, "example.com/m", "v1.0.0", dir);
      assert.equal(made.h1, goMade.v!.h1);
      assert.equal(await hashZip(ourZip), goMade.v!.h1);
      // Go reads our zip as a valid module zip.
      const goCheck = await oracle.ask<OracleChecked & { err?: string }>("zip.CheckZip", [
        "example.com/m",
        "v1.0.0",
        ourZip,
      ]);
      assert.equal(goCheck.v!.err, undefined);
      assert.equal(goCheck.v!.valid.length, made.valid.length);
    });
  }

  /** A tree with a file name that is not UTF-8 (written with a byte path). */
  async function rawNameTree(): Promise<string> {
    const dir = await writeTree({ "go.mod": "module example.com/m\n" });
    await writeFile(Buffer.concat([Buffer.from(dir + "/a"), Buffer.from([0xff]), Buffer.from(".go")]), "x");
    return dir;
  }

  test("symbolic links, fifos and empty directories are left out", async () => {
    const dir = await writeTree({ "go.mod": "module example.com/m\n", "a.go": "package a\n" });
    await symlink("a.go", join(dir, "link.go"));
    await symlink(dir, join(dir, "loop"));
    await mkdir(join(dir, "empty/deeper"), { recursive: true });
    await execFileP("mkfifo", [join(dir, "fifo")]);
    const ours = relChecked(await checkDir(dir), dir);
    const go = await oracle.ask<OracleChecked>("zip.CheckDir", [dir]);
    assert.deepEqual(ours, stripErr(go.v!));
    assert.deepEqual(ours.valid, ["a.go", "go.mod"]);
    const out = join(await tempDir(), "m.zip");
    const goOut = join(await tempDir(), "go.zip");
    const goMade = await oracle.ask<{ h1: string }>("zip.CreateFromDir", [
      dir,
      "example.com/m",
      "v1.0.0",
      goOut,
    ]);
    assert.equal((await createFromDir(out, "example.com/m", "v1.0.0", dir)).h1, goMade.v!.h1);
  });

  test("a vendor directory as the module root (x/mod's dir_is_vendor)", async () => {
    const dir = await writeTree({ "vendor/go.mod": "module example.com/m\n\ngo 1.13\n" });
    const made = await createFromDir(
      join(await tempDir(), "m.zip"),
      "example.com/m",
      "v1.0.0",
      join(dir, "vendor"),
    );
    // zip_test.go TestCreateFromDirSpecial records this hash.
    assert.equal(made.h1, "h1:XduFAgX/GaspZa8Jv4pfzoGEzNaU/r88PiCunijw5ok=");
  });

  test("a missing directory is a typed error", async () => {
    await assert.rejects(checkDir(join(scratch, "no-such-dir")), GoarkError);
  });
});

// ---------------------------------------------------------------------------

describe("create", () => {
  test("the same files give the same zip bytes", async () => {
    const files = () => [memFile("go.mod", "module example.com/m\n"), memFile("a.go", "package a\n")];
    const a = join(await tempDir(), "a.zip");
    const b = join(await tempDir(), "b.zip");
    await create(a, "example.com/m", "v1.0.0", files());
    await create(b, "example.com/m", "v1.0.0", files());
    assert.deepEqual(await readFile(a), await readFile(b));
  });

  test("small and large files (streamed with a data descriptor): Go reads the zip, same h1", async () => {
    let x = 7;
    const noise = Buffer.alloc(3 << 20);
    for (let i = 0; i < noise.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      noise[i] = 97 + ((x >>> 16) % 7);
    }
    const dir = await writeTree({
      "go.mod": "module example.com/m\n",
      "big.bin": noise,
      "empty.go": "",
      "a/b.go": "package a\n",
    });
    const out = join(await tempDir(), "mixed.zip");
    const made = await createFromDir(out, M, V, dir);
    assert.equal(made.h1, (await oracle.ask<string>("dirhash.HashZip", [out])).v);
    const go = await oracle.ask<OracleChecked & { err?: string }>("zip.CheckZip", [M, V, out]);
    assert.equal(go.v!.err, undefined);
    assert.deepEqual(go.v!.valid.length, 4);
    const goDir = join(await tempDir(), "x");
    assert.equal((await oracle.ask("zip.Unzip", [goDir, M, V, out])).err, undefined);
    assert.deepEqual(await readFile(join(goDir, "big.bin")), noise);
  });

  test("over 65,535 entries: zip64 end records that Go reads", async () => {
    const one = Buffer.from("x");
    const files = Array.from({ length: 70_000 }, (_, i) => ({
      ...memFile(`d${i % 100}/f${i}.go`, one),
      readUpTo: async () => one,
    }));
    const out = join(await tempDir(), "many.zip");
    const made = await create(out, M, V, files);
    assert.equal(made.valid.length, 70_000);
    assert.equal(made.h1, (await oracle.ask<string>("dirhash.HashZip", [out])).v);
    assert.equal((await verifyZip(M, V, out)).h1, made.h1);
  });

  test("writes to a stream and ends it", async () => {
    const chunks: Buffer[] = [];
    const { Writable } = await import("node:stream");
    const sink = new Writable({
      write(c, _e, cb) {
        chunks.push(c);
        cb();
      },
    });
    const finished = new Promise((r) => sink.on("finish", r));
    const made = await create(sink, "example.com/m", "v1.0.0", [memFile("a.go", "package a\n")]);
    await finished;
    const path = join(await tempDir(), "s.zip");
    await writeFile(path, Buffer.concat(chunks));
    assert.equal(await hashZip(path), made.h1);
  });

  test("a file larger than declared fails and leaves no zip (x/mod's size_is_a_lie)", async () => {
    const out = join(await tempDir(), "lie.zip");
    await assert.rejects(
      create(out, "example.com/large", "v1.0.0", [memFile("lie.go", "package large", 1)]),
      /larger than declared size/,
    );
    assert.deepEqual(await readdir(dirname(out)), []);
  });

  test("a file that fails to open or read fails the zip", async () => {
    const broken: ZipSourceFile = {
      path: "broken.go",
      lstat: async () => ({ isFile: true, isSymlink: false, size: 10 }),
      open: () =>
        new Readable({
          read() {
            this.destroy(new Error("disk on fire"));
          },
        }),
    };
    const out = join(await tempDir(), "b.zip");
    await assert.rejects(create(out, "example.com/m", "v1.0.0", [broken]), /disk on fire/);
    assert.deepEqual(await readdir(dirname(out)), []);
  });

  test("an lstat error makes the file invalid", async () => {
    const f: ZipSourceFile = {
      path: "gone.go",
      lstat: async () => {
        throw new Error("vanished");
      },
      open: () => Readable.from([]),
    };
    const cf = await checkFiles([f]);
    assert.deepEqual(cf.invalid, [{ path: "gone.go", err: "vanished" }]);
  });

  test("symbolic links and irregular files given to create are omitted", async () => {
    const link: ZipSourceFile = {
      path: "link.go",
      lstat: async () => ({ isFile: false, isSymlink: true, size: 4 }),
      open: () => Readable.from([]),
    };
    const dev: ZipSourceFile = {
      path: "dev",
      lstat: async () => ({ isFile: false, isSymlink: false, size: 0 }),
      open: () => Readable.from([]),
    };
    const cf = await checkFiles([link, dev]);
    assert.deepEqual(cf.omitted, [
      { path: "link.go", err: "file is a symbolic link" },
      { path: "dev", err: "not a regular file" },
    ]);
  });

  // x/mod zip_test.go sizeLimitTests, checked without writing 500 MiB.
  const sizeCases: { desc: string; files: ZipSourceFile[]; want?: string }[] = [
    { desc: "one_large", files: [zeroFile("large.go", MAX_ZIP_FILE)] },
    {
      desc: "one_too_large",
      files: [zeroFile("large.go", MAX_ZIP_FILE + 1)],
      want: "module source tree too large",
    },
    { desc: "total_large", files: [zeroFile("small.go", 10), zeroFile("large.go", MAX_ZIP_FILE - 10)] },
    {
      desc: "total_too_large",
      files: [zeroFile("small.go", 10), zeroFile("large.go", MAX_ZIP_FILE - 9)],
      want: "module source tree too large",
    },
    { desc: "large_gomod", files: [zeroFile("go.mod", MAX_GO_MOD)] },
    { desc: "too_large_gomod", files: [zeroFile("go.mod", MAX_GO_MOD + 1)], want: "go.mod file too large" },
    { desc: "large_license", files: [zeroFile("LICENSE", MAX_LICENSE)] },
    {
      desc: "too_large_license",
      files: [zeroFile("LICENSE", MAX_LICENSE + 1)],
      want: "LICENSE file too large",
    },
    { desc: "negative", files: [zeroFile("neg.go", -1)], want: "module source tree too large" },
  ];
  for (const c of sizeCases) {
    test(`size limits: ${c.desc}`, async () => {
      const err = checkedFilesError(await checkFiles(c.files));
      if (c.want === undefined) assert.equal(err, undefined);
      else assert.match(err!.message, new RegExp(c.want));
      if (c.want !== undefined) {
        await assert.rejects(
          create(join(await tempDir(), "x.zip"), "example.com/large", "v1.0.0", c.files),
          new RegExp(c.want),
        );
      }
    });
  }

  test("size limits: a 16 MiB go.mod is written", async () => {
    const out = join(await tempDir(), "gomod.zip");
    const made = await create(out, "example.com/large", "v1.0.0", [zeroFile("go.mod", MAX_GO_MOD)]);
    assert.equal(made.h1, await hashZip(out));
  });
});

// ---------------------------------------------------------------------------

async function zipOf(entries: TestZipEntry[]): Promise<string> {
  const p = join(await tempDir(), "in.zip");
  await writeTestZip(p, entries);
  return p;
}

describe("checkZip, against x/mod v0.7.0", () => {
  const zips: Record<string, TestZipEntry[]> = {
    dirEntries: [
      { name: P, data: "" },
      { name: `${P}sub/`, data: "" },
      { name: `${P}sub/a.go`, data: "package a\n" },
      { name: `${P}go.mod`, data: "module example.com/m\n" },
    ],
    unicode: [
      { name: `${P}ü.go`, data: "x" },
      { name: `${P}\u212a.go`, data: "x" },
      { name: `${P}k.go`, data: "x" },
    ],
    hostileNames: [
      { name: `${P}../escape.go`, data: "x" },
      { name: `${P}/abs.go`, data: "x" },
      { name: `${P}a\\b.go`, data: "x" },
      { name: "/etc/passwd", data: "x" },
      { name: Buffer.concat([Buffer.from(P), Buffer.from([0xff]), Buffer.from(".go")]), data: "x" },
      { name: `${P}sub/go.mod`, data: "module example.com/m/sub\n" },
      { name: `${P}ok.go`, data: "package ok\n" },
    ],
    declaredTooLarge: [
      { name: `${P}small.go`, data: "x", declaredSize: 10 },
      { name: `${P}large.go`, data: "x", declaredSize: MAX_ZIP_FILE - 9 },
    ],
    declaredLargeGoMod: [{ name: `${P}go.mod`, data: "x", declaredSize: MAX_GO_MOD + 1 }],
  };
  for (const [name, entries] of Object.entries(zips)) {
    test(name, async () => {
      const zip = await zipOf(entries);
      const ours = await checkZip(M, V, zip);
      const go = await oracle.ask<OracleChecked & { err?: string }>("zip.CheckZip", [M, V, zip]);
      assert.deepEqual(asGoShows(ours), stripErr(go.v!));
    });
  }

  test("a bad module path or version throws, as in Go", async () => {
    const zip = await zipOf([{ name: `${P}a.go`, data: "x" }]);
    await assert.rejects(checkZip("cache", V, zip), /missing dot in first path element/);
    await assert.rejects(checkZip(M, "v1.0", zip), /version "v1.0" is not canonical \(should be "v1.0.0"\)/);
  });

  test("not a zip is a ZipError", async () => {
    const p = join(await tempDir(), "junk.zip");
    await writeFile(p, "this is not a zip file at all, not even close");
    await assert.rejects(checkZip(M, V, p), ZipError);
  });
});

// ---------------------------------------------------------------------------

describe("verifyZip (untrusted zips)", () => {
  const good: TestZipEntry[] = [
    { name: P, data: "" },
    { name: `${P}go.mod`, data: "module example.com/m\n" },
    { name: `${P}a.go`, data: "package a\n" },
    { name: `${P}b/`, data: "" },
    { name: `${P}b/b.go`, data: "package b\n".repeat(100), method: 0 },
  ];

  test("a good zip: h1 as Go's HashZip, checked as Go's CheckZip", async () => {
    const zip = await zipOf(good);
    const v = await verifyZip(M, V, zip);
    const goHash = await oracle.ask<string>("dirhash.HashZip", [zip]);
    assert.equal(v.h1, goHash.v);
    const go = await oracle.ask<OracleChecked>("zip.CheckZip", [M, V, zip]);
    assert.deepEqual(v.checked.valid, go.v!.valid);
  });

  const hostile: {
    desc: string;
    entries: TestZipEntry[];
    want: RegExp;
    opts?: Parameters<typeof verifyZip>[3];
  }[] = [
    {
      desc: "symbolic link entry",
      entries: [{ name: `${P}l.go`, data: "/etc/passwd", unixMode: 0o120777 }],
      want: /symbolic link/,
    },
    {
      desc: "fifo entry",
      entries: [{ name: `${P}f`, data: "", unixMode: 0o010644 }],
      want: /not a regular file/,
    },
    {
      desc: "directory mode on a file",
      entries: [{ name: `${P}d`, data: "", unixMode: 0o040755 }],
      want: /not a regular file/,
    },
    { desc: "zip slip", entries: [{ name: `${P}../../evil.go`, data: "x" }], want: /zip slip/ },
    { desc: "absolute", entries: [{ name: "/tmp/evil.go", data: "x" }], want: /prefix/ },
    { desc: "backslash", entries: [{ name: `${P}..\\evil.go`, data: "x" }], want: /zip slip/ },
    { desc: "no prefix", entries: [{ name: "other@v1.0.0/a.go", data: "x" }], want: /does not have prefix/ },
    {
      desc: "duplicate",
      entries: [
        { name: `${P}a.go`, data: "1" },
        { name: `${P}a.go`, data: "2" },
      ],
      want: /multiple entries/,
    },
    {
      desc: "case collision",
      entries: [
        { name: `${P}a.go`, data: "1" },
        { name: `${P}A.go`, data: "2" },
      ],
      want: /collision/,
    },
    {
      desc: "nested go.mod",
      entries: [{ name: `${P}x/go.mod`, data: "module x\n" }],
      want: /not in module root/,
    },
    { desc: "GO.MOD", entries: [{ name: `${P}GO.MOD`, data: "module x\n" }], want: /lowercase/ },
    {
      desc: "declared smaller than actual",
      entries: [{ name: `${P}a.go`, data: "x".repeat(5000), declaredSize: 100 }],
      want: /a\.go/,
    },
    {
      desc: "declared larger than actual",
      entries: [{ name: `${P}a.go`, data: "x".repeat(100), declaredSize: 5000 }],
      want: /a\.go/,
    },
    {
      desc: "bad CRC-32",
      entries: [{ name: `${P}a.go`, data: "package a\n", crc: 12345 }],
      want: /checksum/,
    },
    {
      desc: "ratio bomb (lying header)",
      entries: [{ name: `${P}bomb.go`, data: "x", declaredSize: 400 << 20 }],
      want: /compression ratio/,
    },
    {
      desc: "too many entries",
      entries: [1, 2, 3, 4, 5].map((i) => ({ name: `${P}f${i}.go`, data: "x" })),
      want: /entries \(limit is 3\)/,
      opts: { maxEntries: 3 },
    },
    {
      desc: "bzip2 method",
      entries: [{ name: `${P}a.go`, data: "x", method: 12 }],
      want: /compression method 12/,
    },
    { desc: "encrypted", entries: [{ name: `${P}a.go`, data: "x", flags: 1 }], want: /encrypted/ },
    {
      desc: "shared data (overlapping entries)",
      entries: [
        { name: `${P}a.go`, data: "x" },
        { name: `${P}b.go`, data: "x", shareDataWith: 0 },
      ],
      want: /shares its data/,
    },
    {
      desc: "total declared size over the limit",
      entries: [
        { name: `${P}a.go`, data: "x".repeat(1000) },
        { name: `${P}b.go`, data: "y".repeat(1000) },
      ],
      want: /too large/,
      opts: { maxSize: 1500 },
    },
  ];
  for (const h of hostile) {
    test(`rejects: ${h.desc}`, async () => {
      const zip = await zipOf(h.entries);
      const data = await readFile(zip);
      for (const input of [zip, { name: `${zip}.in-memory`, data }]) {
        await assert.rejects(verifyZip(M, V, input, h.opts), (err: Error) => {
          assert.ok(err instanceof ZipError || err instanceof TooLargeError, `typed error, got ${err}`);
          assert.match(err.message, h.want);
          assert.ok(!err.message.includes("\n"), "one line");
          return true;
        });
      }
    });
  }

  test("from memory: the same checks and h1 as from the file, large entries included", async () => {
    const big = Buffer.alloc(3 << 20, "go modules ");
    const zip = await zipOf([
      ...good,
      { name: `${P}big.txt`, data: big },
      { name: `${P}stored.bin`, data: big.subarray(0, 1_500_000), method: 0 },
    ]);
    const data = await readFile(zip);
    // Names with no file behind them: the bytes alone must do.
    const v = await verifyZip(M, V, { name: `${zip}.in-memory`, data });
    assert.equal(v.h1, (await oracle.ask<string>("dirhash.HashZip", [zip])).v);
    assert.deepEqual(v, await verifyZip(M, V, zip));
    const liar = await zipOf([{ name: `${P}big.txt`, data: big, declaredSize: 2 << 20 }]);
    await assert.rejects(
      verifyZip(M, V, { name: `${liar}.in-memory`, data: await readFile(liar) }),
      /larger than declared size/,
    );
    const size = data.length;
    await assert.rejects(
      verifyZip(M, V, { name: `${zip}.in-memory`, data }, { maxSize: size - 1 }),
      TooLargeError,
    );
  });

  test("a zip file over maxSize is refused before it is opened", async () => {
    const zip = await zipOf(good);
    const size = (await stat(zip)).size;
    await assert.rejects(verifyZip(M, V, zip, { maxSize: size - 1 }), TooLargeError);
  });

  test("a ratio bomb within the bounds is inflated and still checked for its size", async () => {
    // 20 MB of zeros deflates ~1000:1: under the default bound, fully checked, accepted.
    const zip = await zipOf([{ name: `${P}zeros`, data: Buffer.alloc(20 << 20) }]);
    const v = await verifyZip(M, V, zip);
    assert.equal(v.h1, (await oracle.ask<string>("dirhash.HashZip", [zip])).v);
  });
});

// ---------------------------------------------------------------------------

describe("unzip", () => {
  test("extracts read-only files, hashes them, leaves no temporary directory", async () => {
    const zip = await zipOf([
      { name: `${P}go.mod`, data: "module example.com/m\n" },
      { name: `${P}sub/`, data: "" },
      { name: `${P}sub/a.go`, data: "package a\n" },
    ]);
    const parent = await tempDir();
    const dir = join(parent, "m@v1.0.0");
    const r = await unzip(dir, M, V, zip);
    assert.equal(r.h1, (await oracle.ask<string>("dirhash.HashZip", [zip])).v);
    assert.deepEqual((await readdir(parent)).sort(), ["m@v1.0.0"]);
    assert.equal((await readFile(join(dir, "sub/a.go"))).toString(), "package a\n");
    assert.equal((await stat(join(dir, "go.mod"))).mode & 0o777, 0o444);
    // Go's Unzip accepts the same zip and writes the same tree.
    const goDir = join(await tempDir(), "go");
    assert.equal((await oracle.ask("zip.Unzip", [goDir, M, V, zip])).err, undefined);
    assert.deepEqual((await readdir(join(goDir, "sub"))).sort(), (await readdir(join(dir, "sub"))).sort());
  });

  test("large entries are streamed to disk and checked", async () => {
    const big = Buffer.alloc(3 << 20, "go modules ");
    const zip = await zipOf([
      { name: `${P}big.txt`, data: big },
      { name: `${P}stored.bin`, data: big.subarray(0, 1_500_000), method: 0 },
    ]);
    const dir = join(await tempDir(), "out");
    const r = await unzip(dir, M, V, zip);
    assert.deepEqual(await readFile(join(dir, "big.txt")), big);
    assert.equal((await readFile(join(dir, "stored.bin"))).length, 1_500_000);
    assert.equal(r.h1, (await oracle.ask<string>("dirhash.HashZip", [zip])).v);
  });

  test("a large entry longer than declared stops with an error and leaves nothing", async () => {
    const zip = await zipOf([
      { name: `${P}big.txt`, data: Buffer.alloc(3 << 20, "x"), declaredSize: 2 << 20 },
    ]);
    const parent = await tempDir();
    await assert.rejects(unzip(join(parent, "out"), M, V, zip), /larger than declared size/);
    assert.deepEqual(await readdir(parent), []);
    await assert.rejects(verifyZip(M, V, zip), /larger than declared size/);
  });

  test("a target that exists and is not empty is refused", async () => {
    const zip = await zipOf([{ name: `${P}a.go`, data: "x" }]);
    const dir = await writeTree({ "old.txt": "x" });
    await assert.rejects(unzip(dir, M, V, zip), /exists and is not empty/);
  });

  test("an existing empty target is filled", async () => {
    const zip = await zipOf([{ name: `${P}a.go`, data: "x" }]);
    const dir = await tempDir();
    await unzip(dir, M, V, zip);
    assert.deepEqual(await readdir(dir), ["a.go"]);
  });

  test("a zip failing halfway leaves nothing behind", async () => {
    const zip = await zipOf([
      { name: `${P}a.go`, data: "package a\n" },
      { name: `${P}b.go`, data: "package b\n", crc: 1 },
    ]);
    const parent = await tempDir();
    await assert.rejects(unzip(join(parent, "out"), M, V, zip), /checksum/);
    assert.deepEqual(await readdir(parent), []);
  });

  test("never writes outside the target", async () => {
    const parent = await tempDir();
    const zip = await zipOf([{ name: `${P}../../escaped.go`, data: "x" }]);
    await assert.rejects(unzip(join(parent, "out"), M, V, zip), ZipError);
    assert.deepEqual(await readdir(parent), []);
    assert.ok(!existsSync(join(dirname(parent), "escaped.go")));
  });

  test("a target under a regular file is a typed error", async () => {
    const parent = await writeTree({ file: "x" });
    const zip = await zipOf([{ name: `${P}a.go`, data: "x" }]);
    await assert.rejects(unzip(join(parent, "file", "out"), M, V, zip), GoarkError);
  });
});

test("buildZip helper makes zips Go reads", async () => {
  const p = join(await tempDir(), "h.zip");
  await writeFile(p, buildZip([{ name: `${P}a.go`, data: "package a\n" }]));
  assert.equal((await oracle.ask<string>("dirhash.HashZip", [p])).err, undefined);
});
