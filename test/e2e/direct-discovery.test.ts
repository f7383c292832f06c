/**
 * `?go-get=1` discovery against the go command's: for go-get pages of many
 * shapes (attribute case and quoting, entities, tags after <body> or inside
 * comments, several matching tags, a root path whose own page disagrees, bad
 * repository URLs, another VCS), goark resolves the module — or refuses it —
 * exactly when `go list -m M@v1.0.0` does in direct mode, and to the same
 * version. The pages are served by the git host; the go command is the judge.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { DirectSource } from "../../src/source/direct.ts";
import { FixtureUpstream, writeTree } from "../helpers/fixture-upstream.ts";
import { type GitHost, startGitHost } from "../helpers/git-host.ts";

const execFileP = promisify(execFile);
const HOST = "git.goark.test";
const R1 = `http://${HOST}/r1.git`;
const R2 = `http://${HOST}/r2.git`;

function page(...metas: string[]): string {
  return `<!DOCTYPE html>\n<html><head>\n${metas.join("\n")}\n</head><body>hi</body></html>\n`;
}
function meta(content: string): string {
  return `<meta name="go-import" content="${content}">`;
}

/** module path → pages (path after the host → HTML). */
const CASES: Record<string, Record<string, string>> = {
  [`${HOST}/v/one`]: { "v/one": page(meta(`${HOST}/v/one git ${R1}`)) },
  [`${HOST}/v/upper`]: { "v/upper": page(`<META NAME="go-import" CONTENT='${HOST}/v/upper git ${R1}'/>`) },
  [`${HOST}/v/unquoted`]: {
    "v/unquoted": page(`<meta name=go-import content="${HOST}/v/unquoted git ${R1}">`),
  },
  [`${HOST}/v/entity`]: { "v/entity": page(meta(`${HOST}/v/entity git http:&#x2F;&#47;${HOST}/r1.git`)) },
  [`${HOST}/v/spaces`]: { "v/spaces": page(meta(`  ${HOST}/v/spaces\tgit\n ${R1}  `)) },
  [`${HOST}/v/body`]: {
    "v/body": `<html><head></head><body>${meta(`${HOST}/v/body git ${R1}`)}</body></html>`,
  },
  [`${HOST}/v/comment`]: { "v/comment": page(`<!-- ${meta(`${HOST}/v/comment git ${R1}`)} -->`) },
  [`${HOST}/v/multi`]: {
    "v/multi": page(meta(`${HOST}/v/multi git ${R1}`), meta(`${HOST}/v/multi git ${R2}`)),
  },
  [`${HOST}/v/nested`]: { "v/nested": page(meta(`${HOST}/v git ${R1}`), meta(`${HOST}/v/nested git ${R1}`)) },
  [`${HOST}/v/other`]: {
    "v/other": page(meta(`${HOST}/v/elsewhere git ${R1}`), meta(`${HOST}/v/other git ${R1}`)),
  },
  [`${HOST}/v/mismatch`]: { "v/mismatch": page(meta(`${HOST}/elsewhere git ${R1}`)) },
  [`${HOST}/v/two/sub`]: {
    "v/two/sub": page(meta(`${HOST}/v/two git ${R2}`)),
    "v/two": page(meta(`${HOST}/v/two git ${R2}`)),
  },
  [`${HOST}/v/liar/sub`]: {
    "v/liar/sub": page(meta(`${HOST}/v/liar git ${R2}`)),
    "v/liar": page(meta(`${HOST}/v/liar git ${R1}`)),
  },
  [`${HOST}/v/file`]: { "v/file": page(meta(`${HOST}/v/file git file:///etc`)) },
  [`${HOST}/v/noscheme`]: { "v/noscheme": page(meta(`${HOST}/v/noscheme git ${HOST}/r1.git`)) },
  [`${HOST}/v/hg`]: { "v/hg": page(meta(`${HOST}/v/hg hg http://${HOST}/r1`)) },
  [`${HOST}/v/twofields`]: { "v/twofields": page(meta(`${HOST}/v/twofields git`)) },
  [`${HOST}/v/name`]: { "v/name": page(`<meta name="go-source" content="${HOST}/v/name git ${R1}">`) },
  [`${HOST}/v/none`]: { "v/none": "<html><head><title>nothing here</title></head></html>" },
};

