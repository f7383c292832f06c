/**
 * Differential test: src/module/zip.ts and src/module/dirhash.ts against
 * golang.org/x/mod/zip and sumdb/dirhash (Debian's v0.7.0), on random
 * directory trees: tricky names, vendor directories, nested modules, VCS
 * directories, symlinks, empty directories, case collisions, invalid UTF-8.
 *
 * Where current Go differs from x/mod v0.7.0, goark follows current Go and is
 * tested against the documented current rule instead of the oracle:
 *
 * | Rule ([new], PROTOCOL.md §5.6)                  | x/mod v0.7.0 (oracle) | current x/mod ≥ v0.22 (goark)    |
 * |-------------------------------------------------|-----------------------|----------------------------------|
 * | `vendor/modules.txt`, root go.mod says go ≥ 1.24 | kept                  | omitted ("file is in vendor directory") |
 * | `pkg/vendor/x.go`, root go.mod says go ≥ 1.24    | omitted (offset bug)  | kept                             |
 * | `pkg/vendor/foo/x.go`, go ≥ 1.25                 | omitted               | kept (only the root vendor/ vendors) |
 * | either path, go < 1.24 or no/unparsable go line  | as v0.7.0             | as v0.7.0 (checksums unchanged)  |
 *
 * Random go ≥ 1.24 trees are compared with the oracle's answer adjusted by the
 * first row (their generator never makes `dir/vendor/file`); the table at the
 * end pins every row with explicit expectations, and the expected h1 there is
 * x/mod's Hash1 over exactly the documented file set.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { hashDir, hashZip } from "../../src/module/dirhash.ts";
import { type CheckedFiles, checkDir, createFromDir } from "../../src/module/zip.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";
import { distinct, Rng, seedFromEnv } from "./generators.ts";
import { outcome } from "./harness.ts";

const OLD_TREES = 300;
const NEW_TREES = 80;

let oracle: Oracle;
let work: string;
before(async () => {
  oracle = await startOracle();
  work = await mkdtemp(join(tmpdir(), "goark-diff-zip-"));
});
after(async () => {
  await oracle?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

// ---- Trees ----

type Node = { file: string } | { symlink: string } | { emptyDir: true };
/** Relative path → node. In names, U+DC80..U+DCFF stands for the raw byte 0x80..0xFF (invalid UTF-8). */
type Tree = Map<string, Node>;

/** File-system bytes of a name: UTF-8, with U+DC80..U+DCFF as raw bytes. */
function nameBytes(s: string): Buffer {
  const parts: Buffer[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    parts.push(c >= 0xdc80 && c <= 0xdcff ? Buffer.from([c - 0xdc00]) : Buffer.from(ch, "utf8"));
  }
  return Buffer.concat(parts);
}

/** How Go's JSON shows a name: each raw byte of invalid UTF-8 as U+FFFD. */
function goShown(s: string): string {
  return s.replace(/[\udc80-\udcff]/g, "\ufffd");
}

const PLAIN_FILES = [
  "a.go",
  "b.go",
  "main.go",
  "doc.txt",
  "README",
  "x",
  "LICENSE",
  "k.go",
  "ß.txt",
  "modules.txt",
];
const TRICKY_FILES = [
  "A.go",
  "\u212a.go", // KELVIN SIGN: folds with k.go
  "ẞ.txt", // folds with ß.txt
  "aux.c",
  "con",
  "EXAMPL~1",
  "go.mod",
  "GO.MOD",
  "Go.mod",
  ".hg_archival.txt",
  "a:b",
  "a*b",
  "a b",
  "é.go",
  "日本.go",
  "...",
  "a.",
  ".hidden",
  "-dash.go",
  "bad\udcff.go", // invalid UTF-8
  "x\u0301", // combining mark: not a letter
  "with'quote",
  "new\nline",
  "back\\slash",
  "#$%&()+,=@[]^_{}~!.txt",
];
const DIRS = ["pkg", "sub", "internal", "cmd", "vendor", "testdata", "Sub", "PKG", "_x", ".github"];
const VCS_DIRS = [".git", ".hg", ".svn", ".bzr"];

