/**
 * `goark mod zip|hash|check` through the real bin (node bin/goark.js), on
 * trees and zips the test builds. Expected hashes, file lists and problem
 * texts come from golang.org/x/mod (the Go oracle, test/oracle/main.go).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import yauzl from "yauzl";
import yazl from "yazl";
import { goark, type Run } from "./helpers/goark-cli.ts";
import { type Oracle, startOracle } from "./helpers/oracle.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const M = "example.com/m";
const V = "v1.0.0";

/** Asserts a failure report is exactly one `goark: …` line, without a stack. */
function assertOneErrorLine(r: Run): void {
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `stderr: ${r.stderr}`);
  assert.match(lines[0]!, /^goark: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

function zipEntryNames(file: string): Promise<string[]> {
  return new Promise((done, fail) => {
    yauzl.open(file, { lazyEntries: true }, (err, zf) => {
      if (err || !zf) return fail(err);
      const names: string[] = [];
      zf.on("entry", (e: yauzl.Entry) => {
        names.push(e.fileName);
        zf.readEntry();
      });
      zf.on("end", () => done(names));
      zf.on("error", fail);
      zf.readEntry();
    });
  });
}

let oracle: Oracle;
let work: string;

before(async () => {
  oracle = await startOracle();
  work = await mkdtemp(join(tmpdir(), "goark-cli-mod-"));
});
after(async () => {
  await oracle?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** A module tree with something for each omission rule of CreateFromDir. */
async function makeTree(dir: string): Promise<void> {
  const files: Record<string, string> = {
    "go.mod": `module ${M}\n\ngo 1.19\n`,
    "m.go": "package m\n\nfunc F() int { return 1 }\n",
    "sub/x.go": "package sub\n",
    LICENSE: "permission granted\n",
    "vendor/modules.txt": "# nothing\n",
    "vendor/a/b/b.go": "package b\n",
    ".git/config": "[core]\n",
    "nested/go.mod": `module ${M}/nested\n`,
    "nested/n.go": "package nested\n",
    ".hg_archival.txt": "repo: x\n",
  };
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  await symlink("m.go", join(dir, "link.go"));
}

describe("goark mod zip / mod hash", () => {
  test("zip lists what x/mod includes and omits, and the zip and dir hashes equal Go's", async () => {
    const dir = join(work, "tree");
    await makeTree(dir);
    const out = join(work, "tree.zip");
    const r = await goark(["mod", "zip", dir, "--module", M, "--version", V, "-o", out], work);
    assert.equal(r.code, 0, r.stderr);

    const go = await oracle.ask<{
      checked: { valid: string[]; omitted: { path: string; err: string }[]; invalid: unknown[] };
      h1: string;
    }>("zip.CreateFromDir", [dir, M, V, join(work, "tree-go.zip")]);
    assert.equal(go.err, undefined);
    const goChecked = go.v!.checked;

    const included = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("included "))
      .map((l) => l.slice(9));
    assert.deepEqual(included.sort(), [...goChecked.valid].sort());
    const omitted = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("omitted  "))
      .map((l) => l.slice(9));
    assert.deepEqual(omitted.sort(), goChecked.omitted.map((e) => `${e.path}: ${e.err}`).sort());
    assert.ok(omitted.length >= 5, "the tree exercises several omission rules");

    // Go-independent: every entry carries the prefix, no directory entries,
    // exactly the included files.
    const names = await zipEntryNames(out);
    for (const n of names) assert.ok(n.startsWith(`${M}@${V}/`) && !n.endsWith("/"), n);
    assert.deepEqual(names.map((n) => n.slice(`${M}@${V}/`.length)).sort(), included.sort());

    const goLine = `${M} ${V} ${go.v!.h1}`;
    assert.ok(r.stdout.includes(`${goLine}\n`), `zip prints the go.sum line ${goLine}`);
    const ourZipByGo = await oracle.ask<string>("dirhash.HashZip", [out]);
    assert.equal(ourZipByGo.v, go.v!.h1, "Go hashes goark's zip as it hashes its own");

    const fromDir = await goark(["mod", "hash", dir, "--module", M, "--version", V], work);
    const fromZip = await goark(["mod", "hash", out], work);
    assert.equal(fromDir.code, 0, fromDir.stderr);
    assert.equal(fromZip.code, 0, fromZip.stderr);
    assert.equal(fromDir.stdout, `${goLine}\n`);
    assert.equal(fromZip.stdout, `${goLine}\n`);
  });

  test("hash --gomod prints the /go.mod line Go computes", async () => {
    const dir = join(work, "gomod");
    await mkdir(dir, { recursive: true });
    const content = `module ${M}/v2\n\ngo 1.19\n\nrequire golang.org/x/text v0.3.0\n`;
    await writeFile(join(dir, "go.mod"), content);
    const go = await oracle.ask<string>("dirhash.HashGoMod", [content]);
    const r = await goark(["mod", "hash", "--gomod", join(dir, "go.mod"), "--version", "v2.1.0"], work);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${M}/v2 v2.1.0/go.mod ${go.v}\n`);
  });

  test("a tree with invalid files: each is listed, exit 1, no zip written", async () => {
    const dir = join(work, "bad-tree");
    await mkdir(join(dir, "sub"), { recursive: true });
    await writeFile(join(dir, "go.mod"), `module ${M}\n`);
    await writeFile(join(dir, "a.go"), "package m\n");
    await writeFile(join(dir, "A.GO"), "package m\n");
    await writeFile(join(dir, "sub", "GO.MOD"), "module other\n");
    await writeFile(join(dir, "bad:name.go"), "package m\n");
    const go = await oracle.ask<{ invalid: { path: string; err: string }[] }>("zip.CheckDir", [dir]);
    assert.ok(go.v!.invalid.length >= 2);
    const out = join(work, "bad-tree.zip");
    const r = await goark(["mod", "zip", dir, "--module", M, "--version", V, "-o", out], work);
    assert.equal(r.code, 1);
    assertOneErrorLine(r);
    for (const e of go.v!.invalid)
      assert.ok(r.stdout.includes(`invalid  ${e.path}: ${e.err}\n`), `${e.path}: ${e.err}`);
    assert.equal(existsSync(out), false);
    const h = await goark(["mod", "hash", dir, "--module", M, "--version", V], work);
    assert.equal(h.code, 1);
    assert.equal(h.stdout.includes(`${M} ${V} h1:`), false);
  });
});

/**
 * A hand-made hostile zip. yazl refuses unsafe names, so "../" is written as
 * "zz" and patched in the bytes afterwards (names are not covered by CRCs).
 */
async function hostileZip(file: string): Promise<void> {
  const z = new yazl.ZipFile();
  const p = `${M}@${V}/`;
  const add = (name: string, data: string, mode?: number) =>
    z.addBuffer(Buffer.from(data), name, mode === undefined ? {} : { mode });
  add(`${p}go.mod`, `module ${M}\n`);
  add(`${p}a.go`, "package m\n");
  add(`${p}a.go`, "package m // again\n");
  add(`${p}zz/evil.go`, "package evil\n");
  add(`${p}link.go`, "a.go", 0o120777);
  add(`other.com/x@${V}/b.go`, "package x\n");
  add(`${p}sub/go.mod`, "module example.com/m/sub\n");
  add(`${p}A.GO`, "package m\n");
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  let bytes = Buffer.concat(chunks);
  const from = Buffer.from(`${p}zz/evil.go`);
  const to = Buffer.from(`${p}../evil.go`);
  let at = bytes.indexOf(from);
  let patched = 0;
  while (at >= 0) {
    to.copy(bytes, at);
    patched++;
    at = bytes.indexOf(from, at + 1);
  }
  assert.equal(patched, 2, "local header and central directory both name the entry");
  bytes = Buffer.from(bytes);
  await writeFile(file, bytes);
}

describe("goark mod check", () => {
  test("a hostile zip: every problem on its own line, exit 1", async () => {
    const zip = join(work, "hostile.zip");
    await hostileZip(zip);
    const go = await oracle.ask<{ invalid: { path: string; err: string }[] }>("zip.CheckZip", [M, V, zip]);
    const goProblems = go.v!.invalid.map((e) => `${e.path}: ${e.err}`);
    // What x/mod itself finds: the duplicate, the ../ entry, the foreign
    // prefix, go.mod in a subdirectory, and the case-fold collision.
    assert.equal(goProblems.length, 5, goProblems.join("\n"));

    for (const args of [[zip], [zip, "--module", M, "--version", V]]) {
      const r = await goark(["mod", "check", ...args], work);
      assert.equal(r.code, 1, r.stderr);
      assertOneErrorLine(r);
      const lines = r.stdout.trimEnd().split("\n");
      for (const p of goProblems) assert.ok(lines.includes(p), `missing ${p} in\n${r.stdout}`);
      // x/mod ignores entry modes; goark refuses symbolic links.
      assert.ok(lines.includes(`${M}@${V}/link.go: file is a symbolic link`), r.stdout);
      assert.equal(lines.length, goProblems.length + 1, r.stdout);
    }
  });

  test("a good zip passes and its module@version is inferred", async () => {
    const dir = join(work, "good");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "go.mod"), `module ${M}\n`);
    await writeFile(join(dir, "m.go"), "package m\n");
    const zip = join(work, "good-go.zip");
    const go = await oracle.ask<{ h1: string }>("zip.CreateFromDir", [dir, M, V, zip]);
    assert.ok(go.v?.h1);
    const r = await goark(["mod", "check", zip], work);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok: example\.com\/m@v1\.0\.0, 2 files/);
    const wrong = await goark(["mod", "check", zip, "--module", "example.com/other", "--version", V], work);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout.trimEnd().split("\n").length, 2, "both entries lack the prefix");
  });
});

test("mod check also reports what only the full read finds: a stored entry whose bytes fail their CRC", async () => {
  const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from(`module ${M}\n`), `${M}@${V}/go.mod`, { compress: false });
  z.addBuffer(Buffer.from("package m // PAYLOAD\n"), `${M}@${V}/m.go`, { compress: false });
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  const at = bytes.indexOf("PAYLOAD");
  bytes[at] = "X".charCodeAt(0);
  const zip = join(work, "bad-crc.zip");
  await writeFile(zip, bytes);
  const go = await oracle.ask<{ invalid: unknown[] }>("zip.CheckZip", [M, V, zip]);
  assert.deepEqual(go.v!.invalid, [], "x/mod's CheckZip reads no file data");
  const r = await goark(["mod", "check", zip], work);
  assert.equal(r.code, 1);
  assertOneErrorLine(r);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0]!, /m\.go/);
  assert.match(lines[0]!, /CRC|checksum/i);
});

describe("goark usage errors exit 2 with one line", () => {
  test("missing or invalid flags, unknown commands", async () => {
    const cases: string[][] = [
      ["mod", "zip", ".", "--version", V, "-o", "x.zip"],
      ["mod", "hash", ".", "--module", "Example.com/m", "--version", V],
      ["mod", "hash", ".", "--module", M, "--version", "v1.0"],
      ["mod", "hash", ".", "--module", "example.com/m/v2", "--version", V],
      ["mod", "check", "/nonexistent/x.zip"],
      ["mod", "frobnicate"],
      ["frobnicate"],
      ["--no-such-flag"],
    ];
    for (const args of cases) {
      const r = await goark(args, work);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assertOneErrorLine(r);
    }
  });

  test("--version prints the package version; mod zip's --version is the module's", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await goark(["--version"], work);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });
});
