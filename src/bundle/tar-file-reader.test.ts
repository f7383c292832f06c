/**
 * The positional tar reader must see what tar-stream's extractor sees in the
 * archives goark writes (ustar names, prefixes, PAX long names, every size
 * around the 512-byte padding), and refuse, with one line naming the
 * bundle, what the streaming path refuses.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { bytes, TAR_CASES } from "../../test/helpers/tar-cases.ts";
import { GoarkError } from "../errors.ts";
import { TarFileReader } from "./tar-file-reader.ts";
import { MAX_TRAILING } from "./tar-guard.ts";

async function pack(
  list: {
    name: string;
    data: Buffer;
    type?: "file" | "symlink" | "directory";
    pax?: Record<string, string>;
  }[],
): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const e of list) {
    await new Promise<void>((resolve, reject) =>
      p.entry(
        {
          name: e.name,
          size: e.data.length,
          mode: 0o644,
          mtime: new Date(0),
          type: e.type ?? "file",
          ...(e.pax === undefined ? {} : { pax: e.pax }),
        },
        e.data,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Seen {
  name: string;
  type: string;
  data: Buffer;
}

/** Every entry as tar-stream's extractor reads it. */
async function viaTarStream(archive: Buffer): Promise<Seen[]> {
  const ex = tar.extract();
  Readable.from([archive]).pipe(ex);
  const out: Seen[] = [];
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.push({ name: e.header.name, type: e.header.type ?? "", data: Buffer.concat(chunks) });
  }
  return out;
}

describe("positional tar reader", () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-tarr-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Every entry as TarFileReader reads it, alternating readInto and stream. */
  async function viaFile(archive: Buffer): Promise<Seen[]> {
    const path = join(dir, `t${n++}.tar`);
    await writeFile(path, archive);
    const r = await TarFileReader.open(path, "b.tar");
    const out: Seen[] = [];
    try {
      for (let e = await r.next(); e !== undefined; e = await r.next()) {
        let data: Buffer;
        if (out.length % 2 === 0) {
          data = Buffer.alloc(e.header.size);
          await e.readInto(data);
        } else {
          const chunks: Buffer[] = [];
          for await (const c of e.stream()) chunks.push(c as Buffer);
          data = Buffer.concat(chunks);
        }
        out.push({ name: e.header.name, type: e.header.type, data });
      }
    } finally {
      await r.close();
    }
    return out;
  }

  async function refusal(archive: Buffer): Promise<string> {
    try {
      await viaFile(archive);
    } catch (err) {
      assert.ok(err instanceof GoarkError, String(err));
      assert.ok(!err.message.includes("\n"));
      assert.match(err.message, /^bundle b\.tar/);
      return err.message;
    }
    assert.fail("the archive was accepted");
  }

  test("reads what tar-stream reads: names, types and bytes", async () => {
    const archive = await pack([
      ...TAR_CASES.map((c, i) => ({ name: c.name, data: bytes(`e${i}`, c.size) })),
      { name: "dir", data: Buffer.alloc(0), type: "directory" as const },
    ]);
    const want = await viaTarStream(archive);
    assert.equal(want.length, TAR_CASES.length + 1);
    assert.deepEqual(await viaFile(archive), want);
  });

  test("refuses what the streaming path refuses, before reading an entry's data", async () => {
    const good = await pack([
      { name: "goark-manifest.json", data: bytes("m", 700) },
      { name: "x/@v/v1.0.0.zip", data: bytes("z", 3000) },
    ]);
    // Cut inside the second entry's data: refused when its header is read.
    assert.match(
      await refusal(good.subarray(0, 512 * 4 + 100)),
      /truncated \(it ends inside "x\/@v\/v1\.0\.0\.zip"/,
    );
    // Cut inside a header, and right after an entry (no end-of-archive blocks).
    assert.match(await refusal(good.subarray(0, 512 * 2 + 100)), /truncated/);
    assert.match(await refusal(good.subarray(0, 512 * 3)), /truncated/);
    // A header whose checksum does not match.
    const sum = Buffer.from(good);
    sum[10] = 0x41;
    assert.match(await refusal(sum), /checksum|not a goark bundle/);
    // Not ustar (an old-style header with a valid checksum).
    const v7 = Buffer.from(good);
    v7.fill(0, 257, 265);
    let s = 8 * 0x20;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) s += v7[i]!;
    v7.write(`${s.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    v7[154] = 0x20;
    v7[155] = 0;
    assert.match(await refusal(v7), /not a goark bundle/);
    // Padding after an entry that is not zero.
    const pad = Buffer.from(good);
    pad[512 + 700 + 5] = 1;
    assert.match(await refusal(pad), /non-zero padding/);
    // Junk after the end-of-archive blocks; too many trailing zeros.
    assert.match(await refusal(Buffer.concat([good, Buffer.from("junk")])), /after the end-of-archive/);
    assert.match(
      await refusal(Buffer.concat([good, Buffer.alloc(MAX_TRAILING + 512)])),
      /bytes after the end of the tar archive/,
    );
    // PAX records goark never writes: global headers, and sizes that override the header's.
    assert.match(
      await refusal(await pack([{ name: "a", data: bytes("a", 10), pax: { size: "99" } }])),
      /pax header record "size"/,
    );
    const global = await pack([{ name: "a", data: bytes("a", 10) }]);
    global[156] = "g".charCodeAt(0);
    assert.match(await refusal(global), /global pax headers|checksum|not a goark bundle/);
  });
});
