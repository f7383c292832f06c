/**
 * The `storage` setting: a directory (a path, or a file:// URL) or an
 * S3-compatible bucket `s3://bucket[/prefix][?endpoint=URL&region=R&forcePathStyle=true]`.
 * Only the syntax is checked here; the storage layer opens it.
 */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export type StorageLocation =
  | { kind: "disk"; path: string }
  | {
      kind: "s3";
      bucket: string;
      /** Key prefix without leading or trailing `/`; "" for the bucket root. */
      prefix: string;
      endpoint?: string;
      region?: string;
      forcePathStyle?: boolean;
    };

export const STORAGE_RULE = "a directory path or s3://bucket[/prefix][?endpoint=URL&region=NAME]";

const S3_PARAMS = new Set(["endpoint", "region", "forcePathStyle"]);

/** The location, or the rule it breaks. Relative disk paths stay relative (see resolveStorage). */
export function parseStorageLocation(text: string): StorageLocation | string {
  const s = text.trim();
  if (s === "") return "must not be empty";
  if (s.includes("\0")) return "must not contain a NUL byte";
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(s)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "disk", path: s };
  if (scheme === "file") {
    try {
      return { kind: "disk", path: fileURLToPath(s) };
    } catch {
      return `"${s}" is not a valid file:// URL`;
    }
  }
  if (scheme !== "s3") return `scheme ${scheme}:// is not supported; want ${STORAGE_RULE}`;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `"${s}" is not a valid URL`;
  }
  const bucket = u.hostname;
  // S3's bucket naming rules (3-63 chars of a-z 0-9 . -, alphanumeric at both ends).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || u.port !== "" || u.username !== "")
    return `bucket "${bucket}" must be 3-63 characters of a-z, 0-9, . and -`;
  // From the raw text: URL parsing would silently resolve "a/../b" to "b".
  const rawPath = s.slice("s3://".length).split(/[?#]/)[0]!;
  let prefix = rawPath.slice(rawPath.indexOf("/") + 1 || rawPath.length).replace(/^\/+|\/+$/g, "");
  try {
    prefix = decodeURIComponent(prefix);
  } catch {
    return `prefix "${prefix}" has a malformed %-escape`;
  }
  if (prefix.split("/").some((el) => el === "." || el === ".." || (el === "" && prefix !== "")))
    return `prefix "${prefix}" must be clean (no empty, . or .. elements)`;
  if (u.hash !== "") return "must not have a #fragment";
  const loc: StorageLocation = { kind: "s3", bucket, prefix };
  for (const [key, value] of u.searchParams) {
    if (!S3_PARAMS.has(key)) return `unknown s3 parameter "${key}" (known: ${[...S3_PARAMS].join(", ")})`;
    if (key === "endpoint") {
      let e: URL;
      try {
        e = new URL(value);
      } catch {
        return `endpoint "${value}" is not a valid URL`;
      }
      if (e.protocol !== "http:" && e.protocol !== "https:")
        return `endpoint "${value}" must be http or https`;
      loc.endpoint = value;
    } else if (key === "region") {
      if (!/^[a-z0-9-]+$/.test(value)) return `region "${value}" must be lowercase letters, digits and -`;
      loc.region = value;
    } else {
      if (value !== "true" && value !== "false") return "forcePathStyle must be true or false";
      loc.forcePathStyle = value === "true";
    }
  }
  return loc;
}

/** Makes a relative disk path absolute against `base` (the cwd, or the config file's directory). */
export function resolveStorage(loc: StorageLocation, base: string): StorageLocation {
  if (loc.kind !== "disk" || isAbsolute(loc.path)) return loc;
  return { kind: "disk", path: resolve(base, loc.path) };
}
