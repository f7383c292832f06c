/**
 * Private repositories behind HTTP authentication: without a credential the
 * failure is immediate and says what is missing (no prompt, no hang); with a
 * per-host credential in goark's configuration, or a ~/.netrc entry, git gets
 * in; the secret never appears in an error, in the mirror's configuration or
 * on a command line. Also: mirrors unused for long enough are pruned.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DirectSource, pruneMirrors } from "../src/source/direct.ts";
import { type GitHost, startGitHost } from "./helpers/git-host.ts";

const HOST = "git.goark.test";
const SECRET = "s3cret-token-7f1c";

describe("direct mode with credentials", { timeout: 120_000 }, () => {
  let host: GitHost;
  let work: string;
  const module = `${HOST}/private/repo`;

  before(async () => {
    host = await startGitHost({
      host: HOST,
      smartHttp: true,
      requireAuth: { username: "goark", password: SECRET },
    });
    work = await mkdtemp(join(tmpdir(), "goark-direct-creds-"));
    await host.createRepo("private/repo", [{ files: { "go.mod": `module ${module}\n` }, tags: ["v1.0.0"] }]);
  });
  after(async () => {
    await host.close();
    await rm(work, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH,
    HOME: join(work, "nohome"),
    HTTP_PROXY: host.proxyUrl,
    http_proxy: host.proxyUrl,
    ...extra,
  });

  test("no credential: a fast, clear refusal", async () => {
    const src = new DirectSource({ vcsDir: join(work, "vcs-none"), insecure: HOST, env: env() });
    const started = Date.now();
    await assert.rejects(src.list(module), (err: Error & { code?: string }) => {
      assert.equal(err.code, "UPSTREAM");
      assert.match(err.message, /authentication required or refused/);
      return true;
    });
    assert.ok(Date.now() - started < 15_000);
  });

  test("a per-host credential from goark's configuration", async () => {
    const vcsDir = join(work, "vcs-token");
    const src = new DirectSource({
      vcsDir,
      insecure: HOST,
      env: env(),
      credentials: [{ host: HOST, username: "goark", password: SECRET }],
    });
    assert.deepEqual(await src.list(module), [{ version: "v1.0.0" }]);
    assert.equal((await src.info(module, "v1.0.0")).Version, "v1.0.0");
    const repo = await src.codeRepo(module);
    assert.ok("code" in repo);
    const config = await readFile(join((repo.code as unknown as { dir: string }).dir, "config"), "utf8");
    assert.ok(!config.includes(SECRET), "the secret was written into the mirror's git config");
    // A wrong secret fails without echoing either secret.
    const wrong = new DirectSource({
      vcsDir: join(work, "vcs-wrong"),
      insecure: HOST,
      env: env(),
      credentials: [{ host: HOST, username: "goark", password: "not-the-secret" }],
    });
    await assert.rejects(wrong.list(module), (err: Error) => {
      assert.ok(!err.message.includes("not-the-secret") && !err.message.includes(SECRET), err.message);
      return true;
    });
  });

  test("a ~/.netrc entry", async () => {
    const home = await mkdtemp(join(work, "home-"));
    await writeFile(join(home, ".netrc"), `machine ${HOST} login goark password ${SECRET}\n`, {
      mode: 0o600,
    });
    const src = new DirectSource({
      vcsDir: join(work, "vcs-netrc"),
      insecure: HOST,
      env: env({ HOME: home }),
    });
    assert.deepEqual(await src.list(module), [{ version: "v1.0.0" }]);
  });

  test("mirrors unused for longer than the age limit are pruned", async () => {
    const vcsDir = join(work, "vcs-token");
    const src = new DirectSource({
      vcsDir,
      insecure: HOST,
      env: env(),
      credentials: [{ host: HOST, username: "goark", password: SECRET }],
    });
    const repo = await src.codeRepo(module);
    assert.ok("code" in repo);
    const dir = (repo.code as unknown as { dir: string }).dir;
    await src.list(module);
    assert.equal(await pruneMirrors(vcsDir, 60_000), 0, "a fresh mirror was pruned");
    const old = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, "goark-last-used"), old, old);
    assert.equal(await pruneMirrors(vcsDir, 60_000), 1);
    await assert.rejects(readFile(join(dir, "config")));
  });
});