function genTree(rng: Rng, goLine: string | undefined, newRule: boolean): Tree {
  const tree: Tree = new Map();
  if (goLine !== undefined) {
    tree.set("go.mod", { file: `module example.com/m\n${goLine === "" ? "" : `\ngo ${goLine}\n`}` });
  } else if (rng.chance(0.3)) {
    tree.set("go.mod", { file: rng.pick(["module example.com/m\n", "garbage (\n", ""]) });
  }
  const dirs = newRule ? DIRS.filter((d) => d !== "Sub" && d !== "PKG") : DIRS;
  const dirPath = (): string => {
    const depth = rng.pick([0, 0, 1, 1, 1, 2, 2, 3]);
    const parts: string[] = [];
    for (let i = 0; i < depth; i++) {
      let d = rng.chance(0.08) && !newRule ? rng.pick(VCS_DIRS) : rng.pick(dirs);
      // go ≥ 1.24 trees keep vendor/ at the root only (see the table above).
      if (newRule && d === "vendor" && i > 0) d = "pkg";
      parts.push(d);
    }
    if (newRule && rng.chance(0.05)) parts.unshift(rng.pick(VCS_DIRS));
    return parts.join("/");
  };
  const n = rng.range(1, 12);
  for (let i = 0; i < n; i++) {
    const dir = dirPath();
    let name = rng.chance(newRule ? 0.1 : 0.3) ? rng.pick(TRICKY_FILES) : rng.pick(PLAIN_FILES);
    if (newRule && /^(go\.mod|GO\.MOD|Go\.mod)$/.test(name) && dir === "") name = "a.go";
    const rel = dir === "" ? name : `${dir}/${name}`;
    if (tree.has(rel) || [...tree.keys()].some((k) => k.startsWith(`${rel}/`) || rel.startsWith(`${k}/`)))
      continue;
    const kind = rng.int(20);
    if (kind === 0)
      tree.set(rel, { symlink: rng.pick(["a.go", "../a.go", "missing", ".", "/etc/hostname"]) });
    else if (kind === 1) tree.set(rel, { emptyDir: true });
    else tree.set(rel, { file: rng.chance(0.2) ? "" : `content of ${rel} ${rng.u32()}\n` });
  }
  const free = (rel: string) =>
    ![...tree.keys()].some((k) => k === rel || rel.startsWith(`${k}/`) || k.startsWith(`${rel}/`));
  if (newRule && rng.chance(0.6) && free("vendor/modules.txt")) {
    tree.set("vendor/modules.txt", { file: "# example.com/dep v1.0.0\n" });
  }
  if (rng.chance(0.15)) {
    // A nested module: a go.mod (any case) deeper down.
    const d = rng.pick(["sub", "pkg/inner", "cmd/tool"]);
    if (![...tree.keys()].some((k) => k === d || d.startsWith(`${k}/`))) {
      tree.set(`${d}/${rng.pick(newRule ? ["go.mod"] : ["go.mod", "GO.MOD"])}`, {
        file: "module example.com/m/x\n",
      });
    }
  }
  return tree;
}

async function writeGenTree(dir: string, tree: Tree): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [rel, node] of tree) {
    const parts = rel.split("/");
    let cur = nameBytes(dir);
    for (const p of parts.slice(0, -1)) {
      cur = Buffer.concat([cur, Buffer.from("/"), nameBytes(p)]);
      await mkdir(cur, { recursive: true });
    }
    const full = Buffer.concat([cur, Buffer.from("/"), nameBytes(parts[parts.length - 1]!)]);
    if ("file" in node) await writeFile(full, node.file);
    else if ("symlink" in node) await symlink(node.symlink, full);
    else await mkdir(full, { recursive: true });
  }
}

function treeLabel(tree: Tree): string {
  return JSON.stringify(
    Object.fromEntries(
      [...tree].map(([k, v]) => [k, "file" in v ? "file" : "symlink" in v ? `-> ${v.symlink}` : "dir/"]),
    ),
  );
}

// ---- Comparison ----

interface GoChecked {
  valid: string[];
  omitted: { path: string; err: string }[];
  invalid: { path: string; err: string }[];
  sizeError?: string;
}

interface Normal {
  valid: string[];
  omitted: string[];
  invalid: string[];
  sizeError?: string;
}

