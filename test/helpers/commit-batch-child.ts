/**
 * A child process for the disk store's batch-commit test where syncfs cannot
 * be used (run with a PATH that has no `sync`): commits ROOT's batch of
 * COUNT small files through commitStagedMany with syncfs batches on, and
 * prints one JSON line with each outcome and the bytes read back.
 * Usage: commit-batch-child.ts ROOT COUNT
 */
import { finished } from "node:stream/promises";
import { DiskStorage } from "../../src/storage/disk.ts";
import { infoKey } from "../../src/storage/keys.ts";
import { syncFileSystem } from "../../src/storage/syncfs.ts";

const [root, count] = process.argv.slice(2);
const storage = await DiskStorage.open({ root: root!, syncfsBatch: 1 });
const items = [];
for (let i = 0; i < Number(count); i++) {
  const staged = await storage.stage();
  const out = staged.createWriteStream();
  out.end(Buffer.from(`{"Version":"v1.0.${i}"}`));
  await finished(out);
  items.push({ key: infoKey("example.com/batch", `v1.0.${i}`), staged, meta: { origin: "test" } });
}
const outcomes = await storage.commitStagedMany(items);
const read = [];
for (const it of items) read.push((await storage.getBytes(it.key))?.toString());
await storage.close();
process.stdout.write(
  `${JSON.stringify({ syncfs: await syncFileSystem(root!), ok: outcomes.map((o) => o.ok), read })}\n`,
);
