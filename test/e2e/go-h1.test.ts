/**
 * End to end: for file trees made here and committed to local git
 * repositories, the h1 sums that the real go command computes in direct mode
 * (`go mod download -json`, GOPROXY=direct) equal goark's hashes of the same
 * trees. Go 1.19 builds the zip from `git archive` and then x/mod's
 * modzip.Create; that is the truth here. goark's side is createFromDir +
 * hashZip over the tree written to disk, hashGoMod over the go.mod (or the
 * synthesized `module PATH\n`), and hashDir/hashZip over what Go extracted and
 * downloaded.
 *
 * The vendor tree declares `go 1.19`: for `go 1.24`+ modules the current rule
 * differs from Go 1.19's ([new] in PROTOCOL.md §5.6), so the real go command
 * here cannot be the judge; test/differential/zip.test.ts covers that rule.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { hashDir, hashGoMod, hashZip } from "../../src/module/dirhash.ts";
import { pseudoVersion } from "../../src/module/pseudo.ts";
import { createFromDir } from "../../src/module/zip.ts";
import { type FileTree, type GitHost, type RepoInfo, startGitHost, writeTree } from "../helpers/git-host.ts";
import { type Oracle, startOracle } from "../helpers/oracle.ts";

const execFileP = promisify(execFile);
const PREREQ_HINT = "run `bash scripts/prereqs.sh` to install Debian's golang-go and git";

interface Download {
  Path: string;
  Version: string;
  Query?: string;
  Error?: string;
  GoMod?: string;
  Zip?: string;
  Dir?: string;
  Sum?: string;
  GoModSum?: string;
}

/** What one `go mod download` argument should produce, and the tree its zip is made from. */
interface Expectation {
  arg: string;
  module: string;
  /** The version Go should report (a pseudo-version for branch queries). */
  version: () => string;
  /** The module root's files as the zip should hold them. */
  tree: FileTree;
  /** The .mod file content Go should hash. */
  goMod: string;
  /** Files the zip must leave out (checked against createFromDir's report). */
  omitted?: string[];
}

const HOST = "git.goark.test";
const LICENSE = "Copyright the goark test authors. Any use is fine.\n";

function goModFor(path: string, extra = ""): string {
  return `module ${path}\n\ngo 1.19\n${extra}`;
}

/** Parses the stream of indented JSON objects `go mod download -json` prints. */
function parseDownloads(stdout: string): Download[] {
  const out: Download[] = [];
  let buf = "";
  for (const line of stdout.split("\n")) {
    buf += line + "\n";
    if (line === "}") {
      out.push(JSON.parse(buf) as Download);
      buf = "";
    }
  }
  return out;
}

