/**
 * How the goark command ends: exit codes and the one-line error report.
 * 0 success, 1 an operational failure (a check found problems, a file could
 * not be read), 2 a usage or configuration error. A GoarkError is reported as
 * its message alone; only an unexpected error shows a stack, and only with
 * GOARK_DEBUG set.
 */
import { GoarkError } from "../errors.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The exit code an error ends the command with. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof GoarkError && (err.code === "CONFIG" || err.code === "BAD_REQUEST")) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** One line: `goark: <message>`, newlines folded so the report stays one line. */
export function formatError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `goark: ${message.replace(/\s*\n\s*/g, "; ")}`;
}

export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  stderr.write(`${formatError(err)}\n`);
  if (!(err instanceof GoarkError) && process.env.GOARK_DEBUG && err instanceof Error && err.stack)
    stderr.write(`${err.stack}\n`);
  return exitCodeFor(err);
}
