/**
 * Direct mode over ssh, against a real sshd (test/helpers/ssh-host.ts) serving
 * the git host's bare repositories. goark reaches them through a rewrite rule
 * (`git.goark.test/ssh/*` → `ssh://USER@127.0.0.1:PORT/…/*.git`) with the key
 * and known_hosts file of its configuration; the go command reaches the same
 * ssh URLs through go-get meta tags. Every list, query, go.mod and zip is
 * judged by the go command on both sides: `GOPROXY=direct` against the
 * repositories, and `GOPROXY=<goark>` against goark's answers. Also: the
 * agent (SSH_AUTH_SOCK) as the key's source, and failures that must be
 * immediate, one line, name the host and carry no key material: a key the
 * server refuses, an encrypted key with no agent, an unknown host key and a
 * changed one (known_hosts never written).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DirectSource } from "../../src/source/direct.ts";
import type { SshOptions } from "../../src/source/vcs/git-command.ts";
import { type GitHost, type RepoInfo, startGitHost } from "../helpers/git-host.ts";
import { GoClient } from "../helpers/go-client.ts";
import { compareWithGo, type GoModule } from "../helpers/go-compare.ts";
import { type GoarkInstance, startGoark } from "../helpers/goark-instance.ts";
import {
  type SshAgent,
  type SshHost,
  type SshKey,
  startSshAgent,
  startSshHost,
} from "../helpers/ssh-host.ts";

const HOST = "git.goark.test";
const LIB = `${HOST}/ssh/lib`;
const TOOLS = `${LIB}/tools`;
const LEGACY = `${HOST}/ssh/legacy`;

function gomod(path: string): string {
  return `module ${path}\n\ngo 1.19\n`;
}

/** The base64 lines of a private key file: none of them may ever show up in an error or a log. */
async function keyMaterial(file: string): Promise<string[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .filter((l) => l.length >= 20 && !l.startsWith("-----"))
    .map((l) => l.slice(0, 40));
}

