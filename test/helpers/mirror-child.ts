/**
 * A child process for the cross-process mirror tests: one GitRepo (the code
 * behind direct mode) on a mirror that other processes share, driven over
 * the IPC channel. Started with fork(); argv[2] is the JSON of ChildConfig.
 * Each message {id, op, ...} is answered with {id, result} or {id, error}.
 */
import { compare } from "../../src/module/semver.ts";
import { gitEnvironment } from "../../src/source/vcs/git-command.ts";
import { GitRepo } from "../../src/source/vcs/git-repo.ts";

export interface ChildConfig {
  remote: string;
  dir: string;
  maxPacks?: number;
  networkTimeoutMs?: number;
  /** Default 0: the remote's refs are read for every question. */
  refsMaxAgeMs?: number;
}

/** What one child saw of one tag: its commit, its tags, its go.mod and the paths of its tree. */
export interface TagView {
  tag: string;
  hash: string;
  tags: string[];
  goMod: string;
  files: string[];
}

export type ChildRequest =
  | { id: number; op: "round"; tags: string[] }
  | { id: number; op: "refs" }
  | { id: number; op: "stat"; rev: string }
  | { id: number; op: "recentTag"; rev: string }
  | { id: number; op: "settle" };

export type ChildReply = { id: number; result?: unknown; error?: string; ms: number };

const config = JSON.parse(process.argv[2] ?? "{}") as ChildConfig;
const repo = new GitRepo({
  remote: config.remote,
  dir: config.dir,
  env: gitEnvironment({ env: { PATH: process.env.PATH } }),
  allow: ["http"],
  refsMaxAgeMs: config.refsMaxAgeMs ?? 0,
  ...(config.maxPacks === undefined ? {} : { maxPacks: config.maxPacks }),
  ...(config.networkTimeoutMs === undefined ? {} : { networkTimeoutMs: config.networkTimeoutMs }),
});

async function view(tag: string): Promise<TagView> {
  const info = await repo.stat(tag);
  const goMod = await repo.readFile(info.name, "go.mod", 1 << 20);
  const tree = await repo.listTree(info.name, "");
  return {
    tag,
    hash: info.name,
    tags: info.tags,
    goMod: goMod?.toString("utf8") ?? "",
    files: tree.entries.map((e) => e.path),
  };
}

async function handle(m: ChildRequest): Promise<unknown> {
  switch (m.op) {
    case "round": {
      await repo.refs({ maxAgeMs: 0 });
      const out: TagView[] = [];
      for (const tag of m.tags) out.push(await view(tag));
      return out;
    }
    case "refs":
      return (await repo.refs({ maxAgeMs: 0 })).size;
    case "stat":
      return (await repo.stat(m.rev)).name;
    case "recentTag": {
      const info = await repo.stat(m.rev);
      return repo.recentTag(info.name, "", () => true, compare);
    }
    case "settle":
      await repo.repacking;
      return repo.fetchedBytes;
  }
}

process.on("message", (m: ChildRequest) => {
  const started = Date.now();
  handle(m).then(
    (result) => process.send?.({ id: m.id, result, ms: Date.now() - started } satisfies ChildReply),
    (err: unknown) =>
      process.send?.({
        id: m.id,
        error: err instanceof Error ? err.message : String(err),
        ms: Date.now() - started,
      } satisfies ChildReply),
  );
});
process.send?.({ id: 0, result: process.pid, ms: 0 } satisfies ChildReply);
