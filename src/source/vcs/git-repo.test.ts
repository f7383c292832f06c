/**
 * GitRepo's mirror against a local repository (file://): what it fetches and
 * when — one shallow commit per tag, the whole history only for ancestry —
 * and that the packs fetches leave behind are folded together. Answers
 * themselves are checked against the go command in test/e2e/direct-vcs.test.ts.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { compare } from "../../module/semver.ts";
import { gitEnvironment } from "./git-command.ts";
import { GitRepo, parseLsRemote } from "./git-repo.ts";
import { acquireMirrorLock, MirrorBusyError, mirrorLockPath } from "./mirror-lock.ts";

const execFileP = promisify(execFile);

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe("GitRepo mirror", () => {
  let work: string;
  let remote: string;
  const hashes: string[] = [];
  const env = {
    PATH: process.env.PATH,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@t",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@t",
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "goark-git-repo-"));
    const src = join(work, "src");
    await mkdir(src);
    const git = (...args: string[]) => execFileP("git", args, { cwd: src, env });
    const commitAt = (i: number) => {
      const date = `@${1600000000 + i * 3600} +0000`;
      return execFileP("git", ["commit", "-q", "-m", `c${i}`], {
        cwd: src,
        env: { ...env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
      });
    };
    await git("init", "-q", "-b", "main");
    // Six commits: v1.0.0 … v1.3.0, then one no ref names, then main's head; each adds a small file.
    for (let i = 0; i < 6; i++) {
      await writeFile(join(src, "go.mod"), "module example.com/m\n");
      await writeFile(join(src, `f${i}.go`), `package m\n\nconst F${i} = ${i}\n`);
      await git("add", "-A");
      await commitAt(i);
      if (i < 4) await git("tag", `v1.${i}.0`);
      hashes.push((await git("rev-parse", "HEAD")).stdout.trim());
    }
    await git("tag", "-a", "-m", "annotated", "v1.3.1", hashes[3] as string);
    remote = `file://${join(work, "remote.git")}`;
    await execFileP("git", ["clone", "-q", "--bare", src, join(work, "remote.git")], { env });
  });

  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const newRepo = (name: string, maxPacks?: number) =>
    new GitRepo({
      remote,
      dir: join(work, "mirrors", name),
      env: gitEnvironment({ env: { PATH: process.env.PATH } }),
      allow: ["file"],
      ...(maxPacks === undefined ? {} : { maxPacks }),
    });

  const packs = async (repo: GitRepo) =>
    (await readdir(join(repo.dir, "objects", "pack"))).filter((n) => n.endsWith(".pack")).length;

  test("ls-remote output: HEAD, branches and tags, annotated tags peeled, nothing else", () => {
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    const c = "c".repeat(40);
    const refs = parseLsRemote(
      `${a}\tHEAD\n${a}\trefs/heads/main\n${b}\trefs/tags/v1.0.0\n${c}\trefs/tags/v1.0.0^{}\n` +
        `${a}\trefs/pull/1/head\n${a}\trefs/notes/x\nnot a line\n`,
    );
    assert.deepEqual([...refs].sort(), [
      ["HEAD", a],
      ["refs/heads/main", a],
      ["refs/tags/v1.0.0", c],
    ]);
  });

  test("a tag is fetched alone and shallow; ancestry fetches the whole history", async () => {
    const repo = newRepo("shallow");
    const info = await repo.stat("v1.2.0");
    assert.equal(info.name, hashes[2]);
    assert.equal(info.version, "v1.2.0");
    assert.equal(info.time.toISOString(), new Date((1600000000 + 2 * 3600) * 1000).toISOString());
    assert.ok(await exists(join(repo.dir, "shallow")), "the mirror should hold one shallow commit");
    const log = await execFileP("git", ["rev-list", "--all"], { cwd: repo.dir });
    assert.equal(log.stdout.trim().split("\n").length, 1, "only the tagged commit should be fetched");
    // The annotated tag on v1.3.0's commit counts among its tags (from the remote's refs).
    assert.deepEqual((await repo.stat("v1.3.0")).tags, ["v1.3.0", "v1.3.1"]);

    const allowed = () => true;
    assert.equal(await repo.recentTag(hashes[5] as string, "", allowed, compare), "v1.3.1");
    assert.equal(await exists(join(repo.dir, "shallow")), false, "ancestry needs the whole history");
    assert.equal(await repo.descendsFrom(hashes[5] as string, "v1.0.0"), true);
    assert.equal(await repo.descendsFrom(hashes[1] as string, "v1.3.0"), false);
  });

  test("a hash a ref names is fetched by that ref; one no ref names is looked for in the history", async () => {
    const repo = newRepo("hash");
    const tagged = await repo.stat((hashes[1] as string).slice(0, 12));
    assert.equal(tagged.name, hashes[1]);
    assert.deepEqual(tagged.tags, ["v1.1.0"]);
    assert.ok(await exists(join(repo.dir, "shallow")));
    const unnamed = await repo.stat((hashes[4] as string).slice(0, 12));
    assert.equal(unnamed.name, hashes[4]);
    assert.deepEqual(unnamed.tags, []);
    assert.equal(await exists(join(repo.dir, "shallow")), false);
    const all = await execFileP("git", ["rev-list", "--all"], { cwd: repo.dir });
    assert.equal(all.stdout.trim().split("\n").length, 6);
    await assert.rejects(repo.stat("0123456789ab"), /unknown revision 0123456789ab/);
  });

  test("packs beyond the limit are folded into one, and every answer stays", async () => {
    const repo = newRepo("packs", 2);
    const counts: number[] = [];
    for (const v of ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"]) {
      assert.equal((await repo.stat(v)).version, v);
      await repo.repacking;
      counts.push(await packs(repo));
    }
    // One pack per fetch; the third is one too many, and all three become one.
    assert.deepEqual(counts, [1, 2, 1, 2]);
    for (const [i, v] of ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"].entries()) {
      const data = await repo.readFile(v, `f${i}.go`, 1 << 20);
      assert.equal(data?.toString(), `package m\n\nconst F${i} = ${i}\n`);
    }
  });

  test("git's lock files, left by a git killed while writing, are cleared and the fetch goes on", async () => {
    const repo = newRepo("leftovers");
    assert.equal((await repo.stat("v1.0.0")).name, hashes[0]);
    for (const f of ["shallow.lock", "packed-refs.lock", "refs/tags/v1.1.0.lock"]) {
      await writeFile(join(repo.dir, f), "");
    }
    assert.equal((await repo.stat("v1.1.0")).name, hashes[1]);
    assert.ok(await exists(join(repo.dir, "shallow")), "still fetched shallow");
    for (const f of ["shallow.lock", "packed-refs.lock", "refs/tags/v1.1.0.lock"]) {
      assert.equal(await exists(join(repo.dir, f)), false, f);
    }
    assert.equal(await exists(`${repo.dir}.lock`), false);
  });

  test("a mirror another process holds: requests give up together once gitTimeout has passed", async () => {
    const repo = new GitRepo({
      remote,
      dir: join(work, "mirrors", "busy"),
      env: gitEnvironment({ env: { PATH: process.env.PATH } }),
      allow: ["file"],
      networkTimeoutMs: 1000,
    });
    await repo.stat("v1.0.0");
    const other = await acquireMirrorLock(mirrorLockPath(repo.dir), { waitMs: 1000, what: "test" });
    try {
      const started = Date.now();
      const results = await Promise.allSettled([repo.stat("v1.1.0"), repo.stat("v1.2.0")]);
      const took = Date.now() - started;
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.ok(r.reason instanceof MirrorBusyError, String(r.reason));
        assert.match(
          (r.reason as Error).message,
          /^git mirror of file:\/\/.* is busy: .*; gave up after 1s$/,
        );
      }
      // Each request's wait is bounded as a whole (its turn in this process included), not one after the other.
      assert.ok(took < 1800, `both gave up after ${took} ms`);
    } finally {
      await other.release();
    }
    assert.equal((await repo.stat("v1.1.0")).name, hashes[1]);
  });

  test("what another process did to the mirror counts: its full fetch, its removal", async () => {
    const one = newRepo("shared");
    const two = newRepo("shared");
    assert.equal((await one.stat("v1.0.0")).name, hashes[0]);
    assert.equal(await two.recentTag(hashes[5] as string, "", () => true, compare), "v1.3.1");
    // one knew the mirror as shallow; it is complete now, so one does not fetch shallow into it.
    await execFileP("git", ["tag", "v1.9.0", hashes[4] as string], { cwd: join(work, "remote.git"), env });
    assert.equal((await one.stat("v1.9.0")).name, hashes[4]);
    assert.equal(await exists(join(one.dir, "shallow")), false);

    const before = await one.listTree("v1.2.0", "");
    await rm(one.dir, { recursive: true, force: true });
    const data = await one.readFile("v1.2.0", "f2.go", 1 << 20);
    assert.equal(data?.toString(), "package m\n\nconst F2 = 2\n");
    assert.equal(await one.readFile("v1.2.0", "nope.go", 1 << 20), undefined);
    await rm(one.dir, { recursive: true, force: true });
    assert.deepEqual(await one.listTree("v1.2.0", ""), before);
    assert.ok(await exists(join(one.dir, "objects")));
    await execFileP("git", ["fsck", "--no-dangling"], { cwd: one.dir });
  });
});