describe("direct mode over ssh answers as the go command does", { timeout: 300_000 }, () => {
  let git: GitHost;
  let ssh: SshHost;
  let agent: SshAgent;
  let goark: GoarkInstance;
  let work: string;
  let lib: RepoInfo;
  let direct: GoClient;
  let viaGoark: GoClient;
  /** What `GOPROXY=direct go list -m -json` said, by module@query. */
  const goSaid = new Map<string, GoModule>();
  const secrets: string[] = [];

  /**
   * A DirectSource finding the ssh URL through the meta tags, with no HOME keys and no
   * agent unless given: only what the test hands it.
   */
  const source = async (name: string, ssh: SshOptions, extraEnv: Record<string, string> = {}) => {
    const home = join(work, `home-${name}`);
    await mkdir(home, { recursive: true });
    return new DirectSource({
      vcsDir: join(work, `vcs-${name}`),
      private: HOST,
      // As the go command's GOINSECURE: the git host serves its meta tags over plain http.
      insecure: HOST,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        HTTP_PROXY: git.proxyUrl,
        http_proxy: git.proxyUrl,
        ...extraEnv,
      },
      git: { ssh },
    });
  };

  /**
   * Writes dir/goark.yaml (direct mode, HOST/ssh/* rewritten to the ssh host's
   * repositories, these key and known_hosts paths) and returns its path.
   */
  async function writeConfig(dir: string, keyFile: string, knownHosts: string): Promise<string> {
    const file = join(dir, "goark.yaml");
    await writeFile(
      file,
      [
        "upstream: direct",
        `private: ${HOST}`,
        "rewrite:",
        `  - match: "${HOST}/ssh/*"`,
        `    to: "${ssh.url(join(dirname(lib.dir), "*.git"))}"`,
        `sshKeyFile: ${keyFile}`,
        `sshKnownHosts: ${knownHosts}`,
        "",
      ].join("\n"),
    );
    return file;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "goark-direct-ssh-"));
    git = await startGitHost({ host: HOST });
    ssh = await startSshHost();
    agent = await startSshAgent();
    lib = await git.createRepo(
      "ssh/lib",
      [
        { files: { "go.mod": gomod(LIB), "lib.go": "package lib\n" }, annotatedTags: ["v1.0.0"] },
        {
          files: {
            "go.mod": gomod(LIB),
            "lib.go": "package lib\n\nconst N = 1\n",
            "tools/go.mod": gomod(TOOLS),
            "tools/t.go": "package tools\n",
          },
          tags: ["v1.1.0", "tools/v0.1.0"],
        },
        { files: { "go.mod": gomod(LIB), "lib.go": "package lib\n\nconst N = 2\n" }, tags: ["v1.2.0-pre"] },
        {
          files: {
            "go.mod": gomod(LIB),
            "lib.go": "package lib\n\nconst N = 3\n",
            "dev.go": "package lib\n",
          },
        },
      ],
      { branches: { main: 2, dev: 3 } },
    );
    const legacy = await git.createRepo("ssh/legacy", [
      { files: { "l.go": "package legacy\n" }, tags: ["v1.0.0"] },
      { files: { "l.go": "package legacy\n\nconst V = 2\n" }, tags: ["v2.0.0"] },
    ]);
    // The go command finds the ssh URLs through meta tags (it has no rewrite rules).
    const meta = (root: string, info: RepoInfo) =>
      `<html><head><meta name="go-import" content="${root} git ${ssh.url(info.dir)}"></head></html>`;
    git.setGoGetPage("ssh/lib", meta(LIB, lib));
    git.setGoGetPage("ssh/lib/tools", meta(LIB, lib));
    git.setGoGetPage("ssh/legacy", meta(LEGACY, legacy));

    // goark's own configuration file: the rewrite, and the key and known_hosts given as paths relative to it.
    const confDir = join(work, "conf");
    await mkdir(confDir);
    await writeFile(join(confDir, "id_goark"), await readFile(ssh.key.file), { mode: 0o600 });
    await writeFile(join(confDir, "known_hosts"), `${ssh.knownHostsLine}\n`);
    goark = await startGoark({
      config: await writeConfig(confDir, "id_goark", "known_hosts"),
      logLevel: "debug",
    });
    secrets.push(...(await keyMaterial(ssh.key.file)));

    direct = await GoClient.create({
      proxy: "direct",
      env: {
        GOINSECURE: HOST,
        HTTP_PROXY: git.proxyUrl,
        http_proxy: git.proxyUrl,
        GIT_SSH_COMMAND: `ssh -o BatchMode=yes -o IdentitiesOnly=yes -i ${ssh.key.file} -o UserKnownHostsFile=${ssh.knownHosts} -o StrictHostKeyChecking=yes`,
      },
    });
    viaGoark = await GoClient.create({ proxy: goark.url });
  });

  after(async () => {
    await goark?.close();
    await direct?.close();
    await viaGoark?.close();
    await agent?.close();
    await ssh?.close();
    await git?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const QUERIES = () => [
    `${LIB}@v1.0.0`,
    `${LIB}@v1.1.0`,
    `${LIB}@v1.2.0-pre`,
    `${LIB}@latest`,
    `${LIB}@dev`,
    `${LIB}@main`,
    `${LIB}@${lib.commits[3]?.hash.slice(0, 12)}`,
    `${LIB}@${lib.commits[1]?.hash}`,
    `${LIB}@v9.9.9`,
    `${TOOLS}@v0.1.0`,
    `${TOOLS}@latest`,
    `${LEGACY}@v2.0.0+incompatible`,
    `${LEGACY}@latest`,
  ];

  test("list, queries, go.mod and zip through goark equal the go command's direct mode", async () => {
    const acceptedBefore = (ssh.log().match(/Accepted publickey/g) ?? []).length;
    const queries = QUERIES();
    const { failures, want, compared } = await compareWithGo(direct, viaGoark, queries, [LIB, TOOLS, LEGACY]);
    assert.deepEqual(failures, [], failures.join("\n"));
    queries.forEach((q, i) => {
      goSaid.set(q, want[i] as GoModule);
    });
    assert.ok(want.filter((w) => w.Error === undefined).length >= 12, "the go command resolved the queries");
    assert.ok(compared.length >= 6, `${compared.length} versions compared`);

    // Both sides went over ssh: nobody fetched these repositories over HTTP.
    const accepted = (ssh.log().match(/Accepted publickey/g) ?? []).length;
    assert.ok(accepted - acceptedBefore >= 2, `ssh logins: ${accepted - acceptedBefore}`);
    const overHttp = git.requests.filter((r) => r.includes("/ssh/") && !r.includes("go-get=1"));
    assert.deepEqual(overHttp, []);
  });

  test("the agent at SSH_AUTH_SOCK holds the key; go-get discovery may name an ssh URL", async () => {
    const key = await ssh.newKey("agent_key", { passphrase: "correct horse 42", authorize: true });
    secrets.push(...(await keyMaterial(key.file)));
    await agent.add(key, "correct horse 42");
    // No rewrite: discovery finds the ssh URL. No key file: only the agent can log in.
    const src = await source("agent", { knownHostsFile: ssh.knownHosts }, { SSH_AUTH_SOCK: agent.socket });
    try {
      assert.equal((await src.resolve(LIB)).repo, ssh.url(lib.dir));
      const want = goSaid.get(`${LIB}@dev`);
      assert.ok(want?.Version, "the first test recorded go's answer");
      const info = await src.info(LIB, "dev");
      assert.deepEqual(
        { Version: info.Version, Time: info.Time },
        { Version: want.Version, Time: want.Time },
      );
      assert.deepEqual(
        (await src.list(LIB)).map((e) => e.version),
        ["v1.0.0", "v1.1.0", "v1.2.0-pre"],
      );
    } finally {
      await src.close();
    }
    // The encrypted key file itself, agent's copy preferred; with no agent there is no way in, and no prompt.
    const viaFile = await source(
      "agent-file",
      { keyFile: key.file, knownHostsFile: ssh.knownHosts },
      {
        SSH_AUTH_SOCK: agent.socket,
      },
    );
    try {
      assert.equal((await viaFile.info(LIB, "v1.1.0")).Version, "v1.1.0");
    } finally {
      await viaFile.close();
    }
    const noAgent = await source("no-agent", { keyFile: key.file, knownHostsFile: ssh.knownHosts });
    try {
      await expectSshFailure(
        noAgent.list(LIB),
        /authentication required or refused.*Permission denied \(publickey\)/,
      );
    } finally {
      await noAgent.close();
    }
  });

  /** The failure must come fast, as one line naming the host, with no key material. */
  const expectSshFailure = async (p: Promise<unknown>, why: RegExp) => {
    const started = Date.now();
    const err = await p.then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e as Error & { code?: string },
    );
    const took = Date.now() - started;
    assert.ok(took < 30_000, `took ${took} ms`);
    assert.doesNotMatch(err.message, /\n/, "one line");
    assert.ok(err.message.includes(`127.0.0.1:${ssh.port}`), `names the host: ${err.message}`);
    assert.match(err.message, why);
    for (const s of secrets) assert.ok(!err.message.includes(s), "no key material in the error");
    return err;
  };

  test("a key the server refuses: a fast, one-line error naming the host", async () => {
    const wrong: SshKey = await ssh.newKey("wrong_key");
    secrets.push(...(await keyMaterial(wrong.file)));
    const src = await source("wrong", { keyFile: wrong.file, knownHostsFile: ssh.knownHosts });
    try {
      const err = await expectSshFailure(
        src.list(LIB),
        /authentication required or refused.*Permission denied \(publickey\)/,
      );
      assert.equal(err.code, "UPSTREAM");
      assert.match(ssh.log(), /Failed publickey/);
    } finally {
      await src.close();
    }

    // Through goark's HTTP answer and its logs, at debug level.
    const confDir = join(work, "conf-wrong");
    await mkdir(confDir);
    const bad = await startGoark({
      config: await writeConfig(confDir, wrong.file, ssh.knownHosts),
      logLevel: "debug",
    });
    try {
      const res = await fetch(`${bad.url}/${LIB}/@v/list`);
      const body = await res.text();
      assert.equal(res.status, 502, body);
      assert.equal(body.trim().split("\n").length, 1, body);
      assert.ok(body.includes(`127.0.0.1:${ssh.port}`), body);
      assert.match(body, /Permission denied \(publickey\)/);
      const logs = [...bad.logs, ...goark.logs].join("\n");
      assert.ok(bad.logs.length > 0, "goark logged the request");
      for (const s of secrets)
        assert.ok(!logs.includes(s) && !body.includes(s), "no key material in logs or answers");
    } finally {
      await bad.close();
    }
  });

  test("an unknown or changed host key is refused at once; known_hosts is never written", async () => {
    const empty = join(work, "known_hosts_empty");
    await writeFile(empty, "");
    const unknown = await source("unknown-host", { keyFile: ssh.key.file, knownHostsFile: empty });
    try {
      await expectSshFailure(
        unknown.list(LIB),
        new RegExp(
          `host key of \\[127\\.0\\.0\\.1\\]:${ssh.port} is not known; add it to the known_hosts file`,
        ),
      );
    } finally {
      await unknown.close();
    }
    assert.equal(await readFile(empty, "utf8"), "", "known_hosts stays untouched");

    // Nothing configured: the user's ~/.ssh/known_hosts (absent here) decides, and is not created.
    const noFile = await source("user-known-hosts", { keyFile: ssh.key.file });
    try {
      await expectSshFailure(noFile.list(LIB), /is not known; add it to the known_hosts file/);
    } finally {
      await noFile.close();
    }
    await assert.rejects(readFile(join(work, "home-user-known-hosts", ".ssh", "known_hosts")), /ENOENT/);

    // The entry names another key for this host: a man in the middle, as far as ssh can tell.
    const other = await ssh.newKey("impostor_host_key");
    const changed = join(work, "known_hosts_changed");
    const line = `[127.0.0.1]:${ssh.port} ${other.publicKey.split(" ").slice(0, 2).join(" ")}\n`;
    await writeFile(changed, line);
    const mitm = await source("changed-host", { keyFile: ssh.key.file, knownHostsFile: changed });
    try {
      await expectSshFailure(mitm.list(LIB), /does not match its known_hosts entry; refused/);
    } finally {
      await mitm.close();
    }
    assert.equal(await readFile(changed, "utf8"), line);
  });
});
