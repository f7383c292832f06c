/**
 * goark's own checksum database: an append-only log (LogStore) holding the
 * go.sum record of every module version goark stores — public ones after
 * they were verified upstream, private ones as fetched — served at
 * `/sumdb/<name>/{supported,latest,lookup/…,tile/…}` so that the go command
 * verifies everything it downloads through goark, private and offline
 * modules included, with `GOSUMDB="<verifier key> <goark>/sumdb/<name>"`.
 *
 * Files, under `<store>/.sumdb/` (ignored by the artefact store, so never in
 * bundles, prune or ls):
 *   key    the signer key, created on first use, mode 0600, never logged
 *   lock   the writer's pid and host: one process appends, others read
 *   log/   the log (see log-store.ts; crash-safe, the signed head is the commit point)
 *
 * One writer: the process holding the lock appends. Another process serving
 * the same store (or a lock left by a live process) gets the log read-only:
 * it serves what the writer signed, re-reading the head as it moves, and
 * says so instead of appending.
 */
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { parseSumDb } from "../config/go-env-syntax.ts";
import { ConfigError, GoarkError, NotFoundError, StorageError } from "../errors.ts";
import { hashGoMod, hashZip } from "../module/dirhash.ts";
import { modKey, zipKey } from "../storage/keys.ts";
import type { Storage } from "../storage/storage.ts";
import { errCode, processAlive } from "../sys-errors.ts";
import { SumdbFiles, syncDir } from "./file-store.ts";
import { LogStore, TILE_HEIGHT } from "./log-store.ts";
import { generateKey, parseSignerKey, parseVerifierKey, type Signer, type Verifier } from "./note.ts";
import { formatTilePath, newTiles } from "./tile.ts";
import {
  IMMUTABLE,
  OCTETS,
  type ProvenHashes,
  parseLookupPath,
  parseTileRoute,
  type SumdbLogger,
  type SumdbResponse,
  TEXT,
} from "./upstream-db.ts";

export const SUMDB_DIR = ".sumdb";
const KEY_FILE = "key";
const LOCK_FILE = "lock";

/** goark.<this host>, reduced to what a database name (host[/path]) may hold. */
export function defaultSumdbName(host = hostname()): string {
  const label = host
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .replace(/\.{2,}/g, ".");
  return label === "" ? "goark.local" : `goark.${label}`;
}

/** Why name cannot be a checksum database's name, or undefined. */
export function sumdbNameProblem(name: string): string | undefined {
  let vkey: string;
  try {
    vkey = generateKey(name, new Uint8Array(32)).verifierKey;
  } catch (err) {
    return (err as Error).message;
  }
  const parsed = parseSumDb(vkey);
  return typeof parsed === "string" ? parsed : undefined;
}

export interface SumdbKey {
  name: string;
  signerKey: string;
  verifierKey: string;
  /** True when this call created the key. */
  created: boolean;
}

/**
 * The store's signer key, created (mode 0600) when absent. `name` is the
 * configured database name ("" = keep the key's, or goark.<host> for a new
 * one); a stored key for another name is a ConfigError, since clients and
 * the log's signed heads are bound to it.
 */
