import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gitComplaint, gitEnvironment, redactSecrets, runEnvironment, runGit } from "./git-command.ts";

const execFileP = promisify(execFile);

describe("git runs with a safe, explicit configuration", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-git-command-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("nothing GIT_* leaks in from the caller; prompts and system config are off", () => {
    const { env } = gitEnvironment({
      env: {
        PATH: "/usr/bin:/bin",
        HOME: "/home/x",
        GIT_DIR: "/elsewhere",
        GIT_SSH: "/evil",
        GIT_ASKPASS: "/evil",
        SSH_ASKPASS: "/evil",
        GIT_EXEC_PATH: "/evil",
        HTTP_PROXY: "http://proxy:3128",
        SSH_AUTH_SOCK: "/run/agent",
      },
    });
    for (const k of ["GIT_DIR", "GIT_SSH", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_EXEC_PATH"]) {
      assert.equal(env[k], undefined, k);
    }
    assert.equal(env.GIT_CONFIG_NOSYSTEM, "1");
    assert.equal(env.GIT_CONFIG_GLOBAL, "/dev/null");
    assert.equal(env.GIT_TERMINAL_PROMPT, "0");
    assert.equal(env.GCM_INTERACTIVE, "never");
    assert.equal(env.HTTP_PROXY, "http://proxy:3128");
    assert.equal(env.SSH_AUTH_SOCK, "/run/agent");
    assert.match(env.GIT_SSH_COMMAND ?? "", /BatchMode=yes/);
  });

  test("git sees hooks off and only the allowed protocols", async () => {
    const env = runEnvironment(gitEnvironment({ env: { PATH: process.env.PATH } }), ["https"]);
    const r = await runGit(["config", "--list"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    const cfg = r.stdout.toString();
    assert.match(cfg, /^core.hookspath=\/dev\/null$/m);
    assert.match(cfg, /^protocol.allow=never$/m);
    assert.match(cfg, /^protocol.https.allow=always$/m);
    assert.doesNotMatch(cfg, /^protocol.file.allow/m);
  });

  test("a file: remote is refused unless allowed", async () => {
    const repo = join(dir, "src.git");
    await execFileP("git", ["init", "-q", "--bare", repo]);
    const base = gitEnvironment({ env: { PATH: process.env.PATH } });
    const refused = await runGit(["ls-remote", `file://${repo}`], {
      cwd: dir,
      env: runEnvironment(base, ["https"]),
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /transport 'file' not allowed/);
    const allowed = await runGit(["ls-remote", `file://${repo}`], {
      cwd: dir,
      env: runEnvironment(base, ["file"]),
    });
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  test("repository hooks never run", async () => {
    const repo = join(dir, "hooked.git");
    await execFileP("git", ["init", "-q", "--bare", repo]);
    const marker = join(dir, "hook-ran");
    const hook = join(repo, "hooks", "reference-transaction");
    await mkdir(join(repo, "hooks"), { recursive: true });
    await writeFile(hook, `#!/bin/sh\ntouch ${marker}\n`);
    await chmod(hook, 0o755);
    const env = runEnvironment(gitEnvironment({ env: { PATH: process.env.PATH } }), []);
    const tree = await runGit(["hash-object", "-t", "tree", "-w", "--stdin"], { cwd: repo, env });
    assert.equal(tree.code, 0);
    const empty = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    const commit = await runGit(
      ["-c", "user.name=t", "-c", "user.email=t@t", "commit-tree", empty, "-m", "x"],
      {
        cwd: repo,
        env,
      },
    );
    assert.equal(commit.code, 0, commit.stderr);
    const upd = await runGit(["update-ref", "refs/heads/main", commit.stdout.toString().trim()], {
      cwd: repo,
      env,
    });
    assert.equal(upd.code, 0, upd.stderr);
    await assert.rejects(stat(marker), "the reference-transaction hook ran");
  });

  test("a deadline kills git and everything it started", async () => {
    const env = runEnvironment(gitEnvironment({ env: { PATH: process.env.PATH } }), []);
    const pidFile = join(dir, "sleeper.pid");
    const started = Date.now();
    await assert.rejects(
      runGit(["-c", `alias.hang=!echo $$ > ${pidFile}; exec sleep 30`, "hang"], {
        cwd: dir,
        env,
        timeoutMs: 500,
      }),
      (err: Error & { code?: string }) => err.code === "TIMEOUT",
    );
    assert.ok(Date.now() - started < 5000);
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie waiting for a reaper (a container's init may never reap it).
    const state = await readFile(`/proc/${pid}/status`, "utf8").then(
      (s) => /^State:\s+(\S)/m.exec(s)?.[1] ?? "?",
      () => "gone",
    );
    assert.ok(state === "gone" || state === "Z", `the helper process survived the timeout (state ${state})`);
  });

  test("output past the cap stops git", async () => {
    const env = runEnvironment(gitEnvironment({ env: { PATH: process.env.PATH } }), []);
    await assert.rejects(
      runGit(["-c", "alias.flood=!yes", "flood"], { cwd: dir, env, maxOutput: 100_000, timeoutMs: 10_000 }),
      (err: Error & { code?: string }) => err.code === "TOO_LARGE",
    );
  });

  test("a server asking for credentials fails at once instead of prompting", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="x"' });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      const env = runEnvironment(gitEnvironment({ env: { PATH: process.env.PATH, HOME: dir } }), ["http"]);
      const started = Date.now();
      const r = await runGit(["ls-remote", `http://127.0.0.1:${port}/private.git`], {
        cwd: dir,
        env,
        timeoutMs: 20_000,
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /could not read Username|terminal prompts disabled|Authentication failed/);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      server.close();
    }
  });

  test("complaints keep the fatal line and drop credentials in URLs", () => {
    assert.equal(
      gitComplaint("hint: x\nfatal: unable to access 'https://bob:s3cret@git.corp.example/r.git/': 403\n"),
      "fatal: unable to access 'https://git.corp.example/r.git/': 403",
    );
    assert.equal(redactSecrets("ssh://git:tok@host:22/x"), "ssh://host:22/x");
  });
});
