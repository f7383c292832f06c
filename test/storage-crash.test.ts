/**
 * Crash safety of the disk store: a child process writes artefacts in a loop
 * (small puts, staged multi-MB zips, replaced lists, deletes) and is killed with
 * SIGKILL at random moments. Afterwards every artefact in the tree must be
 * complete (its bytes are a pure function of its key, or self-checking for
 * lists), every record present must describe its artefact, sweep must leave
 * no temp file, and the store must serve exactly the bytes its records name.
 *
 * Run as `GOARK_CRASH_CHILD=<root> node --import tsx test/storage-crash.test.ts`
 * the file is the writer.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DiskStorage } from "../src/storage/disk.ts";
import { parseKey } from "../src/storage/keys.ts";

const ROUNDS = 10;
const MAX_ZIP = 3 << 20;

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The bytes an immutable key must hold: pseudo-random, length and content derived from the key. */
function* expectedChunks(key: string): Generator<Buffer> {
  const seed = createHash("sha256").update(key).digest();
  const total = key.endsWith(".zip") ? seed.readUInt32BE(16) % MAX_ZIP : seed.readUInt32BE(16) % 4096;
  const cipher = createCipheriv("aes-128-ctr", seed.subarray(0, 16), Buffer.alloc(16));
  const zeros = Buffer.alloc(256 << 10);
  for (let left = total; left > 0; left -= zeros.length) {
    yield cipher.update(zeros.subarray(0, Math.min(zeros.length, left)));
  }
}

function expectedBytes(key: string): Buffer {
  return Buffer.concat([...expectedChunks(key)]);
}

/** A list body whose last line is the sha256 of everything before it. */
function listBody(generation: number): Buffer {
  const lines = Array.from({ length: 1 + (generation % 50) }, (_, i) => `v1.${generation}.${i}`).join("\n");
  const body = `${lines}\n`;
  return Buffer.from(`${body}${sha(Buffer.from(body))}\n`);
}

function listIsWhole(data: Buffer): boolean {
  const text = data.toString();
  const cut = text.lastIndexOf("\n", text.length - 2);
  return cut > 0 && text.slice(cut + 1) === `${sha(Buffer.from(text.slice(0, cut + 1)))}\n`;
}

async function writer(root: string): Promise<void> {
  const store = await DiskStorage.open({ root });
  await store.sweep();
  const round = Number(process.env.GOARK_CRASH_ROUND ?? "0");
  process.stdout.write("ready\n");
  for (let i = 0; ; i++) {
    const m = `example.com/crash/r${round}/m${i % 7}`;
    const op = i % 5;
    if (op === 0 || op === 1) {
      const key = `${m.replace("/crash/", "/crash/")}/@v/v1.0.${i}.zip`;
      const staged = await store.stage();
      await pipeline(Readable.from(expectedChunks(key)), staged.createWriteStream());
      await store.commitStaged(key, staged, { origin: "crash-test", h1: `h1:${i}=` });
    } else if (op === 2) {
      const key = `${m}/@v/v1.0.${i}.mod`;
      await store.putBytes(key, expectedBytes(key), { origin: "crash-test" });
    } else if (op === 3) {
      await store.putBytes(`example.com/crash/shared/@v/list`, listBody(round * 100_000 + i), {
        origin: "crash-test",
      });
    } else {
      // Re-commit an earlier version (a no-op) and delete another one.
      const again = `${m}/@v/v1.0.${i - 2}.mod`;
      await store.putBytes(again, expectedBytes(again), { origin: "crash-test" });
      if (i % 3 === 0) await store.delete(`${m}/@v/v1.0.${i - 4}.zip`);
    }
  }
}

async function runAndKill(root: string, round: number, delayMs: number): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ["--import", "tsx", self], {
    env: { ...process.env, GOARK_CRASH_CHILD: root, GOARK_CRASH_ROUND: String(round) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => {
      if (b.toString().includes("ready")) resolve();
    });
    void exited.then((code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill("SIGKILL");
  await exited;
  assert.equal(child.signalCode, "SIGKILL", `writer died on its own: ${stderr}`);
}

async function treeFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel === "" ? ent.name : `${rel}/${ent.name}`;
    if (ent.isDirectory()) out.push(...(await treeFiles(root, r)));
    else out.push(r);
  }
  return out;
}

function checkArtefact(key: string, data: Buffer): void {
  if (key.endsWith("/list"))
    assert.ok(listIsWhole(data), `${key} is torn: ${JSON.stringify(data.toString())}`);
  else assert.ok(data.equals(expectedBytes(key)), `${key}: ${data.length} bytes, not the expected content`);
}

if (process.env.GOARK_CRASH_CHILD !== undefined) {
  await writer(process.env.GOARK_CRASH_CHILD);
} else {
  test("a disk store survives kill -9 at random moments", { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "goark-crash-"));
    const root = join(dir, "store");
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await runAndKill(root, round, 30 + Math.floor(Math.random() * 400));
      }

      // The raw tree, before anything repairs it.
      const files = await treeFiles(root);
      const artefacts = files.filter((f) => !f.startsWith(".tmp/") && !f.endsWith(".meta"));
      assert.ok(artefacts.length > 10, `only ${artefacts.length} artefacts written`);
      assert.ok(
        artefacts.some((k) => k.endsWith(".zip")),
        "no zip was committed",
      );
      for (const key of artefacts) {
        assert.ok(parseKey(key), `${key} is not a layout key`);
        const data = await readFile(join(root, key));
        checkArtefact(key, data);
        const metaFile = `${key}.meta`;
        if (files.includes(metaFile)) {
          const rec = JSON.parse(await readFile(join(root, metaFile), "utf8"));
          assert.equal(rec.sha256, sha(data), `${metaFile} describes other bytes`);
          assert.equal(rec.size, data.length);
        }
      }
      for (const f of files.filter((f) => f.endsWith(".meta") && !f.startsWith(".tmp/"))) {
        assert.ok(artefacts.includes(f.slice(0, -".meta".length)), `orphan record ${f}`);
      }

      // What the store serves after its start-up sweep.
      const store = await DiskStorage.open({ root });
      await store.sweep();
      assert.deepEqual(await readdir(join(root, ".tmp")), [], "temp files left after sweep");
      const listed: string[] = [];
      for await (const key of store.list("")) listed.push(key);
      assert.deepEqual(listed.sort(), [...artefacts].sort());
      for (const key of listed) {
        const st = await store.stat(key);
        assert.ok(st, key);
        const stream = await store.openRead(key);
        assert.ok(stream, key);
        const parts: Buffer[] = [];
        for await (const c of stream) parts.push(c as Buffer);
        const data = Buffer.concat(parts);
        checkArtefact(key, data);
        assert.equal(st.meta.sha256, sha(data), key);
        assert.equal(st.size, data.length, key);
      }
      const deep = await store.sweep({ deep: true, verifyHashes: true });
      assert.deepEqual(deep.removed, [], "nothing should look corrupt");
      assert.equal(deep.orphanMetaRemoved, 0);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
