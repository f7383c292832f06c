/**
 * Base64 decoding with the exact acceptance rules of Go's
 * base64.StdEncoding.DecodeString, which the note and tlog formats use.
 * Node's Buffer decoder is lenient (it skips junk and missing padding); Go's
 * is not, except that it skips "\r" and "\n" anywhere and ignores non-zero
 * trailing bits. A key, hash or signature Go rejects must be rejected here.
 */

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The decoded bytes, or undefined where Go's StdEncoding reports an error. */
export function decodeGoBase64(s: string): Buffer | undefined {
  const clean = s.includes("\r") || s.includes("\n") ? s.replace(/[\r\n]/g, "") : s;
  if (!STD_BASE64.test(clean)) return undefined;
  return Buffer.from(clean, "base64");
}

/** Go's base64.StdEncoding.EncodeToString (padded). */
export function encodeGoBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}
