import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BadRequestError,
  ChecksumMismatchError,
  DisabledError,
  GoneError,
  InvalidPathError,
  InvalidVersionError,
  NotFoundError,
  TimeoutError,
  UpstreamError,
} from "../errors.ts";
import { errorLine, errorResponse, MAX_ERROR_BODY, methodNotAllowed } from "./error-response.ts";

test("status per error kind follows the go command's not-exist rule", () => {
  const cases: [Error, number][] = [
    [new NotFoundError("x"), 404],
    [new GoneError("x"), 410],
    [new InvalidPathError("x"), 404],
    [new InvalidVersionError("x"), 404],
    [new BadRequestError("x"), 400],
    [new DisabledError("x"), 404],
    [new UpstreamError("x"), 502],
    [new TimeoutError("x"), 504],
    [new ChecksumMismatchError("x"), 502],
    [new Error("untyped"), 500],
  ];
  for (const [err, status] of cases) assert.equal(errorResponse(err).status, status, err.constructor.name);
  assert.equal(errorResponse(new Error("secret detail")).body, "internal error\n");
  assert.equal(methodNotAllowed("POST").status, 405);
});

// The go command (cmd/go/internal/web/api.go formatErrorDetail) discards a
// body that is not valid UTF-8 or holds a rune that is neither graphic nor
// space; these checks mirror that rule independently.
function goWouldShow(body: string): boolean {
  return [...body].every((ch) => /[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]|\s/u.test(ch));
}

test("bodies are one printable line the go command will show", () => {
  const hostile = [
    "a\nb\rc",
    "nul\x00here",
    "esc\x1b[31mred",
    "bidi\u202eevil",
    "lone\ud800",
    "\u2028sep",
    "",
  ];
  for (const msg of hostile) {
    const line = errorLine(msg);
    assert.ok(line.endsWith("\n"));
    assert.equal(line.indexOf("\n"), line.length - 1, JSON.stringify(line));
    assert.ok(goWouldShow(line), JSON.stringify(line));
    assert.ok(Buffer.from(line, "utf8").toString("utf8") === line);
  }
  const long = errorLine("é".repeat(5000));
  assert.ok(Buffer.byteLength(long) <= MAX_ERROR_BODY + 1);
  assert.ok(!long.includes("\ufffd"));
});
