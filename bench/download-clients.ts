/**
 * For bench/serve.ts: N clients download URL at once, each over its own
 * connection, bodies discarded. Prints one JSON line: {ok, failed, bytes, ms}.
 * Usage: download-clients.ts URL N
 */
import { Agent, get } from "node:http";

const [url, n] = [process.argv[2]!, Number(process.argv[3] ?? 64)];
const agent = new Agent({ keepAlive: false, maxSockets: n });
const started = performance.now();
let bytes = 0;
const one = () =>
  new Promise<boolean>((resolve) => {
    get(url, { agent }, (res) => {
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("end", () => resolve(res.statusCode === 200));
      res.on("error", () => resolve(false));
    }).on("error", () => resolve(false));
  });
const results = await Promise.all(Array.from({ length: n }, one));
const ok = results.filter(Boolean).length;
console.log(JSON.stringify({ ok, failed: n - ok, bytes, ms: Math.round(performance.now() - started) }));
