/**
 * Deterministic input generators for the differential tests: a seeded PRNG
 * and builders of valid, borderline and hostile module paths, versions,
 * patterns, go.mod texts and file trees. Set GOARK_DIFF_SEED to explore other
 * inputs; the seed in use is printed with every mismatch report.
 *
 * Invalid UTF-8: a JS string cannot hold arbitrary bytes, but it can hold a
 * lone surrogate. The oracle receives every string as WTF-8 bytes
 * (test/helpers/oracle.ts), where a lone surrogate becomes ED A0 80-style bytes
 * that Go treats as invalid UTF-8 — the same verdict goark must reach.
 */

export const DEFAULT_SEED = 0x60a7c;

export function seedFromEnv(salt: number): number {
  const env = process.env.GOARK_DIFF_SEED;
  const base = env ? Number.parseInt(env, 10) : DEFAULT_SEED;
  return (base ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
}

/** xorshift128+-style 32-bit generator (sfc32): small, fast, reproducible. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  /** Calls one of the given builders, weighted. */
  oneOf<T>(choices: ReadonlyArray<readonly [number, () => T]>): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.int(total);
    for (const [w, f] of choices) {
      if (r < w) return f();
      r -= w;
    }
    return choices[choices.length - 1]![1]();
  }

  repeat<T>(lo: number, hi: number, f: () => T): T[] {
    const n = this.range(lo, hi);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(f());
    return out;
  }
}

/** n inputs from gen, deduplicated (so one input is not reported twice), in a fixed order. */
export function distinct<T>(n: number, gen: () => T, key: (t: T) => string = (t) => JSON.stringify(t)): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (let tries = 0; out.length < n && tries < n * 20; tries++) {
    const t = gen();
    const k = key(t);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(t);
    }
  }
  return out;
}

// ---- Alphabets ----

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
/** Every printable ASCII punctuation character, allowed or not somewhere. */
const PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ";
/** Letters and non-letters outside ASCII, including case-folding oddities. */
const UNICODE = [
  "é",
  "ü",
  "Ω",
  "ω",
  "ǅ", // title case
  "\u212a", // KELVIN SIGN, folds to k
  "ẞ",
  "ß",
  "ſ", // LONG S, folds to s
  "İ",
  "ı",
  "日本",
  "\u0301", // combining mark (not a letter)
  "\u00a0", // no-break space
  "\u2028",
  "😀",
  "\ud800", // lone high surrogate: invalid UTF-8 on the Go side
  "\udc00", // lone low surrogate
  "\u0000",
  "\t",
  "\n",
  "\u007f",
  "\ufffd",
];

/** Pieces that hit specific rules in x/mod's path checks. */
const ELEMENT_PIECES = [
  "a",
  "b",
  "x",
  "foo",
  "bar",
  "pkg",
  "v2",
  "v1",
  "v0",
  "v02",
  "v1.2",
  "vx",
  "v",
  "aux",
  "AUX",
  "aux.c",
  "Aux.go",
  "com1",
  "COM9.txt",
  "com0",
  "lpt1",
  "LPT9x",
  "nul",
  "prn.go",
  "con",
  "EXAMPL~1",
  "x~12",
  "x~",
  "~1",
  "a~1.b",
  "yaml.v2",
  "x.v1-unstable",
  ".",
  "..",
  "...",
  ".hidden",
  "-dash",
  "a+b",
  "a b",
  "!x",
  "!",
  "~",
  "a..b",
  "a.",
  "_",
  "a@b",
  "go.mod",
  "GO.MOD",
  "vendor",
  "Upper",
];

