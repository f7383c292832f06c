/**
 * The one error hierarchy of goark. Every rejection carries a stable `code`
 * (never match on message text), the module/version/path it concerns, and a
 * message that names the thing and the rule it breaks. The HTTP layer maps
 * codes to statuses in one place (src/protocol/error-response.ts).
 */

export type ErrorCode =
  | "NOT_FOUND"
  | "GONE"
  | "INVALID_PATH"
  | "INVALID_VERSION"
  | "INVALID_ZIP"
  | "INVALID_MODFILE"
  | "INVALID_INFO"
  | "INVALID_NOTE"
  | "INVALID_TLOG"
  | "TOO_LARGE"
  | "CHECKSUM_MISMATCH"
  | "UPSTREAM"
  | "TIMEOUT"
  | "BAD_REQUEST"
  | "UNSUPPORTED"
  | "DISABLED"
  | "CONFIG"
  | "STORAGE"
  | "INTERNAL";

export interface ErrorDetails {
  module?: string;
  version?: string;
  /** A file path (inside a zip or a directory) the error concerns. */
  path?: string;
  cause?: unknown;
}

export class GoarkError extends Error {
  readonly code: ErrorCode;
  readonly module?: string;
  readonly version?: string;
  readonly path?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    if (details.module !== undefined) this.module = details.module;
    if (details.version !== undefined) this.version = details.version;
    if (details.path !== undefined) this.path = details.path;
  }
}

/** Not here; may exist elsewhere (GOPROXY `,` falls through). HTTP 404. */
export class NotFoundError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("NOT_FOUND", message, details);
  }
}
/** Known not to exist (HTTP 410); also falls through under `,`. */
export class GoneError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("GONE", message, details);
  }
}
export class InvalidPathError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("INVALID_PATH", message, details);
  }
}
export class InvalidVersionError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("INVALID_VERSION", message, details);
  }
}
export class ZipError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("INVALID_ZIP", message, details);
  }
}
export class ModFileError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("INVALID_MODFILE", message, details);
  }
}
export class InvalidInfoError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("INVALID_INFO", message, details);
  }
}
/**
 * A signed note or a note key breaks a rule of golang.org/x/mod/sumdb/note, or
 * its signatures do not verify. `reason` says which rule (stable, see
 * src/sumdb/note.ts), so callers never match on the message.
 */
export class NoteError extends GoarkError {
  readonly reason: string;
  constructor(reason: string, message: string, details?: ErrorDetails) {
    super("INVALID_NOTE", message, details);
    this.reason = reason;
  }
}
/**
 * Checksum-database log data (tree note, record, tile, proof) breaks a rule
 * of golang.org/x/mod/sumdb/tlog or does not prove what it claims. `reason`
 * says which rule (stable, see src/sumdb/tlog.ts).
 */
export class TlogError extends GoarkError {
  readonly reason: string;
  constructor(reason: string, message: string, details?: ErrorDetails) {
    super("INVALID_TLOG", message, details);
    this.reason = reason;
  }
}
export class TooLargeError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("TOO_LARGE", message, details);
  }
}
export class ChecksumMismatchError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("CHECKSUM_MISMATCH", message, details);
  }
}
/** An upstream failed (5xx, refused, bad answer): `|` falls through, `,` does not. */
export class UpstreamError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("UPSTREAM", message, details);
  }
}
export class TimeoutError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("TIMEOUT", message, details);
  }
}
export class BadRequestError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("BAD_REQUEST", message, details);
  }
}
export class UnsupportedError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("UNSUPPORTED", message, details);
  }
}
/** Lookups refused by configuration (GOPROXY=off, offline mode). */
export class DisabledError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("DISABLED", message, details);
  }
}
export class ConfigError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("CONFIG", message, details);
  }
}
export class StorageError extends GoarkError {
  constructor(message: string, details?: ErrorDetails) {
    super("STORAGE", message, details);
  }
}

/** True for the "not here" errors that GOPROXY's `,` separator falls through on. */
export function isNotExist(err: unknown): boolean {
  return err instanceof GoarkError && (err.code === "NOT_FOUND" || err.code === "GONE");
}

/** Wraps anything thrown into a GoarkError so nothing untyped escapes a layer. */
export function asGoarkError(err: unknown): GoarkError {
  if (err instanceof GoarkError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GoarkError("INTERNAL", message, { cause: err });
}
