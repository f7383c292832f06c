/**
 * The files of a `git archive --format=zip --prefix=prefix/` output as the
 * candidates of a module zip (coderepo.go's Zip): names taken below the one
 * top-level directory and the module's subdirectory, directories skipped,
 * modes read the way Go's archive/zip reports them (so symlinks are seen as
 * symlinks and left out by the zip rules). Contents stream from the archive.
 */
import { PassThrough, type Readable } from "node:stream";
import yauzl from "yauzl";
import { ZipError } from "../../errors.ts";
import { decodeGoBytes } from "../../module/go-bytes.ts";
import type { ZipSourceFile } from "../../module/zip.ts";

interface ZipEntry {
  name: string;
  entry: yauzl.Entry;
}

function archiveError(zipFile: string, err: unknown): ZipError {
  return new ZipError(`git archive ${zipFile}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

function openZipFile(zipFile: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // Names as raw bytes, as Go reads them (git writes paths byte for byte).
    yauzl.open(
      zipFile,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: false },
      (err, zf) => (err || !zf ? reject(archiveError(zipFile, err)) : resolve(zf)),
    );
  });
}

function readCentralDirectory(zf: yauzl.ZipFile, zipFile: string, max: number): Promise<ZipEntry[]> {
  if (zf.entryCount > max) {
    return Promise.reject(new ZipError(`git archive ${zipFile}: ${zf.entryCount} entries (limit is ${max})`));
  }
  return new Promise((resolve, reject) => {
    const entries: ZipEntry[] = [];
    zf.on("entry", (entry: yauzl.Entry) => {
      entries.push({ name: decodeGoBytes(entry.fileNameRaw), entry });
      zf.readEntry();
    });
    zf.once("end", () => resolve(entries));
    zf.once("error", (err) => reject(archiveError(zipFile, err)));
    zf.readEntry();
  });
}

function openEntryStream(zf: yauzl.ZipFile, e: ZipEntry, zipFile: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zf.openReadStream(e.entry, (err, stream) =>
      err || !stream ? reject(archiveError(zipFile, err)) : resolve(stream),
    );
  });
}

function closeZipFile(zf: yauzl.ZipFile): void {
  if (zf.isOpen) zf.close();
}

const UNIX_CREATORS = new Set([3, 19]);
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
/** More entries than any real module zip holds; git archive of a hostile tree stops here. */
const MAX_ENTRIES = 1_000_000;

export interface ArchiveFiles {
  files: ZipSourceFile[];
  close(): void;
}

function kindOf(e: ZipEntry): { isFile: boolean; isSymlink: boolean; isDir: boolean } {
  const entry = e.entry;
  const isDirName = e.name.endsWith("/");
  if (UNIX_CREATORS.has(entry.versionMadeBy >>> 8)) {
    const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
    const isDir = isDirName || type === S_IFDIR;
    return {
      isDir,
      isSymlink: type === S_IFLNK,
      isFile: !isDir && (type === 0 || type === S_IFREG),
    };
  }
  // MS-DOS attributes: bit 0x10 is a directory; there are no symlinks.
  const isDir = isDirName || (entry.externalFileAttributes & 0x10) !== 0;
  return { isDir, isSymlink: false, isFile: !isDir };
}

/** Opens the archive at zipFile and lists the files under subdir ("" for all). */
export async function openArchive(zipFile: string, subdir: string): Promise<ArchiveFiles> {
  const zf: yauzl.ZipFile = await openZipFile(zipFile);
  try {
    const entries = await readCentralDirectory(zf, zipFile, MAX_ENTRIES);
    const sub = subdir.replace(/^\/+|\/+$/g, "");
    const subPrefix = sub === "" ? "" : `${sub}/`;
    let top = "";
    const files: ZipSourceFile[] = [];
    for (const e of entries) {
      if (top === "") {
        const i = e.name.indexOf("/");
        if (i < 0) throw new ZipError(`git archive ${zipFile}: missing top-level directory prefix`);
        top = e.name.slice(0, i + 1);
      }
      if (!e.name.startsWith(top)) {
        throw new ZipError(`git archive ${zipFile}: zip file contains more than one top-level directory`);
      }
      let name = e.name.slice(top.length);
      if (!name.startsWith(subPrefix)) continue;
      name = name.slice(subPrefix.length);
      if (name === "" || name.endsWith("/")) continue;
      const kind = kindOf(e);
      const size = e.entry.uncompressedSize;
      files.push({
        path: name,
        lstat: () => Promise.resolve({ ...kind, size }),
        open: () => {
          const out = new PassThrough();
          openEntryStream(zf, e, zipFile).then(
            (s) => {
              s.on("error", (err: Error) => out.destroy(err));
              s.pipe(out);
            },
            (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
          );
          return out;
        },
      });
    }
    return { files, close: () => closeZipFile(zf) };
  } catch (err) {
    closeZipFile(zf);
    throw err;
  }
}
