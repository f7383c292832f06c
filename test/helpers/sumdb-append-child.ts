/**
 * A child process for the crash test of goark's own checksum database: opens
 * the database in the directory given as argv[2] (taking the writer lock)
 * and records module versions as fast as it can, eight at a time, printing
 * "ok <n>" after each group is signed, until it is killed.
 */
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { Storage } from "../../src/storage/storage.ts";
import { OwnSumdb } from "../../src/sumdb/own-db.ts";

/** A store that claims every version is there, with hashes derived from its key. */
export function fakeStore(): Storage {
  const h1 = (key: string) => `h1:${createHash("sha256").update(key).digest("base64")}`;
  return {
    async stat(key: string) {
      return { size: 1, meta: { sha256: "", size: 1, origin: "test", fetchedAt: 0, h1: h1(key) } };
    },
  } as unknown as Storage;
}

export function crashModule(i: number): [string, string] {
  return [`example.com/crash/m${i}`, `v1.0.${i % 3}`];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const db = await OwnSumdb.open({ dir: process.argv[2]!, storage: fakeStore() });
  if (db.readOnly !== undefined) throw new Error(`child is read-only: ${db.readOnly}`);
  for (let i = 0; ; i += 8) {
    const ids = await Promise.all(Array.from({ length: 8 }, (_, k) => db.record(...crashModule(i + k))));
    if (ids.some((id) => id === undefined)) throw new Error("not recorded");
    process.stdout.write(`ok ${i + 8}\n`);
  }
}
