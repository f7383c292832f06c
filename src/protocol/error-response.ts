/**
 * The one place where an error becomes an HTTP status and body.
 *
 * The go command treats only 404 and 410 as "not here, maybe elsewhere"
 * (fs.ErrNotExist: GOPROXY's `,` moves on, prefix probing keeps going); every
 * other status is a hard error for that proxy. It prints the body as "server
 * response" only when it is valid UTF-8 without control characters, at most 8
 * lines / 648 bytes, so bodies here are one sanitised line well under that.
 *
 * Choices:
 * - NOT_FOUND 404, GONE 410.
 * - INVALID_PATH / INVALID_VERSION 404: a path or version that cannot exist
 *   is "not found" for the client (proxy.golang.org answers these with 404
 *   too), so prefix probes and `,` fall-through keep working.
 * - BAD_REQUEST 400: malformed request targets the go command never sends.
 * - DISABLED 404: lookups refused by configuration (offline, GOPROXY=off,
 *   private patterns) mean "not from this proxy"; 404 lets a client whose
 *   own GOPROXY continues (`,direct`) go on, and the body says why.
 * - UNSUPPORTED 404: a feature not available here (e.g. `direct` before git
 *   support) is "not here" as well, with the reason in the body.
 * - INVALID_ZIP / INVALID_MODFILE / INVALID_INFO / INVALID_NOTE /
 *   INVALID_TLOG / TOO_LARGE / CHECKSUM_MISMATCH 502: the upstream sent something that failed
 *   verification; a hard error, so the client does not silently take
 *   another source for bytes that looked tampered with.
 * - UPSTREAM 502, TIMEOUT 504, STORAGE 503, CONFIG / INTERNAL 500.
 */
import { type ErrorCode, GoarkError } from "../errors.ts";

export interface ErrorResponse {
  status: number;
  /** One line of UTF-8 text ending in "\n". */
  body: string;
}

const STATUS: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  GONE: 410,
  INVALID_PATH: 404,
  INVALID_VERSION: 404,
  BAD_REQUEST: 400,
  DISABLED: 404,
  UNSUPPORTED: 404,
  INVALID_ZIP: 502,
  INVALID_MODFILE: 502,
  INVALID_INFO: 502,
  INVALID_NOTE: 502,
  INVALID_TLOG: 502,
  TOO_LARGE: 502,
  CHECKSUM_MISMATCH: 502,
  UPSTREAM: 502,
  TIMEOUT: 504,
  STORAGE: 503,
  CONFIG: 500,
  INTERNAL: 500,
};

/** Longest body line; the go command shows at most 648 bytes. */
export const MAX_ERROR_BODY = 600;

export function statusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

export function errorResponse(err: unknown): ErrorResponse {
  if (err instanceof GoarkError) {
    return { status: statusFor(err.code), body: errorLine(err.message) };
  }
  // Untyped errors should not reach here; answer without leaking internals.
  return { status: 500, body: "internal error\n" };
}

/** Method other than GET/HEAD. */
export function methodNotAllowed(method: string | undefined): ErrorResponse & { allow: string } {
  return {
    status: 405,
    allow: "GET, HEAD",
    body: errorLine(`method not allowed: ${method ?? "(none)"}; only GET and HEAD are served`),
  };
}

/**
 * Folds a message into one printable line: control characters and newlines
 * become spaces, lone surrogates and unassigned or private-use characters are replaced, and long text is cut at a
 * character boundary below MAX_ERROR_BODY bytes.
 */
export function errorLine(message: string): string {
  // Go's client drops the whole body if any rune is neither graphic nor space.
  let line = message
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]+/gu, " ")
    .trim();
  if (line === "") line = "error";
  if (Buffer.byteLength(line, "utf8") > MAX_ERROR_BODY) {
    let out = "";
    let bytes = 0;
    for (const ch of line) {
      const n = Buffer.byteLength(ch, "utf8");
      if (bytes + n > MAX_ERROR_BODY - 3) break;
      out += ch;
      bytes += n;
    }
    line = `${out}...`;
  }
  return `${line}\n`;
}
