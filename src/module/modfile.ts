/**
 * go.mod parsing as golang.org/x/mod/modfile does it: the same lexer, the same
 * comment attachment (which carries `// indirect`, retraction rationales and
 * deprecation notices), the same directive rules and the same error texts, so
 * that goark reads every go.mod exactly as the go command would.
 *
 * Internally the file is handled as a "byte string" (one char per byte, as
 * Node's latin1 encoding gives) so that positions, quoting and invalid UTF-8
 * behave byte for byte as in Go; strings are decoded only on the way out.
 */
import { ModFileError, TooLargeError } from "../errors.ts";
import { goQuote, goQuoteRune, isValidUTF8 } from "./go-string.ts";
import { canonicalVersion, checkPathMajor, splitPathVersion } from "./path.ts";
import { compare } from "./semver.ts";

/** The largest go.mod the go command reads (modfetch's and zip's MaxGoMod). */
export const MAX_GO_MOD_SIZE = 16 << 20;

export interface ModPathVersion {
  path: string;
  /** Absent when the directive names no version (a replace of every version, or a directory). */
  version?: string;
}

export interface ModRequire {
  path: string;
  version: string;
  /** The line carries a `// indirect` comment. */
  indirect: boolean;
}

export interface ModRetract {
  /** Closed interval; low === high for a single version. */
  low: string;
  high: string;
  /** The comment lines before or after the directive, joined by "\n". */
  rationale: string;
}

export interface ModFile {
  module?: { path: string; deprecated?: string };
  go?: string;
  toolchain?: string;
  godebug: { key: string; value: string }[];
  require: ModRequire[];
  exclude: { path: string; version: string }[];
  replace: { old: ModPathVersion; new: ModPathVersion }[];
  retract: ModRetract[];
  tool: string[];
  ignore: string[];
}

export interface ParseModFileOptions {
  /**
   * Parse as the go command parses the go.mod of a dependency (modfile.ParseLax):
   * directives other than module, go, require, retract and ignore are skipped
   * unread, as are malformed retractions; syntax errors are still errors.
   */
  lax?: boolean;
}

export type ModFileParseResult =
  | { ok: true; modFile: ModFile }
  | { ok: false; errors: string[]; count: number };

/** At most this many error texts are kept; a hostile file can otherwise produce millions. */
const MAX_KEPT_ERRORS = 100;
/** How many of them a thrown ModFileError's one-line message lists. */
const MAX_MESSAGE_ERRORS = 5;

// ---------------------------------------------------------------------------
// Byte strings

const ASCII_ONLY = /^[\x00-\x7f]*$/;
const UTF8_FATAL = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The bytes Go would see for s. A lone surrogate becomes its own 3-byte (WTF-8)
 * sequence, which Go reads as invalid UTF-8, as the test oracle sends it.
 */
function toBytes(s: string): string {
  if (ASCII_ONLY.test(s)) return s;
  if (isValidUTF8(s)) return Buffer.from(s, "utf8").toString("latin1");
  let out = "";
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    out += encodeRune(c);
  }
  return out;
}