describe("go mod download (direct git) computes the h1 goark computes", () => {
  let host: GitHost;
  let oracle: Oracle;
  let work: string;
  const expectations: Expectation[] = [];
  let downloads = new Map<string, Download>();
  let goStderr = "";

  before(async () => {
    for (const [cmd, args] of [
      ["go", ["version"]],
      ["git", ["--version"]],
    ] as const) {
      await execFileP(cmd, [...args]).catch(() => {
        throw new Error(`this test needs the ${cmd} command, which is not on PATH: ${PREREQ_HINT}`);
      });
    }
    host = await startGitHost({ host: HOST });
    oracle = await startOracle();
    work = await mkdtemp(join(tmpdir(), "goark-go-h1-"));

    // 1. A plain module, three commits: v1.0.0, v1.1.0 (annotated), then an
    //    untagged commit that go resolves to a pseudo-version. .gitattributes
    //    export-ignore must have no effect: go overrides it when archiving.
    const plainPath = `${HOST}/plain`;
    const plainTree = (n: number): FileTree => ({
      "go.mod": goModFor(plainPath),
      "plain.go": `package plain\n\nconst N = ${n}\n`,
      "sub/sub.go": "package sub\n",
      "README.md": "# plain\n",
      ".gitattributes": "ignored.txt export-ignore\n*.go export-subst\n",
      "ignored.txt": "kept: go neutralises export-ignore\n",
      "subst.go": "package plain\n\n// $Format:%H$\n",
      "run.sh": { data: "#!/bin/sh\necho hi\n", executable: true },
      "empty.txt": "",
    });
    const plain = await host.createRepo("plain", [
      { files: plainTree(1), tags: ["v1.0.0"] },
      { files: plainTree(2), annotatedTags: ["v1.1.0"] },
      { files: plainTree(3) },
    ]);
    expectations.push(
      {
        arg: `${plainPath}@v1.0.0`,
        module: plainPath,
        version: () => "v1.0.0",
        tree: plainTree(1),
        goMod: goModFor(plainPath),
      },
      {
        arg: `${plainPath}@v1.1.0`,
        module: plainPath,
        version: () => "v1.1.0",
        tree: plainTree(2),
        goMod: goModFor(plainPath),
      },
      {
        arg: `${plainPath}@main`,
        module: plainPath,
        version: () => pseudoOf(plain, 2, "v1.1.0"),
        tree: plainTree(3),
        goMod: goModFor(plainPath),
      },
    );

    // 2. vendor/ directories under the pre-1.24 rule (go 1.19 in go.mod).
    const vendPath = `${HOST}/vendored`;
    const vendTree: FileTree = {
      "go.mod": goModFor(vendPath),
      "main.go": "package vendored\n",
      "vendor/modules.txt": "# example.com/dep v1.0.0\nexample.com/dep\n",
      "vendor/top.go": "package vendor\n",
      "vendor/example.com/dep/dep.go": "package dep\n",
      "pkg/vendor/vendor.go": "package vendor // dropped by the historic offset bug\n",
      "pkg/vendor/sub/x.go": "package sub\n",
      "pkg/notvendor/y.go": "package notvendor\n",
    };
    await host.createRepo("vendored", [{ files: vendTree, tags: ["v1.0.0"] }]);
    expectations.push({
      arg: `${vendPath}@v1.0.0`,
      module: vendPath,
      version: () => "v1.0.0",
      tree: vendTree,
      goMod: goModFor(vendPath),
      omitted: ["vendor/example.com/dep/dep.go", "pkg/vendor/vendor.go", "pkg/vendor/sub/x.go"],
    });

    // 3. Nested modules (go.mod in any case), a symlink, an empty file.
    const nestPath = `${HOST}/nested`;
    const nestTree: FileTree = {
      "go.mod": goModFor(nestPath),
      "a.go": "package nested\n",
      "inner/go.mod": goModFor(`${nestPath}/inner`),
      "inner/n.go": "package inner\n",
      "inner/deep/d.go": "package deep\n",
      "cap/GO.MOD": "module whatever\n",
      "cap/c.go": "package cap\n",
      "link.go": { symlink: "a.go" },
      "dir/keep.go": "package dir\n",
    };
    await host.createRepo("nested", [{ files: nestTree, tags: ["v1.0.0"] }]);
    expectations.push({
      arg: `${nestPath}@v1.0.0`,
      module: nestPath,
      version: () => "v1.0.0",
      tree: nestTree,
      goMod: goModFor(nestPath),
    });

    // 4. Upper-case module path (escaped as !names in the cache) and file
    //    names with upper case, Unicode letters, spaces and punctuation.
    const namesPath = `${HOST}/Names`;
    const namesTree: FileTree = {
      "go.mod": goModFor(namesPath),
      "Ünïcödé.go": "package names\n",
      "README.MD": "upper\n",
      "Upper/Case.go": "package upper\n",
      "with space.txt": "space\n",
      "x~1.go": "package names\n",
      "#hash$&(x)+,=@[]^_{}.txt": "punctuation\n",
      "ǅ/title.go": "package title\n",
      "日本/語.go": "package 日本\n",
    };
    await host.createRepo("Names", [{ files: namesTree, tags: ["v1.0.0"] }]);
    expectations.push({
      arg: `${namesPath}@v1.0.0`,
      module: namesPath,
      version: () => "v1.0.0",
      tree: namesTree,
      goMod: goModFor(namesPath),
    });

    // 5. A /v2 module on a major branch (go.mod at the root says /v2).
    const majorPath = `${HOST}/major/v2`;
    const majorTree: FileTree = { "go.mod": goModFor(majorPath), "m.go": "package major\n", LICENSE };
    await host.createRepo("major", [{ files: majorTree, tags: ["v2.0.0", "v2.1.0"] }]);
    expectations.push({
      arg: `${majorPath}@v2.1.0`,
      module: majorPath,
      version: () => "v2.1.0",
      tree: majorTree,
      goMod: goModFor(majorPath),
    });

    // 6. A /v2 module in a major subdirectory without its own LICENSE: go
    //    zips v2/ and adds the repository root's LICENSE.
    const subPath = `${HOST}/majorsub`;
    const subV2 = `${subPath}/v2`;
    await host.createRepo("majorsub", [
      {
        files: {
          "go.mod": goModFor(subPath),
          "root.go": "package majorsub\n",
          LICENSE,
          "v2/go.mod": goModFor(subV2),
          "v2/m.go": "package majorsub\n",
          "v2/sub/s.go": "package sub\n",
        },
        tags: ["v2.0.0"],
      },
    ]);
    expectations.push({
      arg: `${subV2}@v2.0.0`,
      module: subV2,
      version: () => "v2.0.0",
      tree: { "go.mod": goModFor(subV2), "m.go": "package majorsub\n", "sub/s.go": "package sub\n", LICENSE },
      goMod: goModFor(subV2),
    });

    // 7. No go.mod at all: go synthesizes `module PATH\n`; a v2 tag without a
    //    go.mod is v2.0.0+incompatible.
    const nomodPath = `${HOST}/nomod`;
    const nomodTree: FileTree = { "x.go": "package nomod\n" };
    await host.createRepo("nomod", [{ files: nomodTree, tags: ["v1.0.0", "v2.0.0"] }]);
    for (const v of ["v1.0.0", "v2.0.0+incompatible"]) {
      expectations.push({
        arg: `${nomodPath}@${v}`,
        module: nomodPath,
        version: () => v,
        tree: nomodTree,
        goMod: `module ${nomodPath}\n`,
      });
    }

    const env = host.goEnv(work);
    const cwd = join(work, "cwd");
    await mkdir(cwd, { recursive: true });
    const args = ["mod", "download", "-json", ...expectations.map((e) => e.arg)];
    const result = await execFileP("go", args, { cwd, env, timeout: 180_000, maxBuffer: 16 << 20 }).catch(
      (err: { stdout?: string; stderr?: string; message: string }) => ({
        stdout: err.stdout ?? "",
        stderr: `${err.stderr ?? ""}\n${err.message}`,
      }),
    );
    goStderr = result.stderr;
    downloads = new Map(parseDownloads(result.stdout).map((d) => [`${d.Path}@${d.Query ?? d.Version}`, d]));
  });

  after(async () => {
    await host?.close();
    await oracle?.close();
    if (work) await rm(work, { recursive: true, force: true }).catch(() => {});
  });

  const downloaded = (e: Expectation): Download => {
    const d = downloads.get(e.arg);
    assert.ok(
      d,
      `go mod download printed nothing for ${e.arg}; stderr:\n${goStderr}\nrequests:\n${host.requests.join("\n")}`,
    );
    assert.equal(d.Error, undefined, `go mod download ${e.arg} failed: ${d.Error}\n${goStderr}`);
    return d;
  };

  // One test per download; the list is fixed, so declare them by name.
  for (const name of [
    "plain@v1.0.0",
    "plain@v1.1.0",
    "plain@main",
    "vendored@v1.0.0",
    "nested@v1.0.0",
    "Names@v1.0.0",
    "major/v2@v2.1.0",
    "majorsub/v2@v2.0.0",
    "nomod@v1.0.0",
    "nomod@v2.0.0+incompatible",
  ]) {
    test(name, async () => {
      const e = expectations.find((x) => x.arg === `${HOST}/${name}`);
      assert.ok(e, `no expectation for ${name}`);
      const d = downloaded(e);
      assert.equal(d.Version, e.version(), "version");

      // goark zips the same tree and hashes its own zip.
      const dir = join(work, "trees", name.replace(/[/@+]/g, "_"));
      await mkdir(dir, { recursive: true });
      await writeTree(dir, e.tree);
      // x/mod on the same tree first: a check on this test's model of what go zips.
      const xmod = await oracle.ask<{ h1?: string }>("zip.CreateFromDir", [
        dir,
        e.module,
        d.Version,
        `${dir}.xmod.zip`,
      ]);
      assert.equal(
        xmod.v?.h1,
        d.Sum,
        `x/mod's zip of the test's tree differs from go's: ${JSON.stringify(xmod)}`,
      );

      const zipFile = `${dir}.zip`;
      const checked = await createFromDir(zipFile, e.module, d.Version, dir);
      for (const o of e.omitted ?? []) {
        assert.ok(
          checked.omitted.some((f) => f.path === o || f.path.endsWith(`/${o}`)),
          `${o} should be reported omitted: ${JSON.stringify(checked.omitted)}`,
        );
      }
      assert.equal(checked.h1, d.Sum, "the h1 createFromDir reports vs go's Sum");
      assert.equal(await hashZip(zipFile), d.Sum, "goark's zip of the tree vs go's Sum");

      // goark hashes go's own artefacts the same way go does.
      assert.equal(await hashZip(d.Zip!), d.Sum, "goark's hashZip of go's zip");
      assert.equal(
        await hashDir(d.Dir!, `${e.module}@${d.Version}`),
        d.Sum,
        "goark's hashDir of go's extraction",
      );

      assert.equal(hashGoMod(e.goMod), d.GoModSum, "goark's hashGoMod of the go.mod vs go's GoModSum");
      assert.equal(await readFile(d.GoMod!, "utf8"), e.goMod, "the .mod go stored");
    });
  }
});

/** The pseudo-version go should give commit i of repo, whose nearest tag is base. */
function pseudoOf(repo: RepoInfo, i: number, base: string): string {
  const c = repo.commits[i]!;
  return pseudoVersion("v0", base, c.date, c.hash.slice(0, 12));
}
