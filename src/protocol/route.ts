/**
 * Request-path parsing for the GOPROXY protocol: turns a raw request target
 * into a typed route with the module path and version already unescaped and
 * validated, or throws a typed error that error-response.ts maps to a status.
 *
 * Hostile shapes (encoded slashes or dots, `..`, NUL, over-long targets) are
 * rejected before any decoding reaches the store's key space.
 */
import { BadRequestError, InvalidVersionError, NotFoundError } from "../errors.ts";
import { canonicalVersion, check, unescapePath, unescapeVersion } from "../module/path.ts";

export type Route =
  | { kind: "list"; module: string }
  | { kind: "latest"; module: string }
  /** `query` is a canonical version or any query a source may resolve (branch, commit, `v1.2`). */
  | { kind: "info"; module: string; query: string }
  | { kind: "mod"; module: string; version: string }
  | { kind: "zip"; module: string; version: string }
  /** Everything under /sumdb/, decoded, without the `/sumdb/` prefix. */
  | { kind: "sumdb"; path: string }
  | { kind: "healthz" }
  | { kind: "readyz" }
  | { kind: "metrics" };

export type ArtefactRoute = Extract<Route, { kind: "list" | "latest" | "info" | "mod" | "zip" }>;

/** Longest request target accepted, in bytes; real module paths are far shorter. */
export const MAX_TARGET_BYTES = 2048;

/** The go command sends only GET; HEAD is served for other tools. */
export const ALLOWED_METHODS = ["GET", "HEAD"] as const;

export function isAllowedMethod(method: string | undefined): boolean {
  return method === "GET" || method === "HEAD";
}

const ENDPOINT_HINT =
  "expected /<module>/@v/list, /<module>/@v/<version>.info|.mod|.zip or /<module>/@latest";

/**
 * Parses a request target (`req.url`). The query string is ignored (the go
 * command never sends one; tools sometimes append `?go-get=1`).
 */
export function parseRoute(target: string): Route {
  if (Buffer.byteLength(target, "utf8") > MAX_TARGET_BYTES) {
    throw new BadRequestError(`bad request: request path longer than ${MAX_TARGET_BYTES} bytes`);
  }
  const q = target.search(/[?#]/);
  const raw = q === -1 ? target : target.slice(0, q);
  if (!raw.startsWith("/")) {
    throw new BadRequestError("bad request: request path must start with /");
  }
  // Checked on the raw form so that no decoding trick can produce them later.
  if (/%(2f|5c|2e|00)/i.test(raw)) {
    throw new BadRequestError(
      "bad request: percent-encoded slash, backslash, dot or NUL in request path is not allowed",
    );
  }
  if (/[\\\x00-\x1f\x7f]/.test(raw)) {
    throw new BadRequestError("bad request: backslash or control character in request path");
  }
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    throw new BadRequestError("bad request: malformed percent-encoding in request path");
  }
  if (/[\x00-\x1f\x7f]/.test(path)) {
    throw new BadRequestError("bad request: control character in decoded request path");
  }
  const segments = path.slice(1).split("/");
  for (const seg of segments) {
    if (seg === "." || seg === "..") {
      throw new BadRequestError("bad request: dot segment (. or ..) in request path");
    }
  }

  switch (path) {
    case "/healthz":
      return { kind: "healthz" };
    case "/readyz":
      return { kind: "readyz" };
    case "/metrics":
      return { kind: "metrics" };
  }
  if (path === "/sumdb" || path.startsWith("/sumdb/")) {
    return { kind: "sumdb", path: path.slice("/sumdb/".length) };
  }

  if (path.endsWith("/@latest")) {
    const module = parseModule(path.slice(1, -"/@latest".length));
    return { kind: "latest", module };
  }
  const at = path.indexOf("/@v/");
  if (at === -1) {
    throw new NotFoundError(`not found: ${clip(path)}: unknown endpoint; ${ENDPOINT_HINT}`);
  }
  const module = parseModule(path.slice(1, at));
  const rest = path.slice(at + "/@v/".length);
  if (rest === "list") return { kind: "list", module };

  const dot = rest.lastIndexOf(".");
  const ext = dot === -1 ? "" : rest.slice(dot + 1);
  const escVersion = dot === -1 ? "" : rest.slice(0, dot);
  if ((ext !== "info" && ext !== "mod" && ext !== "zip") || escVersion === "" || escVersion.includes("/")) {
    throw new NotFoundError(`not found: ${module}: unknown file @v/${clip(rest)}; ${ENDPOINT_HINT}`, {
      module,
    });
  }
  const version = unescapeVersion(escVersion);
  if (ext === "info") return { kind: "info", module, query: version };

  // .mod and .zip exist only for canonical versions that fit the path's major
  // version; the go command resolves anything else through .info first.
  const canon = canonicalVersion(version);
  if (canon !== version) {
    const want = canon === "" ? "not a semantic version" : `canonical form is ${canon}`;
    throw new InvalidVersionError(`not found: ${module}@${version}: invalid version: ${want}`, {
      module,
      version,
    });
  }
  check(module, version);
  return ext === "mod" ? { kind: "mod", module, version } : { kind: "zip", module, version };
}

function parseModule(escaped: string): string {
  if (escaped === "") {
    throw new NotFoundError(`not found: empty module path; ${ENDPOINT_HINT}`);
  }
  return unescapePath(escaped);
}

/** Keeps error lines short when a hostile path is echoed back. */
function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
