/**
 * A bundle file that ends inside an entry (a copy cut short): `goark import`
 * reads it from disk in chunks, and wherever the cut falls — in a zip, in a
 * go.mod, in an .info — the import fails promptly with one line that names
 * the bundle and says it is truncated, leaving the store's bytes (staging
 * area and checksum files included) as they were. It used to wait forever
 * when the tar reader dropped the entry before it was being copied.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exportBundle } from "../src/bundle/export.ts";
import { importBundle } from "../src/bundle/import.ts";
import { GoarkError } from "../src/errors.ts";
import { DiskStorage } from "../src/storage/disk.ts";
import { snapshotTree } from "./helpers/store-snapshot.ts";
import { storeVersion } from "./helpers/stored-module.ts";
import { tarEntries } from "./helpers/tar-offsets.ts";

const LIMIT_MS = 20_000;

describe("import of a bundle cut inside an entry", () => {
  let tmp: string;
  let good: Buffer;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "goark-cut-entry-"));
    const src = await DiskStorage.open({ root: join(tmp, "src") });
    // Incompressible content, so the zips span several reads of the file.
    for (let i = 0; i < 3; i++) {
      await storeVersion(src, {
        module: `example.com/cut/m${i}`,
        version: "v1.0.0",
        files: {
          "go.mod": `module example.com/cut/m${i}\n\ngo 1.19\n`,
          "m.go": `package m\n\nconst Blob = "${randomBytes(150_000).toString("base64")}"\n`,
        },
      });
    }
    await exportBundle(src, join(tmp, "good.tar"), { select: { kind: "all" } });
    await src.close();
    good = await readFile(join(tmp, "good.tar"));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test("every cut is refused with one line naming the bundle; the store is unchanged", async () => {
    const entries = tarEntries(good).filter((e) => e.size > 2);
    assert.ok(
      entries.some((e) => e.name.endsWith(".zip") && e.size > 100_000),
      "zips span several reads",
    );
    const cuts = entries.flatMap((e) => [
      e.offset + 1,
      e.offset + Math.floor(e.size / 2),
      e.offset + e.size - 1,
    ]);
    const store = await DiskStorage.open({ root: join(tmp, "target") });
    await storeVersion(store, { module: "example.com/existing", version: "v1.0.0" });
    const before = await snapshotTree(store.root, { includeDot: true });
    try {
      for (const cut of cuts) {
        const file = join(tmp, "cut.tar");
        await writeFile(file, good.subarray(0, cut));
        // A plain tar file is read by position; a stream goes through the streaming tar reader.
        for (const via of ["file", "stream"] as const) {
          const input = via === "file" ? file : createReadStream(file);
          let timer: NodeJS.Timeout | undefined;
          const outcome = await Promise.race([
            importBundle(store, input, { name: "cut.tar" }).then(
              () => "imported",
              (err: unknown) => err,
            ),
            new Promise((r) => {
              timer = setTimeout(() => r("hung"), LIMIT_MS);
            }),
          ]);
          clearTimeout(timer);
          const at = `cut at ${cut}, read as a ${via}`;
          assert.ok(outcome instanceof GoarkError, `${at}: ${String(outcome)}`);
          assert.match(outcome.message, /^bundle cut\.tar is truncated/, at);
          assert.ok(!outcome.message.includes("\n"));
          assert.deepEqual(await snapshotTree(store.root, { includeDot: true }), before, at);
        }
      }
    } finally {
      await store.close();
    }
  });
});
