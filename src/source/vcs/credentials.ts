/**
 * Credentials for private hosts, from the places users keep them: goark's
 * per-host entries (a token or user/password), ~/.netrc (or $NETRC) as the
 * go command reads it for discovery, and for git itself its own credential
 * helpers, libcurl's .netrc support and ssh's keys and agent. Secrets turn
 * into Authorization headers handed to git through the environment, never
 * through arguments, URLs or anything logged.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface HostCredential {
  /** Host name (with :port if not the default), matched exactly, case-insensitively. */
  host: string;
  /** A token; sent as the password of HTTP basic auth (GitHub, GitLab and Gitea accept it so). */
  token?: string;
  username?: string;
  password?: string;
}

interface NetrcEntry {
  machine: string;
  login: string;
  password: string;
}

/** Parses a .netrc file (machine/default, login, password; macdef skipped). */
export function parseNetrc(text: string): NetrcEntry[] {
  const out: NetrcEntry[] = [];
  const lines = text.split("\n");
  let cur: NetrcEntry | undefined;
  let inMacdef = false;
  for (const line of lines) {
    if (inMacdef) {
      if (line.trim() === "") inMacdef = false;
      continue;
    }
    const f = line.split(/\s+/).filter((s) => s !== "");
    for (let i = 0; i < f.length; i++) {
      const t = f[i];
      if (t === "machine" || t === "default") {
        if (cur && cur.machine !== "") out.push(cur);
        cur = { machine: t === "default" ? "" : (f[++i] ?? ""), login: "", password: "" };
        if (t === "default") cur = undefined; // Go ignores default entries
      } else if (t === "login" && cur) {
        cur.login = f[++i] ?? "";
      } else if (t === "password" && cur) {
        cur.password = f[++i] ?? "";
      } else if (t === "macdef") {
        inMacdef = true;
        break;
      }
    }
  }
  if (cur && cur.machine !== "") out.push(cur);
  return out;
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
}

export class Credentials {
  readonly #byHost = new Map<string, string>();
  readonly #netrc: NetrcEntry[];

  constructor(hosts: readonly HostCredential[] = [], env: NodeJS.ProcessEnv = process.env) {
    for (const c of hosts) {
      const header =
        c.token !== undefined
          ? basic(c.username ?? "x-access-token", c.token)
          : c.username !== undefined
            ? basic(c.username, c.password ?? "")
            : undefined;
      if (header !== undefined) this.#byHost.set(c.host.toLowerCase(), header);
    }
    this.#netrc = readNetrc(env);
  }

  /** The Authorization header for requests to host, if any is configured. */
  authorization(host: string): string | undefined {
    const h = host.toLowerCase();
    const own = this.#byHost.get(h);
    if (own !== undefined) return own;
    // Go's netrc lookup: the last entry for the machine wins.
    let found: NetrcEntry | undefined;
    for (const e of this.#netrc) if (e.machine.toLowerCase() === h) found = e;
    return found ? basic(found.login, found.password) : undefined;
  }

  /** git config entries that send goark's own credential to an https remote (netrc is left to libcurl). */
  gitConfigFor(remote: string): [string, string][] {
    let url: URL;
    try {
      url = new URL(remote);
    } catch {
      return [];
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return [];
    const own = this.#byHost.get(url.host.toLowerCase());
    if (own === undefined) return [];
    return [[`http.${url.protocol}//${url.host}/.extraHeader`, `Authorization: ${own}`]];
  }
}

function readNetrc(env: NodeJS.ProcessEnv): NetrcEntry[] {
  const file = env.NETRC ?? (env.HOME ? join(env.HOME, ".netrc") : undefined);
  if (file === undefined) return [];
  try {
    return parseNetrc(readFileSync(file, "utf8"));
  } catch {
    return [];
  }
}
