/**
 * The content checks every module version from outside the store passes
 * before it may be committed (bundles, go download caches): the `.info`
 * names the version, the `.mod` declares the module and hashes as claimed,
 * the `.zip` passes the untrusted-zip check and hashes as claimed. These are
 * the proxy core's checks (src/cache/verify.ts), reused so that every way
 * into the store applies the same rules.
 */
import { readFile, stat } from "node:fs/promises";
import { verifyInfo, verifyMod } from "../cache/verify.ts";
import { ChecksumMismatchError, InvalidInfoError, TooLargeError } from "../errors.ts";
import { MAX_GO_MOD, verifyZip } from "../module/zip.ts";
import type { Info } from "../source/source.ts";
import type { VersionFileKind } from "../store-ops/inventory.ts";
import { MAX_INFO_BYTES } from "./manifest.ts";
import type { ZipVerifier } from "./zip-verify-pool.ts";

export interface FileToCheck {
  kind: VersionFileKind;
  /** A local file with the bytes. */
  path: string;
  /**
   * The bytes themselves, when the caller has them already: then path is not
   * read. A zip's bytes are handed over to the check (see ZipVerifier).
   */
  data?: Buffer;
}

export interface CheckedHashes {
  zipH1?: string;
  modH1?: string;
}

/**
 * Checks one version's files; throws a GoarkError naming the file and the
 * rule when one fails. `expect` holds hashes the files must have (from a
 * bundle manifest or a download cache's .ziphash). A zip is checked by
 * `zips` when given (worker threads), else on this thread.
 */
export async function checkVersionFiles(
  module: string,
  version: string,
  files: FileToCheck[],
  origin: string,
  expect: CheckedHashes = {},
  zips?: ZipVerifier,
): Promise<CheckedHashes> {
  const out: CheckedHashes = {};
  for (const f of files) {
    if (f.kind === "zip") {
      const input = f.data === undefined ? f.path : { name: f.path, data: f.data };
      const { h1 } = await (zips?.verify(module, version, input) ?? verifyZip(module, version, input));
      if (expect.zipH1 !== undefined && expect.zipH1 !== h1) {
        throw new ChecksumMismatchError(
          `${module}@${version}: zip from ${origin} has hash ${h1}, but ${expect.zipH1} was declared`,
          { module, version },
        );
      }
      out.zipH1 = h1;
    } else if (f.kind === "mod") {
      const data = await bytesOf(f, MAX_GO_MOD, module, version, "go.mod");
      out.modH1 = verifyMod(module, version, data, origin, expect.modH1);
    } else {
      const data = await bytesOf(f, MAX_INFO_BYTES, module, version, ".info");
      let info: unknown;
      try {
        info = JSON.parse(data.toString("utf8"));
      } catch {
        throw new InvalidInfoError(`${module}@${version}: .info from ${origin} is not valid JSON`, {
          module,
          version,
        });
      }
      verifyInfo(module, version, info as Info, origin);
    }
  }
  return out;
}

async function bytesOf(
  f: FileToCheck,
  max: number,
  module: string,
  version: string,
  what: string,
): Promise<Buffer> {
  const size = f.data?.length ?? (await stat(f.path)).size;
  if (size > max) {
    throw new TooLargeError(`${module}@${version}: ${what} is ${size} bytes, over the ${max}-byte limit`, {
      module,
      version,
    });
  }
  return f.data ?? readFile(f.path);
}
