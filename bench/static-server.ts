/**
 * The baseline for bench/serve.ts: a plain node:http static file server over
 * a GOPROXY tree, the least any proxy could do. Usage: static-server.ts ROOT
 * (prints "listening on URL"). No caching headers, no validation.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize, sep } from "node:path";

const root = normalize(process.argv[2] ?? ".");
const types: Record<string, string> = {
  ".info": "application/json",
  ".mod": "text/plain; charset=utf-8",
  ".zip": "application/zip",
};

const server = createServer(async (req, res) => {
  let file: string;
  try {
    file = join(root, decodeURIComponent((req.url ?? "/").split("?")[0]!));
  } catch {
    res.writeHead(400).end("bad request\n");
    return;
  }
  if (!file.startsWith(root + sep)) {
    res.writeHead(404).end("not found\n");
    return;
  }
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) {
    res.writeHead(404).end("not found\n");
    return;
  }
  const ext = file.slice(file.lastIndexOf("."));
  res.writeHead(200, { "Content-Type": types[ext] ?? "text/plain", "Content-Length": st.size });
  createReadStream(file).pipe(res);
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
