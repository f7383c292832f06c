import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { type Oracle, startOracle } from "../../test/helpers/oracle.ts";
import { writeTestZip } from "../../test/helpers/test-zip.ts";
import { InvalidPathError, ZipError } from "../errors.ts";
import { hash1, hashBytesFiles, hashDir, hashGoMod, hashZip } from "./dirhash.ts";

let oracle: Oracle;
let scratch: string;
let seq = 0;
before(async () => {
  oracle = await startOracle();
  scratch = await mkdtemp(join(tmpdir(), "goark-dirhash-test-"));
});
after(async () => {
  await oracle.close();
  await rm(scratch, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = join(scratch, String(seq++));
  await mkdir(d, { recursive: true });
  return d;
}

async function goHash1(names: string[], contents: string[]): Promise<string> {
  const a = await oracle.ask<string>("dirhash.Hash1", [names, contents]);
  assert.equal(a.err, undefined);
  return a.v!;
}

describe("hashGoMod", () => {
  const mods = [
    "",
    "module example.com/m\n",
    "module example.com/m\n\ngo 1.19\n",
    "module example.com/m\r\n\r\nrequire (\n\tgolang.org/x/mod v0.7.0\n)\n",
    'module "example.com/ünï"\n',
  ];
  for (const m of mods) {
    test(JSON.stringify(m), async () => {
      const go = await oracle.ask<string>("dirhash.HashGoMod", [m]);
      assert.equal(hashGoMod(m), go.v);
      assert.equal(hashGoMod(Buffer.from(m)), go.v);
    });
  }
});

describe("hash1", () => {
  const sets: [string[], string[]][] = [
    [[], []],
    [["a"], ["x"]],
    [
      ["b", "a", "A", "a/b", "a.b", "a-b"],
      ["1", "2", "3", "4", "5", "6"],
    ],
    // UTF-16 order differs from Go's byte order for these two.
    [
      ["\uff61.go", "\u{1f600}.go", "z.go", "é.go"],
      ["1", "2", "3", "4"],
    ],
  ];
  for (const [names, contents] of sets) {
    test(names.join(" ") || "(no files)", async () => {
      const want = await goHash1(names, contents);
      const byName = new Map(names.map((n, i) => [n, contents[i]!]));
      assert.equal(await hash1(names, (n) => Readable.from([Buffer.from(byName.get(n)!)])), want);
      assert.equal(hashBytesFiles(names.map((n, i) => ({ name: n, data: contents[i]! }))), want);
    });
  }

  test("a name with a newline is refused before anything is opened", async () => {
    let opened = 0;
    await assert.rejects(
      hash1(["a", "b\nc"], () => {
        opened++;
        return Readable.from([]);
      }),
      InvalidPathError,
    );
    assert.equal(opened, 0);
    const go = await oracle.ask("dirhash.Hash1", [["b\nc"], ["x"]]);
    assert.match(go.err!, /newline/);
  });

  test("an open error is passed on", async () => {
    await assert.rejects(
      hash1(["a"], () => {
        throw new ZipError("nope");
      }),
      /nope/,
    );
  });
});

describe("hashDir", () => {
  test("a tree with nested directories, odd names and a symbolic link", async () => {
    const dir = await tempDir();
    const files: Record<string, string> = {
      "go.mod": "module example.com/m\n",
      "a/b/c.go": "package c\n",
      "a.go": "package a\n",
      "ü/x.txt": "x",
      "A/upper.txt": "u",
      "empty.txt": "",
    };
    for (const [n, d] of Object.entries(files)) {
      await mkdir(dirname(join(dir, n)), { recursive: true });
      await writeFile(join(dir, n), d);
    }
    await symlink("a.go", join(dir, "link.go"));
    await mkdir(join(dir, "emptydir"));
    for (const prefix of ["example.com/m@v1.0.0", "example.com/m@v1.0.0/", ""]) {
      const go = await oracle.ask<string>("dirhash.HashDir", [dir, prefix]);
      assert.equal(await hashDir(dir, prefix), go.v, `prefix ${JSON.stringify(prefix)}`);
    }
  });

  test("a name that is not UTF-8 is hashed byte for byte", async () => {
    const dir = await tempDir();
    await writeFile(Buffer.concat([Buffer.from(dir + "/x"), Buffer.from([0xfe]), Buffer.from(".go")]), "x");
    const go = await oracle.ask<string>("dirhash.HashDir", [dir, "m@v1.0.0"]);
    assert.equal(await hashDir(dir, "m@v1.0.0"), go.v);
  });
});

describe("hashZip", () => {
  test("directory entries, duplicates and stored entries count as Go counts them", async () => {
    const zip = join(await tempDir(), "z.zip");
    await writeTestZip(zip, [
      { name: "m@v1.0.0/", data: "" },
      { name: "m@v1.0.0/a.go", data: "package a\n" },
      { name: "m@v1.0.0/a.go", data: "package b\n" },
      { name: "m@v1.0.0/s.txt", data: "stored".repeat(50), method: 0 },
      { name: Buffer.from([0x6d, 0x2f, 0xff]), data: "raw" },
    ]);
    const go = await oracle.ask<string>("dirhash.HashZip", [zip]);
    assert.equal(await hashZip(zip), go.v);
  });

  test("a bad CRC-32 fails, as in Go", async () => {
    const zip = join(await tempDir(), "bad.zip");
    await writeTestZip(zip, [{ name: "m@v1.0.0/a.go", data: "package a\n", crc: 7 }]);
    const go = await oracle.ask<string>("dirhash.HashZip", [zip]);
    assert.ok(go.err !== undefined);
    await assert.rejects(hashZip(zip), ZipError);
  });

  test("not a zip fails with a ZipError", async () => {
    const p = join(await tempDir(), "junk.zip");
    await writeFile(p, "junk");
    await assert.rejects(hashZip(p), ZipError);
  });
});

test("hashDir of a missing directory is a typed error", async () => {
  const { StorageError } = await import("../errors.ts");
  await assert.rejects(hashDir(join(scratch, "missing"), "m@v1.0.0"), StorageError);
});