describe("go-get discovery decides as the go command does", { timeout: 300_000 }, () => {
  let host: GitHost;
  let work: string;
  let direct: DirectSource;

  before(async () => {
    const pages: Record<string, string> = {};
    for (const p of Object.values(CASES)) Object.assign(pages, p);
    host = await startGitHost({ host: HOST, goGetPages: pages });
    work = await mkdtemp(join(tmpdir(), "goark-discovery-"));
    await host.createRepo("r1", [{ files: { "r.go": "package r\n" }, tags: ["v1.0.0"] }]);
    await host.createRepo("r2", [
      {
        files: { "sub/go.mod": `module ${HOST}/v/two/sub\n`, "sub/s.go": "package sub\n" },
        tags: ["sub/v1.0.0"],
      },
    ]);
    direct = new DirectSource({
      vcsDir: join(work, "vcs"),
      insecure: HOST,
      env: {
        PATH: process.env.PATH,
        HTTP_PROXY: host.proxyUrl,
        http_proxy: host.proxyUrl,
        HTTPS_PROXY: host.proxyUrl,
        https_proxy: host.proxyUrl,
      },
    });
  });

  after(async () => {
    await direct?.close();
    await host?.close();
    await rm(work, { recursive: true, force: true });
  });

  test("every page shape", async () => {
    const failures: string[] = [];
    const resolved: string[] = [];
    await Promise.all(
      Object.keys(CASES).map(async (m) => {
        const dir = await mkdtemp(join(work, "go-"));
        let want: { Version?: string; Error?: { Err: string } };
        try {
          const r = await execFileP("go", ["list", "-m", "-json", "-e", `${m}@v1.0.0`], {
            cwd: dir,
            env: host.goEnv(dir),
          });
          want = JSON.parse(r.stdout) as typeof want;
        } catch (err) {
          want = { Error: { Err: (err as { stderr?: string }).stderr ?? String(err) } };
        }
        let got: { Version?: string; error?: string };
        try {
          got = { Version: (await direct.info(m, "v1.0.0")).Version };
        } catch (err) {
          got = { error: (err as Error).message };
        }
        if (want.Error !== undefined && got.error === undefined) {
          failures.push(`${m}: go refused (${want.Error.Err.trim()}) but goark resolved ${got.Version}`);
        } else if (want.Error === undefined && got.error !== undefined) {
          failures.push(`${m}: go resolved ${want.Version} but goark refused: ${got.error}`);
        } else if (want.Error === undefined && got.Version !== want.Version) {
          failures.push(`${m}: go ${want.Version}, goark ${got.Version}`);
        }
        if (want.Error === undefined) resolved.push(m.slice(HOST.length + 3));
      }),
    );
    assert.deepEqual(failures, [], failures.join("\n"));
    // The page shapes Go accepts (the others it refuses, and so must goark).
    assert.deepEqual(resolved.sort(), ["entity", "one", "other", "spaces", "two/sub", "unquoted", "upper"]);
  });

  test("hosting patterns and .git paths name the repository the go command names", async () => {
    // No network: a proxy that refuses every connection, so the go command stops right
    // after naming the repository (`git remote add origin -- URL` in its -x trace).
    const offline = new DirectSource({
      vcsDir: join(work, "vcs-static"),
      env: { PATH: process.env.PATH, HTTPS_PROXY: "http://127.0.0.1:9", https_proxy: "http://127.0.0.1:9" },
    });
    const paths = [
      "github.com/owner/repo",
      "github.com/owner/repo/sub/pkg",
      "github.com/Owner/Re.po_x-y/v2",
      "github.com/owner/repo.git",
      "github.com/owner/repo.git/sub",
      "github.com/owner",
      "bitbucket.org/o/r/x",
      "bitbucket.org/o/r.hg",
      "hub.jazz.net/git/user/repo/sub",
      "hub.jazz.net/git/User/repo",
      "git.apache.org/thrift.git/lib/go",
      "git.openstack.org/o/r",
      "git.openstack.org/o/r.git/sub",
      "chiselapp.com/user/u/repository/r",
    ];
    const failures: string[] = [];
    await Promise.all(
      paths.map(async (m) => {
        const dir = await mkdtemp(join(work, "go-"));
        const env = {
          ...host.goEnv(dir),
          GOINSECURE: "",
          HTTPS_PROXY: "http://127.0.0.1:9",
          https_proxy: "http://127.0.0.1:9",
        };
        const r = await execFileP("go", ["list", "-m", "-x", "-json", "-e", `${m}@v1.0.0`], {
          cwd: dir,
          env,
        }).catch((err: { stdout?: string; stderr?: string }) => ({
          stdout: err.stdout ?? "",
          stderr: err.stderr ?? "",
        }));
        const want = /git remote add origin -- (\S+)/.exec(r.stderr)?.[1];
        let got: string | undefined;
        try {
          got = (await offline.resolve(m)).repo;
        } catch {
          got = undefined;
        }
        if (got !== want)
          failures.push(`${m}: go names ${want ?? "no repository"}, goark ${got ?? "no repository"}`);
      }),
    );
    await offline.close();
    assert.deepEqual(failures, [], failures.join("\n"));
  });

  test("a .git-qualified path finds its scheme as the go command does", async () => {
    await host.createRepo("some/repo", [
      { files: { "go.mod": `module ${HOST}/some/repo.git/sub\n` }, tags: ["v1.0.0"] },
    ]);
    const m = `${HOST}/some/repo.git`;
    const dir = await mkdtemp(join(work, "go-"));
    const r = await execFileP("go", ["list", "-m", "-json", "-e", `${m}@v1.0.0`], {
      cwd: dir,
      env: host.goEnv(dir),
    });
    const want = JSON.parse(r.stdout) as { Version?: string; Error?: { Err: string } };
    assert.equal(want.Error, undefined, want.Error?.Err);
    const got = await direct.info(m, "v1.0.0");
    assert.equal(got.Version, want.Version);
    assert.equal((await direct.resolve(m)).repo, `http://${HOST}/some/repo`);
  });

  test("a mod entry sends the module to the proxy it names", async () => {
    const root = await mkdtemp(join(work, "proxy-tree-"));
    const m = `${HOST}/v/viaproxy`;
    await writeTree(root, [
      { module: m, version: "v1.0.0", time: "2021-02-03T04:05:06Z", files: { "go.mod": `module ${m}\n` } },
      { module: m, version: "v1.1.0", time: "2021-03-03T04:05:06Z", files: { "go.mod": `module ${m}\n` } },
    ]);
    const upstream = await FixtureUpstream.start(root);
    try {
      host.setGoGetPage("v/viaproxy", page(meta(`${m} mod ${upstream.url}`), meta(`${m} git ${R1}`)));
      assert.deepEqual(await direct.list(m), [{ version: "v1.0.0" }, { version: "v1.1.0" }]);
      assert.deepEqual(await direct.info(m, "v1.1.0"), { Version: "v1.1.0", Time: "2021-03-03T04:05:06Z" });
      assert.ok(upstream.requests.some((r) => r.path.includes("/v/viaproxy/@v/list")));
    } finally {
      await upstream.close();
    }
  });
});
