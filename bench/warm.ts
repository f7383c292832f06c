/**
 * `npm run bench:warm` (or `node --import tsx bench/warm.ts [modules]`):
 * time of `goark warm` over a generated graph of N library modules (default
 * 150, two versions each) from a fixture upstream on loopback, into a fresh
 * disk store each run, at several --jobs settings; then a second warm of a
 * full store (nothing to download). The upstream is a static file server,
 * so the figures measure goark's own work: fetch, verify, commit.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProxyCore } from "../src/cache/proxy-core.ts";
import { ProxySource } from "../src/source/proxy-source.ts";
import { DiskStorage } from "../src/storage/disk.ts";
import { CoreFetcher } from "../src/warm/fetcher.ts";
import { warmGraph } from "../src/warm/graph.ts";
import { addArgument, emptyPlan } from "../src/warm/inputs.ts";
import { FixtureUpstream, generateGraph, writeTree } from "../test/helpers/fixture-upstream.ts";

const n = Number(process.argv[2] ?? 150);
const tmp = await mkdtemp(join(tmpdir(), "goark-bench-warm-"));
try {
  const graph = generateGraph(n);
  await writeTree(join(tmp, "tree"), graph.versions);
  const upstream = await FixtureUpstream.start(join(tmp, "tree"));
  const app = join(tmp, "app");
  await mkdir(app, { recursive: true });
  await writeFile(join(app, "go.mod"), graph.main["go.mod"]!);
  const plan = emptyPlan();
  await addArgument(plan, join(app, "go.mod"));

  console.log(`graph: ${n + 2} modules; upstream ${upstream.url}`);
  for (const jobs of [1, 4, 8, 16, 32]) {
    const root = join(tmp, `store-${jobs}`);
    const storage = await DiskStorage.open({ root });
    const source = new ProxySource(upstream.url, { retries: 0, maxConcurrent: 64 });
    const core = new ProxyCore({ storage, source });
    const fetcher = new CoreFetcher(core);
    const t0 = performance.now();
    const cold = await warmGraph(plan, fetcher, { jobs });
    const t1 = performance.now();
    const again = await warmGraph(plan, fetcher, { jobs });
    const t2 = performance.now();
    console.log(
      `jobs ${String(jobs).padStart(2)}: cold ${(t1 - t0).toFixed(0).padStart(6)} ms ` +
        `(${cold.versions} versions, ${cold.fetched} downloads, ${(cold.newBytes / 1024).toFixed(0)} KiB, ` +
        `${cold.failures.length} failures); already stored ${(t2 - t1).toFixed(0).padStart(5)} ms ` +
        `(${again.fetched} downloads)`,
    );
    await core.close(0);
    await source.close();
    await storage.close();
  }
  await upstream.close();
} finally {
  await rm(tmp, { recursive: true, force: true });
}