export async function loadOrCreateKey(dir: string, name = ""): Promise<SumdbKey> {
  const file = join(dir, KEY_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let text: string | undefined;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (errCode(err) !== "ENOENT") {
        throw new StorageError(`reading the checksum database key ${file}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    if (text !== undefined) {
      const signerKey = text.trim();
      let signer: Signer;
      try {
        signer = parseSignerKey(signerKey);
      } catch (err) {
        // The message of a key parse error never includes the key itself.
        throw new ConfigError(
          `checksum database key ${file} is not a signer key: ${(err as GoarkError).message}`,
        );
      }
      if (name !== "" && name !== signer.name) {
        throw new ConfigError(
          `checksum database key ${file} is for ${signer.name}, but the configured name is ${name}; ` +
            `keep the name (clients and the log are bound to it) or move ${dir} away to start a new database`,
        );
      }
      const mode = (await stat(file)).mode & 0o777;
      if ((mode & 0o077) !== 0) await chmod(file, 0o600);
      return { name: signer.name, signerKey, verifierKey: verifierOf(signerKey), created: false };
    }
    const newName = name === "" ? defaultSumdbName() : name;
    const problem = sumdbNameProblem(newName);
    if (problem !== undefined) throw new ConfigError(`checksum database name ${newName}: ${problem}`);
    const keys = generateKey(newName);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.key-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      const fh = await open(tmp, "wx", 0o600);
      try {
        await fh.writeFile(`${keys.signerKey}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      // link fails if another process created the key meanwhile: then use theirs.
      await link(tmp, file);
      await syncDir(dir);
      return { name: newName, signerKey: keys.signerKey, verifierKey: keys.verifierKey, created: true };
    } catch (err) {
      if (errCode(err) !== "EEXIST") {
        throw new StorageError(`creating the checksum database key ${file}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    } finally {
      await rm(tmp, { force: true });
    }
  }
  throw new StorageError(`cannot create or read the checksum database key ${file}`);
}

function verifierOf(signerKey: string): string {
  // PRIVATE+KEY+<name>+<hash>+<base64(alg ‖ seed)> → the same name and seed's public key.
  const parts = signerKey.split("+");
  const seed = Buffer.from(parts.slice(4).join("+"), "base64").subarray(1);
  return generateKey(parts[2]!, seed).verifierKey;
}

interface LockInfo {
  pid: number;
  host: string;
}

/**
 * Takes the writer lock; returns undefined when taken, else who holds it. A
 * lock of a dead process on this host is stale and taken over.
 */
async function takeLock(dir: string): Promise<LockInfo | undefined> {
  const file = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, `${JSON.stringify(me)}\n`, { flag: "wx", mode: 0o644 });
      return undefined;
    } catch (err) {
      if (errCode(err) !== "EEXIST") {
        throw new StorageError(`creating the lock ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    let holder: LockInfo | undefined;
    try {
      holder = JSON.parse(await readFile(file, "utf8")) as LockInfo;
    } catch {
      holder = undefined; // unreadable or half-written: a crashed writer's
    }
    if (holder !== undefined && (holder.host !== me.host || processAlive(holder.pid))) return holder;
    await rm(file, { force: true });
  }
  throw new StorageError(`cannot take the checksum database lock ${file}`);
}

/** goark's own log at one signed head (see OwnSumdb.snapshot). */
export interface OwnLogSnapshot {
  name: string;
  /** The tree size the head signs. */
  size: number;
  /** The signed head, as `/latest` serves it. */
  latest: Uint8Array;
  /** Every hash tile of the tree, as served paths (tile/8/L/NNN[.p/W]). */
  tiles: string[];
  /** The `/lookup/…` answer for module@version, or undefined when the log does not hold it. */
  lookup(module: string, version: string): Promise<Uint8Array | undefined>;
  tile(path: string): Promise<Uint8Array>;
}

/** Width of tile (level, n) in a tree of size. */
function tileWidth(level: number, n: number, size: number): number {
  const full = 2 ** TILE_HEIGHT;
  return Math.min(full, Math.floor(size / full ** level) - n * full);
}

export interface OwnSumdbOptions {
  /** `<store>/.sumdb`. */
  dir: string;
  /** Configured name; "" keeps the stored key's (or picks goark.<host> for a new one). */
  name?: string;
  /** The artefact store: the records are built from its .zip/.mod hashes. */
  storage: Storage;
  /** Makes module@version's zip stored (fetching and verifying it if needed): the proxy core's zip(). */
  fill?: (module: string, version: string) => Promise<unknown>;
  logger?: SumdbLogger;
  /** Open read-only even if the lock is free. */
  readOnly?: boolean;
}

export class OwnSumdb {
  readonly name: string;
  readonly verifierKey: string;
  /** Why this process does not append (another writer), or undefined for the writer. */
  readonly readOnly: string | undefined;
  readonly #dir: string;
  readonly #files: SumdbFiles;
  readonly #signer: Signer;
  readonly #verifier: Verifier;
  readonly #storage: Storage;
  #fill: OwnSumdbOptions["fill"];
  #store: LogStore | undefined;
  /** mtime of log/latest when #store was (re)opened (read-only mode follows the writer). */
  #seen: number | undefined;
  #locked = false;

  private constructor(opts: OwnSumdbOptions, key: SumdbKey, readOnly: string | undefined) {
    this.name = key.name;
    this.verifierKey = key.verifierKey;
    this.readOnly = readOnly;
    this.#dir = opts.dir;
    // The signed head is the log's commit point (log-store.ts writes it last).
    this.#files = new SumdbFiles(join(opts.dir, "log"), { commitKey: "latest" });
    this.#signer = parseSignerKey(key.signerKey);
    this.#verifier = parseVerifierKey(key.verifierKey);
    this.#storage = opts.storage;
    this.#fill = opts.fill;
  }

  static async open(opts: OwnSumdbOptions): Promise<OwnSumdb> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const key = await loadOrCreateKey(opts.dir, opts.name ?? "");
    let readOnly: string | undefined = opts.readOnly ? "opened read-only" : undefined;
    if (readOnly === undefined) {
      const holder = await takeLock(opts.dir);
      if (holder !== undefined) {
        readOnly =
          `its log is written by process ${holder.pid} on ${holder.host} (lock ${join(opts.dir, LOCK_FILE)}); ` +
          "this process serves it read-only and records nothing";
      }
    }
    const db = new OwnSumdb(opts, key, readOnly);
    db.#locked = readOnly === undefined;
    try {
      if (readOnly === undefined) {
        db.#store = await LogStore.open({
          storage: db.#files,
          signer: db.#signer,
          verifier: db.#verifier,
          prefix: "",
        });
      } else {
        await db.#follow();
      }
    } catch (err) {
      await db.close();
      throw err;
    }
    if (key.created)
      opts.logger?.info({ sumdb: key.name }, "created a signing key for goark's checksum database");
    if (readOnly !== undefined)
      opts.logger?.warn({ sumdb: key.name }, `goark's checksum database: ${readOnly}`);
    return db;
  }

  /** Sets the fill used by lazy lookups (the proxy core is built after this). */
  setFill(fill: OwnSumdbOptions["fill"]): void {
    this.#fill = fill;
  }

  /** Read-only: reopens the log when the writer signed a new head. */
  async #follow(): Promise<LogStore | undefined> {
    if (this.readOnly === undefined) return this.#store;
    const at = await this.#files.mtime("latest");
    if (at === undefined) return undefined;
    if (this.#store === undefined || at !== this.#seen) {
      this.#store = await LogStore.open({
        storage: this.#files,
        signer: this.#signer,
        verifier: this.#verifier,
        prefix: "",
      });
      this.#seen = at;
    }
    return this.#store;
  }

  /** The current tree size (0 when read-only and nothing is signed yet). */
  async size(): Promise<number> {
    return (await this.#follow())?.head.n ?? 0;
  }

  /** The hashes the log holds for module@version, if any. */
  async hashes(module: string, version: string): Promise<ProvenHashes | undefined> {
    const store = await this.#follow();
    const id = await store?.find(module, version);
    if (store === undefined || id === undefined) return undefined;
    const text = Buffer.from(await store.readRecord(id)).toString("utf8");
    const zip = hashOf(text, `${module} ${version} `);
    const mod = hashOf(text, `${module} ${version}/go.mod `);
    return zip === undefined || mod === undefined ? undefined : { zip, mod };
  }

  /**
   * Appends module@version's record from the stored artefacts' hashes (the
   * h1 computed when they were verified, else from the bytes). Returns the
   * record id, or undefined when the version's zip or go.mod is not stored.
   */
  async record(module: string, version: string): Promise<number | undefined> {
    const store = this.#store;
    if (this.readOnly !== undefined || store === undefined) return undefined;
    const zKey = zipKey(module, version);
    const mKey = modKey(module, version);
    const [zipSt, modSt] = await Promise.all([this.#storage.stat(zKey), this.#storage.stat(mKey)]);
    if (zipSt === undefined || modSt === undefined) return undefined;
    let zipH1 = zipSt.meta.h1;
    if (zipH1 === undefined) {
      const file = this.#storage.localPath?.(zKey);
      if (file === undefined) return undefined;
      zipH1 = await hashZip(file);
    }
    let modH1 = modSt.meta.h1;
    if (modH1 === undefined) {
      const data = await this.#storage.getBytes(mKey);
      if (data === undefined) return undefined;
      modH1 = hashGoMod(data);
    }
    return store.add(
      module,
      version,
      `${module} ${version} ${zipH1}\n${module} ${version}/go.mod ${modH1}\n`,
    );
  }

  /**
   * The log fixed at its current signed head, for exports: the head, each
   * version's lookup answer and every hash tile, all of that one tree, even
   * while a writer appends. Undefined when nothing is signed yet. Data tiles
   * are left out: the go command never reads them, and they would hand out
   * the records of versions that are not exported.
   */
  async snapshot(): Promise<OwnLogSnapshot | undefined> {
    if ((await this.#follow()) === undefined) return undefined;
    // A LogStore of its own reads the head once; tiles are written before a head names them.
    const store = await LogStore.open({
      storage: this.#files,
      signer: this.#signer,
      verifier: this.#verifier,
      prefix: "",
    });
    const size = store.head.n;
    const tiles = newTiles(TILE_HEIGHT, 0, size)
      .filter((t) => t.w === 2 ** TILE_HEIGHT || t.w === tileWidth(t.l, t.n, size))
      .map(formatTilePath);
    return {
      name: this.name,
      size,
      latest: store.latest,
      tiles,
      lookup: async (module, version) => {
        try {
          return await store.lookup(module, version);
        } catch (err) {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        }
      },
      tile: (path) => store.tile(path),
    };
  }

  /** Answers `/sumdb/<name>/<rest>`. */
  async serve(rest: string): Promise<SumdbResponse> {
    if (rest === "supported") return { body: new Uint8Array(), contentType: TEXT, cacheControl: "no-cache" };
    const store = await this.#follow();
    if (store === undefined) {
      throw new NotFoundError(
        `checksum database ${this.name} has signed nothing yet (${this.readOnly ?? ""})`,
      );
    }
    if (rest === "latest") return { body: store.latest, contentType: TEXT, cacheControl: "no-cache" };
    if (rest.startsWith("lookup/")) {
      const { module, version } = parseLookupPath(rest);
      if ((await store.find(module, version)) === undefined) await this.#recordOnDemand(module, version);
      return { body: await store.lookup(module, version), contentType: TEXT, cacheControl: "no-cache" };
    }
    if (rest.startsWith("tile/")) {
      const t = parseTileRoute(rest);
      let body: Uint8Array;
      try {
        body = await store.tile(rest);
      } catch (err) {
        if (err instanceof GoarkError && err.code === "INVALID_TLOG") {
          throw new NotFoundError(`not found: /${rest.slice(0, 200)}: ${err.message}`);
        }
        throw err;
      }
      return { body, contentType: OCTETS, cacheControl: t.w === 2 ** t.h ? IMMUTABLE : "no-cache" };
    }
    throw new NotFoundError(
      `not found: /sumdb/${this.name}/${rest.slice(0, 200)}: unknown checksum-database path`,
    );
  }

  /**
   * A lookup of a version not in the log yet (the go command verifies a
   * go.mod before it fetches the zip): store the version through the proxy
   * core — fetched and verified like any other — then record it.
   */
  async #recordOnDemand(module: string, version: string): Promise<void> {
    if (this.readOnly !== undefined) {
      throw new NotFoundError(
        `${module}@${version}: not in checksum database ${this.name}; ${this.readOnly}`,
        {
          module,
          version,
        },
      );
    }
    if (this.#fill === undefined) {
      throw new NotFoundError(`${module}@${version}: not in checksum database ${this.name}`, {
        module,
        version,
      });
    }
    await this.#fill(module, version);
    const id = await this.record(module, version);
    if (id === undefined) {
      throw new NotFoundError(`${module}@${version}: not stored, so not in checksum database ${this.name}`, {
        module,
        version,
      });
    }
  }

  /** Releases the writer lock. */
  async close(): Promise<void> {
    if (this.#locked) {
      this.#locked = false;
      await rm(join(this.#dir, LOCK_FILE), { force: true });
    }
  }
}

function hashOf(text: string, prefix: string): string | undefined {
  return text
    .split("\n")
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length);
}
