/**
 * Every setting goark reads, in one table: its key (goark.yaml), flag,
 * environment variable, default and description, plus the zod schema that
 * turns a raw value from any layer into its typed form. The README's
 * configuration table is generated from OPTIONS (scripts/config-table.ts).
 */
import { z } from "zod";
import { GoarkError } from "../errors.ts";
import { parseToolchainPlatforms, TOOLCHAIN_PLATFORMS_RULE } from "../module/toolchain.ts";
import { parseGoproxyList } from "../source/goproxy-list.ts";
import { BYTE_SIZE_RULE, parseByteSize } from "./byte-size.ts";
import { DURATION_RULE, parseDuration } from "./duration.ts";
import { globListProblem, parseSumDb, sumDbNameProblem } from "./go-env-syntax.ts";
import { LISTEN_RULE, type ListenAddress, parseListenAddress } from "./listen-address.ts";
import { parseStorageLocation, type StorageLocation } from "./storage-location.ts";

// Flags and environment variables always give strings; goark.yaml may give
// numbers and booleans too. Each schema accepts all of those.

/** A string setting; `parse` gives the typed value, or the rule the text breaks. */
function textSchema<T>(rule: string, parse: (text: string) => { value: T } | { problem: string }) {
  return z.string({ error: `must be ${rule}` }).transform((text, ctx): T => {
    const out = parse(text);
    if ("problem" in out) {
      ctx.issues.push({ code: "custom", message: out.problem, input: text });
      return z.NEVER;
    }
    return out.value;
  });
}

const durationSchema = z
  .union([z.string(), z.literal(0)], { error: `must be ${DURATION_RULE}` })
  .transform((v, ctx) => {
    const ms = typeof v === "number" ? 0 : parseDuration(v);
    if (ms === undefined) {
      ctx.issues.push({ code: "custom", message: `"${v}" is not ${DURATION_RULE}`, input: v });
      return z.NEVER;
    }
    return ms;
  });

const byteSizeSchema = z
  .union([z.string(), z.number().int().nonnegative()], { error: `must be ${BYTE_SIZE_RULE}` })
  .transform((v, ctx) => {
    const bytes = typeof v === "number" ? v : parseByteSize(v);
    if (bytes === undefined) {
      ctx.issues.push({ code: "custom", message: `"${v}" is not ${BYTE_SIZE_RULE}`, input: v });
      return z.NEVER;
    }
    return bytes;
  });

function integerSchema(min: number, max: number) {
  const rule = `an integer from ${min} to ${max}`;
  return z.union([z.number(), z.string()], { error: `must be ${rule}` }).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.issues.push({ code: "custom", message: `${JSON.stringify(v)} is not ${rule}`, input: v });
      return z.NEVER;
    }
    return n;
  });
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);
const booleanSchema = z
  .union([z.boolean(), z.string()], { error: "must be true or false" })
  .transform((v, ctx) => {
    if (typeof v === "boolean") return v;
    const word = v.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    ctx.issues.push({
      code: "custom",
      message: `"${v}" is not true or false (or 1/0, yes/no, on/off)`,
      input: v,
    });
    return z.NEVER;
  });

const listenSchema = textSchema<ListenAddress>(LISTEN_RULE, (text) => {
  const value = parseListenAddress(text);
  return value === undefined ? { problem: `"${text}" is not ${LISTEN_RULE}` } : { value };
});

const storageSchema = textSchema<StorageLocation>("a directory path or s3:// URL", (text) => {
  const value = parseStorageLocation(text);
  return typeof value === "string" ? { problem: value } : { value };
});

// Kept as text: the chain parses it again, with the private patterns (noproxy).
const upstreamSchema = textSchema<string>("a GOPROXY-style list", (text) => {
  try {
    parseGoproxyList(text);
    return { value: text.trim() };
  } catch (err) {
    if (err instanceof GoarkError) return { problem: err.message };
    throw err;
  }
});

const globListSchema = textSchema<string>("a comma-separated list of path globs", (text) => {
  const problem = globListProblem(text);
  return problem === undefined ? { value: text.trim() } : { problem };
});

// Kept as text (`host` stays `host`, so `goark config` shows what was written); warm resolves it.
const toolchainPlatformsSchema = textSchema<string>(TOOLCHAIN_PLATFORMS_RULE, (text) => {
  // `host` is only checked when warm runs: a host without a Go port must not break `serve`.
  const parsed = parseToolchainPlatforms(text, { goos: "host", goarch: "host" });
  return "problem" in parsed ? { problem: parsed.problem } : { value: text.trim() };
});

