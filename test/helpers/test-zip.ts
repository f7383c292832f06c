/**
 * A deliberately naive zip writer for tests: writes any entry name (invalid,
 * unclean, duplicated), and can lie about sizes, CRCs and file modes, so that
 * tests can hand hostile zips to the code under test. Small inputs only.
 */

import { writeFile } from "node:fs/promises";
import { crc32, deflateRawSync } from "node:zlib";

export interface TestZipEntry {
  name: string | Buffer;
  data: Buffer | string;
  /** 8 (deflate, default) or 0 (store); anything else is written as given with deflated data. */
  method?: number;
  /** A Unix mode (with type bits) put in the external attributes, made-by host Unix. */
  unixMode?: number;
  /** Uncompressed size to declare instead of the real one. */
  declaredSize?: number;
  /** CRC-32 to declare instead of the real one. */
  crc?: number;
  /** General purpose flags to add (e.g. 0x1 "encrypted"). */
  flags?: number;
  /** Reuse the local header offset of an earlier entry (index) instead of writing data. */
  shareDataWith?: number;
}

export function buildZip(entries: TestZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === "string" ? Buffer.from(e.name, "utf8") : e.name;
    const data = typeof e.data === "string" ? Buffer.from(e.data) : e.data;
    const method = e.method ?? 8;
    const body = method === 0 ? data : deflateRawSync(data);
    const crc = e.crc ?? crc32(data);
    const size = e.declaredSize ?? data.length;
    const nonAscii = name.some((b) => b >= 0x80);
    const flags = (nonAscii ? 0x800 : 0) | (e.flags ?? 0);
    let localOffset = offset;
    if (e.shareDataWith !== undefined) {
      localOffset = offsets[e.shareDataWith]!;
    } else {
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(flags, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(0, 10);
      local.writeUInt16LE(0x21, 12);
      local.writeUInt32LE(crc >>> 0, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      parts.push(local, name, body);
      offset += local.length + name.length + body.length;
    }
    offsets.push(localOffset);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(e.unixMode === undefined ? 20 : (3 << 8) | 20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(flags, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc >>> 0, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(e.unixMode === undefined ? 0 : (e.unixMode << 16) >>> 0, 38);
    cd.writeUInt32LE(localOffset, 42);
    central.push(cd, name);
  }
  const cdStart = offset;
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdStart, 16);
  return Buffer.concat([...parts, ...central, eocd]);
}

export async function writeTestZip(path: string, entries: TestZipEntry[]): Promise<void> {
  await writeFile(path, buildZip(entries));
}