function chars(rng: Rng, alphabet: string, lo: number, hi: number): string {
  let s = "";
  const n = rng.range(lo, hi);
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** One path element: mostly plausible, sometimes hostile. */
export function pathElement(rng: Rng): string {
  return rng.oneOf<string>([
    [6, () => chars(rng, LOWER, 1, 6)],
    [2, () => chars(rng, LOWER + DIGITS + "-._~", 1, 8)],
    [2, () => chars(rng, LOWER + UPPER + DIGITS, 1, 6)],
    [6, () => rng.pick(ELEMENT_PIECES)],
    [3, () => rng.repeat(2, 3, () => rng.pick(ELEMENT_PIECES)).join(rng.pick(["", ".", "-", "~"]))],
    [2, () => chars(rng, LOWER, 0, 3) + rng.pick([...PUNCT]) + chars(rng, LOWER, 0, 3)],
    [2, () => chars(rng, LOWER, 0, 3) + rng.pick(UNICODE) + chars(rng, LOWER, 0, 3)],
    [1, () => ""],
  ]);
}

const DOMAINS = [
  "example.com",
  "golang.org",
  "github.com",
  "gopkg.in",
  "git.goark.test",
  "rsc.io",
  "localhost",
  "Example.com",
  "EXAMPLE.COM",
  "ex-ample.com",
  "-x.com",
  "x.com.",
  "x..com",
  ".x.com",
  "a.b",
  "exa_mple.com",
  "1.2",
  "xn--bcher-kva.example",
  "ex~ample.com",
  "example.com:8080",
  "",
];

const MAJOR_SUFFIXES = [
  "/v2",
  "/v3",
  "/v10",
  "/v1",
  "/v0",
  "/v02",
  "/v1.2",
  "/v2.0",
  "/vx",
  "/v",
  "/V2",
  ".v1",
  ".v2-unstable",
  ".v0",
  ".v02",
  "-unstable",
];

const GOPKG_PATHS = [
  "gopkg.in/yaml.v2",
  "gopkg.in/yaml.v3",
  "gopkg.in/x.v1-unstable",
  "gopkg.in/user/pkg.v3",
  "gopkg.in/yaml",
  "gopkg.in/yaml.v02",
  "gopkg.in/yaml.v0",
  "gopkg.in/yaml.v1",
  "gopkg.in/yaml.v2-unstable",
  "gopkg.in/yaml.v2/sub",
  "gopkg.in/v2",
  "gopkg.in/.v1",
  "gopkg.in",
];

/** gopkg.in/[user/]name.vN[-unstable], with near misses. */
export function gopkgPath(rng: Rng): string {
  const user = rng.chance(0.4) ? chars(rng, LOWER, 1, 5) + "/" : "";
  const name = rng.chance(0.9) ? chars(rng, LOWER + DIGITS + "-", 1, 6) : pathElement(rng);
  const sep = rng.pick([".", ".", ".", "/", "-"]);
  const n = rng.pick(["0", "1", "2", "3", "10", "01", "00", ""]);
  return `gopkg.in/${user}${name}${sep}${rng.pick(["v", "v", "V"])}${n}${rng.chance(0.2) ? rng.pick(["-unstable", "-stable", "unstable"]) : ""}`;
}

/** A module/import/file path candidate. */
export function anyPath(rng: Rng): string {
  return rng.oneOf<string>([
    [
      10,
      () => {
        const parts = [rng.pick(DOMAINS), ...rng.repeat(0, 3, () => pathElement(rng))];
        let p = parts.join("/");
        if (rng.chance(0.25)) p += rng.pick(MAJOR_SUFFIXES);
        return p;
      },
    ],
    [2, () => rng.pick(GOPKG_PATHS) + (rng.chance(0.2) ? "/" + pathElement(rng) : "")],
    [3, () => gopkgPath(rng)],
    [3, () => rng.repeat(1, 4, () => pathElement(rng)).join("/")],
    [
      1,
      () => {
        // Structural breakage: slashes in odd places.
        const p = rng.repeat(1, 3, () => pathElement(rng)).join(rng.pick(["/", "//", "\\"]));
        return rng.pick(["", "/", "-"]) + p + rng.pick(["", "/", "//"]);
      },
    ],
  ]);
}

/** A module path that is valid more often than anyPath's. */
export function plausibleModulePath(rng: Rng): string {
  const dom = rng.pick(["example.com", "golang.org/x", "github.com/user", "rsc.io", "git.goark.test"]);
  let p = dom + "/" + chars(rng, LOWER + DIGITS + "-", 1, 8);
  if (rng.chance(0.2)) p += "/" + chars(rng, LOWER + UPPER, 1, 6);
  if (rng.chance(0.3)) p += rng.pick(["/v2", "/v3", "/v10"]);
  if (rng.chance(0.1)) p = rng.pick(GOPKG_PATHS.slice(0, 4));
  return p;
}

/** An escaped path or version for Unescape*: '!' sequences, upper case, junk. */
export function escapedString(rng: Rng): string {
  const base = rng.chance(0.7) ? anyPath(rng) : anyVersion(rng);
  let out = "";
  for (const ch of base) {
    if (rng.chance(0.1)) out += "!" + rng.pick([...LOWER, ...UPPER, ...DIGITS, "!", "", "~"]);
    out += rng.chance(0.1) ? ch.toLowerCase() : ch;
  }
  return out;
}

// ---- Versions ----

const NUMS = ["0", "1", "2", "3", "10", "01", "00", "99", "123456789012345678901234567890"];
const PRERELEASES = [
  "-pre",
  "-rc.1",
  "-rc.01",
  "-0",
  "-01",
  "-alpha.beta",
  "-",
  "-a..b",
  "-x-y",
  "-RC1",
  "-beta.2",
  "-beta.11",
  "-0.20191109021931-daa7c04131f5",
  "-20191109021931-daa7c04131f5",
  "-pre.0.20191109021931-abc",
  "-a.",
  "-.a",
  "-ü",
  "-a_b",
];
const BUILDS = [
  "+incompatible",
  "+meta",
  "+",
  "+a.b",
  "+incompatible.x",
  "+01",
  "+a..b",
  "+ü",
  "+Incompatible",
];

/** A semantic-version-like string: valid, shorthand, or broken. */
export function anyVersion(rng: Rng): string {
  return rng.oneOf<string>([
    [
      10,
      () => {
        let v = rng.pick(["v", "v", "v", "v", "", "V"]) + rng.pick(NUMS);
        const parts = rng.range(0, 2);
        for (let i = 0; i < parts; i++) v += "." + rng.pick(NUMS);
        if (rng.chance(0.4)) v += rng.pick(PRERELEASES);
        if (rng.chance(0.25)) v += rng.pick(BUILDS);
        return v;
      },
    ],
    [6, () => pseudoVersionLike(rng)],
    [
      1,
      () => rng.pick(["master", "latest", "upgrade", "patch", "HEAD", "v1.2.3!", "v1.0.0 ", " v1.0.0", ""]),
    ],
    [1, () => "v" + chars(rng, DIGITS + ".-+" + LOWER, 1, 12)],
    [1, () => "v1.0.0-" + rng.pick(UNICODE)],
  ]);
}

const HEX = "0123456789abcdef";

function timestamp(rng: Rng): string {
  return rng.oneOf<string>([
    [6, () => "20" + chars(rng, "012", 1, 1) + chars(rng, DIGITS, 1, 1) + "1109021931"],
    [
      3,
      () => {
        // Random calendar fields, sometimes out of range.
        const p = (n: number) => String(n).padStart(2, "0");
        return (
          String(rng.range(0, 9999)).padStart(4, "0") +
          p(rng.range(0, 13)) +
          p(rng.range(0, 32)) +
          p(rng.range(0, 24)) +
          p(rng.range(0, 60)) +
          p(rng.range(0, 60))
        );
      },
    ],
    [1, () => chars(rng, DIGITS, 13, 15)],
    [1, () => "00010101000000"],
  ]);
}

function rev(rng: Rng): string {
  return rng.oneOf<string>([
    [8, () => chars(rng, HEX, 12, 12)],
    [1, () => "000000000000"],
    [1, () => chars(rng, HEX + "ABCDEFxyz", 1, 16)],
    [1, () => chars(rng, HEX, 0, 0)],
    [1, () => chars(rng, HEX, 1, 5) + rng.pick(["_", ".", "-", "ü"]) + chars(rng, HEX, 1, 5)],
  ]);
}

/** Pseudo-versions of forms (1)-(3), with broken variants. */
export function pseudoVersionLike(rng: Rng): string {
  const major = rng.pick(["v0", "v1", "v2", "v10", "v01"]);
  const tail = () => timestamp(rng) + "-" + rev(rng);
  const build = rng.chance(0.2) ? rng.pick(BUILDS) : "";
  return rng.oneOf<string>([
    [3, () => `${major}.0.0-${tail()}${build}`],
    [3, () => `${major}.${rng.pick(NUMS)}.${rng.pick(NUMS)}-0.${tail()}${build}`],
    [
      3,
      () =>
        `${major}.${rng.pick(NUMS)}.${rng.pick(NUMS)}${rng.pick(PRERELEASES.slice(0, 11))}.0.${tail()}${build}`,
    ],
    [1, () => `${major}.0.0-${rng.pick(["", "0.", "1."])}${tail()}${build}`],
    [1, () => `${major}.${rng.pick(NUMS)}.0-0.${tail()}`],
    [1, () => `${major}.1.2-${rng.pick(["1.", "0", "x.0."])}${tail()}`],
  ]);
}

// ---- Patterns (GOPRIVATE syntax) ----

const GLOB_PIECES = [
  "*",
  "?",
  "[a-z]",
  "[^a]",
  "[",
  "]",
  "\\",
  "\\*",
  "[a-]",
  "[]",
  "[-a]",
  "[\\]]",
  "*.corp.example.com",
  "rsc.io/private",
  "rsc.io/priv",
  "github.com/*/x",
  "example.com",
  "EXAMPLE.com",
  "example.*",
  "*/*",
  "",
];

/** A GOPRIVATE-style comma-separated list of globs. */
export function globList(rng: Rng, target: string): string {
  const items = rng.repeat(1, 3, () =>
    rng.oneOf<string>([
      [4, () => rng.pick(GLOB_PIECES)],
      [
        4,
        () => {
          // A prefix of the target, perhaps with one element globbed.
          const parts = target.split("/");
          const k = rng.range(1, parts.length);
          const sub = parts
            .slice(0, k)
            .map((p) => (rng.chance(0.3) ? rng.pick(["*", "?*", p + "*", "[a-z]*"]) : p));
          return sub.join("/") + (rng.chance(0.2) ? "/" : "");
        },
      ],
      [2, () => rng.repeat(1, 3, () => rng.pick(GLOB_PIECES)).join(rng.pick(["", "/", "."]))],
    ]),
  );
  return items.join(rng.pick([",", ",", ", ", ",,"]));
}
