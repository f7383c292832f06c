import assert from "node:assert/strict";
import { test } from "node:test";
import { GoarkError } from "../errors.ts";
import { formatTable, parseDurationFlag, parseSince } from "./store-command.ts";

test("--since takes a date, an RFC 3339 time or a duration ago", () => {
  const now = Date.UTC(2024, 0, 31, 12);
  assert.equal(parseSince("2024-01-02", "--since", now).toISOString(), "2024-01-02T00:00:00.000Z");
  assert.equal(parseSince("2024-01-02T03:04:05Z", "--since", now).toISOString(), "2024-01-02T03:04:05.000Z");
  assert.equal(parseSince("30d", "--since", now).toISOString(), "2024-01-01T12:00:00.000Z");
  assert.equal(parseSince("1h30m", "--since", now).toISOString(), "2024-01-31T10:30:00.000Z");
  for (const bad of ["yesterday", "2024-13-45", "", "30"]) {
    assert.throws(
      () => parseSince(bad, "--since", now),
      (e: unknown) =>
        e instanceof GoarkError &&
        e.code === "BAD_REQUEST" &&
        e.message.startsWith(`--since ${JSON.stringify(bad)}`),
      bad,
    );
  }
  assert.equal(parseDurationFlag("90d", "--unused-for"), 90 * 86_400_000);
  assert.throws(() => parseDurationFlag("90", "--unused-for"), /--unused-for "90"/);
});

test("tables pad every column but the last", () => {
  assert.equal(formatTable(["A", "BB", "C"], [["xxx", "y", "z z"]]), "A    BB  C\nxxx  y   z z\n");
});
