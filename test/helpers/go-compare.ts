/**
 * goark judged by the go command: the same queries run by a `GOPROXY=direct`
 * client (the repositories themselves) and a `GOPROXY=<goark>` client (goark's
 * answers). Versions and times (`go list -m -json`), version lists
 * (`-versions`), go.mod bytes and both h1 hashes (`go mod download -json`)
 * are computed by go on each side; nothing here hashes anything itself.
 */
import { readFile } from "node:fs/promises";
import { describe as describeRun, type GoClient, parseJsonStream } from "./go-client.ts";

export interface GoModule {
  Path: string;
  Version?: string;
  Versions?: string[];
  Time?: string;
  Error?: { Err: string };
}

export interface GoComparison {
  /** Every disagreement, one line each (empty when goark answered as go did). */
  failures: string[];
  /** What the direct go command said for each query, in order. */
  want: GoModule[];
  /** Versions whose go.mod and zip were compared. */
  compared: string[];
}

async function listAll(client: GoClient, args: string[]): Promise<GoModule[]> {
  const r = await client.run(["list", "-m", "-json", "-e", ...args], { timeoutMs: 240_000 });
  const out = parseJsonStream<GoModule>(r.stdout);
  const expected = args.filter((a) => !a.startsWith("-")).length;
  if (out.length !== expected)
    throw new Error(`go list gave ${out.length} of ${expected} answers: ${describeRun(r)}`);
  return out;
}

/** queries: module@query arguments; modules: paths whose version lists are compared. */
export async function compareWithGo(
  direct: GoClient,
  viaGoark: GoClient,
  queries: string[],
  modules: string[],
): Promise<GoComparison> {
  const failures: string[] = [];
  const [want, got] = await Promise.all([listAll(direct, queries), listAll(viaGoark, queries)]);
  queries.forEach((q, i) => {
    const w = want[i] as GoModule;
    const g = got[i] as GoModule;
    if (w.Error !== undefined) {
      if (g.Error === undefined)
        failures.push(`${q}: go failed (${w.Error.Err}) but goark gave ${g.Version}`);
    } else if (g.Version !== w.Version || g.Time !== w.Time) {
      failures.push(`${q}: go ${w.Version} ${w.Time}, goark ${g.Version} ${g.Time} ${g.Error?.Err ?? ""}`);
    }
  });

  const [wantVersions, gotVersions] = await Promise.all([
    listAll(direct, ["-versions", ...modules]),
    listAll(viaGoark, ["-versions", ...modules]),
  ]);
  modules.forEach((m, i) => {
    const w = wantVersions[i] as GoModule;
    const g = gotVersions[i] as GoModule;
    if (w.Error !== undefined) failures.push(`${m}: go list -versions failed: ${w.Error.Err}`);
    const wv = (w.Versions ?? []).join(" ");
    const gv = (g.Versions ?? []).join(" ");
    if (wv !== gv || g.Error !== undefined) {
      failures.push(`${m} versions: go [${wv}], goark [${gv}] ${g.Error?.Err ?? ""}`);
    }
  });

  const compared = [
    ...new Set(want.filter((w) => w.Error === undefined).map((w) => `${w.Path}@${w.Version}`)),
  ];
  if (compared.length > 0) {
    const [wantDl, gotDl] = await Promise.all([
      direct.download(compared, { timeoutMs: 240_000 }),
      viaGoark.download(compared, { timeoutMs: 240_000 }),
    ]);
    if (wantDl.result.code !== 0) failures.push(`go mod download (direct): ${describeRun(wantDl.result)}`);
    if (gotDl.result.code !== 0) failures.push(`go mod download (via goark): ${describeRun(gotDl.result)}`);
    for (const w of wantDl.modules) {
      const g = gotDl.modules.find((m) => m.Path === w.Path && m.Version === w.Version);
      const at = `${w.Path}@${w.Version}`;
      if (g === undefined) {
        failures.push(`${at}: not downloaded through goark`);
        continue;
      }
      if (g.Sum !== w.Sum || g.GoModSum !== w.GoModSum) {
        failures.push(`${at}: go ${w.Sum} ${w.GoModSum}, goark ${g.Sum} ${g.GoModSum} ${g.Error ?? ""}`);
      }
      if (g.GoMod !== undefined && w.GoMod !== undefined) {
        const [gm, wm] = await Promise.all([readFile(g.GoMod, "utf8"), readFile(w.GoMod, "utf8")]);
        if (gm !== wm) failures.push(`${at}: go.mod bytes differ`);
      }
    }
  }
  return { failures, want, compared };
}
