/**
 * Direct mode against repositories and servers that misbehave, and the
 * mirror's own promises. Each hostile case must end in a clear, typed error,
 * in bounded time, with nothing stored: a go.mod too large, a file tree too
 * large for a module zip, a symlink pointing outside the module, a go.mod
 * declaring another module, a pseudo-version claiming a tag on unrelated
 * history, a git server and a discovery server that never answer. The mirror:
 * a second version of a known repository fetches only the missing objects,
 * and concurrent first requests share one fetch.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import yauzl from "yauzl";
import { ProxyCore } from "../src/cache/proxy-core.ts";
import { VerifyingSource } from "../src/cache/verify.ts";
import { DirectSource } from "../src/source/direct.ts";
import { MemoryStorage } from "../src/storage/memory.ts";
import { type GitHost, startGitHost } from "./helpers/git-host.ts";

const execFileP = promisify(execFile);
const HOST = "git.goark.test";

/** Builds a repository with the git CLI (for trees the host helper would hold in memory). */
async function localRepo(
  dir: string,
  commits: ((work: string) => Promise<void>)[],
  tags: string[][],
): Promise<string> {
  const work = join(dir, "work");
  await mkdir(work, { recursive: true });
  const env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@t",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@t",
    GIT_AUTHOR_DATE: "@1600000000 +0000",
    GIT_COMMITTER_DATE: "@1600000000 +0000",
  };
  const git = (...args: string[]) => execFileP("git", args, { cwd: work, env, maxBuffer: 1 << 20 });
  await git("init", "-q", "-b", "main");
  for (const [i, make] of commits.entries()) {
    await make(work);
    await git("add", "-A", ".");
    await git("commit", "-q", "-m", `c${i}`);
    for (const t of tags[i] ?? []) await git("tag", t);
  }
  const bare = join(dir, "repo.git");
  await execFileP("git", ["clone", "-q", "--bare", work, bare], { env });
  await rm(work, { recursive: true, force: true });
  return bare;
}

function zipNames(file: string): Promise<string[]> {
  return new Promise((ok, fail) =>
    yauzl.open(file, { lazyEntries: false }, (err, zf) => {
      if (err || !zf) return fail(err);
      const names: string[] = [];
      zf.on("entry", (e: yauzl.Entry) => names.push(e.fileName));
      zf.on("end", () => ok(names));
      zf.on("error", fail);
    }),
  );
}

