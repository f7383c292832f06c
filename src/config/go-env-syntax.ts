/**
 * Syntax checks for values goark shares with the go command's environment:
 * GOPRIVATE-style pattern lists and GOSUMDB (GOPROXY lists are parsed by
 * src/source/goproxy-list.ts). Each check returns the rule a value breaks (one
 * phrase) or undefined, so the config loader can name the key and layer
 * around it. Rules follow Go 1.19's cmd/go (modfetch/sumdb.go dbDial) and
 * path.Match.
 */
import { createHash } from "node:crypto";

/**
 * The reason a comma-separated list of path globs (GOPRIVATE, GONOSUMDB,
 * GOINSECURE syntax) is invalid, or undefined. Go silently ignores malformed
 * globs; goark refuses them, since a glob that can never match hides a
 * private module from nobody.
 */
export function globListProblem(list: string): string | undefined {
  for (const raw of list.split(",")) {
    const glob = raw.trim().replace(/\/+$/, "");
    if (glob === "") continue;
    const problem = globProblem(glob);
    if (problem !== undefined) return `pattern "${raw.trim()}" ${problem}`;
  }
  return undefined;
}

/** path.Match's ErrBadPattern cases: unclosed or empty `[...]`, bad ranges, dangling `\`. */
function globProblem(glob: string): string | undefined {
  const chars = Array.from(glob);
  let i = 0;
  // One (possibly escaped) character inside a class; `-` and `]` must be escaped there.
  const classChar = (): boolean => {
    const c = chars[i];
    if (c === undefined || c === "-" || c === "]") return false;
    if (c === "\\") {
      i++;
      if (chars[i] === undefined) return false;
    }
    i++;
    return true;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === "\\") {
      if (i + 1 >= chars.length) return "ends in a lone \\";
      i += 2;
    } else if (c === "[") {
      i++;
      if (chars[i] === "^") i++;
      let ranges = 0;
      for (;;) {
        if (i >= chars.length) return "has an unclosed [";
        if (chars[i] === "]" && ranges > 0) {
          i++;
          break;
        }
        if (!classChar()) return "has a malformed [...] class";
        if (chars[i] === "-") {
          i++;
          if (!classChar()) return "has a malformed range in [...]";
        }
        ranges++;
      }
    } else {
      i++;
    }
  }
  return undefined;
}

/** Keys the go command knows by name (modfetch/key.go knownGOSUMDB). */
export const KNOWN_SUMDB_KEYS: Readonly<Record<string, string>> = {
  "sum.golang.org": "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
};

export type SumDbSetting =
  | { off: true }
  | {
      off: false;
      /** The database name, host[/path]. */
      name: string;
      /** The verifier key, `name+hash+base64key`. */
      key: string;
      /** Where to reach it; `https://<name>` unless GOSUMDB names a URL. */
      url: string;
    };

/** Parses GOSUMDB syntax: `off`, a known name, `name+hash+key`, either followed by a URL. */
export function parseSumDb(value: string): SumDbSetting | string {
  let text = value.trim();
  if (text === "off") return { off: true };
  // An alias reachable from mainland China for sum.golang.org (modfetch/sumdb.go).
  if (text === "sum.golang.google.cn") text = "sum.golang.org https://sum.golang.google.cn";
  const fields = text.split(/\s+/).filter((f) => f !== "");
  if (fields.length === 0) return "must be off, a known database name, or name+hash+key [URL]";
  if (fields.length > 2) return "has too many fields (want name+hash+key and an optional URL)";
  const key = KNOWN_SUMDB_KEYS[fields[0]!] ?? fields[0]!;
  const keyProblem = verifierKeyProblem(key);
  if (keyProblem !== undefined) return keyProblem;
  const name = key.slice(0, key.indexOf("+"));
  const nameProblem = sumDbNameProblem(name);
  if (nameProblem !== undefined) return nameProblem;
  let url = `https://${name}`;
  if (fields[1] !== undefined) {
    try {
      const u = new URL(fields[1]);
      if (u.protocol !== "https:" && u.protocol !== "http:")
        return `URL "${fields[1]}" must be http or https`;
    } catch {
      return `URL "${fields[1]}" is not a valid URL`;
    }
    url = fields[1];
  }
  return { off: false, name, key, url };
}

/** note.NewVerifier's checks: name+8-hex-hash+base64(0x01 ‖ 32-byte ed25519 key), hash matching. */
function verifierKeyProblem(key: string): string | undefined {
  const parts = key.split("+");
  const [name, hash16] = parts;
  const key64 = parts.slice(2).join("+");
  const bad = `"${key}" is neither a known database name (sum.golang.org) nor a verifier key name+hash+key`;
  if (parts.length < 3 || name === undefined || hash16 === undefined) return bad;
  if (name === "" || /\s/u.test(name)) return bad;
  if (!/^[0-9a-fA-F]{8}$/.test(hash16)) return bad;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(key64) || key64.length % 4 !== 0) return bad;
  const raw = Buffer.from(key64, "base64");
  if (raw.length !== 33 || raw[0] !== 1) return `verifier key "${key}" is not an Ed25519 key`;
  const digest = createHash("sha256")
    .update(Buffer.concat([Buffer.from(`${name}\n`), raw]))
    .digest();
  if (digest.readUInt32BE(0) !== Number.parseInt(hash16, 16))
    return `verifier key "${key}" has a hash that does not match its name and key`;
  return undefined;
}

/** dbDial's "no funny business" rule: the name must be host[/path], usable after https://. */
export function sumDbNameProblem(name: string): string | undefined {
  const rule = `database name "${name}" must be host[/path]`;
  if (name.endsWith("/") || /[?#@\\%]/.test(name)) return rule;
  try {
    const u = new URL(`https://${name}`);
    if (u.host === "" || u.username !== "" || u.password !== "") return rule;
    if (`${u.host}${u.pathname === "/" ? "" : u.pathname}` !== name) return rule;
  } catch {
    return rule;
  }
  return undefined;
}