/** The UTF-8 bytes of code point c (surrogates included, as WTF-8). */
function encodeRune(c: number): string {
  if (c < 0x80) return String.fromCharCode(c);
  if (c < 0x800) return String.fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
  if (c < 0x10000) {
    return String.fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return String.fromCharCode(
    0xf0 | (c >> 18),
    0x80 | ((c >> 12) & 0x3f),
    0x80 | ((c >> 6) & 0x3f),
    0x80 | (c & 0x3f),
  );
}

/** Size of the rune decodeRune last returned. */
let runeSize = 1;

/** Go's utf8.DecodeRune over a byte string: invalid input yields U+FFFD of size 1. */
function decodeRune(b: string, i: number): number {
  const c0 = b.charCodeAt(i);
  runeSize = 1;
  if (c0 < 0x80) return c0;
  const n = b.length;
  const cont = (k: number, lo = 0x80, hi = 0xbf): number => {
    if (i + k >= n) return -1;
    const c = b.charCodeAt(i + k);
    return c >= lo && c <= hi ? c & 0x3f : -1;
  };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    const c1 = cont(1);
    if (c1 < 0) return 0xfffd;
    runeSize = 2;
    return ((c0 & 0x1f) << 6) | c1;
  }
  if (c0 >= 0xe0 && c0 <= 0xef) {
    const c1 = c0 === 0xe0 ? cont(1, 0xa0) : c0 === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    if (c1 < 0) return 0xfffd;
    const c2 = cont(2);
    if (c2 < 0) return 0xfffd;
    runeSize = 3;
    return ((c0 & 0x0f) << 12) | (c1 << 6) | c2;
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    const c1 = c0 === 0xf0 ? cont(1, 0x90) : c0 === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    if (c1 < 0) return 0xfffd;
    const c2 = cont(2);
    if (c2 < 0) return 0xfffd;
    const c3 = cont(3);
    if (c3 < 0) return 0xfffd;
    runeSize = 4;
    return ((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
  }
  return 0xfffd;
}

/** Byte string to JS string; each invalid byte becomes U+FFFD, as Go's JSON encoder does. */
function fromBytes(b: string): string {
  if (ASCII_ONLY.test(b)) return b;
  try {
    return UTF8_FATAL.decode(Buffer.from(b, "latin1"));
  } catch {
    let out = "";
    for (let i = 0; i < b.length; i += runeSize) out += String.fromCodePoint(decodeRune(b, i));
    return out;
  }
}

/** Go's strconv.Quote over bytes: invalid bytes are shown as \xNN. Returns a JS string. */
function quoteBytes(b: string): string {
  let out = "";
  let run = "";
  for (let i = 0; i < b.length; i += runeSize) {
    const r = decodeRune(b, i);
    if (r === 0xfffd && runeSize === 1) {
      out += goQuote(fromBytes(run)).slice(1, -1) + "\\x" + b.charCodeAt(i).toString(16).padStart(2, "0");
      run = "";
    } else {
      run += b.slice(i, i + runeSize);
    }
  }
  return '"' + out + goQuote(fromBytes(run)).slice(1, -1) + '"';
}

const PRINT = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const printCache = new Map<number, boolean>();

/** unicode.IsPrint. */
function isPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  let p = printCache.get(r);
  if (p === undefined) {
    p = PRINT.test(String.fromCodePoint(r));
    if (printCache.size < 4096) printCache.set(r, p);
  }
  return p;
}

/** unicode.IsSpace. */
function isSpace(r: number): boolean {
  if (r < 0x100) return r === 0x20 || (r >= 0x09 && r <= 0x0d) || r === 0x85 || r === 0xa0;
  return (
    r === 0x1680 ||
    (r >= 0x2000 && r <= 0x200a) ||
    r === 0x2028 ||
    r === 0x2029 ||
    r === 0x202f ||
    r === 0x205f ||
    r === 0x3000
  );
}

/** strings.TrimSpace over a byte string. */
function trimSpace(b: string): string {
  let i = 0;
  while (i < b.length) {
    const r = decodeRune(b, i);
    if (!isSpace(r)) break;
    i += runeSize;
  }
  let j = b.length;
  while (j > i) {
    // Step back to the start of the last rune (at most 4 bytes back).
    let k = j - 1;
    while (k > i && j - k < 4 && (b.charCodeAt(k) & 0xc0) === 0x80) k--;
    let r = decodeRune(b, k);
    if (k + runeSize !== j) {
      k = j - 1;
      r = 0xfffd;
    }
    if (!isSpace(r)) break;
    j = k;
  }
  return b.slice(i, j);
}

/** strings.Fields over a byte string. */
function fields(b: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < b.length; i += runeSize) {
    const r = decodeRune(b, i);
    if (isSpace(r)) {
      if (start >= 0) out.push(b.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(b.slice(start));
  return out;
}

function inputBytes(data: string | Uint8Array, file: string): string {
  const size = typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.byteLength;
  if (size > MAX_GO_MOD_SIZE) {
    throw new TooLargeError(
      `${file}: go.mod is ${size} bytes, over the limit of ${MAX_GO_MOD_SIZE} (16 MiB)`,
      {
        path: file,
      },
    );
  }
  if (typeof data === "string") return toBytes(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
}

// ---------------------------------------------------------------------------
// Syntax tree

interface Pos {
  line: number;
  /** Rune in line, from 1. */
  col: number;
  byte: number;
}

interface Comment {
  start: Pos;
  /** The comment text from "//", or "" for a blank line kept inside a block. */
  token: string;
}

interface Comments {
  before: Comment[];
  suffix: Comment[];
}

interface Line {
  kind: "line";
  com: Comments;
  start: Pos;
  end: Pos;
  token: string[];
}

interface Block {
  kind: "block";
  com: Comments;
  start: Pos;
  token: string[];
  lparen: { com: Comments; pos: Pos };
  lines: Line[];
  rparen: { com: Comments; pos: Pos };
}

interface CommentBlock {
  kind: "comments";
  com: Comments;
  start: Pos;
}

type Stmt = Line | Block | CommentBlock;

const T_EOF = -1;
const T_EOLCOMMENT = -2;
const T_IDENT = -3;
const T_STRING = -4;
const T_COMMENT = -5;

interface Token {
  kind: number;
  pos: Pos;
  end: Pos;
  text: string;
}

/** A syntax error; the parser stops at the first one, as Go's does. */
class SyntaxStop {
  constructor(
    readonly pos: Pos,
    readonly message: string,
  ) {}
}

function isEOL(kind: number): boolean {
  return kind === T_EOF || kind === T_EOLCOMMENT || kind === 0x0a;
}

function isIdent(r: number): boolean {
  if (r < 0x80) {
    // Printable ASCII except space and the punctuation tokens.
    return (
      r > 0x20 &&
      r < 0x7f &&
      r !== 0x28 &&
      r !== 0x29 &&
      r !== 0x5b &&
      r !== 0x5d &&
      r !== 0x7b &&
      r !== 0x7d &&
      r !== 0x2c
    );
  }
  return isPrint(r);
}

function newComments(): Comments {
  return { before: [], suffix: [] };
}

/** One token of lookahead, exactly like modfile's input type (error positions depend on it). */
class Parser {
  private off = 0;
  private line = 1;
  private col = 1;
  private tok: Token = {
    kind: T_EOF,
    pos: { line: 1, col: 1, byte: 0 },
    end: { line: 1, col: 1, byte: 0 },
    text: "",
  };
  private tokStart = 0;
  readonly suffixComments: Comment[] = [];
  readonly stmts: Stmt[] = [];

  constructor(
    private readonly src: string,
    private readonly filename: string,
  ) {}

  private pos(): Pos {
    return { line: this.line, col: this.col, byte: this.off };
  }

  private fail(message: string, pos: Pos = this.pos()): never {
    throw new SyntaxStop(pos, message);
  }

  private eof(): boolean {
    return this.off >= this.src.length;
  }

  private peekRune(): number {
    if (this.off >= this.src.length) return 0;
    const c = this.src.charCodeAt(this.off);
    return c < 0x80 ? c : decodeRune(this.src, this.off);
  }

  private peekPrefix(p: string): boolean {
    return this.src.startsWith(p, this.off);
  }

  private readRune(): number {
    const c = this.src.charCodeAt(this.off);
    let r = c;
    if (c < 0x80) this.off++;
    else {
      r = decodeRune(this.src, this.off);
      this.off += runeSize;
    }
    if (r === 0x0a) {
      this.line++;
      this.col = 1;
    } else {
      this.col++;
    }
    return r;
  }

  private startToken(): void {
    this.tokStart = this.off;
    this.tok = { kind: T_EOF, pos: this.pos(), end: this.pos(), text: "" };
  }

  private endToken(kind: number): void {
    let text = this.src.slice(this.tokStart, this.off);
    if (kind === T_COMMENT || kind === T_EOLCOMMENT) {
      if (text.endsWith("\r\n")) text = text.slice(0, -2);
      else if (text.endsWith("\n")) text = text.slice(0, -1);
    }
    this.tok.kind = kind;
    this.tok.text = text;
    this.tok.end = this.pos();
  }

  private peek(): number {
    return this.tok.kind;
  }

  private lex(): Token {
    const t = this.tok;
    this.readToken();
    return t;
  }

  private readToken(): void {
    while (!this.eof()) {
      const c = this.peekRune();
      if (c === 0x20 || c === 0x09 || c === 0x0d) {
        this.readRune();
        continue;
      }
      if (this.peekPrefix("//")) {
        this.startToken();
        // A comment with only blanks before it on its line is a whole-line comment.
        const lineStart = this.src.lastIndexOf("\n", this.off - 1) + 1;
        const suffix = trimSpace(this.src.slice(lineStart, this.off)).length > 0;
        this.readRune();
        this.readRune();
        while (!this.eof() && this.readRune() !== 0x0a) {}
        if (!suffix) {
          this.endToken(T_COMMENT);
          return;
        }
        this.endToken(T_EOLCOMMENT);
        this.suffixComments.push({ start: this.tok.pos, token: this.tok.text });
        return;
      }
      if (this.peekPrefix("/*")) this.fail("mod files must use // comments (not /* */ comments)");
      break;
    }

    this.startToken();
    if (this.eof()) {
      this.endToken(T_EOF);
      return;
    }

    const c = this.peekRune();
    switch (c) {
      case 0x0a:
      case 0x28:
      case 0x29:
      case 0x5b:
      case 0x5d:
      case 0x7b:
      case 0x7d:
      case 0x2c:
        this.readRune();
        this.endToken(c);
        return;
      case 0x22:
      case 0x60: {
        this.readRune();
        for (;;) {
          if (this.eof()) this.fail("unexpected EOF in string", this.tok.pos);
          if (this.peekRune() === 0x0a) this.fail("unexpected newline in string");
          const d = this.readRune();
          if (d === c) break;
          if (d === 0x5c && c !== 0x60) {
            if (this.eof()) this.fail("unexpected EOF in string", this.tok.pos);
            this.readRune();
          }
        }
        this.endToken(T_STRING);
        return;
      }
    }

    if (!isIdent(c)) this.fail(`unexpected input character ${goQuoteRune(c)}`);
    while (isIdent(this.peekRune())) {
      if (this.peekPrefix("//")) break;
      if (this.peekPrefix("/*")) this.fail("mod files must use // comments (not /* */ comments)");
      this.readRune();
    }
    this.endToken(T_IDENT);
  }

  parseFile(): void {
    this.readToken();
    let cb: CommentBlock | undefined;
    for (;;) {
      switch (this.peek()) {
        case 0x0a:
          this.lex();
          if (cb !== undefined) {
            this.stmts.push(cb);
            cb = undefined;
          }
          break;
        case T_COMMENT: {
          const t = this.lex();
          if (cb === undefined) cb = { kind: "comments", com: newComments(), start: t.pos };
          cb.com.before.push({ start: t.pos, token: t.text });
          break;
        }
        case T_EOF:
          if (cb !== undefined) this.stmts.push(cb);
          return;
        default:
          this.parseStmt();
          if (cb !== undefined) {
            this.stmts[this.stmts.length - 1]!.com.before = cb.com.before;
            cb = undefined;
          }
      }
    }
  }

  private parseStmt(): void {
    const first = this.lex();
    const start = first.pos;
    let end = first.end;
    const tokens = [first.text];
    for (;;) {
      const t = this.lex();
      if (isEOL(t.kind)) {
        this.stmts.push({ kind: "line", com: newComments(), start, end, token: tokens });
        return;
      }
      if (t.kind === 0x28) {
        const next = this.peek();
        if (isEOL(next)) {
          this.stmts.push(this.parseLineBlock(start, tokens, t));
          return;
        }
        if (next === 0x29) {
          const rparen = this.lex();
          if (isEOL(this.peek())) {
            this.lex();
            this.stmts.push({
              kind: "block",
              com: newComments(),
              start,
              token: tokens,
              lparen: { com: newComments(), pos: t.pos },
              lines: [],
              rparen: { com: newComments(), pos: rparen.pos },
            });
            return;
          }
          // "( )" inside a line is just two tokens.
          tokens.push(t.text, rparen.text);
        } else {
          tokens.push(t.text);
        }
        continue;
      }
      tokens.push(t.text);
      end = t.end;
    }
  }

  private parseLineBlock(start: Pos, token: string[], lparen: Token): Block {
    const x: Block = {
      kind: "block",
      com: newComments(),
      start,
      token,
      lparen: { com: newComments(), pos: lparen.pos },
      lines: [],
      rparen: { com: newComments(), pos: lparen.pos },
    };
    let comments: Comment[] = [];
    for (;;) {
      switch (this.peek()) {
        case T_EOLCOMMENT:
          this.lex();
          break;
        case 0x0a:
          this.lex();
          // A blank line is kept as an empty comment (once per run of blank lines).
          if (
            (comments.length === 0 && x.lines.length > 0) ||
            (comments.length > 0 && comments[comments.length - 1]!.token !== "")
          ) {
            comments.push({ start: { line: 0, col: 0, byte: 0 }, token: "" });
          }
          break;
        case T_COMMENT: {
          const t = this.lex();
          comments.push({ start: t.pos, token: t.text });
          break;
        }
        case T_EOF:
          this.fail(
            `syntax error (unterminated block started at ${this.filename}:${x.start.line}:${x.start.col})`,
          );
          break;
        case 0x29: {
          const rparen = this.lex();
          x.rparen.com.before = comments;
          x.rparen.pos = rparen.pos;
          if (!isEOL(this.peek())) this.fail("syntax error (expected newline after closing paren)");
          this.lex();
          return x;
        }
        default: {
          const l = this.parseLine();
          x.lines.push(l);
          l.com.before = comments;
          comments = [];
        }
      }
    }
  }

  private parseLine(): Line {
    const first = this.lex();
    const start = first.pos;
    let end = first.end;
    const tokens = [first.text];
    for (;;) {
      const t = this.lex();
      if (isEOL(t.kind)) return { kind: "line", com: newComments(), start, end, token: tokens };
      tokens.push(t.text);
      end = t.end;
    }
  }

  /**
   * Attaches each end-of-line comment to the last single-line element ending
   * before it (modfile's assignComments; whole-line comments were attached
   * while parsing).
   */
  assignSuffixComments(): void {
    const post: { start: Pos; end: Pos; com: Comments }[] = [];
    const after = (p: Pos): Pos => ({ line: p.line, col: p.col + 1, byte: p.byte + 1 });
    for (const s of this.stmts) {
      if (s.kind === "block") {
        post.push({ start: s.lparen.pos, end: after(s.lparen.pos), com: s.lparen.com });
        for (const l of s.lines) post.push({ start: l.start, end: l.end, com: l.com });
        post.push({ start: s.rparen.pos, end: after(s.rparen.pos), com: s.rparen.com });
        post.push({ start: s.start, end: after(s.rparen.pos), com: s.com });
      } else if (s.kind === "line") {
        post.push({ start: s.start, end: s.end, com: s.com });
      } else {
        post.push({ start: s.start, end: s.start, com: s.com });
      }
    }
    const suffix = this.suffixComments;
    for (let i = post.length - 1; i >= 0 && suffix.length > 0; i--) {
      const x = post[i]!;
      if (x.start.line !== x.end.line) continue;
      while (suffix.length > 0 && x.end.byte <= suffix[suffix.length - 1]!.start.byte) {
        x.com.suffix.push(suffix.pop()!);
      }
    }
    for (const x of post) x.com.suffix.reverse();
  }
}

// ---------------------------------------------------------------------------
// Directives

/** modfile.Error's text: "file:line:col: " (col only past the first rune), then verb and path. */
function errorText(file: string, pos: Pos | undefined, verb: string, modPath: string, err: string): string {
  let prefix = "";
  if (pos !== undefined && pos.col > 1) prefix = `${file}:${pos.line}:${pos.col}: `;
  else if (pos !== undefined && pos.line > 0) prefix = `${file}:${pos.line}: `;
  else if (file !== "") prefix = `${file}: `;
  let directive = "";
  if (modPath !== "") directive = `${verb} ${modPath}: `;
  else if (verb !== "") directive = `${verb}: `;
  return prefix + directive + err;
}

/** An error from a helper, not yet placed on a line (modfile.Error without Pos). */
interface Problem {
  verb: string;
  modPath: string;
  err: string;
}

function problemText(p: Problem): string {
  return errorText("", undefined, p.verb, p.modPath, p.err);
}

/** Go's strconv.Unquote of a double-quoted byte string; undefined on a syntax error. */
function unquoteDouble(t: string): string | undefined {
  const n = t.length;
  if (n < 2 || t.charCodeAt(0) !== 0x22) return undefined;
  let out = "";
  let i = 1;
  while (i < n && t.charCodeAt(i) !== 0x22) {
    const c = t.charCodeAt(i);
    if (c === 0x0a) return undefined;
    if (c >= 0x80) {
      // Invalid UTF-8 is replaced by U+FFFD, as UnquoteChar does.
      const r = decodeRune(t, i);
      out += runeSize === 1 && r === 0xfffd ? "\xef\xbf\xbd" : t.slice(i, i + runeSize);
      i += runeSize;
      continue;
    }
    if (c !== 0x5c) {
      out += t[i];
      i++;
      continue;
    }
    if (i + 1 >= n) return undefined;
    const e = t[i + 1]!;
    i += 2;
    switch (e) {
      case "a":
        out += "\x07";
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "t":
        out += "\t";
        break;
      case "v":
        out += "\v";
        break;
      case "\\":
        out += "\\";
        break;
      case '"':
        out += '"';
        break;
      case "x":
      case "u":
      case "U": {
        const digits = e === "x" ? 2 : e === "u" ? 4 : 8;
        if (i + digits > n) return undefined;
        const hex = t.slice(i, i + digits);
        if (!/^[0-9a-fA-F]+$/.test(hex)) return undefined;
        const v = Number.parseInt(hex, 16);
        i += digits;
        if (e === "x") {
          out += String.fromCharCode(v);
        } else {
          if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
          out += encodeRune(v);
        }
        break;
      }
      case "0":
      case "1":
      case "2":
      case "3":
      case "4":
      case "5":
      case "6":
      case "7": {
        if (i + 2 > n) return undefined;
        const oct = t.slice(i - 1, i + 2);
        if (!/^[0-7]{3}$/.test(oct)) return undefined;
        const v = Number.parseInt(oct, 8);
        if (v > 255) return undefined;
        out += String.fromCharCode(v);
        i += 2;
        break;
      }
      default:
        return undefined;
    }
  }
  if (i >= n || i !== n - 1) return undefined;
  return out;
}

/** Go's strconv.Unquote for the two forms ModulePath accepts ("..." and `...`). */
function unquoteAny(t: string): string | undefined {
  if (t.startsWith("`")) {
    const end = t.indexOf("`", 1);
    if (end !== t.length - 1) return undefined;
    return t.slice(1, end).replaceAll("\r", "");
  }
  return unquoteDouble(t);
}

/**
 * modfile's parseString: a double-quoted token is unquoted; any other token
 * may not contain a quote (so a `raw` string is refused here even though the
 * lexer reads it as one token).
 */
function parseString(t: string): { s: string; err?: undefined } | { s?: undefined; err: string } {
  if (t.startsWith('"')) {
    const s = unquoteDouble(t);
    return s === undefined ? { err: "invalid syntax" } : { s };
  }
  if (/["'`]/.test(t)) return { err: "unquoted string cannot contain quote" };
  return { s: t };
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: Problem };

/**
 * modfile's parseVersion with a nil fixer: the version must have a canonical
 * form, which replaces it. keepAsIs is the fixer retract directives use.
 */
function parseVersion(verb: string, path: string, raw: string, keepAsIs = false): Parsed<string> {
  const p = parseString(raw);
  if (p.err !== undefined) {
    return {
      ok: false,
      problem: { verb, modPath: fromBytes(path), err: `version ${quoteBytes(raw)} invalid: ${p.err}` },
    };
  }
  if (keepAsIs) return { ok: true, value: p.s };
  const cv = canonicalVersion(fromBytes(p.s));
  if (cv === "") {
    return {
      ok: false,
      problem: {
        verb,
        modPath: fromBytes(path),
        err: `version ${quoteBytes(p.s)} invalid: must be of the form v1.2.3`,
      },
    };
  }
  return { ok: true, value: cv };
}

/** The "version ... invalid: should be vN, not vM" text, or undefined if v fits pathMajor. */
function pathMajorError(v: string, pathMajor: string): string | undefined {
  try {
    checkPathMajor(v, pathMajor);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function parseVersionInterval(
  verb: string,
  args: string[],
): { ok: true; low: string; high: string; rest: string[] } | { ok: false; err: string } {
  const fail = (err: string) => ({ ok: false as const, err });
  let toks = args;
  if (toks.length === 0 || toks[0] === "(") return fail("expected '[' or version");
  if (toks[0] !== "[") {
    const v = parseVersion(verb, "", toks[0]!, true);
    if (!v.ok) return fail(problemText(v.problem));
    return { ok: true, low: v.value, high: v.value, rest: toks.slice(1) };
  }
  toks = toks.slice(1);
  if (toks.length === 0) return fail("expected version after '['");
  const low = parseVersion(verb, "", toks[0]!, true);
  if (!low.ok) return fail(problemText(low.problem));
  toks = toks.slice(1);
  if (toks.length === 0 || toks[0] !== ",") return fail("expected ',' after version");
  toks = toks.slice(1);
  if (toks.length === 0) return fail("expected version after ','");
  const high = parseVersion(verb, "", toks[0]!, true);
  if (!high.ok) return fail(problemText(high.problem));
  toks = toks.slice(1);
  if (toks.length === 0 || toks[0] !== "]") return fail("expected ']' after version");
  return { ok: true, low: low.value, high: high.value, rest: toks.slice(1) };
}

// [new] Go 1.21 added patch versions and prerelease suffixes to the go line
// ("1.21.0", "1.21rc1"); x/mod v0.7.0 accepted only "1.N".
const GO_VERSION = /^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?$/;
const LAX_GO_VERSION = /^v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9][^\n]*)$/;
// [new] toolchain (Go 1.21): "default" or a name starting go1 followed by end or ".".
const TOOLCHAIN = /^default$|^go1($|\.)/;

/** modfile.IsDirectoryPath ([new]: "." and ".." alone count since x/mod v0.15). */
function isDirectoryPath(ns: string): boolean {
  return (
    ns === "." ||
    ns.startsWith("./") ||
    ns.startsWith(".\\") ||
    ns === ".." ||
    ns.startsWith("../") ||
    ns.startsWith("..\\") ||
    ns.startsWith("/") ||
    ns.startsWith("\\") ||
    (ns.length >= 2 && /^[A-Za-z]:/.test(ns))
  );
}

/** The comment text of a directive: its own comments, or its block's when it has none. */
function directiveComment(block: Block | undefined, line: Line): string {
  let com = line.com;
  if (block !== undefined && com.before.length === 0 && com.suffix.length === 0) com = block.com;
  const lines: string[] = [];
  for (const c of [...com.before, ...com.suffix]) {
    if (!c.token.startsWith("//")) continue; // a kept blank line
    lines.push(trimSpace(c.token.slice(2)));
  }
  return lines.join("\n");
}

/** The first paragraph starting "Deprecated:" in the module line's comments. */
function deprecation(text: string): string {
  let k = -1;
  if (text.startsWith("Deprecated:")) k = 0;
  else {
    const i = text.indexOf("\n\nDeprecated:");
    if (i >= 0) k = i + 2;
  }
  if (k < 0) return "";
  let i = k + "Deprecated:".length;
  while (text.charCodeAt(i) === 0x20) i++;
  const end = text.indexOf("\n\n", i);
  return end < 0 ? text.slice(i) : text.slice(i, end);
}

function isIndirect(line: Line): boolean {
  const c = line.com.suffix[0];
  if (c === undefined) return false;
  const f = fields(c.token.startsWith("//") ? c.token.slice(2) : c.token);
  return (f.length === 1 && f[0] === "indirect") || (f.length > 1 && f[0] === "indirect;");
}

const BLOCK_VERBS = new Set([
  "module",
  "godebug",
  "require",
  "exclude",
  "replace",
  "retract",
  "tool",
  "ignore",
]);
// [new] ignore (Go 1.25) is read from dependencies too.
const LAX_VERBS = new Set(["go", "module", "retract", "require", "ignore"]);

/** The directive semantics of modfile's parseToFile, on byte strings. */
class Interpreter {
  moduleSeen = false;
  modulePath = "";
  deprecated = "";
  go: string | undefined;
  toolchain: string | undefined;
  godebug: { key: string; value: string }[] = [];
  require: { path: string; version: string; indirect: boolean }[] = [];
  exclude: { path: string; version: string }[] = [];
  replace: { old: [string, string]; new: [string, string] }[] = [];
  retract: { low: string; high: string; rationale: string }[] = [];
  tool: string[] = [];
  ignore: string[] = [];
  readonly errors: string[] = [];
  errorCount = 0;

  constructor(
    private readonly file: string,
    private readonly strict: boolean,
  ) {}

  /** Records an error; returns undefined so that directive handlers can `return this.report(...)`. */
  private report(pos: Pos, verb: string, modPath: string, err: string): undefined {
    this.errorCount++;
    if (this.errors.length < MAX_KEPT_ERRORS) this.errors.push(errorText(this.file, pos, verb, modPath, err));
    return undefined;
  }

  run(stmts: Stmt[]): void {
    for (const x of stmts) {
      if (x.kind === "line") {
        this.add(undefined, x, x.token[0]!, x.token.slice(1));
      } else if (x.kind === "block") {
        if (x.token.length > 1 || !BLOCK_VERBS.has(x.token[0]!)) {
          if (this.strict)
            this.report(x.start, "", "", `unknown block type: ${fromBytes(x.token.join(" "))}`);
          continue;
        }
        for (const l of x.lines) this.add(x, l, x.token[0]!, l.token);
      }
    }
  }

  private add(block: Block | undefined, line: Line, verb: string, args: string[]): undefined {
    if (!this.strict && !LAX_VERBS.has(verb)) return;
    const at = line.start;
    const errorf = (err: string) => this.report(at, "", "", err);
    const wrap = (p: Problem) => this.report(at, p.verb, p.modPath, p.err);

    switch (verb) {
      case "go": {
        if (this.go !== undefined) return errorf("repeated go statement");
        if (args.length !== 1) return errorf("go directive expects exactly one argument");
        let v = args[0]!;
        if (!GO_VERSION.test(v)) {
          const m = this.strict ? null : LAX_GO_VERSION.exec(v);
          if (m === null) return errorf(`invalid go version '${fromBytes(v)}': must match format 1.23.0`);
          v = m[1]!;
        }
        this.go = v;
        return;
      }
      case "toolchain": {
        if (this.toolchain !== undefined) return errorf("repeated toolchain statement");
        if (args.length !== 1) return errorf("toolchain directive expects exactly one argument");
        if (!TOOLCHAIN.test(args[0]!)) {
          return errorf(
            `invalid toolchain version '${fromBytes(args[0]!)}': must match format go1.23.0 or default`,
          );
        }
        this.toolchain = args[0]!;
        return;
      }
      case "module": {
        if (this.moduleSeen) return errorf("repeated module statement");
        this.moduleSeen = true;
        this.deprecated = deprecation(directiveComment(block, line));
        if (args.length !== 1) return errorf("usage: module module/path");
        const p = parseString(args[0]!);
        if (p.err !== undefined) return errorf(`invalid quoted string: ${p.err}`);
        this.modulePath = p.s;
        return;
      }
      case "godebug": {
        // [new] godebug (Go 1.23).
        if (args.length !== 1 || /["`',]/.test(args[0]!)) return errorf("usage: godebug key=value");
        const eq = args[0]!.indexOf("=");
        if (eq < 0) return errorf("usage: godebug key=value");
        this.godebug.push({ key: args[0]!.slice(0, eq), value: args[0]!.slice(eq + 1) });
        return;
      }
      case "require":
      case "exclude": {
        if (args.length !== 2) return errorf(`usage: ${verb} module/path v1.2.3`);
        const p = parseString(args[0]!);
        if (p.err !== undefined) return errorf(`invalid quoted string: ${p.err}`);
        const v = parseVersion(verb, p.s, args[1]!);
        if (!v.ok) return wrap(v.problem);
        const split = splitPathVersion(fromBytes(p.s));
        if (!split.ok) return errorf("invalid module path");
        const bad = pathMajorError(v.value, split.pathMajor);
        if (bad !== undefined) return this.report(at, verb, fromBytes(p.s), bad);
        if (verb === "require")
          this.require.push({ path: p.s, version: v.value, indirect: isIndirect(line) });
        else this.exclude.push({ path: p.s, version: v.value });
        return;
      }
      case "replace":
        return this.addReplace(at, verb, args);
      case "retract": {
        const rationale = directiveComment(block, line);
        const vi = parseVersionInterval(verb, args);
        if (!vi.ok) {
          // Dependencies may use interval syntax from the future: skip, don't fail.
          if (this.strict) errorf(vi.err);
          return;
        }
        if (vi.rest.length > 0 && this.strict) {
          return errorf(`unexpected token after version: ${quoteBytes(vi.rest[0]!)}`);
        }
        this.retract.push({ low: vi.low, high: vi.high, rationale });
        return;
      }
      case "tool":
      case "ignore": {
        // [new] tool (Go 1.24) and ignore (Go 1.25).
        if (args.length !== 1) return errorf(`${verb} directive expects exactly one argument`);
        const p = parseString(args[0]!);
        if (p.err !== undefined) return errorf(`invalid quoted string: ${p.err}`);
        this[verb].push(p.s);
        return;
      }
      default:
        return errorf(`unknown directive: ${fromBytes(verb)}`);
    }
  }

  private addReplace(at: Pos, verb: string, args: string[]): undefined {
    const errorf = (err: string) => this.report(at, "", "", err);
    const arrow = args.length >= 2 && args[1] === "=>" ? 1 : 2;
    if (args.length < arrow + 2 || args.length > arrow + 3 || args[arrow] !== "=>") {
      return errorf(
        `usage: ${verb} module/path [v1.2.3] => other/module v1.4\n\t or ${verb} module/path [v1.2.3] => ../local/directory`,
      );
    }
    const p = parseString(args[0]!);
    if (p.err !== undefined) return errorf(`invalid quoted string: ${p.err}`);
    const path = fromBytes(p.s);
    const split = splitPathVersion(path);
    if (!split.ok) return this.report(at, verb, path, "invalid module path");
    let v = "";
    if (arrow === 2) {
      const pv = parseVersion(verb, p.s, args[1]!);
      if (!pv.ok) return this.report(at, pv.problem.verb, pv.problem.modPath, pv.problem.err);
      const bad = pathMajorError(pv.value, split.pathMajor);
      if (bad !== undefined) return this.report(at, verb, path, bad);
      v = pv.value;
    }
    const np = parseString(args[arrow + 1]!);
    if (np.err !== undefined) return errorf(`invalid quoted string: ${np.err}`);
    const ns = np.s;
    let nv = "";
    if (args.length === arrow + 2) {
      if (!isDirectoryPath(ns)) {
        if (ns.includes("@")) {
          return errorf("replacement module must match format 'path version', not 'path@version'");
        }
        // [new] wording since x/mod v0.15 ("starting with . or ..", was "./ or ../").
        return errorf(
          "replacement module without version must be directory path (rooted or starting with . or ..)",
        );
      }
      // goark runs where the path separator is '/', as the go command there does.
      if (ns.includes("\\")) {
        return errorf("replacement directory appears to be Windows path (on a non-windows system)");
      }
    }
    if (args.length === arrow + 3) {
      const pv = parseVersion(verb, ns, args[arrow + 2]!);
      if (!pv.ok) return this.report(at, pv.problem.verb, pv.problem.modPath, pv.problem.err);
      if (isDirectoryPath(ns)) {
        return errorf(`replacement module directory path ${quoteBytes(ns)} cannot have version`);
      }
      nv = pv.value;
    }
    this.replace.push({ old: [p.s, v], new: [ns, nv] });
  }

  result(): ModFile {
    const mv = ([path, version]: [string, string]): ModPathVersion =>
      version === "" ? { path: fromBytes(path) } : { path: fromBytes(path), version };
    const mf: ModFile = {
      godebug: this.godebug.map((g) => ({ key: fromBytes(g.key), value: fromBytes(g.value) })),
      require: this.require.map((r) => ({
        path: fromBytes(r.path),
        version: r.version,
        indirect: r.indirect,
      })),
      exclude: this.exclude.map((x) => ({ path: fromBytes(x.path), version: x.version })),
      replace: this.replace.map((r) => ({ old: mv(r.old), new: mv(r.new) })),
      retract: this.retract.map((r) => ({
        low: fromBytes(r.low),
        high: fromBytes(r.high),
        rationale: fromBytes(r.rationale),
      })),
      tool: this.tool.map(fromBytes),
      ignore: this.ignore.map(fromBytes),
    };
    if (this.moduleSeen) {
      mf.module = { path: fromBytes(this.modulePath) };
      if (this.deprecated !== "") mf.module.deprecated = fromBytes(this.deprecated);
    }
    if (this.go !== undefined) mf.go = fromBytes(this.go);
    if (this.toolchain !== undefined) mf.toolchain = fromBytes(this.toolchain);
    return mf;
  }
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Parses a go.mod without throwing on its content: either the file or Go's
 * error texts (modfile.Error strings, in order; at most 100 kept, `count` is
 * the total). Throws TooLargeError over 16 MiB.
 */
export function parseModFileResult(
  data: string | Uint8Array,
  file = "go.mod",
  options: ParseModFileOptions = {},
): ModFileParseResult {
  const src = inputBytes(data, file);
  const parser = new Parser(src, file);
  try {
    parser.parseFile();
  } catch (e) {
    if (e instanceof SyntaxStop)
      return { ok: false, errors: [errorText(file, e.pos, "", "", e.message)], count: 1 };
    throw e;
  }
  parser.assignSuffixComments();
  const interp = new Interpreter(file, options.lax !== true);
  interp.run(parser.stmts);
  if (interp.errorCount > 0) return { ok: false, errors: interp.errors, count: interp.errorCount };
  return { ok: true, modFile: interp.result() };
}

/**
 * Parses a go.mod like modfile.Parse (or modfile.ParseLax with {lax: true}),
 * with versions required to be canonicalizable (a nil VersionFixer).
 * Throws ModFileError ("go.mod:LINE[:COL]: message", further errors appended
 * on the same line) or TooLargeError.
 */
export function parseModFile(
  data: string | Uint8Array,
  file = "go.mod",
  options: ParseModFileOptions = {},
): ModFile {
  const r = parseModFileResult(data, file, options);
  if (r.ok) return r.modFile;
  const shown = r.errors.slice(0, MAX_MESSAGE_ERRORS).map((e) => e.replaceAll("\n\t", " "));
  let message = shown.join("; ");
  if (r.count > shown.length) message += `; and ${r.count - shown.length} more errors`;
  throw new ModFileError(message, { path: file });
}

/** Reports whether the go.mod retracts version (closed intervals, semver order). */
export function isRetracted(mf: Pick<ModFile, "retract">, version: string): boolean {
  return mf.retract.some((r) => compare(r.low, version) <= 0 && compare(version, r.high) <= 0);
}

/** modfile.MustQuote: whether s needs quoting to be one token in a go.mod line. */
export function mustQuote(s: string): boolean {
  const b = toBytes(s);
  for (let i = 0; i < b.length; i += runeSize) {
    const r = decodeRune(b, i);
    switch (r) {
      case 0x20:
      case 0x22:
      case 0x27:
      case 0x60:
        return true;
      case 0x28:
      case 0x29:
      case 0x5b:
      case 0x5d:
      case 0x7b:
      case 0x7d:
      case 0x2c:
        if (b.length > 1) return true;
        break;
      default:
        if (!isPrint(r)) return true;
    }
  }
  return b === "" || b.includes("//") || b.includes("/*");
}

/** modfile.AutoQuote: s, or its Go quotation if it must be quoted. */
export function autoQuote(s: string): string {
  return mustQuote(s) ? quoteBytes(toBytes(s)) : s;
}

/** The go.mod the go command synthesizes for a module without one: `module PATH\n`. */
export function formatModuleOnly(path: string): string {
  return `module ${autoQuote(path)}\n`;
}

/**
 * The module path declared in a go.mod, read as modfile.ModulePath does
 * (tolerant of any other problem in the file); undefined if none.
 */
export function modulePathOf(data: string | Uint8Array): string | undefined {
  const src = inputBytes(data, "go.mod");
  let off = 0;
  while (off < src.length) {
    let nl = src.indexOf("\n", off);
    if (nl < 0) nl = src.length;
    let line = src.slice(off, nl);
    off = nl + 1;
    const cut = line.indexOf("//");
    if (cut >= 0) line = line.slice(0, cut);
    line = trimSpace(line);
    if (!line.startsWith("module")) continue;
    line = line.slice("module".length);
    const n = line.length;
    line = trimSpace(line);
    if (line.length === n || line.length === 0) continue;
    if (line.startsWith('"') || line.startsWith("`")) {
      const p = unquoteAny(line);
      return p === undefined || p === "" ? undefined : fromBytes(p);
    }
    return fromBytes(line);
  }
  return undefined;
}
