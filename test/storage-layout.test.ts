/**
 * The disk store's tree is the go command's own layout, checked with the real
 * go command both ways: go downloads from the store as GOPROXY=file://, and the
 * store opens the download cache go wrote ($GOMODCACHE/cache/download).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import yazl from "yazl";
import { DiskStorage } from "../src/storage/disk.ts";
import { infoKey, latestKey, listKey, modKey, zipKey } from "../src/storage/keys.ts";
import { describe as describeRun, GoClient } from "./helpers/go-client.ts";

const M = "example.com/Upper/m";
const V = "v1.0.0-RC1";
const GO_MOD = `module ${M}\n\ngo 1.19\n`;
const INFO = JSON.stringify({ Version: V, Time: "2023-01-02T03:04:05Z" });

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function moduleZip(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(GO_MOD), `${M}@${V}/go.mod`, { mtime: new Date(0) });
  zip.addBuffer(Buffer.from("package m\n\nconst X = 1\n"), `${M}@${V}/m.go`, { mtime: new Date(0) });
  zip.end();
  const parts: Buffer[] = [];
  for await (const chunk of zip.outputStream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe("disk store layout against the go command", () => {
  let dir: string;
  let zip: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-layout-"));
    zip = await moduleZip();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("serves go as a GOPROXY=file:// tree", { timeout: 120_000 }, async () => {
    const root = join(dir, "store");
    const s = await DiskStorage.open({ root });
    await s.putBytes(listKey(M), Buffer.from(`${V}\n`), { origin: "test" });
    await s.putBytes(infoKey(M, V), Buffer.from(INFO), { origin: "test" });
    await s.putBytes(modKey(M, V), Buffer.from(GO_MOD), { origin: "test" });
    await s.putBytes(zipKey(M, V), zip, { origin: "test" });
    // A second module known only through @latest (no tags: empty list).
    await s.putBytes(listKey("example.com/nolist"), Buffer.alloc(0), { origin: "test" });
    const pseudo = "v0.0.0-20230102030405-abcdefabcdef";
    await s.putBytes(
      latestKey("example.com/nolist"),
      Buffer.from(JSON.stringify({ Version: pseudo, Time: "2023-01-02T03:04:05Z" })),
      { origin: "test" },
    );
    await s.close();

    const go = await GoClient.create({ proxy: pathToFileURL(root).href });
    try {
      const { result, modules } = await go.download([`${M}@${V}`]);
      assert.equal(result.code, 0, describeRun(result));
      assert.equal(modules[0]?.Error, undefined);
      assert.equal(await readFile(modules[0]!.Zip!).then(sha), sha(zip));

      const versions = await go.run(["list", "-m", "-versions", M]);
      assert.equal(versions.code, 0, describeRun(versions));
      assert.equal(versions.stdout.trim(), `${M} ${V}`);

      const latest = await go.run(["list", "-m", "-json", "example.com/nolist@latest"]);
      assert.equal(latest.code, 0, describeRun(latest));
      assert.equal(JSON.parse(latest.stdout).Version, pseudo);

      // And the other way round: the store opens the download cache go wrote.
      const cache = await DiskStorage.open({ root: join(go.env.GOMODCACHE!, "cache/download") });
      const st = await cache.stat(zipKey(M, V));
      assert.equal(st?.meta.sha256, sha(zip));
      assert.equal(st?.meta.origin, "unknown");
      assert.equal((await cache.getBytes(modKey(M, V)))?.toString(), GO_MOD);
      assert.equal(JSON.parse((await cache.getBytes(infoKey(M, V)))!.toString()).Version, V);
      const listed: string[] = [];
      for await (const k of cache.list(`${zipKey(M, V).slice(0, -".zip".length)}`)) listed.push(k);
      assert.ok(listed.includes(zipKey(M, V)) && listed.includes(modKey(M, V)), listed.join(" "));
      await cache.close();
    } finally {
      await go.close();
    }
  });
});