/** Order-free form of a CheckedFiles; names as Go's JSON shows them. */
function normal(cf: GoChecked | CheckedFiles, dir: string, compareTexts: boolean): Normal {
  const rel = (p: string) => goShown(p.startsWith(`${dir}/`) ? p.slice(dir.length + 1) : p);
  const fe = (e: { path: string; err: string }) =>
    compareTexts ? `${rel(e.path)}: ${goShown(e.err)}` : rel(e.path);
  const out: Normal = {
    valid: cf.valid.map(rel).sort(),
    omitted: cf.omitted.map(fe).sort(),
    invalid: cf.invalid.map(fe).sort(),
  };
  if (cf.sizeError !== undefined) out.sizeError = cf.sizeError;
  return out;
}

interface TreeCase {
  tree: Tree;
  goLine: string | undefined;
  newRule: boolean;
  module: string;
  version: string;
}

const PREFIX_OK = { module: "example.com/m", version: "v1.0.0" };

function genCase(rng: Rng, newRule: boolean): TreeCase {
  const goLine = newRule
    ? rng.pick(["1.24", "1.24.0", "1.24rc1", "1.25", "1.30.2"])
    : rng.chance(0.85)
      ? rng.pick(["", "1.13", "1.16", "1.19", "1.21", "1.23", "1.23.4"])
      : undefined;
  const mv = rng.chance(0.9)
    ? PREFIX_OK
    : rng.pick([
        { module: "example.com/m/v2", version: "v2.0.0" },
        { module: "example.com/m", version: "v2.0.0+incompatible" },
        { module: "example.com/m/v2", version: "v1.0.0" },
        { module: "example.com/m", version: "v1.0" },
        { module: "Example.com/m", version: "v1.0.0" },
      ]);
  return { tree: genTree(rng, goLine, newRule), goLine, newRule, ...mv };
}

const mismatches: string[] = [];

function report(c: TreeCase, what: string, goark: unknown, go: unknown): void {
  mismatches.push(
    `  tree: ${treeLabel(c.tree)} (${c.module}@${c.version})\n    ${what}\n    goark: ${JSON.stringify(goark)}\n` +
      `    go:    ${JSON.stringify(go)}`,
  );
}

/** The oracle's (v0.7.0) CheckDir answer adjusted to the current go ≥ 1.24 rule. */
function adjustForNewRule(go: GoChecked): GoChecked {
  const moved = go.valid.filter((p) => p === "vendor/modules.txt");
  return {
    ...go,
    valid: go.valid.filter((p) => p !== "vendor/modules.txt"),
    omitted: [...go.omitted, ...moved.map((path) => ({ path, err: "file is in vendor directory" }))],
  };
}

