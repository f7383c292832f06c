/**
 * `goark verify`'s check of goark's own checksum database (a VerifyHook):
 * - the log's consistency: the signed head verifies with the store's key,
 *   its hash tiles are authenticated against the signed root, and every
 *   record in the data tiles hashes to its leaf;
 * - broken entries: every stored .zip and .mod of a version in the log must
 *   still hash to what the log records (what clients were told). A stored
 *   artefact that does not is a problem and, unless --dry-run, is removed so
 *   that a connected goark fetches it again (and checks it against the log).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { asGoarkError } from "../errors.ts";
import { hashGoMod, hashZip } from "../module/dirhash.ts";
import { modKey, zipKey } from "../storage/keys.ts";
import type { VerifyHook, VerifyHookContext } from "../store-ops/verify.ts";
import { SumdbFiles } from "./file-store.ts";
import { LogStore } from "./log-store.ts";
import { parseSignerKey, parseVerifierKey } from "./note.ts";
import { loadOrCreateKey } from "./own-db.ts";
import { formatTilePath, type Tile, type TileReader, tileHashReader } from "./tile.ts";
import { hashEqual, recordHash, storedHashIndex } from "./tlog.ts";

export interface SumdbVerifyHook extends VerifyHook {
  /** One line about the log after verify ran (undefined when there is no log). */
  summary?: string;
}

const CHUNK = 256;

/** The hook for the database kept in dir (`<store>/.sumdb`). */
export function sumdbVerifyHook(dir: string): SumdbVerifyHook {
  const hook: SumdbVerifyHook = {
    name: "checksum database",
    async verify(ctx) {
      const logKey = join(dir, "log", "latest");
      if (!existsSync(logKey)) return;
      const where = join(dir, "log");
      if (!existsSync(join(dir, "key"))) {
        ctx.problem({
          key: where,
          problem: "the checksum database has a log but no key",
          action: "reported",
        });
        return;
      }
      let log: LogStore;
      let name: string;
      try {
        const key = await loadOrCreateKey(dir);
        name = key.name;
        log = await LogStore.open({
          storage: new SumdbFiles(where),
          signer: parseSignerKey(key.signerKey),
          verifier: parseVerifierKey(key.verifierKey),
          prefix: "",
        });
      } catch (err) {
        ctx.problem({
          key: where,
          problem: `cannot open the log: ${asGoarkError(err).message}`,
          action: "reported",
        });
        return;
      }
      const n = log.head.n;
      const broken = await checkLog(log, where, ctx);
      let entries = 0;
      for (let id = 0; id < n && broken === 0; id++) {
        entries += await checkEntry(log, id, name, ctx);
      }
      hook.summary =
        broken > 0
          ? `checksum database ${name}: ${n} records, INCONSISTENT with its signed head`
          : `checksum database ${name}: ${n} records, consistent with its signed head; ${entries} stored artefacts differ from their record`;
    },
  };
  return hook;
}

/** Authenticates every hash tile against the signed root and every record against its leaf; returns the problem count. */
async function checkLog(log: LogStore, where: string, ctx: VerifyHookContext): Promise<number> {
  const tree = log.head;
  const reader: TileReader = {
    height: 8,
    readTiles: (tiles: readonly Tile[]) => Promise.all(tiles.map((t) => log.tile(formatTilePath(t)))),
  };
  const thr = tileHashReader(tree, reader);
  let problems = 0;
  for (let start = 0; start < tree.n; start += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, tree.n - start) }, (_, i) => start + i);
    let leaves: Uint8Array[];
    try {
      leaves = await thr.readHashes(ids.map((id) => storedHashIndex(0, id)));
    } catch (err) {
      ctx.problem({
        key: join(where, "tile"),
        problem: `hash tiles for records ${start}..${start + ids.length - 1} do not prove the signed head: ${asGoarkError(err).message}`,
        action: "reported",
      });
      return problems + 1;
    }
    for (const [i, id] of ids.entries()) {
      let ok: boolean;
      let why = "";
      try {
        ok = hashEqual(recordHash(await log.readRecord(id)), leaves[i]!);
      } catch (err) {
        ok = false;
        why = `: ${asGoarkError(err).message}`;
      }
      if (!ok) {
        problems++;
        ctx.problem({
          key: join(where, "tile/8/data"),
          problem: `record ${id} does not match its hash in the signed tree (rewritten?)${why}`,
          action: "reported",
        });
      }
    }
  }
  return problems;
}

/** Compares the stored .zip/.mod of record id with it; returns how many differ. */
async function checkEntry(log: LogStore, id: number, name: string, ctx: VerifyHookContext): Promise<number> {
  const text = Buffer.from(await log.readRecord(id)).toString("utf8");
  const lines = text.split("\n").filter((l) => l !== "");
  let bad = 0;
  for (const line of lines) {
    const [module, vers, want] = line.split(" ");
    if (module === undefined || vers === undefined || want === undefined) continue;
    const goMod = vers.endsWith("/go.mod");
    const version = goMod ? vers.slice(0, -"/go.mod".length) : vers;
    const key = goMod ? modKey(module, version) : zipKey(module, version);
    let got: string | undefined;
    try {
      if (goMod) {
        const data = await ctx.storage.getBytes(key);
        got = data === undefined ? undefined : hashGoMod(data);
      } else {
        const file = (await ctx.storage.stat(key)) ? ctx.storage.localPath?.(key) : undefined;
        got = file === undefined ? undefined : await hashZip(file);
      }
    } catch (err) {
      got = `unreadable (${asGoarkError(err).message})`;
    }
    if (got === undefined || got === want) continue;
    bad++;
    const p = {
      key,
      module,
      version,
      problem: `hashes to ${got}, but goark's checksum database ${name} records ${want} (record ${id}); clients will refuse it`,
      action: "reported" as "reported" | "deleted",
    };
    if (!ctx.dryRun) {
      await ctx.storage.delete(key);
      p.action = "deleted";
    }
    ctx.problem(p);
  }
  return bad;
}
