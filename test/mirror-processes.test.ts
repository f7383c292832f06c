/**
 * One git mirror shared by several processes (two replicas on one volume, or
 * `goark serve` beside an operator's `goark warm` / `goark prune`): child
 * processes running GitRepo (test/helpers/mirror-child.ts) against a
 * loopback git host (smart HTTP, so fetches are shallow first and unshallowed
 * later) fetch the same new tags at the same moment, round after round, with
 * packs folded on the way; a holder killed with SIGKILL (its git left
 * running) has its lock broken; `goark prune` waits for a fetch in flight.
 * Ground truth is the host's own repository (git rev-parse there) and `git
 * fsck` on the mirror.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LAST_USED_FILE } from "../src/source/vcs/git-repo.ts";
import { type GitHost, type RepoInfo, startGitHost } from "./helpers/git-host.ts";
import { goark } from "./helpers/goark-cli.ts";
import type { ChildConfig, ChildReply, ChildRequest, TagView } from "./helpers/mirror-child.ts";

const execFileP = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "test/helpers/mirror-child.ts");
const ROUNDS = 8;

type Request = ChildRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

class Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<number>;
  #next = 1;
  readonly #pending = new Map<number, (r: ChildReply) => void>();

  constructor(cfg: ChildConfig) {
    this.proc = fork(CHILD, [JSON.stringify(cfg)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let started: (pid: number) => void = () => undefined;
    this.ready = new Promise((r) => {
      started = r;
    });
    this.proc.on("message", (m: ChildReply) => {
      if (m.id === 0) started(m.result as number);
      this.#pending.get(m.id)?.(m);
      this.#pending.delete(m.id);
    });
    this.proc.on("exit", () => {
      for (const [id, done] of this.#pending) done({ id, error: "child exited", ms: 0 });
      this.#pending.clear();
    });
  }

  call(req: Request): Promise<ChildReply> {
    const id = this.#next++;
    return new Promise((done) => {
      this.#pending.set(id, done);
      this.proc.send({ ...req, id });
    });
  }

  async ok<T>(req: Request): Promise<T> {
    const r = await this.call(req);
    assert.equal(r.error, undefined, `${req.op}: ${r.error}`);
    return r.result as T;
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP("git", args, {
    cwd: dir,
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    maxBuffer: 64 << 20,
  });
  return stdout;
}

/** `git fsck --full` on the mirror: exit 0 and nothing it calls broken. */
async function fsck(dir: string): Promise<void> {
  const { stdout, stderr } = await execFileP("git", ["fsck", "--full", "--no-progress", "--no-dangling"], {
    cwd: dir,
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
  assert.doesNotMatch(`${stdout}${stderr}`, /error|missing|broken|corrupt|invalid/i);
}

/** git's own lock files and temporary packs anywhere in the mirror (a crashed or killed git leaves them). */
async function leftovers(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((p) => p.endsWith(".lock") || /(^|\/)(tmp_pack_|\.tmp-)/.test(p));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("one git mirror, several processes", { timeout: 240_000 }, () => {
  let host: GitHost;
  let work: string;
  let info: RepoInfo;
  let remote: string;
  /** While set, the pack request of a fetch (smart POST git-upload-pack) waits for it. */
  let hold: Promise<void> | undefined;
  let holding = 0;
  const children: Child[] = [];

  const child = (dir: string, extra: Partial<ChildConfig> = {}): Child => {
    const c = new Child({ remote, dir, networkTimeoutMs: 60_000, ...extra });
    children.push(c);
    return c;
  };

  before(async () => {
    host = await startGitHost({
      smartHttp: true,
      gate: (method, path) => {
        if (hold === undefined || method !== "POST" || !path.endsWith("/git-upload-pack")) return undefined;
        holding++;
        return hold.finally(() => holding--);
      },
    });
    work = await mkdtemp(join(tmpdir(), "goark-mirror-processes-"));
    info = await host.createRepo("corp/shared", [
      {
        files: { "go.mod": "module git.goark.test/corp/shared\n", "a.go": "package shared\n" },
        tags: ["v1.0.0"],
      },
    ]);
    remote = `${host.proxyUrl}/corp/shared.git`;
  });

  after(async () => {
    for (const c of children) c.stop();
    await host?.close();
    await rm(work, { recursive: true, force: true });
  });

  test("two processes fetching the same new tags at once: no error, same answers, sound mirror", async () => {
    const dir = join(work, "vcs", "hammer");
    // Few packs allowed, so packs are folded (git repack) while the other process reads.
    const a = child(dir, { maxPacks: 3 });
    const b = child(dir, { maxPacks: 3 });
    await Promise.all([a.ready, b.ready]);
    const started = Date.now();
    for (let r = 1; r <= ROUNDS; r++) {
      const tag = `v1.${r}.0`;
      const files = {
        "go.mod": `module git.goark.test/corp/shared\n\ngo 1.${r}\n`,
        "a.go": "package shared\n",
        [`f${r}.go`]: `package shared\n\nconst F${r} = ${r}\n`,
      };
      info = await host.extendRepo("corp/shared", [{ files, tags: [tag] }]);
      const tags = [tag, `v1.${r - 1}.0`];
      const req: Request = { op: "round", tags };
      const [va, vb] = await Promise.all([a.ok<TagView[]>(req), b.ok<TagView[]>(req)]);
      assert.deepEqual(va, vb, `round ${r}: both processes see the same`);
      for (const v of va) {
        const want = (await git(info.dir, "rev-parse", `refs/tags/${v.tag}^{commit}`)).trim();
        assert.equal(v.hash, want, `${v.tag}'s commit`);
        assert.deepEqual(v.tags, [v.tag]);
        assert.equal(v.goMod, await git(info.dir, "show", `${v.tag}:go.mod`));
        const paths = (await git(info.dir, "ls-tree", "-r", "--name-only", v.tag)).trim().split("\n");
        assert.deepEqual(v.files, paths);
      }
      // History wanted by both at once: full fetch and --unshallow in each process.
      if (r % 2 === 0) {
        const [ta, tb] = await Promise.all([
          a.ok<string>({ op: "recentTag", rev: tag }),
          b.ok({ op: "recentTag", rev: tag }),
        ]);
        assert.equal(ta, tag);
        assert.equal(tb, tag);
      }
    }
    await Promise.all([a.ok({ op: "settle" }), b.ok({ op: "settle" })]);
    const took = Date.now() - started;
    await fsck(dir);
    for (let r = 0; r <= ROUNDS; r++) {
      assert.equal(
        (await git(dir, "rev-parse", `refs/tags/v1.${r}.0`)).trim(),
        (await git(info.dir, "rev-parse", `refs/tags/v1.${r}.0`)).trim(),
      );
    }
    assert.deepEqual(await leftovers(dir), []);
    assert.ok(!existsSync(`${dir}.lock`), "no lock left behind");
    const packs = (await readdir(join(dir, "objects", "pack"))).filter((n) => n.endsWith(".pack"));
    assert.ok(packs.length <= 4, `packs were folded: ${packs.length}`);
    console.log(`# ${ROUNDS} rounds, two processes: ${took} ms`);
  });

  /** Holds fetches' requests (and protocol v2's ls-refs, also a POST) until the returned function is called. */
  const holdPacks = (): (() => void) => {
    let open: () => void = () => undefined;
    hold = new Promise<void>((r) => {
      open = r;
    });
    return open;
  };

  /** The lock file's owner once the process with pid holds it with a git running under it. */
  const heldBy = async (dir: string, pid: number): Promise<{ pid: number; git: number }> => {
    let owner: { pid: number; git?: number } | undefined;
    await waitFor(`process ${pid} to hold ${dir}.lock`, async () => {
      owner = await readFile(`${dir}.lock`, "utf8").then(
        (t) => JSON.parse(t) as { pid: number; git?: number },
        () => undefined,
      );
      return owner?.pid === pid && owner.git !== undefined && holding > 0;
    });
    return owner as { pid: number; git: number };
  };

  test("a holder killed with SIGKILL: its lock is broken, its orphaned git stopped, git's leftovers cleared", async () => {
    const dir = join(work, "vcs", "kill");
    // Refs read beforehand and trusted: while packs are held, the only git at work is the fetch.
    const a = child(dir, { refsMaxAgeMs: 60_000 });
    assert.equal(await a.ok({ op: "stat", rev: "v1.0.0" }), info.commits[0]?.hash);
    info = await host.extendRepo("corp/shared", [
      { files: { "go.mod": "module git.goark.test/corp/shared\n" }, tags: ["v1.50.0"] },
    ]);
    const want = info.commits.at(-1)?.hash;
    await a.ok({ op: "refs" });
    // A second process that waits at most a second (its gitTimeout) for the lock.
    const impatient = child(dir, { refsMaxAgeMs: 60_000, networkTimeoutMs: 1000 });
    await impatient.ok({ op: "refs" });
    const release = holdPacks();
    try {
      const pending = a.call({ op: "stat", rev: "v1.50.0" });
      const owner = await heldBy(dir, await a.ready);
      const busy = await impatient.call({ op: "stat", rev: "v1.50.0" });
      assert.ok(busy.error !== undefined && !busy.error.includes("\n"), busy.error);
      assert.match(
        busy.error,
        new RegExp(
          `^git mirror of ${remote.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is busy: process ${owner.pid} on ${hostname()} \\(since [^)]+\\) holds ${dir}\\.lock; gave up after 1s$`,
        ),
      );
      assert.ok(busy.ms < 5000, `gave up after ${busy.ms} ms`);
      impatient.stop();
      a.proc.kill("SIGKILL");
      await pending;
      await waitFor("the holder to die", () => !alive(owner.pid));
      assert.ok(alive(owner.git), "its git runs on, orphaned");
      // What a git killed while writing leaves: its lock files (else every later fetch fails on them).
      await writeFile(join(dir, "shallow.lock"), "");
      await writeFile(join(dir, "refs", "tags", "v1.50.0.lock"), "");
      hold = undefined; // new pack requests pass; the orphan's stays held
      const b = child(dir);
      const started = Date.now();
      const got = await b.ok<string>({ op: "stat", rev: "v1.50.0" });
      const took = Date.now() - started;
      assert.equal(got, want);
      assert.ok(took < 15_000, `took over in ${took} ms`);
      assert.ok(!alive(owner.git), "the orphaned git was stopped");
      assert.equal(await b.ok({ op: "recentTag", rev: "v1.50.0" }), "v1.50.0");
      b.stop();
      await fsck(dir);
      assert.deepEqual(await leftovers(dir), []);
      assert.ok(!existsSync(`${dir}.lock`));
      console.log(`# lock of a killed holder taken over in ${took} ms (child start included)`);
    } finally {
      hold = undefined;
      release();
    }
  });

  test("goark prune waits for a fetch in flight, then removes the mirror; the fetcher makes it anew", async () => {
    const store = join(work, "store");
    const dir = join(store, ".vcs", "a".repeat(64));
    // Refs trusted for a minute: the fetch below is not preceded by reading them (which marks the mirror used).
    const c = child(dir, { refsMaxAgeMs: 60_000 });
    assert.equal(await c.ok({ op: "stat", rev: "v1.0.0" }), info.commits[0]?.hash);
    info = await host.extendRepo("corp/shared", [
      {
        files: { "go.mod": "module git.goark.test/corp/shared\n", "p.go": "package shared\n" },
        tags: ["v1.60.0"],
      },
    ]);
    const want = info.commits.at(-1)?.hash;
    await c.ok({ op: "refs" });
    const release = holdPacks();
    let fetched = 0;
    let pruned = 0;
    try {
      const pending = c.ok<string>({ op: "stat", rev: "v1.60.0" }).then((h) => {
        fetched = Date.now();
        return h;
      });
      await heldBy(dir, await c.ready);
      const old = new Date(Date.now() - 40 * 86_400_000);
      await utimes(join(dir, LAST_USED_FILE), old, old);
      const prune = goark(["prune", "--storage", store, "--mirrors-unused-for", "30d"], work).then((r) => {
        pruned = Date.now();
        return r;
      });
      // Long enough for the command to start (about 1.5 s here) and reach the lock.
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(pruned, 0, "prune waits while the fetch holds the mirror");
      assert.ok(existsSync(join(dir, "objects")));
      release();
      assert.equal(await pending, want, "the fetch in flight finished unharmed");
      const r = await prune;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^removed: git mirror of /m);
      assert.ok(pruned >= fetched, "prune finished after the fetch");
      assert.ok(!existsSync(dir), "the mirror is gone");
      assert.deepEqual(
        (await readdir(join(store, ".vcs"))).filter((n) => n.startsWith("a".repeat(64))),
        [],
      );
    } finally {
      hold = undefined;
      release();
    }
    // The process that had it reads on: the mirror is fetched again.
    const [v] = await c.ok<TagView[]>({ op: "round", tags: ["v1.60.0"] });
    assert.equal(v?.hash, want);
    assert.deepEqual(v?.files, ["go.mod", "p.go"]);
    await c.ok({ op: "settle" });
    await fsck(dir);
  });
});
