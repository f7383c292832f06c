/**
 * Direct mode's settings as DirectSource takes them: rewrite rules, per-host
 * credentials with their secrets read from the environment when the file
 * only names a variable, ssh's key and known_hosts files, and the redacted
 * view `goark config` prints.
 */
import { accessSync, constants } from "node:fs";
import { ConfigError } from "../errors.ts";
import type { HostCredential } from "../source/vcs/credentials.ts";
import type { SshOptions } from "../source/vcs/git-command.ts";
import type { RewriteRule } from "../source/vcs/repo-root.ts";
import type { Config, CredentialEntry, RewriteEntry } from "./options.ts";

export const REDACTED = "[redacted]";

/** The configuration's rewrite list as repo-root.ts expresses rules. */
export function rewriteRules(entries: readonly RewriteEntry[]): RewriteRule[] {
  return entries.map((e) => ({ from: e.match, to: e.to }));
}

/**
 * The credentials with every secret in hand; a named variable that is unset
 * or empty is a configuration error (naming the variable, not a value).
 */
export function resolveCredentials(
  entries: readonly CredentialEntry[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): HostCredential[] {
  return entries.map((e, i) => {
    const fromEnv = (name: string, field: string): string => {
      const v = env[name];
      if (v === undefined || v === "") {
        throw new ConfigError(
          `invalid credentials[${i}].${field} (host ${e.host}): environment variable ${name} is not set`,
        );
      }
      return v;
    };
    const out: HostCredential = { host: e.host };
    if (e.username !== undefined) out.username = e.username;
    if (e.token !== undefined) out.token = e.token;
    if (e.tokenEnv !== undefined) out.token = fromEnv(e.tokenEnv, "tokenEnv");
    if (e.password !== undefined) out.password = e.password;
    if (e.passwordEnv !== undefined) out.password = fromEnv(e.passwordEnv, "passwordEnv");
    return out;
  });
}

/** The configuration with secrets replaced, for printing. */
export function redactConfig(config: Config): Config {
  return {
    ...config,
    credentials: config.credentials.map((c) => ({
      ...c,
      ...(c.token !== undefined ? { token: REDACTED } : {}),
      ...(c.password !== undefined ? { password: REDACTED } : {}),
    })),
  };
}

/**
 * ssh's key and known_hosts files, each checked readable now, so a wrong path
 * stops goark at start instead of failing every ssh fetch later. Only paths
 * are handled here; key contents are left to ssh.
 */
export function sshSettings(config: Pick<Config, "sshKeyFile" | "sshKnownHosts">): SshOptions {
  const out: SshOptions = {};
  const readable = (key: string, path: string) => {
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`${key} ${path}: cannot be read (${reason})`, { cause: err });
    }
  };
  if (config.sshKeyFile !== "") {
    readable("sshKeyFile", config.sshKeyFile);
    out.keyFile = config.sshKeyFile;
  }
  if (config.sshKnownHosts !== "") {
    readable("sshKnownHosts", config.sshKnownHosts);
    out.knownHostsFile = config.sshKnownHosts;
  }
  return out;
}
