/**
 * Byte sizes in configuration: a plain integer, or a number with a unit.
 * Decimal units (KB, MB, GB, TB) are powers of 1000 and binary ones (KiB, MiB,
 * GiB, TiB) powers of 1024, as their names say; units are case-insensitive.
 */

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

export const BYTE_SIZE_RULE = "a byte size such as 0, 1048576, 512KiB, 64MiB or 1GB";

/** Bytes (a safe integer), or undefined when `text` is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = m[2]!.toLowerCase();
  const scale = unit === "" ? 1 : UNITS[unit];
  if (scale === undefined) return undefined;
  const bytes = Number(m[1]) * scale;
  if (!Number.isSafeInteger(Math.round(bytes))) return undefined;
  // "1.5B" is not a whole number of bytes.
  if (unit === "" || unit === "b") return Number.isInteger(bytes) ? bytes : undefined;
  return Math.round(bytes);
}

/** The largest binary unit that divides `bytes` exactly (for help and tables). */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [
    ["TiB", 2 ** 40],
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
