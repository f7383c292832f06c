/**
 * Direct mode configured by the operator: rewrite rules, per-host
 * credentials (secrets by environment variable), git limits through the real
 * bin (`goark config --json`, secrets redacted, bad values exit 2); a
 * configured rewrite and credential reaching a loopback git host behind
 * basic auth; the user's git credential helper (and nothing else of their
 * ~/.gitconfig) supplying the credential; insecure TLS plumbing.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { verifyInfo } from "../src/cache/verify.ts";
import { resolveCredentials, rewriteRules } from "../src/config/direct-settings.ts";
import { loadConfig } from "../src/config/load.ts";
import { DirectSource } from "../src/source/direct.ts";
import { discoveryTls } from "../src/source/vcs/discovery.ts";
import { insecureTlsConfig } from "../src/source/vcs/git-command.ts";
import { credentialEntries, readGlobalCredentialConfig } from "../src/source/vcs/git-credential-config.ts";
import { type GitHost, type RepoInfo, startGitHost } from "./helpers/git-host.ts";
import { goark } from "./helpers/goark-cli.ts";

const HOST = "git.goark.test";
const SECRET = "pw-9d2e-never-shown";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "goark-direct-config-"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const YAML = `rewrite:
  - match: "git.corp.example/*"
    to: "ssh://git@git.internal:2222/*"
credentials:
  - host: git.corp.example
    token: ${SECRET}
  - host: git.internal:8443
    username: ci
    passwordEnv: CORP_GIT_PASSWORD
gitHostConcurrency: 2
`;

describe("direct mode configuration through the bin", { timeout: 60_000 }, () => {
  test("goark config --json shows the rules, limits and redacted credentials", async () => {
    const dir = await mkdtemp(join(work, "bin-"));
    await writeFile(join(dir, "goark.yaml"), YAML);
    const r = await goark(["config", "--json"], dir, { GOARK_GIT_TIMEOUT: "90s" });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(SECRET), "a secret was printed");
    const out = JSON.parse(r.stdout) as { config: Record<string, unknown>; origin: Record<string, string> };
    assert.deepEqual(out.config.rewrite, [
      { match: "git.corp.example/*", to: "ssh://git@git.internal:2222/*" },
    ]);
    assert.deepEqual(out.config.credentials, [
      { host: "git.corp.example", token: "[redacted]" },
      { host: "git.internal:8443", username: "ci", passwordEnv: "CORP_GIT_PASSWORD" },
    ]);
    assert.equal(out.config.gitHostConcurrency, 2);
    assert.equal(out.config.gitTimeout, 90_000);
    assert.equal(out.config.discoveryTimeout, 30_000);
    assert.equal(out.config.gitCredentialHelpers, true);
    assert.equal(out.origin.rewrite, "file");
    assert.equal(out.origin.gitTimeout, "env");
    const text = await goark(["config"], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(!text.stdout.includes(SECRET), "a secret was printed");
  });

  for (const [name, yaml, want] of [
    [
      "rewrite without to",
      `rewrite:\n  - match: a.example/*\n`,
      /invalid rewrite\[0\]\.to \(goark\.yaml:rewrite\)/,
    ],
    [
      "rewrite to a non-URL",
      `rewrite:\n  - {match: a.example/*, to: "not a url/*"}\n`,
      /is not an https, http, ssh/,
    ],
    ["too many stars", `rewrite:\n  - {match: a.example/x, to: "https://h/*"}\n`, /has 1 \* but match/],
    [
      "credential with two secrets",
      `credentials:\n  - {host: h.example, token: ${SECRET}, passwordEnv: X, username: u}\n`,
      /invalid credentials\[0\].*exactly one of token/,
    ],
    [
      "credential host with scheme",
      `credentials:\n  - {host: "https://h", token: ${SECRET}}\n`,
      /bare host name/,
    ],
    ["credentials not a list", `credentials: ${SECRET}\n`, /invalid credentials .*must be a list/],
    ["zero git timeout", `gitTimeout: 0\n`, /invalid gitTimeout .*must be more than 0/],
    ["concurrency out of range", `gitHostConcurrency: 0\n`, /invalid gitHostConcurrency/],
  ] as const) {
    test(`bad value exits 2 with one line: ${name}`, async () => {
      const dir = await mkdtemp(join(work, "bad-"));
      await writeFile(join(dir, "goark.yaml"), yaml);
      const r = await goark(["config", "--json"], dir);
      assert.equal(r.code, 2, r.stdout);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.ok(!r.stderr.includes(SECRET), `secret in error: ${r.stderr}`);
    });
  }

  test("flags and env twins of the scalar keys; lists have none", async () => {
    const dir = await mkdtemp(join(work, "flags-"));
    const r = await goark(
      ["config", "--json", "--git-host-concurrency", "7", "--discovery-timeout", "5s"],
      dir,
      {
        GOARK_CREDENTIALS: "ignored",
        GOARK_GIT_CREDENTIAL_HELPERS: "false",
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { config: Record<string, unknown> };
    assert.equal(out.config.gitHostConcurrency, 7);
    assert.equal(out.config.discoveryTimeout, 5000);
    assert.equal(out.config.gitCredentialHelpers, false);
    assert.deepEqual(out.config.credentials, []);
    const bad = await goark(["config", "--credentials", "x"], dir);
    assert.equal(bad.code, 2);
  });
});

describe("configured direct mode against a loopback git host", { timeout: 120_000 }, () => {
  let host: GitHost;
  let repo: RepoInfo;
  const module = "git.corp.example/tool";

  before(async () => {
    host = await startGitHost({
      host: HOST,
      smartHttp: true,
      requireAuth: { username: "goark", password: SECRET },
    });
    repo = await host.createRepo("private/tool", [
      { files: { "go.mod": `module ${module}\n` }, tags: ["v1.2.0"] },
      { files: { "go.mod": `module ${module}\n`, "a.go": "package tool\n" } },
    ]);
  });
  after(async () => {
    await host.close();
  });

  const env = (home: string) => ({
    PATH: process.env.PATH,
    HOME: home,
    HTTP_PROXY: host.proxyUrl,
    http_proxy: host.proxyUrl,
  });

  test("a rewrite rule and a passwordEnv credential from goark.yaml", async () => {
    const dir = await mkdtemp(join(work, "rewrite-"));
    await writeFile(
      join(dir, "goark.yaml"),
      `rewrite:\n  - {match: "git.corp.example/*", to: "http://${HOST}/private/*.git"}\ncredentials:\n  - {host: ${HOST}, username: goark, passwordEnv: TOOL_PW}\ninsecure: git.corp.example\n`,
    );
    const config = loadConfig({ cwd: dir, env: {} });
    assert.throws(
      () => resolveCredentials(config.credentials, {}),
      /credentials\[0\]\.passwordEnv .*TOOL_PW is not set/,
    );
    const src = new DirectSource({
      vcsDir: join(dir, "vcs"),
      insecure: config.insecure,
      rewrites: rewriteRules(config.rewrite),
      credentials: resolveCredentials(config.credentials, { TOOL_PW: SECRET }),
      env: env(join(dir, "nohome")),
    });
    assert.deepEqual(await src.list(module), [{ version: "v1.2.0" }]);
    assert.equal((await src.resolve(module)).repo, `http://${HOST}/private/tool.git`);
    // .info carries the go command's Origin: the tag for a release, the hash alone for a pseudo-version.
    const url = `http://${HOST}/private/tool.git`;
    const [tagged, head] = repo.commits;
    const info = await src.info(module, "v1.2.0");
    assert.deepEqual(info.Origin, { VCS: "git", URL: url, Hash: tagged?.hash, Ref: "refs/tags/v1.2.0" });
    assert.deepEqual(Object.keys(info.Origin as object), ["VCS", "URL", "Hash", "Ref"]);
    const pseudo = await src.info(module, head?.hash.slice(0, 12) ?? "");
    assert.match(pseudo.Version, /^v1\.2\.1-0\.\d{14}-[0-9a-f]{12}$/);
    assert.deepEqual(pseudo.Origin, { VCS: "git", URL: url, Hash: head?.hash });
    // The proxy core stores .info through verifyInfo, which keeps the extra field.
    const stored = JSON.parse(verifyInfo(module, "v1.2.0", info, "direct").toString()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(stored.Origin, info.Origin);
    // The same rule without the credential is refused: the rule, not a meta tag, led there.
    const none = new DirectSource({
      vcsDir: join(dir, "vcs-none"),
      insecure: config.insecure,
      rewrites: rewriteRules(config.rewrite),
      env: env(join(dir, "nohome")),
    });
    await assert.rejects(none.list(module), /authentication required or refused/);
  });

  test("the user's git credential helper supplies the credential; the rest of ~/.gitconfig stays out", async () => {
    const home = await mkdtemp(join(work, "home-"));
    const helper = join(home, "helper.sh");
    await writeFile(
      helper,
      `#!/bin/sh\ntest "$1" = get || exit 0\necho username=goark\necho password=${SECRET}\n`,
      {
        mode: 0o755,
      },
    );
    const poisoned = join(home, "poisoned");
    await mkdir(poisoned);
    await writeFile(
      join(home, ".gitconfig"),
      [
        "[credential]",
        "\tinteractive = always",
        `[credential "http://${HOST}"]`,
        `\thelper = ${helper}`,
        // If any of these leaked through, the fetch would go elsewhere or fail.
        `[url "http://nowhere.invalid/"]`,
        `\tinsteadOf = http://${HOST}/`,
        "[core]",
        `\thooksPath = ${poisoned}`,
        "\tsshCommand = false",
        "[protocol]",
        "\tallow = always",
        "",
      ].join("\n"),
    );
    const entries = readGlobalCredentialConfig({ HOME: home, PATH: process.env.PATH });
    assert.deepEqual(entries, [[`credential.http://${HOST}.helper`, helper]]);
    const rewrites = [{ from: "git.corp.example/*", to: `http://${HOST}/private/*.git` }];
    const src = new DirectSource({
      vcsDir: join(home, "vcs"),
      insecure: "git.corp.example",
      rewrites,
      env: env(home),
      git: { configEntries: entries },
    });
    assert.deepEqual(await src.list(module), [{ version: "v1.2.0" }]);
    // Without the helper entries the same HOME gives nothing: git itself never reads that file.
    const without = new DirectSource({
      vcsDir: join(home, "vcs-without"),
      insecure: "git.corp.example",
      rewrites,
      env: env(home),
    });
    await assert.rejects(without.list(module), /authentication required or refused/);
  });
});

describe("credential entries and insecure TLS plumbing", () => {
  test("only credential helper, username and useHttpPath pass, in order", () => {
    const out = [
      "credential.helper\n",
      "credential.helper\nstore --file=/x",
      "credential.https://a.example.helper\n!f() { echo x; }; f",
      "credential.https://a.example.username\nme",
      "credential.usehttppath\ntrue",
      "credential.interactive\nalways",
      "credential.https://b.example.protocol\nfile",
      "core.sshcommand\nevil",
      "",
    ].join("\0");
    assert.deepEqual(credentialEntries(out), [
      ["credential.helper", ""],
      ["credential.helper", "store --file=/x"],
      ["credential.https://a.example.helper", "!f() { echo x; }; f"],
      ["credential.https://a.example.username", "me"],
      ["credential.usehttppath", "true"],
    ]);
  });

  test("no global config: no entries", async () => {
    const home = await mkdtemp(join(work, "empty-home-"));
    assert.deepEqual(readGlobalCredentialConfig({ HOME: home, PATH: process.env.PATH }), []);
  });

  test("git: sslVerify off only for an insecure module's https remote, scoped to that URL", () => {
    assert.deepEqual(insecureTlsConfig("https://git.corp.example:8443/team/repo.git", true), [
      ["http.https://git.corp.example:8443/team/repo.git.sslVerify", "false"],
    ]);
    assert.deepEqual(insecureTlsConfig("https://git.corp.example/team/repo.git", false), []);
    assert.deepEqual(insecureTlsConfig("ssh://git@git.corp.example/team/repo.git", true), []);
    assert.deepEqual(insecureTlsConfig("http://git.corp.example/team/repo.git", true), []);
  });

  test("discovery: certificate checks off only for insecure paths", () => {
    assert.deepEqual(discoveryTls(true), { rejectUnauthorized: false });
    assert.deepEqual(discoveryTls(false), {});
  });
});