const sumDbSchema = textSchema<string>("off or a GOSUMDB value", (text) => {
  const parsed = parseSumDb(text);
  return typeof parsed === "string" ? { problem: parsed } : { value: text.trim() };
});

// A key name (no spaces, no "+") that the go command also accepts as host[/path].
const sumDbNameSchema = textSchema<string>("a database name host[/path], or empty", (text) => {
  const name = text.trim();
  if (name === "") return { value: "" };
  if (/[\s+]/u.test(name)) return { problem: `database name "${name}" must not contain spaces or +` };
  const problem = sumDbNameProblem(name);
  return problem === undefined ? { value: name } : { problem };
});

// A file path, or empty for none; relative paths are resolved by load.ts (against the config file's directory).
const filePathSchema = textSchema<string>("a file path, or empty", (text) => {
  const path = text.trim();
  if (/[\0\n\r]/.test(path)) return { problem: "a file path must not contain NUL or line breaks" };
  return { value: path };
});

const positiveDurationSchema = durationSchema.refine((ms) => ms > 0, { message: "must be more than 0" });

// A rewrite rule: `match` a module path prefix whose elements may be globs,
// `to` the repository URL, each `*` in it standing for what a glob element matched.
const rewriteRuleSchema = z
  .strictObject(
    {
      match: z.string({ error: "match must be a module path prefix such as git.corp.example/*" }).min(1),
      to: z.string({ error: "to must be a repository URL such as ssh://git@git.internal/*" }).min(1),
    },
    { error: "must be a mapping {match, to}" },
  )
  .superRefine((rule, ctx) => {
    if (/^\/|\/\/|\s/.test(rule.match)) {
      ctx.addIssue({
        code: "custom",
        message: `match "${rule.match}" is not a module path prefix`,
        path: ["match"],
      });
      return;
    }
    const globs = rule.match.split("/").filter((e) => /[*?[\\]/.test(e)).length;
    const stars = (rule.to.match(/\*/g) ?? []).length;
    if (stars > globs) {
      ctx.addIssue({
        code: "custom",
        message: `to "${rule.to}" has ${stars} * but match "${rule.match}" has only ${globs} wildcard element(s)`,
        path: ["to"],
      });
      return;
    }
    let url: URL | undefined;
    try {
      url = new URL(rule.to.replace(/\*/g, "x"));
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      !["https:", "http:", "ssh:", "git+ssh:", "git:", "file:"].includes(url.protocol)
    ) {
      ctx.addIssue({
        code: "custom",
        message: `to "${rule.to}" is not an https, http, ssh, git or file URL`,
        path: ["to"],
      });
    } else if (url.password !== "") {
      ctx.addIssue({
        code: "custom",
        message: "to must not carry a password; use credentials",
        path: ["to"],
      });
    }
  });

/** A per-host credential; secrets may be named by environment variable instead of written in the file. */
export const credentialSchema = z
  .strictObject(
    {
      host: z.string({ error: "host must be a host name (with :port if not the default)" }).min(1),
      token: z.string({ error: "token must be a string" }).min(1).optional(),
      tokenEnv: z.string({ error: "tokenEnv must name an environment variable" }).min(1).optional(),
      username: z.string({ error: "username must be a string" }).min(1).optional(),
      password: z.string({ error: "password must be a string" }).optional(),
      passwordEnv: z.string({ error: "passwordEnv must name an environment variable" }).min(1).optional(),
    },
    { error: "must be a mapping {host, token | tokenEnv | username + password | passwordEnv}" },
  )
  .superRefine((c, ctx) => {
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(c.host)) {
      ctx.addIssue({
        code: "custom",
        message: `host "${c.host}" must be a bare host name[:port]`,
        path: ["host"],
      });
      return;
    }
    const tokens = (c.token !== undefined ? 1 : 0) + (c.tokenEnv !== undefined ? 1 : 0);
    const passwords = (c.password !== undefined ? 1 : 0) + (c.passwordEnv !== undefined ? 1 : 0);
    if (tokens + passwords !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `host ${c.host}: give exactly one of token, tokenEnv, password, passwordEnv`,
      });
    } else if (passwords === 1 && c.username === undefined) {
      ctx.addIssue({ code: "custom", message: `host ${c.host}: a password needs a username` });
    }
  });

