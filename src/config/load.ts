/**
 * Loads the configuration: flags > GOARK_* environment > goark.yaml >
 * defaults. Every layer is validated in full, even values a higher layer
 * overrides, so a broken file or variable is caught the day it is written.
 * Any invalid value throws one ConfigError naming the key, the layer it came
 * from and the rule it breaks.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.ts";
import { type Config, type ConfigKey, configSchema, OPTION_BY_NAME, OPTIONS } from "./options.ts";
import { resolveStorage } from "./storage-location.ts";

/** The file read when neither --config nor GOARK_CONFIG names one (optional). */
export const DEFAULT_CONFIG_FILE = "goark.yaml";
export const CONFIG_FLAG = "--config";
export const CONFIG_ENV = "GOARK_CONFIG";

export interface LoadConfigInput {
  /**
   * Flag values keyed by option name (commander's opts(): `listTtl` for
   * `--list-ttl`), plus `config`. Undefined means "not given"; keys that are
   * not options are ignored (commands have flags of their own).
   */
  flags?: Readonly<Record<string, unknown>>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Resolves relative paths given by flags and environment; defaults to process.cwd(). */
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The absolute path of the file that was read, if any. */
  file?: string;
  /** Which layer each key's value came from: "default", "file", "env" or "flag". */
  origin: Record<ConfigKey, "default" | "file" | "env" | "flag">;
}

/** Keys whose raw values may hold secrets: never quoted back in errors. */
const SECRET_KEYS: ReadonlySet<string> = new Set(["credentials"]);

type Layer = "default" | "file" | "env" | "flag";
type Partial = { [K in ConfigKey]?: Config[K] };

export function loadConfig(input: LoadConfigInput = {}): Config {
  return loadConfigDetailed(input).config;
}

/** loadConfig, also telling which file was read and where each value came from. */
export function loadConfigDetailed(input: LoadConfigInput = {}): LoadedConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const cwd = input.cwd ?? process.cwd();

  const flagRaw: Record<string, unknown> = {};
  for (const o of OPTIONS) if (!o.fileOnly && flags[o.name] !== undefined) flagRaw[o.name] = flags[o.name];
  const envRaw: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    if (o.fileOnly) continue;
    const v = env[o.env];
    // As with the go command's variables, an empty variable counts as unset.
    if (v !== undefined && v !== "") envRaw[o.name] = v;
  }

  const flagValues = parseLayer(flagRaw, (key) => `flag ${OPTION_BY_NAME.get(key)!.flag}`);
  const envValues = parseLayer(envRaw, (key) => `env ${OPTION_BY_NAME.get(key)!.env}`);

  const file = configFilePath(flags, env, cwd);
  let fileValues: Partial = {};
  if (file !== undefined) {
    fileValues = parseLayer(readConfigFile(file.path, file.shown), (key) => `${file.shown}:${key}`);
    if (fileValues.storage !== undefined)
      fileValues.storage = resolveStorage(fileValues.storage, dirname(file.path));
  }
  if (flagValues.storage !== undefined) flagValues.storage = resolveStorage(flagValues.storage, cwd);
  if (envValues.storage !== undefined) envValues.storage = resolveStorage(envValues.storage, cwd);
  if (file !== undefined) resolveFilePaths(fileValues, dirname(file.path));
  resolveFilePaths(flagValues, cwd);
  resolveFilePaths(envValues, cwd);

  const defaultRaw: Record<string, unknown> = {};
  for (const o of OPTIONS) defaultRaw[o.name] = o.fileOnly ? o.defaultValue : o.default;
  const defaults = parseLayer(defaultRaw, (key) => `the default of ${key}`) as Config;
  defaults.storage = resolveStorage(defaults.storage, cwd);

  const config = { ...defaults } as Record<ConfigKey, unknown>;
  const origin = {} as Record<ConfigKey, Layer>;
  for (const o of OPTIONS) {
    origin[o.name] = "default";
    for (const [layer, values] of [
      ["file", fileValues],
      ["env", envValues],
      ["flag", flagValues],
    ] as const) {
      if (values[o.name] !== undefined) {
        config[o.name] = values[o.name];
        origin[o.name] = layer;
      }
    }
  }
  const loaded: LoadedConfig = { config: config as Config, origin };
  if (file !== undefined) loaded.file = file.path;
  return loaded;
}

/** Settings naming a file; a relative path is taken from the config file's directory, or the working directory. */
const FILE_KEYS = ["sshKeyFile", "sshKnownHosts", "caFile"] as const;

function resolveFilePaths(values: Partial, base: string): void {
  for (const k of FILE_KEYS) {
    const v = values[k];
    if (v !== undefined && v !== "") values[k] = resolve(base, v);
  }
}

function configFilePath(
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): { path: string; shown: string } | undefined {
  const named = flags.config;
  if (named !== undefined) {
    if (typeof named !== "string" || named === "")
      throw new ConfigError(`flag ${CONFIG_FLAG}: must name a YAML file`);
    return { path: resolve(cwd, named), shown: named };
  }
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return { path: resolve(cwd, fromEnv), shown: fromEnv };
  const implicit = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(implicit) ? { path: implicit, shown: DEFAULT_CONFIG_FILE } : undefined;
}

function readConfigFile(path: string, shown: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`config file ${shown}: cannot be read (${reason})`, { path, cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = first.linePos?.[0].line;
    const where = line === undefined ? shown : `${shown}:${line}`;
    throw new ConfigError(`${where}: not valid YAML: ${first.message.split("\n")[0]}`, { path });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new ConfigError(`config file ${shown}: must be a mapping of keys to values`, { path });
  const keys = Object.keys(value);
  const unknown = keys.find((k) => !OPTION_BY_NAME.has(k as ConfigKey));
  if (unknown !== undefined) {
    const known = OPTIONS.map((o) => o.name).join(", ");
    throw new ConfigError(
      `unknown key ${unknown} (${shown}:${unknown}): not a goark setting (known keys: ${known})`,
      {
        path,
      },
    );
  }
  return value as Record<string, unknown>;
}

/** Validates one layer's raw values; the first problem becomes a ConfigError naming its layer. */
function parseLayer(raw: Record<string, unknown>, where: (key: ConfigKey) => string): Partial {
  const result = configSchema.partial().safeParse(raw);
  if (result.success) {
    const out: Partial = {};
    for (const [k, v] of Object.entries(result.data))
      if (v !== undefined) (out as Record<string, unknown>)[k] = v;
    return out;
  }
  throw layerError(result.error.issues, raw, where);
}

function layerError(
  issues: readonly z.core.$ZodIssue[],
  raw: Record<string, unknown>,
  where: (key: ConfigKey) => string,
): ConfigError {
  const issue = issues[0]!;
  const key = issue.path[0];
  if (typeof key !== "string" || !OPTION_BY_NAME.has(key as ConfigKey)) {
    return new ConfigError(`invalid configuration: ${issue.message}`);
  }
  // Type-level rules ("must be …") do not quote the value; show it (never for credentials: secrets).
  const got =
    issue.message.startsWith("must be ") && !SECRET_KEYS.has(key)
      ? `, got ${JSON.stringify(raw[key]) ?? "nothing"}`
      : "";
  // Inside a list, name the entry (and field): credentials[1].tokenEnv.
  const sub = issue.path
    .slice(1)
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("");
  const label = sub === "" ? key : `${key}${sub}`;
  return new ConfigError(`invalid ${label} (${where(key as ConfigKey)}): ${issue.message}${got}`);
}
