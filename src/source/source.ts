/**
 * The seam every origin of modules plugs into: an upstream GOPROXY, git
 * (direct), a chain of them, or the store alone (offline). Each method answers
 * one of the five questions the go command asks. Module paths and versions are
 * the decoded (unescaped) forms; sources escape them themselves where needed.
 *
 * Errors are GoarkErrors: NotFoundError/GoneError mean "not here" (the chain's
 * `,` falls through), anything else is a failure (`|` falls through).
 */
import type { Readable } from "node:stream";

export interface Info {
  Version: string;
  /** RFC 3339, UTC. */
  Time?: string;
  /** Other fields (Origin, …) are kept as they came. */
  [key: string]: unknown;
}

export interface ListEntry {
  version: string;
  /** Optional RFC 3339 time from a `list` line's second field. */
  time?: string;
}

export interface ZipBody {
  body: Readable;
  /** Content-Length when the origin told it. */
  size?: number;
}

export interface FetchOptions {
  signal?: AbortSignal;
}

export interface Source {
  /** A short name for logs and metrics (e.g. the upstream URL, "direct"). */
  readonly name: string;
  /** The versions the origin lists (tags only, no pseudo-versions), in the origin's order. */
  list(module: string, opts?: FetchOptions): Promise<ListEntry[]>;
  /** The `@latest` answer; NotFoundError when the origin has none. */
  latest(module: string, opts?: FetchOptions): Promise<Info>;
  /** `.info` for a canonical version or any query (branch, commit, `v1.2`). */
  info(module: string, query: string, opts?: FetchOptions): Promise<Info>;
  /** The raw go.mod bytes of a canonical version. */
  mod(module: string, version: string, opts?: FetchOptions): Promise<Buffer>;
  /** The module zip of a canonical version, as a stream. */
  zip(module: string, version: string, opts?: FetchOptions): Promise<ZipBody>;
  /** Releases pooled connections or other resources, when the source holds any. */
  close?(): Promise<void>;
}