async function compareTree(c: TreeCase, index: number): Promise<void> {
  const dir = join(work, `t${index}`);
  await writeGenTree(dir, c.tree);
  const hasBadName = [...c.tree.keys()].some((k) => /[\udc80-\udcff]/.test(k));

  // 1. checkDir vs zip.CheckDir.
  const goCheck = await oracle.ask<GoChecked>("zip.CheckDir", [dir]);
  const ourCheck = await outcome(() => checkDir(dir));
  if (goCheck.err !== undefined || ourCheck.err !== undefined) {
    if ((goCheck.err === undefined) !== (ourCheck.err === undefined))
      report(c, "checkDir fails on one side", ourCheck, goCheck);
  } else {
    const want = c.newRule ? adjustForNewRule(goCheck.v!) : goCheck.v!;
    const got = normal(ourCheck.v as CheckedFiles, dir, !hasBadName);
    if (!isDeepStrictEqual(got, normal(want, dir, !hasBadName))) {
      report(c, "checkDir lists differ", got, normal(want, dir, !hasBadName));
    }
  }

  // 2. createFromDir vs zip.CreateFromDir (+ HashZip of what each wrote).
  const goZip = join(work, `t${index}.go.zip`);
  const ourZip = join(work, `t${index}.goark.zip`);
  const goCreate = await oracle.ask<{ createErr?: string; h1?: string }>("zip.CreateFromDir", [
    dir,
    c.module,
    c.version,
    goZip,
  ]);
  const ourCreate = await outcome(() => createFromDir(ourZip, c.module, c.version, dir));
  const goFailed = goCreate.err !== undefined || goCreate.v?.createErr !== undefined;
  if (ourCreate.err !== undefined && !ourCreate.typed)
    report(c, "createFromDir threw an untyped error", ourCreate, {});
  if (goFailed !== (ourCreate.err !== undefined)) {
    report(c, "createFromDir fails on one side", ourCreate, goCreate);
  } else if (!goFailed) {
    let want = goCreate.v!.h1!;
    if (c.newRule && goCheck.v) {
      const valid = adjustForNewRule(goCheck.v).valid.map((p) =>
        p.startsWith(`${dir}/`) ? p.slice(dir.length + 1) : p,
      );
      const h = await oracle.ask<string>("dirhash.HashFiles", [dir, `${c.module}@${c.version}`, valid]);
      want = h.v!;
    }
    const ours = ourCreate.v as { h1: string };
    const ourZipHash = await outcome(() => hashZip(ourZip));
    const goOnOurZip = await oracle.ask<string>("dirhash.HashZip", [ourZip]);
    const goChecksOurZip = await oracle.ask<GoChecked>("zip.CheckZip", [c.module, c.version, ourZip]);
    if (ours.h1 !== want || ourZipHash.v !== want || goOnOurZip.v !== want) {
      report(
        c,
        "zip h1 differs (reported / goark hashZip / x/mod HashZip of goark's zip)",
        [ours.h1, ourZipHash, goOnOurZip],
        want,
      );
    }
    if (goChecksOurZip.err !== undefined || (goChecksOurZip.v?.invalid.length ?? 0) > 0) {
      report(c, "x/mod CheckZip rejects goark's zip", goChecksOurZip, "valid");
    }
    if (!c.newRule) {
      const ourHashOfGoZip = await outcome(() => hashZip(goZip));
      if (ourHashOfGoZip.v !== want) report(c, "goark hashZip of x/mod's zip", ourHashOfGoZip, want);
    }
  }

  // 3. hashDir vs dirhash.HashDir (every file, symlinks followed; no vendor rules).
  const prefix = `${c.module}@${c.version}`;
  const goHash = await oracle.ask<string>("dirhash.HashDir", [dir, prefix]);
  const ourHash = await outcome(() => hashDir(dir, prefix));
  if (
    (goHash.err === undefined) !== (ourHash.err === undefined) ||
    (goHash.err === undefined && goHash.v !== ourHash.v)
  ) {
    report(c, "hashDir differs", ourHash, goHash);
  }
}

describe("module zips and dirhash agree with x/mod", () => {
  test(`random trees, pre-1.24 vendor rule (${OLD_TREES} trees)`, async () => {
    const rng = new Rng(seedFromEnv(20));
    const cases = distinct(
      OLD_TREES,
      () => genCase(rng, false),
      (c) => treeLabel(c.tree) + c.goLine + c.version + c.module,
    );
    await runCases(cases, 0);
  });

  test(`random trees, go ≥ 1.24 ([new] vendor rule, oracle adjusted) (${NEW_TREES} trees)`, async () => {
    const rng = new Rng(seedFromEnv(21));
    const cases = distinct(
      NEW_TREES,
      () => genCase(rng, true),
      (c) => treeLabel(c.tree) + c.goLine + c.version + c.module,
    );
    await runCases(cases, 100_000);
  });
});

async function runCases(cases: TreeCase[], base: number): Promise<void> {
  mismatches.length = 0;
  let created = 0;
  // A few trees at a time: most of the time is spent waiting on files and the oracle.
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      await compareTree(cases[i]!, base + i);
      if (await lstat(join(work, `t${base + i}.goark.zip`)).catch(() => undefined)) created++;
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  // A generator that never yields a valid zip (or never an invalid one) tests little.
  assert.ok(
    created > cases.length / 10 && created < cases.length * 0.95,
    `only ${created}/${cases.length} trees zipped`,
  );
  if (mismatches.length > 0) {
    assert.fail(
      `goark disagrees with x/mod on ${mismatches.length} checks (seed ${process.env.GOARK_DIFF_SEED ?? "default"}; ` +
        `first 20):\n${mismatches.slice(0, 20).join("\n")}`,
    );
  }
}

// ---- [new] vendor rule, pinned ----

interface VendorCase {
  goMod: string;
  valid: string[];
  omitted: string[];
}

