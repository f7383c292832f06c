/**
 * Go's view of strings, for code that must answer exactly as Go does: byte
 * (UTF-8) order, and the %q quoting Go puts in error messages.
 */

/**
 * -1, 0, +1 comparing a and b as Go compares strings (by UTF-8 bytes). UTF-8
 * byte order is code point order; a lone surrogate stands for its WTF-8 bytes
 * (ED A0 80…), which sort exactly where its own code unit value does.
 */
export function compareGoStrings(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  const restA = a.length - i;
  const restB = b.length - j;
  return restA === restB ? 0 : restA < restB ? -1 : 1;
}

// Go's unicode.IsPrint (categories L, M, N, P, S and U+0020). Code points
// assigned after Unicode 13 print raw here where Go 1.19 would escape them.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
/** True if s is well-formed UTF-16 (no lone surrogates), i.e. would encode to valid UTF-8. */
export function isValidUTF8(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return false;
    const next = s.charCodeAt(i + 1); // NaN past the end
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** Appends rune r the way strconv does inside a quote of kind q. */
function escapeRune(r: number, q: number): string {
  if (r === q || r === 0x5c) return "\\" + String.fromCharCode(r);
  if (r >= 0x20 && r < 0x7f) return String.fromCharCode(r);
  if (r >= 0x80 && PRINTABLE.test(String.fromCodePoint(r))) return String.fromCodePoint(r);
  switch (r) {
    case 0x07:
      return "\\a";
    case 0x08:
      return "\\b";
    case 0x0c:
      return "\\f";
    case 0x0a:
      return "\\n";
    case 0x0d:
      return "\\r";
    case 0x09:
      return "\\t";
    case 0x0b:
      return "\\v";
  }
  if (r < 0x20 || r === 0x7f) return "\\x" + hex(r, 2);
  if (r < 0x10000) return "\\u" + hex(r, 4);
  return "\\U" + hex(r, 8);
}

/** Go's strconv.Quote (fmt %q of a string). */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      out += escapeRune(c, 0x22);
      continue;
    }
    const r = s.codePointAt(i)!;
    if (r > 0xffff) i++;
    // A lone surrogate has no UTF-8 form; show it as Go shows a stray byte: escaped.
    out += r >= 0xd800 && r <= 0xdfff ? "\\u" + hex(r, 4) : escapeRune(r, 0x22);
  }
  return out + '"';
}

/** Go's strconv.QuoteRune (fmt %q of a rune); surrogates become U+FFFD as in Go. */
export function goQuoteRune(r: number): string {
  if (r >= 0xd800 && r <= 0xdfff) r = 0xfffd;
  return "'" + escapeRune(r, 0x27) + "'";
}