describe("direct mode: hostile repositories and servers", { timeout: 180_000 }, () => {
  let work: string;
  let host: GitHost;
  let hang: Server;
  let hangUrl: string;
  const sockets = new Set<Socket>();
  const held: ServerResponse[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "goark-direct-hostile-"));
    host = await startGitHost({ host: HOST, smartHttp: true });
    hang = createServer((_req, res) => {
      held.push(res); // never answered
    });
    hang.on("connection", (s) => sockets.add(s));
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
    hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => hang.close(() => r()));
    await host.close();
    await rm(work, { recursive: true, force: true });
  });

  const local = (name: string, rewrites: { from: string; to: string }[], extra = {}) =>
    new DirectSource({
      vcsDir: join(work, `vcs-${name}`),
      rewrites,
      env: { PATH: process.env.PATH },
      ...extra,
    });

  test("a file tree over the zip size limit is refused before any byte is written", async () => {
    const dir = join(work, "huge");
    const bare = await localRepo(
      dir,
      [
        async (w) => {
          await writeFile(join(w, "go.mod"), "module huge.goark.test/m\n");
          // 40 MiB of zeros over a limit lowered to 16 MiB (x/mod's 500 MiB works the same way,
          // but git needs half a minute to store and archive that much).
          await writeFile(join(w, "blob.bin"), "");
          await truncate(join(w, "blob.bin"), 40 << 20);
        },
      ],
      [["v1.0.0"]],
    );
    const src = local("huge", [{ from: "huge.goark.test/m", to: `file://${bare}` }], {
      maxZipBytes: 16 << 20,
    });
    const started = Date.now();
    const before = process.memoryUsage().rss;
    await assert.rejects(src.zip("huge.goark.test/m", "v1.0.0"), (err: Error & { code?: string }) => {
      assert.match(err.message, /huge\.goark\.test\/m@v1\.0\.0/);
      assert.match(err.message, /module source tree too large/);
      assert.equal(err.code, "TOO_LARGE");
      return true;
    });
    assert.ok(process.memoryUsage().rss - before < 200 << 20, "memory grew with the file");
    assert.ok(Date.now() - started < 90_000);
  });

  test("a go.mod over 16 MiB is an error, not a buffer", async () => {
    const dir = join(work, "bigmod");
    const bare = await localRepo(
      dir,
      [
        async (w) => {
          await writeFile(join(w, "go.mod"), `module bigmod.goark.test/m\n//${"x".repeat(17 << 20)}\n`);
        },
      ],
      [["v1.0.0"]],
    );
    const src = local("bigmod", [{ from: "bigmod.goark.test/m", to: `file://${bare}` }]);
    await assert.rejects(src.mod("bigmod.goark.test/m", "v1.0.0"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "TOO_LARGE");
      return true;
    });
  });

  test("a symlink pointing outside the module is left out of the zip", async () => {
    const dir = join(work, "link");
    const bare = await localRepo(
      dir,
      [
        async (w) => {
          await writeFile(join(w, "go.mod"), "module link.goark.test/m\n");
          await writeFile(join(w, "a.go"), "package m\n");
          await execFileP("ln", ["-s", "../../../../etc/passwd", join(w, "passwd")]);
        },
      ],
      [["v1.0.0"]],
    );
    const src = local("link", [{ from: "link.goark.test/m", to: `file://${bare}` }]);
    const z = await src.zip("link.goark.test/m", "v1.0.0");
    const file = join(dir, "out.zip");
    await pipeline(z.body, createWriteStream(file));
    assert.deepEqual((await zipNames(file)).sort(), [
      "link.goark.test/m@v1.0.0/a.go",
      "link.goark.test/m@v1.0.0/go.mod",
    ]);
  });

  test("a go.mod declaring another module is refused and nothing is stored", async () => {
    const dir = join(work, "wrong");
    const bare = await localRepo(
      dir,
      [
        async (w) => {
          await writeFile(join(w, "go.mod"), "module evil.example/other\n");
          await writeFile(join(w, "a.go"), "package m\n");
        },
      ],
      [["v1.0.0"]],
    );
    const storage = new MemoryStorage();
    const direct = local("wrong", [{ from: "wrong.goark.test/m", to: `file://${bare}` }]);
    const core = new ProxyCore({ storage, source: new VerifyingSource(direct, { storage }) });
    await assert.rejects(core.mod("wrong.goark.test/m", "v1.0.0"), /evil\.example\/other/);
    const keys: string[] = [];
    for await (const k of storage.list("wrong.goark.test/")) keys.push(k);
    assert.deepEqual(
      keys.filter((k) => k.endsWith(".mod") || k.endsWith(".zip")),
      [],
    );
    await core.close(1000);
  });

  test("a pseudo-version based on a tag of unrelated history is refused", async () => {
    const dir = join(work, "unrelated");
    const main = await host.createRepo(
      "unrelated",
      [
        { files: { "go.mod": `module ${HOST}/unrelated\n` }, tags: ["v1.0.0"] },
        { files: { "go.mod": `module ${HOST}/unrelated\n`, "a.go": "package m\n" } },
        {
          files: { "go.mod": `module ${HOST}/unrelated\n`, "evil.go": "package m\n" },
          parent: null,
          tags: ["v1.5.0"],
        },
      ],
      { branches: { main: 1 } },
    );
    await mkdir(dir, { recursive: true });
    const src = new DirectSource({
      vcsDir: join(work, "vcs-unrelated"),
      insecure: HOST,
      env: { PATH: process.env.PATH, HTTP_PROXY: host.proxyUrl, http_proxy: host.proxyUrl },
    });
    const head = main.commits[1];
    assert.ok(head);
    const stamp = head.date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
    const honest = await src.info(`${HOST}/unrelated`, head.hash);
    assert.equal(honest.Version, `v1.0.1-0.${stamp}-${head.hash.slice(0, 12)}`);
    await assert.rejects(
      src.info(`${HOST}/unrelated`, `v1.5.1-0.${stamp}-${head.hash.slice(0, 12)}`),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "INVALID_VERSION");
        assert.match(err.message, /not a descendent of preceding tag \(v1\.5\.0\)/);
        return true;
      },
    );
  });

  test("a git server that never answers costs bounded time", async () => {
    const src = local("hang", [{ from: "hang.goark.test/*", to: `${hangUrl}/*.git` }], {
      insecure: "hang.goark.test",
      networkTimeoutMs: 1500,
    });
    const started = Date.now();
    await assert.rejects(src.list("hang.goark.test/m"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "TIMEOUT");
      assert.match(err.message, /hang\.goark\.test\/m/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  test("a discovery server that never answers costs bounded time", async () => {
    const src = new DirectSource({
      vcsDir: join(work, "vcs-hang2"),
      env: { PATH: process.env.PATH, HTTPS_PROXY: hangUrl, https_proxy: hangUrl },
      discoveryTimeoutMs: 1000,
    });
    const started = Date.now();
    await assert.rejects(src.list("slow.goark.test/m"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "NOT_FOUND");
      assert.match(err.message, /unrecognized import path "slow\.goark\.test\/m"/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  });

  test("a second version fetches only the missing objects; concurrent requests share one fetch", async () => {
    const random = Buffer.alloc(2 << 20);
    for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const path = `${HOST}/incr`;
    const files = (n: number) => ({
      "go.mod": `module ${path}\n`,
      "data.bin": random,
      "a.go": `package m\n\nconst X = ${n}\n`,
    });
    await host.createRepo("incr", [{ files: files(1), tags: ["v1.0.0"] }]);
    const src = new DirectSource({
      vcsDir: join(work, "vcs-incr"),
      insecure: HOST,
      refsMaxAgeMs: 0,
      env: { PATH: process.env.PATH, HTTP_PROXY: host.proxyUrl, http_proxy: host.proxyUrl },
    });
    const infoRefs = () => host.requests.filter((r) => r.includes("/incr.git/info/refs")).length;
    const refsBefore = infoRefs();
    const answers = await Promise.all([1, 2, 3, 4].map(() => src.info(path, "v1.0.0")));
    for (const a of answers) assert.equal(a.Version, "v1.0.0");
    // One listing of the refs and one fetch, shared by all four.
    assert.equal(infoRefs() - refsBefore, 2, "concurrent requests listed or fetched more than once");
    const repo = await src.codeRepo(path);
    assert.ok("code" in repo);
    const mirror = repo.code as unknown as { fetchedBytes: number };
    const first = mirror.fetchedBytes;
    assert.ok(first > 1 << 20, `first fetch moved ${first} bytes`);

    // A second version of a mirror holding one shallow commit.
    await host.extendRepo("incr", [{ files: files(2), tags: ["v1.1.0"] }]);
    assert.deepEqual(await src.list(path), [{ version: "v1.0.0" }, { version: "v1.1.0" }]);
    assert.equal(mirror.fetchedBytes, first, "listing versions fetched objects");
    assert.equal((await src.info(path, "v1.1.0")).Version, "v1.1.0");
    const second = mirror.fetchedBytes - first;
    assert.ok(second > 0 && second < first / 10, `second fetch moved ${second} bytes (first ${first})`);

    // An untagged commit needs the history (its pseudo-version's base tag): the mirror becomes complete...
    const head = await host.extendRepo("incr", [{ files: files(3) }]);
    const untagged = head.commits[2]?.hash ?? "";
    assert.match((await src.info(path, untagged)).Version, /^v1\.1\.1-0\.\d{14}-[0-9a-f]{12}$/);
    const third = mirror.fetchedBytes - first - second;
    assert.ok(third < first / 10, `the history moved ${third} bytes (first ${first})`);

    // ...and a version after that, fetched into the complete mirror, still moves only what is new.
    await host.extendRepo("incr", [{ files: files(4), tags: ["v1.2.0"] }]);
    const before = mirror.fetchedBytes;
    assert.equal((await src.info(path, "v1.2.0")).Version, "v1.2.0");
    const fourth = mirror.fetchedBytes - before;
    assert.ok(
      fourth > 0 && fourth < first / 10,
      `a version after that moved ${fourth} bytes (first ${first})`,
    );

    // An unchanged remote: nothing fetched, whatever is asked.
    const refsThen = infoRefs();
    await src.list(path);
    await src.info(path, "v1.0.0");
    assert.equal(mirror.fetchedBytes, before + fourth, "an unchanged remote was fetched again");
    assert.equal(infoRefs() - refsThen, 1, "an unchanged remote cost more than one listing of its refs");
  });
});
