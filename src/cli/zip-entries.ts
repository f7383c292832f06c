/**
 * Reads a zip's central directory (names and Unix modes only, no contents),
 * so `goark mod check` can infer module@version and spot entry kinds.
 */
import yauzl from "yauzl";
import { ZipError } from "../errors.ts";

export interface ZipEntryHead {
  name: string;
  /** The Unix mode from the upper 16 bits of the external attributes (0 when not made on Unix). */
  mode: number;
}

export function readZipEntryHeads(file: string): Promise<ZipEntryHead[]> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error | null | undefined) =>
      reject(
        new ZipError(`${file}: not a readable zip file: ${e?.message ?? "unknown error"}`, {
          path: file,
          cause: e,
        }),
      );
    // decodeStrings off: yauzl would refuse names such as "../x" outright,
    // and those are exactly what a check must report one by one. Like Go's
    // archive/zip, names are taken as UTF-8 bytes whatever the flags say.
    yauzl.open(file, { lazyEntries: true, autoClose: true, decodeStrings: false }, (err, zip) => {
      if (err || !zip) return fail(err);
      const heads: ZipEntryHead[] = [];
      zip.on("entry", (entry: yauzl.Entry) => {
        const raw = entry.fileName as unknown as Buffer;
        // Hosts 3 (Unix) and 19 (OS X) keep a Unix mode in the external attributes.
        const host = entry.versionMadeBy >>> 8;
        const madeOnUnix = host === 3 || host === 19;
        heads.push({
          name: raw.toString("utf8"),
          mode: madeOnUnix ? entry.externalFileAttributes >>> 16 : 0,
        });
        zip.readEntry();
      });
      zip.on("end", () => resolve(heads));
      zip.on("error", fail);
      zip.readEntry();
    });
  });
}

/** S_IFMT bits of a Unix mode, and the kinds a module zip may not hold. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Why an entry's mode is refused (x/mod's wording), or undefined for a regular file or directory (or no mode). */
export function irregularKind(mode: number): string | undefined {
  const type = mode & S_IFMT;
  if (type === 0 || type === S_IFREG || type === S_IFDIR) return undefined;
  return type === S_IFLNK ? "file is a symbolic link" : "not a regular file";
}

/**
 * The module path and version most entries are named under (`m@v/...`), or
 * undefined when no entry has such a prefix. The majority wins, so a few
 * hostile entries with another prefix are reported rather than trusted.
 */
export function inferModuleVersion(
  names: readonly string[],
): { module: string; version: string } | undefined {
  const counts = new Map<string, number>();
  for (const name of names) {
    // Module paths and versions never hold "@", and versions never hold "/":
    // the prefix ends at the first "/" after the first "@".
    const at = name.indexOf("@");
    const end = at < 0 ? -1 : name.indexOf("/", at);
    if (at <= 0 || end < 0) continue;
    const prefix = name.slice(0, end);
    counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
  }
  let best: string | undefined;
  let bestCount = 0;
  for (const [prefix, count] of counts) {
    if (count > bestCount) {
      best = prefix;
      bestCount = count;
    }
  }
  if (best === undefined) return undefined;
  const at = best.indexOf("@");
  return { module: best.slice(0, at), version: best.slice(at + 1) };
}
