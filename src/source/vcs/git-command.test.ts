import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  gitComplaint,
  gitEnvironment,
  redactSecrets,
  runEnvironment,
  runGit,
  sshCommand,
} from "./git-command.ts";

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
    // An ssh login name is an address, not a secret; over http a bare user name may be a token.
    assert.equal(redactSecrets("ssh://git@host:2222/r.git"), "ssh://git@host:2222/r.git");
    assert.equal(redactSecrets("git+ssh://git@host/r"), "git+ssh://git@host/r");
    assert.equal(redactSecrets("https://ghp_token123@host/r.git"), "https://host/r.git");
  });

  test("ssh's reason replaces git's 'Could not read from remote repository'", () => {
    const tail =
      "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
    assert.equal(
      gitComplaint(`git@127.0.0.1: Permission denied (publickey).\r\n${tail}`),
      "ssh: git@127.0.0.1: Permission denied (publickey).",
    );
    assert.equal(
      gitComplaint(
        `No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n${tail}`,
      ),
      "ssh: the host key of [127.0.0.1]:2222 is not known; add it to the known_hosts file (sshKnownHosts, or ~/.ssh/known_hosts): host key verification failed",
    );
    assert.match(
      gitComplaint(
        `@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key for git.corp.example has changed and you have requested strict checking.\r\nHost key verification failed.\r\n${tail}`,
      ),
      /^ssh: the host key of git\.corp\.example does not match its known_hosts entry; refused/,
    );
    assert.equal(
      gitComplaint(`ssh: connect to host 127.0.0.1 port 9: Connection refused\r\n${tail}`),
      "ssh: connect to host 127.0.0.1 port 9: Connection refused",
    );
    assert.match(
      gitComplaint(
        `@@@\r\nPermissions 0644 for '/etc/goark/id' are too open.\r\nThis private key will be ignored.\r\n${tail}`,
      ),
      /^ssh: Permissions 0644 for '\/etc\/goark\/id' are too open/,
    );
    // Not ssh: git's own line as before.
    assert.equal(gitComplaint("fatal: repository 'x' not found\n"), "fatal: repository 'x' not found");
  });

  test("the ssh command: strict host keys, no prompts, the key and known_hosts quoted for the shell", async () => {
    const cmd = sshCommand();
    for (const o of ["BatchMode=yes", "StrictHostKeyChecking=yes", "UpdateHostKeys=no", "ControlMaster=no"]) {
      assert.ok(cmd.includes(`-o ${o}`), o);
    }
    assert.doesNotMatch(cmd, /IdentitiesOnly|-i /);
    // A fake ssh on PATH records the arguments git's shell hands it.
    const bin = join(dir, "fake-ssh-bin");
    await mkdir(bin, { recursive: true });
    const argsFile = join(dir, "ssh-args");
    await writeFile(
      join(bin, "ssh"),
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${argsFile}'\nexit 255\n`,
      {
        mode: 0o755,
      },
    );
    const key = join(dir, "it's a key $(touch pwned) `touch pwned2`");
    const known = join(dir, "known hosts; touch pwned3");
    const base = gitEnvironment({
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir },
      ssh: { keyFile: key, knownHostsFile: known },
    });
    const r = await runGit(["ls-remote", "ssh://git@example.invalid:2222/r.git"], {
      cwd: dir,
      env: runEnvironment(base, ["ssh"]),
      timeoutMs: 20_000,
    });
    assert.notEqual(r.code, 0);
    const args = (await readFile(argsFile, "utf8")).split("\n");
    assert.equal(args[args.indexOf("-i") + 1], key);
    assert.ok(args.includes("IdentitiesOnly=yes"));
    assert.ok(args.includes(`UserKnownHostsFile=${known}`));
    assert.ok(args.includes("StrictHostKeyChecking=yes"));
    for (const f of ["pwned", "pwned2", "pwned3"]) await assert.rejects(stat(join(dir, f)), f);
  });

  test("a CA bundle file becomes GIT_SSL_CAINFO, replacing one passed through", () => {
    const { env } = gitEnvironment({
      env: { PATH: "/usr/bin", GIT_SSL_CAINFO: "/etc/old.pem" },
      caBundleFile: "/var/goark/ca.pem",
    });
    assert.equal(env.GIT_SSL_CAINFO, "/var/goark/ca.pem");
    assert.equal(
      gitEnvironment({ env: { PATH: "/usr/bin", GIT_SSL_CAINFO: "/etc/old.pem" } }).env.GIT_SSL_CAINFO,
      "/etc/old.pem",
    );
  });
});
