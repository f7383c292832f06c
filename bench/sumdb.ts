/**
 * `node --import tsx bench/sumdb.ts`: what checksum verification costs.
 * - Cold fetch of 50 module zips (16 at a time, as the go command's
 *   parallel downloads do) through goark from a fixture upstream, with
 *   verification against x/mod's own sumdb server on loopback vs --sumdb off
 *   (both record in goark's own log). Best of BENCH_ROUNDS fresh stores.
 * - /sumdb/ requests per second served from cache (proxied lookups and
 *   tiles; goark's own lookups), 32 clients for BENCH_SECONDS.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashGoMod, hashZip } from "../src/module/dirhash.ts";
import { escapePath, escapeVersion } from "../src/module/path.ts";
import { FixtureUpstream, type FixtureVersion, writeTree } from "../test/helpers/fixture-upstream.ts";
import { type GoarkInstance, startGoark } from "../test/helpers/goark-instance.ts";
import { startGoSumdbServer } from "../test/helpers/sumdb-server.ts";

const N = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PARALLEL = 16;
const NAME = "localhost.goark.test/sumdb";

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function coldFetch(g: GoarkInstance, versions: FixtureVersion[]): Promise<number> {
  const t0 = performance.now();
  await pool(versions, PARALLEL, async (v) => {
    const res = await fetch(`${g.url}/${escapePath(v.module)}/@v/${v.version}.zip`);
    const body = await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${v.module}: ${res.status} ${Buffer.from(body).toString()}`);
  });
  return performance.now() - t0;
}

async function rate(urls: string[]): Promise<number> {
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 32 }, async (_, k) => {
      for (let i = k; performance.now() < end; i++) {
        const res = await fetch(urls[i % urls.length]!);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${urls[i % urls.length]}: ${res.status}`);
        done++;
      }
    }),
  );
  return done / SECONDS;
}

const tmp = await mkdtemp(join(tmpdir(), "goark-bench-sumdb-"));
try {
  const versions: FixtureVersion[] = Array.from({ length: N }, (_, i) => ({
    module: `example.com/bench/m${i}`,
    version: "v1.0.0",
    time: "2024-01-01T00:00:00Z",
    files: {
      "go.mod": `module example.com/bench/m${i}\n`,
      "m.go": `package m\n\nconst X = ${i}\n`,
      "data.bin": randomBytes(64 << 10),
    },
  }));
  const tree = join(tmp, "tree");
  await writeTree(tree, versions);
  const records = new Map<string, string>();
  for (const v of versions) {
    const zip = await hashZip(join(tree, escapePath(v.module), "@v", `${escapeVersion(v.version)}.zip`));
    const mod = hashGoMod(String(v.files["go.mod"]));
    records.set(
      `${v.module}@${v.version}`,
      `${v.module} ${v.version} ${zip}\n${v.module} ${v.version}/go.mod ${mod}\n`,
    );
  }
  const upstream = await FixtureUpstream.start(tree);
  const sumdb = await startGoSumdbServer((_db, path, version) => records.get(`${path}@${version}`));
  const on = `${sumdb.verifierKey} ${sumdb.url}/honest`;
  // The database already holds the modules (as sum.golang.org does for public
  // ones): its tree does not grow during the measurement.
  for (const v of versions)
    await (await fetch(`${sumdb.url}/honest/lookup/${v.module}@${v.version}`)).arrayBuffer();
  try {
    const best: Record<string, number> = { on: Number.POSITIVE_INFINITY, off: Number.POSITIVE_INFINITY };
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of ["off", "on"] as const) {
        const g = await startGoark({ upstream: upstream.url, sumdb: mode === "on" ? on : "off" });
        try {
          best[mode] = Math.min(best[mode]!, await coldFetch(g, versions));
        } finally {
          await g.close();
        }
      }
    }
    process.stdout.write(
      `cold fetch of ${N} zips (${PARALLEL} at a time), best of ${ROUNDS}:\n` +
        `  verification off  ${best.off!.toFixed(0)} ms\n` +
        `  verification on   ${best.on!.toFixed(0)} ms  (${(best.on! / best.off!).toFixed(2)}x)\n`,
    );

    const g = await startGoark({ upstream: upstream.url, sumdb: on });
    try {
      await coldFetch(g, versions);
      const own = g.app.sumdb!.own!.name;
      const proxied = versions.map((v) => `${g.url}/sumdb/${NAME}/lookup/${v.module}@${v.version}`);
      const latest = await (await fetch(`${g.url}/sumdb/${NAME}/latest`)).text();
      const size = Number(latest.split("\n")[1]);
      const tile = `${g.url}/sumdb/${NAME}/tile/8/0/000${size < 256 ? `.p/${size}` : ""}`;
      const ownLookups = versions.map((v) => `${g.url}/sumdb/${own}/lookup/${v.module}@${v.version}`);
      process.stdout.write(
        `from cache, 32 clients, ${SECONDS} s:\n` +
          `  proxied lookups   ${(await rate(proxied)).toFixed(0)} req/s\n` +
          `  proxied tile      ${(await rate([tile])).toFixed(0)} req/s\n` +
          `  own lookups       ${(await rate(ownLookups)).toFixed(0)} req/s\n` +
          `  stored .info      ${(await rate(versions.map((v) => `${g.url}/${v.module}/@v/${v.version}.info`))).toFixed(0)} req/s (reference)\n`,
      );
    } finally {
      await g.close();
    }
  } finally {
    await upstream.close();
    await sumdb.close();
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
