/**
 * The "h1:" content hash of go.sum and the checksum database
 * (golang.org/x/mod/sumdb/dirhash Hash1): SHA-256 over the sorted lines
 * "<hex sha256 of file>  <name>\n", base64-encoded. Files are streamed.
 */

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { GoarkError, InvalidPathError, StorageError, ZipError } from "../errors.ts";
import { decodeGoBytes, encodeGoString } from "./go-bytes.ts";
import { closeZip, digestEntries, openZip, readCentralDirectory } from "./zip-reader.ts";

/** One file of a hash: its name (string, or the exact bytes) and the SHA-256 of its content. */
export interface FileSum {
  name: string | Uint8Array;
  sha256: Uint8Array;
}

/** How many entries hashZip accepts; Go has no limit, so this one is generous. */
const HASH_ZIP_MAX_ENTRIES = 1 << 20;

function nameBytes(name: string | Uint8Array): Buffer {
  return typeof name === "string" ? encodeGoString(name) : Buffer.from(name);
}

/** Hash1 from per-file digests already taken, in any order (sorted here by name bytes, as Go sorts). */
export function hash1FromSums(files: FileSum[]): string {
  const lines = files.map((f) => ({ name: nameBytes(f.name), sha256: f.sha256 }));
  for (const l of lines) {
    if (l.name.includes(0x0a)) {
      throw new InvalidPathError(
        `dirhash: file name ${JSON.stringify(decodeGoBytes(l.name))} contains a newline, which h1 cannot hash`,
        { path: decodeGoBytes(l.name) },
      );
    }
  }
  lines.sort((a, b) => Buffer.compare(a.name, b.name));
  const h = createHash("sha256");
  const sep = Buffer.from("  ");
  const nl = Buffer.from("\n");
  for (const l of lines) {
    h.update(Buffer.from(l.sha256).toString("hex"));
    h.update(sep);
    h.update(l.name);
    h.update(nl);
  }
  return "h1:" + h.digest("base64");
}

/** Any failure as a typed error naming what was being read. */
function readError(what: string, err: unknown): GoarkError {
  if (err instanceof GoarkError) return err;
  return new StorageError(`reading ${what}: ${err instanceof Error ? err.message : String(err)}`, {
    path: what,
    cause: err,
  });
}

async function sha256Stream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const h = createHash("sha256");
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest();
}

/** Hash1 over named files, each read once through open (Go's dirhash.Hash1). */
export async function hash1(
  names: string[],
  open: (name: string) => Promise<NodeJS.ReadableStream> | NodeJS.ReadableStream,
): Promise<string> {
  // Reject newlines before opening anything, as Go does.
  for (const n of names) {
    if (n.includes("\n")) hash1FromSums([{ name: n, sha256: Buffer.alloc(32) }]);
  }
  const sorted = [...names].sort((a, b) => Buffer.compare(encodeGoString(a), encodeGoString(b)));
  const sums: FileSum[] = [];
  for (const name of sorted) {
    try {
      sums.push({ name, sha256: await sha256Stream(await open(name)) });
    } catch (err) {
      throw readError(name, err);
    }
  }
  return hash1FromSums(sums);
}

/** Hash1 over in-memory files (tests, synthesized go.mod files). */
export function hashBytesFiles(files: { name: string; data: string | Uint8Array }[]): string {
  return hash1FromSums(
    files.map((f) => ({ name: f.name, sha256: createHash("sha256").update(f.data).digest() })),
  );
}

/** The go.sum hash of a .mod file: Hash1 of the single file named "go.mod". */
export function hashGoMod(data: string | Uint8Array): string {
  return hashBytesFiles([{ name: "go.mod", data }]);
}

/**
 * Go's dirhash.DirFiles: every non-directory under dir (symbolic links
 * included, read through), named path.Join(prefix, relative path).
 * Names are read as bytes so that odd names hash exactly as Go hashes them.
 */
async function dirSums(dir: string, prefix: string): Promise<FileSum[]> {
  const sums: FileSum[] = [];
  const prefixBytes = encodeGoString(prefix.replace(/\/+$/, ""));
  const walk = async (abs: Buffer, rel: Buffer | undefined): Promise<void> => {
    const names = await readdir(abs, { encoding: "buffer" });
    names.sort(Buffer.compare);
    for (const n of names) {
      const childAbs = Buffer.concat([abs, Buffer.from("/"), n]);
      const childRel = rel ? Buffer.concat([rel, Buffer.from("/"), n]) : n;
      const st = await lstat(childAbs);
      if (st.isDirectory()) {
        await walk(childAbs, childRel);
        continue;
      }
      const name =
        prefixBytes.length > 0 ? Buffer.concat([prefixBytes, Buffer.from("/"), childRel]) : childRel;
      sums.push({ name, sha256: await sha256Stream(createReadStream(childAbs, { highWaterMark: 1 << 20 })) });
    }
  };
  await walk(Buffer.from(dir.replace(/\/+$/, "") || "/"), undefined);
  return sums;
}

/** Go's dirhash.HashDir(dir, prefix, Hash1), e.g. prefix "example.com/m@v1.0.0". */
export async function hashDir(dir: string, prefix: string): Promise<string> {
  let sums: FileSum[];
  try {
    sums = await dirSums(dir, prefix);
  } catch (err) {
    throw readError(dir, err);
  }
  return hash1FromSums(sums);
}

/**
 * Go's dirhash.HashZip: every entry (directory entries too) under its full
 * name. Entries are streamed one at a time, CRC-32 checked as Go checks them.
 */
export async function hashZip(zipFile: string): Promise<string> {
  const z = await openZip(zipFile);
  try {
    const entries = await readCentralDirectory(z, HASH_ZIP_MAX_ENTRIES);
    const digests = await digestEntries(z, entries);
    // Go hashes a duplicated name once per occurrence, each time reading the last entry of that name.
    const last = new Map<string, Uint8Array>();
    entries.forEach((e, i) => {
      last.set(e.nameRaw.toString("latin1"), digests[i]!);
    });
    return hash1FromSums(
      entries.map((e) => ({ name: e.nameRaw, sha256: last.get(e.nameRaw.toString("latin1"))! })),
    );
  } catch (err) {
    if (err instanceof ZipError || err instanceof InvalidPathError) throw err;
    throw new ZipError(`hashing ${zipFile}: ${err instanceof Error ? err.message : String(err)}`, {
      path: zipFile,
      cause: err,
    });
  } finally {
    closeZip(z);
  }
}
