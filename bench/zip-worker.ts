/**
 * The goark side of `npm run bench:zip`, run in a child process so that its
 * peak RSS is its own: createFromDir (h1 taken while the zip is written),
 * optionally followed by hashZip of the result (the two passes Go makes).
 * Prints one JSON line: {ms, h1, maxRssKiB[, rehashH1]}.
 */
import { hashZip } from "../src/module/dirhash.ts";
import { createFromDir } from "../src/module/zip.ts";

const [dir, modulePath, version, out, mode] = process.argv.slice(2);
if (!dir || !modulePath || !version || !out) {
  process.stderr.write("usage: zip-worker DIR MODULE VERSION OUT.zip [rehash]\n");
  process.exit(2);
}
const start = performance.now();
const made = await createFromDir(out, modulePath, version, dir);
const rehashH1 = mode === "rehash" ? await hashZip(out) : undefined;
const ms = performance.now() - start;
process.stdout.write(
  JSON.stringify({ ms, h1: made.h1, maxRssKiB: process.resourceUsage().maxRSS, rehashH1 }) + "\n",
);
