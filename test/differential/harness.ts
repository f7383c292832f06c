/**
 * Runs goark and the Go oracle on the same inputs and reports disagreements:
 * the first 20 mismatches are printed with the input and both answers, and the
 * test fails with the total count.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { GoarkError } from "../../src/errors.ts";
import { hasLoneSurrogate, type Oracle, type OracleAnswer, type OracleArg, wtf8 } from "../helpers/oracle.ts";
import { DEFAULT_SEED } from "./generators.ts";

/** An answer: a value, or an error's text (and whether it was one of goark's typed errors). */
export interface Outcome {
  v?: unknown;
  err?: string;
  typed?: boolean;
}

/** Calls f and captures its result or error. */
export async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    return { v: await f() };
  } catch (e) {
    return { err: e instanceof Error ? e.message : String(e), typed: e instanceof GoarkError };
  }
}

export interface DiffSpec<I> {
  /** What is being compared, for the report. */
  name: string;
  inputs: readonly I[];
  /** The oracle op and its arguments for one input. */
  oracle: (input: I) => readonly [op: string, args: OracleArg[]];
  /** goark's answer for one input (throwing = an error outcome). */
  goark: (input: I) => unknown;
  /**
   * Whether error texts must match too (goark mirrors Go's wording). Inputs with
   * lone surrogates never compare texts: Go quotes the bytes (\xed\xa0\x80), JS
   * the code unit (\ud800).
   */
  compareErrorText?: boolean | ((input: I, goErr: string, goarkErr: string) => boolean);
  /** Maps Go's value into goark's shape before comparing (default: as is). */
  fromGo?: (v: unknown, input: I) => unknown;
  /** Maps goark's value before comparing (default: as is). */
  fromGoark?: (v: unknown, input: I) => unknown;
  /**
   * Guards against generators that drift into one corner: classifies Go's
   * answers (default: "error" / "ok") and requires every listed class to make
   * up at least 1% of the inputs. Pass false to skip (fixed-outcome ops).
   */
  mix?: false | { classes: readonly string[]; classify?: (go: OracleAnswer) => string };
  /** Errors may be plain Errors rather than GoarkErrors (for non-src code). */
  allowUntypedErrors?: boolean;
}

function show(x: unknown): string {
  // JSON.stringify escapes lone surrogates and control characters: unambiguous.
  return JSON.stringify(x, (_k, v) => (v instanceof Date ? `Date(${v.toISOString()})` : v));
}

/** A mix classifier for boolean answers. */
export const BOOL_MIX = { classes: ["true", "false"], classify: (a: OracleAnswer) => String(a.v) } as const;

/** Compares goark with Go on every input; fails the test on any disagreement. */
export async function differential<I>(oracle: Oracle, spec: DiffSpec<I>): Promise<void> {
  const answers: OracleAnswer[] = await Promise.all(
    spec.inputs.map((input) => {
      const [op, args] = spec.oracle(input);
      return oracle.ask(op, args);
    }),
  );
  const mix = spec.mix === undefined ? { classes: ["error", "ok"] } : spec.mix;
  if (mix) {
    const classify = mix.classify ?? ((a: OracleAnswer) => (a.err !== undefined ? "error" : "ok"));
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(classify(a), (counts.get(classify(a)) ?? 0) + 1);
    for (const c of mix.classes) {
      const n = counts.get(c) ?? 0;
      assert.ok(
        n >= spec.inputs.length / 100,
        `${spec.name}: the generated inputs are lopsided: only ${n} of ${spec.inputs.length} are "${c}" for Go ` +
          `(${JSON.stringify(Object.fromEntries(counts))}); fix the generator`,
      );
    }
  }
  const mismatches: string[] = [];
  for (const [i, input] of spec.inputs.entries()) {
    const go = answers[i]!;
    const ours = await outcome(() => spec.goark(input));
    const problem = judge(spec, input, go, ours);
    if (problem) {
      mismatches.push(
        `  input: ${show(input)}\n    goark: ${show(ours.err !== undefined ? { err: ours.err } : { v: ours.v })}\n` +
          `    go:    ${show(go)}\n    (${problem})`,
      );
    }
  }
  if (mismatches.length > 0) {
    const seed = process.env.GOARK_DIFF_SEED ?? String(DEFAULT_SEED);
    const shown = mismatches.slice(0, 20).join("\n");
    assert.fail(
      `${spec.name}: goark disagrees with golang.org/x/mod on ${mismatches.length} of ${spec.inputs.length} inputs ` +
        `(seed ${seed}; first ${Math.min(20, mismatches.length)}):\n${shown}`,
    );
  }
}

function judge<I>(spec: DiffSpec<I>, input: I, go: OracleAnswer, ours: Outcome): string | undefined {
  if (go.err !== undefined || ours.err !== undefined) {
    if (go.err === undefined) return "goark fails, Go succeeds";
    if (ours.err === undefined) return "Go fails, goark succeeds";
    if (!spec.allowUntypedErrors && !ours.typed) return "goark threw an untyped error";
    if (anyLoneSurrogate(input) || spec.compareErrorText === undefined || spec.compareErrorText === false) {
      return undefined;
    }
    if (spec.compareErrorText === true) return go.err === ours.err ? undefined : "error texts differ";
    return spec.compareErrorText(input, go.err, ours.err) ? undefined : "error texts differ";
  }
  const want = spec.fromGo ? spec.fromGo(go.v, input) : go.v;
  const got = asGoEncodes(spec.fromGoark ? spec.fromGoark(ours.v, input) : ours.v);
  return isDeepStrictEqual(got, want) ? undefined : "values differ";
}

const utf8 = new TextDecoder("utf-8");

/**
 * x with every string as the oracle would send it back: Go's JSON encoder turns
 * each byte of invalid UTF-8 into U+FFFD, so a lone surrogate (3 WTF-8 bytes)
 * becomes three U+FFFD. Identity for well-formed strings.
 */
export function asGoEncodes(x: unknown): unknown {
  if (typeof x === "string") return hasLoneSurrogate(x) ? utf8.decode(wtf8(x)) : x;
  if (Array.isArray(x)) return x.map(asGoEncodes);
  if (x && typeof x === "object" && !(x instanceof Date)) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, asGoEncodes(v)]));
  }
  return x;
}

/** True if any string inside x holds a lone surrogate. */
export function anyLoneSurrogate(x: unknown): boolean {
  if (typeof x === "string") return hasLoneSurrogate(x);
  if (Array.isArray(x)) return x.some(anyLoneSurrogate);
  if (x && typeof x === "object") return Object.values(x).some(anyLoneSurrogate);
  return false;
}
