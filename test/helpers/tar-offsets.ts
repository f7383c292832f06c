/**
 * Where each entry's data lies inside a tar archive (ustar names, with a pax
 * `path` record when the writer used one), so tests can damage a chosen
 * entry's bytes or cut the archive inside it.
 */

export interface TarEntryAt {
  /** The entry's name: the pax path if any, else ustar prefix/name. */
  name: string;
  /** Offset of the entry's first data byte. */
  offset: number;
  size: number;
}

export function tarEntries(buf: Buffer): TarEntryAt[] {
  const out: TarEntryAt[] = [];
  let off = 0;
  let paxPath: string | undefined;
  while (off + 512 <= buf.length && buf[off] !== 0) {
    const h = buf.subarray(off, off + 512);
    const str = (a: number, b: number) => h.subarray(a, b).toString("utf8").replace(/\0.*$/s, "");
    const size = Number.parseInt(str(124, 136).trim() || "0", 8);
    const type = String.fromCharCode(h[156]!);
    const data = buf.subarray(off + 512, off + 512 + size);
    if (type === "x") {
      paxPath = /\d+ path=([^\n]*)\n/.exec(data.toString("utf8"))?.[1];
    } else {
      const prefix = str(345, 500);
      out.push({
        name: paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100)),
        offset: off + 512,
        size,
      });
      paxPath = undefined;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
