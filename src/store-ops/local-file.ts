/**
 * A stored artefact as a local file, for the checks that need random access
 * (zip reading): the store's own file when it keeps one, else a staged copy
 * removed afterwards.
 */
import { pipeline } from "node:stream/promises";
import { StorageError } from "../errors.ts";
import { hashZip } from "../module/dirhash.ts";
import type { Storage } from "../storage/storage.ts";

export async function withLocalFile<T>(
  storage: Storage,
  key: string,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const local = storage.localPath?.(key);
  if (local !== undefined) return fn(local);
  const body = await storage.openRead(key);
  if (body === undefined) throw new StorageError(`${key} is not in the store`, { path: key });
  const staged = await storage.stage();
  try {
    await pipeline(body, staged.createWriteStream());
    return await fn(staged.path);
  } finally {
    await staged.dispose();
  }
}

/** The go.sum hash of a stored zip (for records written without one). */
export function zipH1Of(storage: Storage, key: string): Promise<string> {
  return withLocalFile(storage, key, (path) => hashZip(path));
}
