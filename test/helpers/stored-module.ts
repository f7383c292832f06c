/**
 * Puts module versions straight into a Storage the way the proxy core stores
 * them (.zip with its h1, .mod with its h1, .info), with zips made by
 * src/module/zip.ts, for tests of the store-side commands.
 */

import { Readable } from "node:stream";
import { hashGoMod } from "../../src/module/dirhash.ts";
import { create, type ZipSourceFile } from "../../src/module/zip.ts";
import { infoKey, modKey, zipKey } from "../../src/storage/keys.ts";
import type { Storage } from "../../src/storage/storage.ts";

export interface StoredVersionSpec {
  module: string;
  version: string;
  /** Zip content: relative path → text or bytes. Defaults to a go.mod and one .go file. */
  files?: Record<string, string | Uint8Array>;
  /** The .mod; defaults to files["go.mod"] or `module PATH\n`. */
  mod?: string;
  time?: string;
  /** Store no zip (as after a go.mod-only fetch). */
  noZip?: boolean;
  origin?: string;
  fetchedAt?: number;
}

function memoryFile(path: string, data: Uint8Array): ZipSourceFile {
  return {
    path,
    lstat: async () => ({ isFile: true, isSymlink: false, size: data.length }),
    open: () => Readable.from([Buffer.from(data)]),
  };
}

export function defaultFiles(module: string, version: string): Record<string, string> {
  const pkg =
    module
      .split("/")
      .at(-1)!
      .replace(/[^a-z0-9]/g, "") || "p";
  return {
    "go.mod": `module ${module}\n\ngo 1.19\n`,
    [`${pkg}.go`]: `package ${pkg}\n\n// Version is the version of this module.\nconst Version = "${version}"\n`,
  };
}

/** Stores one version; returns the zip and go.mod h1. */
export async function storeVersion(
  storage: Storage,
  spec: StoredVersionSpec,
): Promise<{ zipH1?: string; modH1: string }> {
  const files = spec.files ?? defaultFiles(spec.module, spec.version);
  const gm = files["go.mod"];
  const mod = spec.mod ?? (gm !== undefined ? Buffer.from(gm).toString("utf8") : `module ${spec.module}\n`);
  const origin = spec.origin ?? "test";
  const put = (extra: { h1?: string } = {}) => ({
    origin,
    ...(spec.fetchedAt !== undefined ? { fetchedAt: spec.fetchedAt } : {}),
    ...extra,
  });
  let zipH1: string | undefined;
  if (!spec.noZip) {
    const staged = await storage.stage();
    try {
      const made = await create(
        staged.path,
        spec.module,
        spec.version,
        Object.entries(files).map(([p, d]) => memoryFile(p, typeof d === "string" ? Buffer.from(d) : d)),
      );
      zipH1 = made.h1;
      await storage.commitStaged(zipKey(spec.module, spec.version), staged, put({ h1: made.h1 }));
    } finally {
      await staged.dispose();
    }
  }
  const modH1 = hashGoMod(mod);
  await storage.putBytes(modKey(spec.module, spec.version), Buffer.from(mod), put({ h1: modH1 }));
  const info = JSON.stringify({ Version: spec.version, Time: spec.time ?? "2023-01-02T03:04:05Z" });
  await storage.putBytes(infoKey(spec.module, spec.version), Buffer.from(info), put());
  return zipH1 === undefined ? { modH1 } : { zipH1, modH1 };
}
