/** sendFile: exact bytes through reused buffers; a client leaving or a short file rejects, never hangs. */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, get, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sendFile } from "./send-file.ts";

describe("sendFile", () => {
  let dir: string;
  let file: string;
  let data: Buffer;
  let server: Server;
  let port = 0;
  let outcome: Promise<string>;
  let claimedSize = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-sendfile-"));
    file = join(dir, "f.bin");
    data = randomBytes((3 << 20) + 12_345);
    await writeFile(file, data);
    server = createServer((_req, res) => {
      outcome = sendFile(res, file, claimedSize, 64 << 10, () =>
        res.writeHead(200, { "Content-Length": claimedSize }),
      ).then(
        () => "sent",
        (err: Error) => {
          res.destroy();
          return `failed: ${err.message}`;
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function fetchAll(abortAfter?: number): Promise<{ bytes: Buffer; aborted: boolean }> {
    return new Promise((resolve) => {
      get({ host: "127.0.0.1", port, path: "/" }, (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          n += c.length;
          if (abortAfter !== undefined && n >= abortAfter) res.destroy();
        });
        res.on("end", () => resolve({ bytes: Buffer.concat(chunks), aborted: false }));
        res.on("close", () => resolve({ bytes: Buffer.concat(chunks), aborted: true }));
      }).on("error", () => resolve({ bytes: Buffer.alloc(0), aborted: true }));
    });
  }

  test("sends the file's exact bytes, twice in a row (buffers reused)", async () => {
    claimedSize = data.length;
    for (let i = 0; i < 2; i++) {
      const got = await fetchAll();
      assert.equal(got.bytes.length, data.length);
      assert.equal(
        createHash("sha256").update(got.bytes).digest("hex"),
        createHash("sha256").update(data).digest("hex"),
      );
      assert.equal(await outcome, "sent");
    }
  });

  test("a client that goes away mid-body makes it reject", async () => {
    claimedSize = data.length;
    await fetchAll(256 << 10);
    assert.match(await outcome, /^failed: /);
  });

  test("a file shorter than its recorded size rejects", async () => {
    claimedSize = data.length + 1000;
    const got = await fetchAll();
    assert.ok(got.bytes.length < claimedSize);
    assert.match(await outcome, /shorter than its recorded/);
  });
});
