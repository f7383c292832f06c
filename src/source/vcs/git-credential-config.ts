/**
 * The user's git credential helpers, and nothing else of their git config:
 * goark's git runs keep an empty global config (no hooks, aliases,
 * url.insteadOf, core.sshCommand, protocol.allow from ~/.gitconfig), so the
 * `credential.*` entries that say where credentials come from are read once
 * here and handed to git as explicit configuration.
 */
import { execFileSync } from "node:child_process";

// credential.helper, credential.username, credential.useHttpPath, plain or
// scoped to a URL (credential.<url>.helper). Not credential.interactive:
// goark never prompts.
const ALLOWED_LEAF = new Set(["helper", "username", "usehttppath"]);

/** Keeps the allowed credential entries of `git config -z --get-regexp` output, in order. */
export function credentialEntries(output: string): [string, string][] {
  const out: [string, string][] = [];
  for (const record of output.split("\0")) {
    if (record === "") continue;
    const nl = record.indexOf("\n");
    const key = nl < 0 ? record : record.slice(0, nl);
    const value = nl < 0 ? "" : record.slice(nl + 1);
    if (!key.toLowerCase().startsWith("credential.")) continue;
    const leaf = key.slice(key.lastIndexOf(".") + 1).toLowerCase();
    if (!ALLOWED_LEAF.has(leaf)) continue;
    out.push([key, value]);
  }
  return out;
}

/**
 * Reads the credential entries of the user's global git config (~/.gitconfig
 * and $XDG_CONFIG_HOME/git/config, with their includes). No git, no file or
 * an unreadable file give none: credentials are optional.
 */
export function readGlobalCredentialConfig(env: NodeJS.ProcessEnv = process.env): [string, string][] {
  const runEnv: NodeJS.ProcessEnv = { PATH: env.PATH ?? "/usr/local/bin:/usr/bin:/bin", LC_ALL: "C" };
  for (const k of ["HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL"] as const) {
    const v = env[k];
    if (v !== undefined) runEnv[k] = v;
  }
  runEnv.GIT_CONFIG_NOSYSTEM = "1";
  try {
    const out = execFileSync(
      "git",
      ["config", "--global", "--includes", "-z", "--get-regexp", "^credential\\."],
      {
        env: runEnv,
        encoding: "utf8",
        timeout: 10_000,
        maxBuffer: 1 << 20,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    return credentialEntries(out);
  } catch {
    // Exit 1: no credential entries (or no global config at all).
    return [];
  }
}