export type CredentialEntry = z.output<typeof credentialSchema>;
export type RewriteEntry = z.output<typeof rewriteRuleSchema>;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const logLevelSchema = z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` });

/** The typed configuration every part of goark receives. Durations are in milliseconds. */
export const configSchema = z.strictObject({
  listen: listenSchema,
  storage: storageSchema,
  upstream: upstreamSchema,
  private: globListSchema,
  insecure: globListSchema,
  sumdb: sumDbSchema,
  nosumdb: globListSchema,
  sumdbName: sumDbNameSchema,
  offline: booleanSchema,
  logLevel: logLevelSchema,
  listTtl: durationSchema,
  notFoundTtl: durationSchema,
  prefetchZips: booleanSchema,
  toolchainPlatforms: toolchainPlatformsSchema,
  upstreamConnectTimeout: durationSchema,
  upstreamTimeout: durationSchema,
  upstreamRetries: integerSchema(0, 10),
  upstreamConcurrency: integerSchema(1, 1024),
  shutdownTimeout: durationSchema,
  memoryCacheBytes: byteSizeSchema,
  rewrite: z.array(rewriteRuleSchema, { error: "must be a list of {match, to} rules" }),
  credentials: z.array(credentialSchema, { error: "must be a list of {host, ...} entries" }),
  gitCredentialHelpers: booleanSchema,
  sshKeyFile: filePathSchema,
  sshKnownHosts: filePathSchema,
  caFile: filePathSchema,
  gitHostConcurrency: integerSchema(1, 256),
  gitTimeout: positiveDurationSchema,
  discoveryTimeout: positiveDurationSchema,
});

export type Config = z.output<typeof configSchema>;
export type ConfigKey = keyof Config;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface OptionSpec {
  name: ConfigKey;
  /** The long flag, e.g. `--list-ttl`; the value placeholder, if any, in `arg`. */
  flag: string;
  /** Placeholder for the flag's value in help; absent for booleans. */
  arg?: string;
  env: string;
  /** The default, written as a user would write it (parsed through the schema). */
  default: string;
  /** Only goark.yaml can set it (a list); no flag or environment variable. */
  fileOnly?: boolean;
  /** The JSON value of the default, for file-only keys (lists). */
  defaultValue?: unknown;
  description: string;
}

function option(
  name: ConfigKey,
  arg: string | undefined,
  defaultText: string,
  description: string,
): OptionSpec {
  const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const spec: OptionSpec = {
    name,
    flag: `--${kebab}`,
    env: `GOARK_${kebab.replace(/-/g, "_").toUpperCase()}`,
    default: defaultText,
    description,
  };
  if (arg !== undefined) spec.arg = arg;
  return spec;
}

export const OPTIONS: readonly OptionSpec[] = [
  option(
    "listen",
    "ADDR",
    "127.0.0.1:3000",
    "Address to serve on: host:port, [ipv6]:port or :port (all interfaces); port 0 picks a free port.",
  ),
  option(
    "storage",
    "DIR|URL",
    "./goark-data",
    "Where artefacts are kept: a directory (relative to the config file when set there) or s3://bucket/prefix?endpoint=URL.",
  ),
  option(
    "upstream",
    "LIST",
    "https://proxy.golang.org,direct",
    "Where modules come from, in GOPROXY syntax: proxies and direct, separated by , (fall through on not-found) or | (on any error); off for none.",
  ),
  option(
    "private",
    "PATTERNS",
    "",
    "GOPRIVATE syntax: modules matching these path globs are fetched directly, never from public proxies nor checked against the public checksum database.",
  ),
  option(
    "insecure",
    "PATTERNS",
    "",
    "GOINSECURE syntax: direct fetches of matching modules may use plain HTTP (discovery, git and git:// remotes), skip TLS certificate verification (discovery and git over https) and reach private addresses.",
  ),
  option(
    "sumdb",
    "DB",
    "sum.golang.org",
    "Checksum database that verifies public modules before they are stored (GOSUMDB syntax: name, name+hash+key, optional URL), or off.",
  ),
  option(
    "nosumdb",
    "PATTERNS",
    "",
    "GONOSUMDB syntax: matching modules are not checked against the checksum database (private modules never are).",
  ),
  option(
    "sumdbName",
    "NAME",
    "",
    "Name of goark's own checksum database (host[/path]), fixed when its signing key is created on first start; default goark.<hostname>. `goark sumdb key` prints the client settings.",
  ),
  option("offline", undefined, "false", "Serve only what is stored; never contact an upstream."),
  option("logLevel", "LEVEL", "info", `Log level: ${LOG_LEVELS.join(", ")}.`),
  // A specific version never waits on this TTL (versions are immutable); it
  // only bounds how long a new tag stays invisible to list/@latest, while
  // folding a CI fleet's identical list requests into one upstream fetch.
  option(
    "listTtl",
    "DURATION",
    "1m",
    "How long a fetched version list or @latest answer is served before asking upstream again (stale answers are still served when upstreams fail).",
  ),
  // The go command asks for every prefix of a package path; caching those
  // 404s briefly spares the upstream without hiding a new module for long.
  option("notFoundTtl", "DURATION", "1m", "How long a not-found answer from upstream is remembered."),
  option(
    "prefetchZips",
    undefined,
    "false",
    "When a .info or .mod is fetched, fetch that version's zip too, so later builds (or offline use) find it stored.",
  ),
  option(
    "toolchainPlatforms",
    "LIST",
    "host",
    "goark warm: the platforms (GOOS/GOARCH, comma-separated; host for this machine's) whose Go toolchain it fetches (module golang.org/toolchain) when a project's go or toolchain line, or a dependency, makes Go 1.21+ switch toolchains; none to fetch no toolchains.",
  ),
  option("upstreamConnectTimeout", "DURATION", "10s", "Longest wait to open a connection to an upstream."),
  // An idle timeout rather than a total one: a 500 MiB zip on a slow link
  // still completes as long as bytes keep arriving.
  option(
    "upstreamTimeout",
    "DURATION",
    "30s",
    "Longest wait for an upstream's response headers, or between two chunks of its body.",
  ),
  option(
    "upstreamRetries",
    "N",
    "2",
    "Retries of an upstream request that failed with a connection error or a 5xx status, with backoff.",
  ),
  option("upstreamConcurrency", "N", "16", "Most requests in flight to one upstream at a time."),
  // Kubernetes sends SIGKILL 30s after SIGTERM by default; finishing first
  // lets in-flight zips complete and temporary files be cleaned up.
  option(
    "shutdownTimeout",
    "DURATION",
    "25s",
    "On SIGTERM/SIGINT, how long in-flight requests may take to finish before goark exits.",
  ),
  option(
    "memoryCacheBytes",
    "SIZE",
    "64MiB",
    "Memory for hot small artefacts (.info, .mod, lists); 0 disables the memory cache.",
  ),
  listOption(
    "rewrite",
    "Direct mode: repository URLs for hosts without go-get meta tags, tried first, as a list of {match, to}: match is a module path prefix whose elements may be globs (git.corp.example/*), to a repository URL where each * stands for what a glob element matched (ssh://git@git.internal:2222/*). A file: URL is allowed only here.",
  ),
  listOption(
    "credentials",
    "Direct mode: per-host credentials for discovery and git over HTTPS, as a list of {host, token} or {host, username, password}; tokenEnv / passwordEnv name an environment variable holding the secret instead. Secrets are redacted from `goark config` and never logged.",
  ),
  option(
    "gitCredentialHelpers",
    undefined,
    "true",
    "Direct mode: git may use the credential.helper and credential.username settings of the user's ~/.gitconfig (nothing else of that file is used).",
  ),
  option(
    "sshKeyFile",
    "FILE",
    "",
    "Direct mode: the private key ssh offers for ssh:// repositories, and no other (from the file or, if the agent at SSH_AUTH_SOCK holds it, the agent). Default: ssh's own choice (~/.ssh keys, ~/.ssh/config, the agent). goark never asks for a passphrase: use an unencrypted key or the agent.",
  ),
  option(
    "sshKnownHosts",
    "FILE",
    "",
    "Direct mode: the known_hosts file holding the host keys of ssh repository hosts, instead of ~/.ssh/known_hosts. Host keys are always checked and never added: an unknown or changed key is an error, not a prompt.",
  ),
  option(
    "caFile",
    "FILE",
    "",
    "Direct mode: PEM file of extra CA certificates trusted, besides the default ones, for https in go-get discovery and git (for a private host's own CA); certificates are still verified.",
  ),
  option(
    "gitHostConcurrency",
    "N",
    "4",
    "Direct mode: most network git operations at once per repository host.",
  ),
  option(
    "gitTimeout",
    "DURATION",
    "10m",
    "Direct mode: longest a network git operation (clone, fetch, ls-remote) may take, and a request's longest wait for a git mirror another fetch holds.",
  ),
  option(
    "discoveryTimeout",
    "DURATION",
    "30s",
    "Direct mode: longest a `?go-get=1` discovery request may take.",
  ),
];

/** A goark.yaml-only key holding a list; empty by default. */
function listOption(name: ConfigKey, description: string): OptionSpec {
  return { ...option(name, undefined, "", description), fileOnly: true, defaultValue: [] };
}

/** The table as a lookup by key. */
export const OPTION_BY_NAME: ReadonlyMap<ConfigKey, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));
