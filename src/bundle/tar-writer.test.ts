/**
 * The tar writer must produce exactly tar-stream's bytes for the same entries
 * (bundles stay identical across goark versions), through both of its paths:
 * the file writer (a blocking copy loop) and the stream writer. tar-stream's
 * pack is the reference here.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { bytes, TAR_CASES } from "../../test/helpers/tar-cases.ts";
import {
  bufferBody,
  FileSink,
  iterableBody,
  StreamSink,
  type TarEntry,
  type TarSource,
  TarWriter,
  writeTarFile,
} from "./tar-writer.ts";

const MTIME = new Date("2024-05-06T07:08:09Z");
const CASES = TAR_CASES;

function entries(): { entry: TarEntry; data: Buffer }[] {
  return CASES.map((c, i) => ({ entry: { ...c, mtime: MTIME }, data: bytes(`e${i}`, c.size) }));
}

async function reference(list: { entry: TarEntry; data: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const { entry, data } of list) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        {
          name: entry.name,
          size: entry.size,
          mode: 0o644,
          uid: 0,
          gid: 0,
          uname: "",
          gname: "",
          mtime: entry.mtime,
          type: "file",
        },
        data,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function sources(list: { entry: TarEntry; data: Buffer }[], chunked = false): TarSource[] {
  return list.map(({ entry, data }) => ({
    entry,
    open: async () =>
      chunked
        ? iterableBody(
            Readable.from(
              Array.from({ length: Math.ceil(data.length / 700) }, (_, i) =>
                data.subarray(i * 700, i * 700 + 700),
              ),
            ),
          )
        : bufferBody(data),
  }));
}

describe("tar writer", () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-tarw-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function viaFile(
    srcs: TarSource[],
    opts: { yieldBytes?: number; bufferSize?: number },
  ): Promise<Buffer> {
    const path = join(dir, `t${n++}.tar`);
    const sink = await FileSink.open(path);
    try {
      await writeTarFile(sink, srcs, opts);
    } finally {
      await sink.close();
    }
    return readFile(path);
  }

  async function viaStream(
    srcs: TarSource[],
    opts: { bufferSize?: number; buffers?: number },
  ): Promise<Buffer> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    const w = new TarWriter(new StreamSink(out), opts);
    for (const s of srcs) await w.add(s);
    await w.finish();
    return Buffer.concat(chunks);
  }

  test("writes tar-stream's bytes: ustar, prefixes, PAX records, padding, end blocks", async () => {
    const list = entries();
    const want = await reference(list);
    for (const opts of [{}, { yieldBytes: 1, bufferSize: 2048 }, { bufferSize: 4096 }]) {
      assert.ok((await viaFile(sources(list), opts)).equals(want), `file writer ${JSON.stringify(opts)}`);
      assert.ok(
        (await viaFile(sources(list, true), opts)).equals(want),
        `file writer, chunked ${JSON.stringify(opts)}`,
      );
    }
    for (const opts of [{}, { bufferSize: 1024, buffers: 2 }, { bufferSize: 3000, buffers: 3 }]) {
      assert.ok((await viaStream(sources(list), opts)).equals(want), `stream writer ${JSON.stringify(opts)}`);
      assert.ok(
        (await viaStream(sources(list, true), opts)).equals(want),
        `stream writer, chunked ${JSON.stringify(opts)}`,
      );
    }
    // The reference reads back as the entries written.
    const back: string[] = [];
    const ex = tar.extract();
    const reading = (async () => {
      for await (const e of ex) {
        back.push(e.header.name);
        e.resume();
      }
    })();
    ex.end(want);
    await reading;
    assert.deepEqual(
      back,
      CASES.map((c) => c.name),
    );
  });

  test("a body shorter or longer than its entry fails the archive", async () => {
    const short: TarSource = {
      entry: { name: "s", size: 10, mtime: MTIME },
      open: async () => bufferBody(Buffer.alloc(9)),
    };
    const long: TarSource = {
      entry: { name: "l", size: 10, mtime: MTIME },
      open: async () => bufferBody(Buffer.alloc(11)),
    };
    for (const bad of [short, long]) {
      await assert.rejects(viaFile([...sources(entries().slice(0, 2)), bad], {}), /tar entry/);
      await assert.rejects(viaStream([bad], {}), /tar entry/);
    }
  });
});
