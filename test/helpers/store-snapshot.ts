/**
 * Test helpers for store-side commands: a byte-exact snapshot of a store's
 * directory tree (to prove an operation changed nothing), and a tar writer
 * for hand-made (hostile) bundles.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import tar from "tar-stream";

/** relative path → sha256 of every file under root, dot-directories (.tmp, .quarantine) included when asked. */
export async function snapshotTree(
  root: string,
  opts: { includeDot?: boolean } = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(rel: string): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(".") && !opts.includeDot) continue;
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(r);
      else
        out.set(
          r,
          createHash("sha256")
            .update(await readFile(join(root, r)))
            .digest("hex"),
        );
    }
  }
  await walk("");
  return out;
}

/** Files left in a directory (e.g. the store's .tmp staging area). */
export async function filesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

export interface RawTarEntry {
  name: string;
  data: Buffer | string;
  type?: "file" | "symlink" | "directory";
  /** Declared size, when it should differ from the data (only for "file" with pax-less names). */
  linkname?: string;
}

/** A tar built from the given entries as is: any name, any order. */
export async function buildTar(entries: RawTarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const data = typeof e.data === "string" ? Buffer.from(e.data) : e.data;
    await new Promise<void>((resolve, reject) => {
      const header =
        e.type === "symlink"
          ? {
              name: e.name,
              type: "symlink" as const,
              linkname: e.linkname ?? "/etc/passwd",
              mtime: new Date(0),
            }
          : e.type === "directory"
            ? { name: e.name, type: "directory" as const, mtime: new Date(0) }
            : { name: e.name, size: data.length, mtime: new Date(0) };
      const body = e.type === undefined || e.type === "file" ? data : Buffer.alloc(0);
      pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The entries of a tar (name and data), for rebuilding altered bundles. */
export async function readTar(data: Buffer): Promise<{ name: string; data: Buffer }[]> {
  const extract = tar.extract();
  const out: { name: string; data: Buffer }[] = [];
  const feeding = (async () => {
    extract.end(data);
  })();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ name: entry.header.name, data: Buffer.concat(chunks) });
  }
  await feeding;
  return out;
}
