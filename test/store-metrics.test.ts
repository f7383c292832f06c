/**
 * goark_store_size_bytes and goark_store_objects on /metrics follow the
 * store: after serving a few modules they equal what a walk of the store
 * directory finds (artefacts only: no metadata records, no dot-directories),
 * and a restarted goark reports the store it reopens.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FixtureUpstream, type FixtureVersion, writeTree } from "./helpers/fixture-upstream.ts";
import { type GoarkInstance, startGoark } from "./helpers/goark-instance.ts";

function version(module: string, v: string, size: number): FixtureVersion {
  return {
    module,
    version: v,
    time: "2024-01-01T00:00:00Z",
    files: {
      "go.mod": `module ${module}\n`,
      "data.go": `package data\n\n// ${"x".repeat(size)}\n`,
    },
  };
}

const VERSIONS = [
  version("example.com/size/a", "v1.0.0", 100),
  version("example.com/size/a", "v1.1.0", 5000),
  version("example.com/size/b", "v0.1.0", 20000),
  version("example.com/size/Caps", "v2.0.0+incompatible", 10),
];

let tmp: string;
let upstream: FixtureUpstream;
const started: GoarkInstance[] = [];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "goark-store-metrics-"));
  await writeTree(join(tmp, "tree"), VERSIONS);
  upstream = await FixtureUpstream.start(join(tmp, "tree"));
});

after(async () => {
  for (const g of started) await g.close().catch(() => undefined);
  await upstream?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Bytes and count of the files under dir, leaving out dot-names and `.meta` records. */
async function walk(dir: string): Promise<{ bytes: number; objects: number }> {
  let bytes = 0;
  let objects = 0;
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    if (ent.name.startsWith(".")) continue;
    const p = join(dir, ent.name);
    if (ent.isDirectory()) {
      const sub = await walk(p);
      bytes += sub.bytes;
      objects += sub.objects;
    } else if (ent.isFile() && !ent.name.endsWith(".meta")) {
      bytes += (await stat(p)).size;
      objects++;
    }
  }
  return { bytes, objects };
}

async function storeMetrics(g: GoarkInstance): Promise<{ bytes?: number; objects?: number }> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  return { bytes: value("goark_store_size_bytes"), objects: value("goark_store_objects") };
}

/** Polls /metrics (bounded) until it reports want; returns the last reading. */
async function metricsReach(
  g: GoarkInstance,
  want: { bytes: number; objects: number },
): Promise<{ bytes?: number; objects?: number }> {
  let last = await storeMetrics(g);
  for (let i = 0; i < 100 && (last.bytes !== want.bytes || last.objects !== want.objects); i++) {
    await sleep(100);
    last = await storeMetrics(g);
  }
  return last;
}

test("store size metrics follow what goark stores, and survive a restart", async () => {
  const store = join(tmp, "store");
  const g = await startGoark({ upstream: upstream.url }, { store });
  started.push(g);
  assert.deepEqual(await metricsReach(g, { bytes: 0, objects: 0 }), { bytes: 0, objects: 0 });

  for (const v of VERSIONS) {
    const res = await fetch(
      `${g.url}/${v.module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`)}/@v/${v.version}.zip`,
    );
    assert.equal(res.status, 200, await res.text());
  }
  const listed = await fetch(`${g.url}/example.com/size/a/@v/list`);
  assert.equal(await listed.text(), "v1.0.0\nv1.1.0\n");

  const want = await walk(store);
  assert.ok(want.objects >= VERSIONS.length * 2 && want.bytes > 1000, JSON.stringify(want));
  assert.deepEqual(await metricsReach(g, want), want);
  await g.close();

  // A fresh process counts the store it opens (one walk at start), before serving anything.
  const h = await startGoark({ upstream: upstream.url }, { store });
  started.push(h);
  assert.deepEqual(await metricsReach(h, want), want);
});
