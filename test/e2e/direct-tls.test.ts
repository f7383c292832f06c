/**
 * Direct mode over https with real TLS handshakes: the git host speaks only
 * TLS (a certificate from a throw-away CA made with openssl), reached through
 * its forward proxy's CONNECT tunnel via HTTPS_PROXY, for go-get discovery and
 * git's smart HTTP. Without trust goark refuses with a certificate error, as
 * the go command does; with `--insecure` patterns it accepts exactly the
 * matching modules (discovery and git), and with `caFile` it verifies against
 * the extra CA, still refusing a certificate from any other. Where goark
 * answers, the go command (trusting the CA) judges the answers.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DirectSource, type DirectSourceOptions } from "../../src/source/direct.ts";
import { prepareExtraTrust } from "../../src/source/vcs/tls-trust.ts";
import { type GitHost, type RepoInfo, startGitHost } from "../helpers/git-host.ts";
import { GoClient } from "../helpers/go-client.ts";
import { compareWithGo } from "../helpers/go-compare.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import { makeTestCa, type TestCa } from "../helpers/test-ca.ts";

const HOST = "git.goark.test";
const LIB = `${HOST}/lib`;
const SUB = `${LIB}/sub`;
const OK = `${HOST}/ok`;
const STRICT = `${HOST}/strict`;
const RW_OK = `${HOST}/rw/ok`;
const RW_STRICT = `${HOST}/rw/strict`;
const PROXY_VARS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"];

function gomod(path: string): string {
  return `module ${path}\n\ngo 1.19\n`;
}

const CERT_HINT = /\(trust the host's CA with caFile, or match the module with the insecure patterns\)/;

describe("direct mode over https with a real TLS handshake", { timeout: 300_000 }, () => {
  let work: string;
  let ca: TestCa;
  let other: TestCa;
  let git: GitHost;
  let lib: RepoInfo;
  let goDirect: GoClient;
  const instances: GoarkInstance[] = [];
  const clients: GoClient[] = [];
  const saved: Record<string, string | undefined> = {};

  const client = async (proxy: string, env: Record<string, string> = {}) => {
    const c = await GoClient.create({ proxy, env });
    clients.push(c);
    return c;
  };

  /** A DirectSource reaching the git host through its proxy, with no trust but what opts give. */
  const source = async (name: string, opts: Partial<DirectSourceOptions> = {}) => {
    const home = join(work, `home-${name}`);
    await mkdir(home, { recursive: true });
    return new DirectSource({
      vcsDir: join(work, `vcs-${name}`),
      private: HOST,
      env: { PATH: process.env.PATH, HOME: home, HTTPS_PROXY: git.proxyUrl, https_proxy: git.proxyUrl },
      ...opts,
    });
  };

  /** goark from a goark.yaml (upstream direct), its egress through the git host's proxy. */
  const goark = async (name: string, yaml: string[]) => {
    const dir = join(work, `conf-${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "goark.yaml"),
      ["upstream: direct", `private: ${HOST}`, ...yaml, ""].join("\n"),
    );
    const g = await startGoark({ config: join(dir, "goark.yaml") });
    instances.push(g);
    return g;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "goark-direct-tls-"));
    ca = await makeTestCa(work, [HOST]);
    other = await makeTestCa(work, [HOST], "other");
    git = await startGitHost({ host: HOST, smartHttp: true, https: { cert: ca.cert, key: ca.key } });
    lib = await git.createRepo(
      "lib",
      [
        { files: { "go.mod": gomod(LIB), "l.go": "package lib\n" }, annotatedTags: ["v1.0.0"] },
        {
          files: {
            "go.mod": gomod(LIB),
            "l.go": "package lib\n\nconst N = 1\n",
            "sub/go.mod": gomod(SUB),
            "sub/s.go": "package sub\n",
          },
          tags: ["v1.1.0", "sub/v0.1.0"],
        },
        { files: { "go.mod": gomod(LIB), "l.go": "package lib\n\nconst N = 2\n", "d.go": "package lib\n" } },
      ],
      { branches: { main: 1, dev: 2 } },
    );
    for (const [name, path] of [
      ["ok", OK],
      ["strict", STRICT],
      ["rw-ok", RW_OK],
      ["rw-strict", RW_STRICT],
    ] as const) {
      await git.createRepo(name, [
        { files: { "go.mod": gomod(path), "x.go": "package x\n" }, tags: ["v1.0.0"] },
        { files: { "go.mod": gomod(path), "x.go": "package x\n\nconst Y = 1\n" }, tags: ["v1.0.1"] },
      ]);
    }
    // goark's direct mode takes its egress proxy from the environment, as git and the go command do.
    for (const k of PROXY_VARS) saved[k] = process.env[k];
    for (const k of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"]) process.env[k] = git.proxyUrl;
    process.env.NO_PROXY = process.env.no_proxy = "127.0.0.1,localhost";
    // The judge: the go command trusting the test CA (Go's SSL_CERT_FILE, git's GIT_SSL_CAINFO).
    goDirect = await client("direct", {
      HTTPS_PROXY: git.proxyUrl,
      https_proxy: git.proxyUrl,
      SSL_CERT_FILE: ca.caFile,
      GIT_SSL_CAINFO: ca.caFile,
    });
  });

  after(async () => {
    await Promise.all(instances.map((g) => g.close()));
    await Promise.all(clients.map((c) => c.close()));
    await git?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("an untrusted certificate is refused with a clear certificate error, as the go command refuses it", async () => {
    const untrusted = await client("direct", { HTTPS_PROXY: git.proxyUrl, https_proxy: git.proxyUrl });
    const r = await untrusted.run(["list", "-m", "-json", "-e", `${LIB}@v1.0.0`]);
    assert.match(r.stdout, /x509: certificate signed by unknown authority/, r.stdout + r.stderr);

    // Discovery: the meta tags are never read.
    const none = await source("none");
    await assert.rejects(none.list(LIB), (err: Error) => {
      assert.match(err.message, /https:\/\/git\.goark\.test\/lib\?go-get=1: TLS certificate not trusted: /);
      assert.match(err.message, CERT_HINT);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    // git: a rewrite names the https repository directly, so only git's TLS is in play.
    const rw = await source("none-git", { rewrites: [{ from: `${HOST}/*`, to: `https://${HOST}/*.git` }] });
    await assert.rejects(rw.list(LIB), (err: Error) => {
      assert.match(err.message, /https:\/\/git\.goark\.test\/lib\.git/);
      assert.match(err.message, /server certificate verification failed|SSL certificate problem/);
      assert.match(err.message, CERT_HINT);
      return true;
    });
    // Another CA as caFile: verification stays on, so still refused, by discovery and by git.
    const trust = prepareExtraTrust(other.caFile, join(work, "other-bundle"));
    const wrongCa = await source("wrong-ca", { ca: trust.ca, git: { caBundleFile: trust.gitBundleFile } });
    await assert.rejects(wrongCa.list(LIB), /TLS certificate not trusted/);
    const wrongCaGit = await source("wrong-ca-git", {
      rewrites: [{ from: `${HOST}/*`, to: `https://${HOST}/*.git` }],
      git: { caBundleFile: trust.gitBundleFile },
    });
    await assert.rejects(
      wrongCaGit.list(LIB),
      /server certificate verification failed|SSL certificate problem/,
    );
    for (const s of [none, rw, wrongCa, wrongCaGit]) await s.close();

    // It was TLS through the proxy's tunnel every time; the host never answers plain http.
    assert.ok(git.requests.includes(`CONNECT ${HOST}:443`));
    assert.deepEqual(
      git.requests.filter((q) => q.startsWith("GET http://") || q.startsWith("POST http://")),
      [],
    );
  });

  test("insecure patterns: certificate checks off for the matching modules only, in discovery and in git", async () => {
    const g = await goark("insecure", [
      `insecure: "${OK},${RW_OK}"`,
      "rewrite:",
      `  - match: "${HOST}/rw/*"`,
      `    to: "https://${HOST}/rw-*.git"`,
    ]);
    const viaGoark = await client(g.url);
    const { failures, compared } = await compareWithGo(
      goDirect,
      viaGoark,
      [`${OK}@v1.0.0`, `${OK}@latest`, `${OK}@main`],
      [OK],
    );
    assert.deepEqual(failures, [], failures.join("\n"));
    assert.equal(compared.length, 2);
    assert.ok(git.requests.includes(`GET https://${HOST}/ok?go-get=1`), "discovery used TLS");

    // git alone (a rewrite): the insecure module's repository is read, the other's refused.
    const ok = await fetch(`${g.url}/${RW_OK}/@v/list`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "v1.0.0\nv1.0.1\n");
    const refusedGit = await fetch(`${g.url}/${RW_STRICT}/@v/list`);
    const gitBody = await refusedGit.text();
    assert.equal(refusedGit.status, 502, gitBody);
    assert.match(gitBody, /server certificate verification failed|SSL certificate problem/);
    // Discovery for a module outside the patterns: refused on the certificate (Go: unrecognized import path).
    const refusedDiscovery = await fetch(`${g.url}/${STRICT}/@v/list`);
    const discoveryBody = await refusedDiscovery.text();
    assert.equal(refusedDiscovery.status, 404, discoveryBody);
    assert.match(discoveryBody, /TLS certificate not trusted/);
    assert.equal(discoveryBody.trim().split("\n").length, 1);
  });

  test("caFile: verification against the extra CA, answers equal the go command's", async () => {
    const g = await goark("ca", [`caFile: ${ca.caFile}`]);
    const viaGoark = await client(g.url);
    const queries = [
      `${LIB}@v1.0.0`,
      `${LIB}@v1.1.0`,
      `${LIB}@latest`,
      `${LIB}@dev`,
      `${LIB}@${lib.commits[2]?.hash.slice(0, 12)}`,
      `${LIB}@v9.9.9`,
      `${SUB}@v0.1.0`,
      `${SUB}@latest`,
    ];
    const { failures, want, compared } = await compareWithGo(goDirect, viaGoark, queries, [LIB, SUB]);
    assert.deepEqual(failures, [], failures.join("\n"));
    assert.equal(want.filter((w) => w.Error === undefined).length, 7, "go resolved all but v9.9.9");
    assert.ok(compared.length >= 4, `${compared.length} versions compared`);

    // git's bundle: its default bundle, then the extra CA, beside the mirrors.
    const vcs = join(g.store, ".vcs");
    const bundles = (await readdir(vcs)).filter((f) => /^ca-bundle-[0-9a-f]{16}\.pem$/.test(f));
    assert.equal(bundles.length, 1);
    const bundle = await readFile(join(vcs, bundles[0] as string), "utf8");
    assert.ok(bundle.trimEnd().endsWith(ca.caPem.trim()));
    assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 1, "the default CAs are kept");
  });
});