const VENDOR_FILES = [
  "vendor/modules.txt",
  "vendor/top.go",
  "vendor/example.com/dep/dep.go",
  "pkg/vendor/vendor.go",
  "pkg/vendor/foo/foo.go",
  "longpackagename/vendor/vendor.go",
  "vendor/amodules.txt",
  "modules.txt",
  "x.go",
];

/**
 * Expected sets follow the newest x/mod zip/vendor_test.go isVendoredPackage
 * table (golang/mod efe03c1): go ≥ 1.24 drops vendor/modules.txt and keeps
 * pkg/vendor/vendor.go; go ≥ 1.25 keeps pkg/vendor/foo/foo.go too (only the
 * root vendor directory vendors). The go version is read from the root go.mod
 * with the lax parser; a go.mod it rejects means the old rule.
 */
const VALID_124 = [
  "go.mod",
  "vendor/top.go",
  "pkg/vendor/vendor.go",
  "longpackagename/vendor/vendor.go",
  "vendor/amodules.txt",
  "modules.txt",
  "x.go",
];

const VENDOR_CASES: VendorCase[] = [
  // go 1.24: vendor/modules.txt dropped; nested vendor dirs found at the right offset.
  // "go 1.24-custom" is fixed to 1.24 by the lax parser (laxGoVersionRE).
  ...["go 1.24", "go 1.24.0", "go 1.24rc1", "go 1.24-custom"].map((g) => ({
    goMod: `module example.com/m\n\n${g}\n`,
    valid: VALID_124,
    omitted: ["vendor/modules.txt", "vendor/example.com/dep/dep.go", "pkg/vendor/foo/foo.go"],
  })),
  // go ≥ 1.25: only the root vendor directory vendors; nested ones are packages.
  ...["go 1.25", "go 1.25.3", "go 1.30"].map((g) => ({
    goMod: `module example.com/m\n\n${g}\n`,
    valid: [...VALID_124, "pkg/vendor/foo/foo.go"],
    omitted: ["vendor/modules.txt", "vendor/example.com/dep/dep.go"],
  })),
  // Before 1.24, no go line, or a go.mod the lax parser rejects: the historic rule.
  ...[
    "go 1.23",
    "go 1.23.9",
    "",
    "go 1.17",
    "go 1.24\ngo 1.25",
    "go 1.24\nrequire x",
    'go 1.24\nrequire "x',
  ].map((g) => ({
    goMod: `module example.com/m\n\n${g}\n`,
    valid: ["go.mod", "vendor/modules.txt", "vendor/top.go", "vendor/amodules.txt", "modules.txt", "x.go"],
    omitted: [
      "vendor/example.com/dep/dep.go",
      "pkg/vendor/vendor.go",
      "pkg/vendor/foo/foo.go",
      "longpackagename/vendor/vendor.go",
    ],
  })),
];

describe("[new] vendor rule for go ≥ 1.24 modules (documented current behaviour)", () => {
  for (const [i, vc] of VENDOR_CASES.entries()) {
    test(JSON.stringify(vc.goMod), async () => {
      const dir = join(work, `vendor${i}`);
      const tree: Tree = new Map(VENDOR_FILES.map((f) => [f, { file: `// ${f}\n` }]));
      tree.set("go.mod", { file: vc.goMod });
      await writeGenTree(dir, tree);
      const cf = await checkDir(dir);
      const rel = (p: string) => p.slice(dir.length + 1);
      assert.deepEqual(cf.valid.map(rel).sort(), [...vc.valid].sort());
      // Files only: vendored directories are listed too (as x/mod's CheckDir does);
      // the random trees above compare those entries with the oracle.
      assert.deepEqual(
        cf.omitted
          .filter((e) => tree.has(rel(e.path)))
          .map((e) => `${rel(e.path)}: ${e.err}`)
          .sort(),
        vc.omitted.map((p) => `${p}: file is in vendor directory`).sort(),
      );
      assert.deepEqual(cf.invalid, []);
      const made = await createFromDir(join(work, `vendor${i}.zip`), "example.com/m", "v1.0.0", dir);
      const want = await oracle.ask<string>("dirhash.HashFiles", [dir, "example.com/m@v1.0.0", vc.valid]);
      assert.equal(made.h1, want.v);
      assert.equal(await hashZip(join(work, `vendor${i}.zip`)), want.v);
    });
  }
});
