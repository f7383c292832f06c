/**
 * goark's direct mode against the go command's own (GOPROXY=direct), over the
 * same git repositories served by the loopback git host. For every module and
 * query — the version list, @latest, tags, branches, non-semver tags, short
 * and full hashes — goark's DirectSource must give the version and time the
 * go command computes (`go list -m -json M@Q`, each in a fresh GOPATH so no
 * cache state leaks between queries), and for every resulting version the
 * go.mod and zip hashes `go mod download -json` computes. Expected values
 * come only from the go command.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { hashGoMod, hashZip } from "../../src/module/dirhash.ts";
import { DirectSource } from "../../src/source/direct.ts";
import { type FileTree, type GitHost, type RepoInfo, startGitHost } from "../helpers/git-host.ts";

const execFileP = promisify(execFile);
const HOST = "git.goark.test";

interface GoModule {
  Path: string;
  Version?: string;
  Versions?: string[];
  Time?: string;
  Error?: { Err: string };
}

interface GoDownload {
  Path: string;
  Version: string;
  Error?: string;
  Sum?: string;
  GoModSum?: string;
}

function mod(path: string, extra = ""): string {
  return `module ${path}\n\ngo 1.19\n${extra}`;
}

const LICENSE = "Copyright the goark authors.\n";

/** At most n go commands at once. */
function pool(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

describe("direct mode answers exactly as the go command's direct mode", () => {
  let host: GitHost;
  let work: string;
  let direct: DirectSource;
  const limit = pool(6);
  const hashes: Record<string, string> = {};
  const infos = new Map<string, RepoInfo>();

  /** Runs go in a fresh GOPATH; returns stdout (and stderr) whatever the exit status. */
  const go = (args: string[]) =>
    limit(async () => {
      const dir = await mkdtemp(join(work, "go-"));
      try {
        const r = await execFileP("go", args, { cwd: dir, env: host.goEnv(dir), maxBuffer: 16 << 20 });
        return { stdout: r.stdout, stderr: r.stderr, ok: true };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", ok: false };
      } finally {
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
    });

  const goList = async (arg: string, extra: string[] = []): Promise<GoModule> => {
    const r = await go(["list", "-m", "-json", "-e", ...extra, arg]);
    if (r.stdout.trim() === "") return { Path: arg, Error: { Err: r.stderr.trim() } };
    return JSON.parse(r.stdout) as GoModule;
  };

  before(async () => {
    host = await startGitHost({ host: HOST });
    const make = async (...args: Parameters<GitHost["createRepo"]>) => {
      infos.set(args[0], await host.createRepo(...args));
    };
    work = await mkdtemp(join(tmpdir(), "goark-direct-vcs-"));
    direct = new DirectSource({
      vcsDir: join(work, "vcs"),
      insecure: HOST,
      env: {
        ...process.env,
        HTTP_PROXY: host.proxyUrl,
        http_proxy: host.proxyUrl,
        HTTPS_PROXY: host.proxyUrl,
        https_proxy: host.proxyUrl,
        NO_PROXY: "",
        no_proxy: "",
      },
    });

    // repo: a root module, a subdirectory module (sub/, tags sub/vX), a /v2
    // major subdirectory (v2/, tags v2.x at the root), a feature branch off
    // the main line, non-semver and non-canonical tags.
    const root = `${HOST}/repo`;
    const tree = (n: number, more: FileTree = {}): FileTree => ({
      "go.mod": mod(root),
      LICENSE,
      "a.go": `package repo\n\nconst N = ${n}\n`,
      "sub/go.mod": mod(`${root}/sub`),
      "sub/s.go": `package sub\n\nconst N = ${n}\n`,
      ...more,
    });
    const v2 = { "v2/go.mod": mod(`${root}/v2`), "v2/v.go": "package v2\n" };
    await make(
      "repo",
      [
        { files: { "go.mod": mod(root), LICENSE, "a.go": "package repo\n" }, annotatedTags: ["v1.0.0"] },
        { files: tree(1), tags: ["v1.1.0", "sub/v0.1.0"] },
        { files: tree(2, v2), tags: ["v1.2.0-pre", "v2.0.0"] },
        { files: tree(3, v2), tags: ["junk", "v1.3", "sub/v0.2.0+meta"] },
        { files: tree(4, { "d.go": "package repo\n" }), parent: 1 },
        { files: tree(5, v2), parent: 3 },
      ],
      { branches: { feature: 4, old: 1, main: 5 } },
    );

    // legacy: no go.mod anywhere, tags past v1 (+incompatible).
    const legacyTree = (n: number): FileTree => ({ "l.go": `package legacy\n\nconst N = ${n}\n` });
    await make("legacy", [
      { files: legacyTree(0), tags: ["v1.0.0"] },
      { files: legacyTree(1), tags: ["v2.0.0"] },
      { files: legacyTree(2), annotatedTags: ["v2.1.0"] },
      { files: legacyTree(3) },
    ]);

    // majorbranch: v1 on main, /v3 on branch v3 (go.mod at the root declares /v3).
    const mb = `${HOST}/majorbranch`;
    await make(
      "majorbranch",
      [
        { files: { "go.mod": mod(mb), "m.go": "package majorbranch\n" }, tags: ["v1.0.0"] },
        { files: { "go.mod": mod(`${mb}/v3`), "m.go": "package majorbranch\n" }, tags: ["v3.0.0"] },
        { files: { "go.mod": mod(`${mb}/v3`), "m.go": "package majorbranch\n\nconst X = 1\n" } },
      ],
      { branches: { main: 0, v3: 2, dev3: 2 } },
    );

    // Upper: upper case in the module path and in a prerelease.
    const up = `${HOST}/Upper`;
    await make("Upper", [
      { files: { "go.mod": mod(up), "u.go": "package upper\n" }, tags: ["v1.0.0"] },
      { files: { "go.mod": mod(up), "u.go": "package upper\n", "U.txt": "x\n" }, tags: ["v1.1.0-RC1"] },
    ]);

    // notags: untagged history only.
    const nt = `${HOST}/notags`;
    await make("notags", [
      { files: { "go.mod": mod(nt), "n.go": "package notags\n" } },
      { files: { "go.mod": mod(nt), "n.go": "package notags\n\nconst N = 1\n" } },
    ]);

    // attrs: .gitattributes that change what git archive writes (line endings, $Id$), at the
    // root of a root module and above a subdirectory module (tags sub/vX).
    const at = `${HOST}/attrs`;
    const attrsTree = (n: number): FileTree => ({
      ".gitattributes": "*.txt eol=crlf\n*.c ident\n",
      "go.mod": mod(at),
      "a.go": `package attrs\n\nconst N = ${n}\n`,
      "notes.txt": "one\ntwo\n",
      "x.c": "/* $Id$ */\n",
      "sub/go.mod": mod(`${at}/sub`),
      "sub/s.txt": "line\nline\n",
      "sub/y.c": "$Id$\n",
    });
    await make("attrs", [{ files: attrsTree(1), tags: ["v1.0.0", "sub/v1.0.0"] }, { files: attrsTree(2) }]);

    // big: a file over the size the zip writer reads whole (streamed from git), identical files
    // (one blob twice), an executable, a symlink and an empty file, no attributes.
    const bg = `${HOST}/big`;
    const big = new Uint8Array(1536 << 10);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + (i >> 9)) & 0xff;
    await make("big", [
      {
        files: {
          "go.mod": mod(bg),
          "b.go": "package big\n",
          "data/big.bin": big,
          "same1.txt": "same\n",
          "same2.txt": "same\n",
          "empty.txt": "",
          "run.sh": { data: "#!/bin/sh\n", executable: true },
          "link.go": { symlink: "b.go" },
          "z.go": "package big\n\nconst Z = 1\n",
        },
        tags: ["v1.0.0"],
      },
    ]);

    // retract: v1.1.0 retracts itself, so @latest is v1.0.0.
    const rt = `${HOST}/retract`;
    await make("retract", [
      { files: { "go.mod": mod(rt), "r.go": "package retract\n" }, tags: ["v1.0.0"] },
      {
        files: { "go.mod": mod(rt, "\nretract v1.1.0 // broken\n"), "r.go": "package retract\n" },
        tags: ["v1.1.0"],
      },
    ]);
  });

  after(async () => {
    await direct?.close();
    await host?.close();
    await rm(work, { recursive: true, force: true });
  });

  const MODULES = [
    `${HOST}/repo`,
    `${HOST}/repo/sub`,
    `${HOST}/repo/v2`,
    `${HOST}/legacy`,
    `${HOST}/majorbranch`,
    `${HOST}/majorbranch/v3`,
    `${HOST}/Upper`,
    `${HOST}/notags`,
    `${HOST}/retract`,
    `${HOST}/attrs`,
    `${HOST}/attrs/sub`,
    `${HOST}/big`,
  ];

  test("version lists", async () => {
    await Promise.all(
      MODULES.map(async (m) => {
        const want = await goList(m, ["-versions", "-retracted"]);
        assert.equal(want.Error, undefined, `go list -versions ${m}: ${want.Error?.Err}`);
        const got = (await direct.list(m)).map((e) => e.version);
        assert.deepEqual(got, want.Versions ?? [], `list of ${m}`);
      }),
    );
  });

  /** Every query goark must answer as go does; versions met on the way are checked for mod and zip. */
  const versionsSeen = new Map<string, Set<string>>();
  const remember = (m: string, v: string) => {
    const s = versionsSeen.get(m) ?? new Set<string>();
    versionsSeen.set(m, s);
    s.add(v);
  };

  test("@latest", async () => {
    await Promise.all(
      MODULES.map(async (m) => {
        const want = await goList(`${m}@latest`);
        assert.equal(want.Error, undefined, `go list ${m}@latest: ${want.Error?.Err}`);
        const got = await direct.latest(m);
        assert.deepEqual(
          { Version: got.Version, Time: got.Time },
          { Version: want.Version, Time: want.Time },
          `${m}@latest`,
        );
        remember(m, got.Version);
      }),
    );
  });

  test("queries: tags, branches, non-semver tags, short and full hashes", async () => {
    const hashesOf = (name: string) => (infos.get(name)?.commits ?? []).map((c) => c.hash);
    const queries: [string, string][] = [];
    const add = (m: string, qs: string[]) => {
      for (const q of qs) queries.push([m, q]);
    };
    const commitQueries = (name: string) => hashesOf(name).flatMap((h) => [h, h.slice(0, 12), h.slice(0, 7)]);
    add(`${HOST}/repo`, [
      "v1.0.0",
      "v1.1.0",
      "v1.2.0-pre",
      "main",
      "feature",
      "old",
      "junk",
      "HEAD",
      "v2.0.0",
      "v9.9.9",
      "nope",
      ...commitQueries("repo"),
    ]);
    add(`${HOST}/repo/sub`, [
      "v0.1.0",
      "main",
      "feature",
      "v0.2.0",
      "sub/v0.1.0",
      "sub/v0.2.0+meta",
      ...commitQueries("repo"),
    ]);
    add(`${HOST}/repo/v2`, ["v2.0.0", "main", "feature", ...commitQueries("repo")]);
    add(`${HOST}/legacy`, [
      "v1.0.0",
      "v2.0.0",
      "v2.1.0",
      "v2.0.0+incompatible",
      "main",
      ...commitQueries("legacy"),
    ]);
    add(`${HOST}/majorbranch`, ["v1.0.0", "main", "dev3", ...commitQueries("majorbranch")]);
    add(`${HOST}/majorbranch/v3`, ["v3.0.0", "dev3", "main", ...commitQueries("majorbranch")]);
    add(`${HOST}/Upper`, ["v1.0.0", "v1.1.0-RC1", "main", ...commitQueries("Upper")]);
    add(`${HOST}/notags`, ["main", ...commitQueries("notags")]);
    add(`${HOST}/retract`, ["v1.1.0", "main"]);
    add(`${HOST}/attrs`, ["v1.0.0", "main"]);
    add(`${HOST}/attrs/sub`, ["v1.0.0", "main"]);
    add(`${HOST}/big`, ["v1.0.0"]);

    const failures: string[] = [];
    await Promise.all(
      queries.map(async ([m, q]) => {
        const want = await goList(`${m}@${q}`);
        let got: { Version?: string; Time?: string; error?: string };
        try {
          const info = await direct.info(m, q);
          got = { Version: info.Version, ...(info.Time === undefined ? {} : { Time: info.Time }) };
        } catch (err) {
          got = { error: (err as Error).message };
        }
        if (want.Error !== undefined) {
          if (got.error === undefined)
            failures.push(`${m}@${q}: go failed (${want.Error.Err}) but goark said ${got.Version}`);
          return;
        }
        if (got.error !== undefined) {
          failures.push(`${m}@${q}: go said ${want.Version} but goark failed: ${got.error}`);
          return;
        }
        if (got.Version !== want.Version || got.Time !== want.Time) {
          failures.push(`${m}@${q}: go said ${want.Version} ${want.Time}, goark ${got.Version} ${got.Time}`);
          return;
        }
        remember(m, got.Version as string);
      }),
    );
    assert.deepEqual(failures, [], failures.join("\n"));
    assert.ok(queries.length > 60);
  });

  test("go.mod and zip hashes of every version met", async () => {
    const failures: string[] = [];
    let checked = 0;
    const jobs: Promise<void>[] = [];
    for (const [m, vs] of versionsSeen) {
      for (const v of vs) {
        jobs.push(
          (async () => {
            const r = await go(["mod", "download", "-json", `${m}@${v}`]);
            const want = JSON.parse(r.stdout) as GoDownload;
            if (want.Error !== undefined) {
              failures.push(`${m}@${v}: go mod download failed: ${want.Error}`);
              return;
            }
            const goMod = await direct.mod(m, v);
            const zipFile = join(work, `${m.replaceAll("/", "_")}@${v}.zip`);
            const z = await direct.zip(m, v);
            await pipeline(z.body, createWriteStream(zipFile));
            const got = { GoModSum: hashGoMod(goMod), Sum: await hashZip(zipFile) };
            hashes[`${m}@${v}`] = got.Sum;
            if (got.GoModSum !== want.GoModSum || got.Sum !== want.Sum) {
              failures.push(`${m}@${v}: go ${want.Sum} ${want.GoModSum}, goark ${got.Sum} ${got.GoModSum}`);
            }
            checked++;
          })().catch((err: unknown) => {
            failures.push(`${m}@${v}: ${(err as Error).message}`);
          }),
        );
      }
    }
    await Promise.all(jobs);
    assert.deepEqual(failures, [], failures.join("\n"));
    assert.ok(checked >= 15, `only ${checked} versions checked`);
  });
});
