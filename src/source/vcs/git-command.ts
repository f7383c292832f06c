/**
 * Running the `git` command line safely: an environment built from an
 * allow-list (no inherited GIT_* variables, no system config, an empty global
 * config unless the operator opts in), configuration passed through
 * GIT_CONFIG_COUNT (so values such as tokens never appear in `ps`), hooks
 * off, a protocol allow-list, no prompts of any kind, and on every spawn a
 * deadline, an output cap and an AbortSignal. The whole process group is
 * killed on timeout, so helpers such as git-remote-https or ssh go too.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { GoarkError, TimeoutError, TooLargeError, UpstreamError } from "../../errors.ts";
import { CERTIFICATE_HINT } from "./tls-trust.ts";

/** Schemes git may ever use for a remote; which one a repository gets is decided per remote. */
export type GitScheme = "https" | "http" | "ssh" | "git" | "file";

export interface GitEnvironmentOptions {
  /** The environment to take proxy variables, HOME, SSH_AUTH_SOCK and PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Read ~/.gitconfig (credential helpers, url rewrites of the operator's own). Default false: an empty global config. */
  useGlobalConfig?: boolean;
  /** Extra configuration, e.g. {"credential.helper": "store --file=/etc/goark/git-credentials"}. */
  config?: Record<string, string>;
  /** Extra configuration as ordered entries, for multi-valued keys such as credential.helper. */
  configEntries?: readonly [string, string][];
  /** ssh's private key and known_hosts file for ssh remotes (see sshCommand). */
  ssh?: SshOptions;
  /** A CA bundle git trusts for https instead of its default one (GIT_SSL_CAINFO); see tls-trust.ts. */
  caBundleFile?: string;
}

export interface SshOptions {
  /** The only identity ssh offers (the file, or the agent's copy of its key); default: ssh's own choice. */
  keyFile?: string;
  /** The known_hosts file to check host keys against, instead of ~/.ssh/known_hosts. */
  knownHostsFile?: string;
}

const PASSED_THROUGH = [
  "PATH",
  "HOME",
  "TMPDIR",
  "SSH_AUTH_SOCK",
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
  "GIT_SSL_CAINFO",
  "GIT_SSL_CAPATH",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
] as const;

/** Configuration every git run gets; later entries (per-call) override earlier ones. */
const SAFE_CONFIG: [string, string][] = [
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["core.askPass", ""],
  ["credential.interactive", "never"],
  ["protocol.allow", "never"],
  ["submodule.recurse", "false"],
  ["fetch.recurseSubmodules", "false"],
  ["gc.auto", "0"],
  ["maintenance.auto", "false"],
  ["init.defaultBranch", "main"],
  ["log.showSignature", "false"],
  ["advice.detachedHead", "false"],
  // A transfer that moves less than 1 KiB/s for a minute is a hung server.
  ["http.lowSpeedLimit", "1024"],
  ["http.lowSpeedTime", "60"],
];

/** A prepared environment for git runs; secrets live only in `env`. */
export interface GitEnvironment {
  readonly env: NodeJS.ProcessEnv;
  /** The config entries, for building per-remote variants. */
  readonly config: readonly [string, string][];
}

/** Builds the base environment for every git process goark starts. */
export function gitEnvironment(opts: GitEnvironmentOptions = {}): GitEnvironment {
  const from = opts.env ?? process.env;
  const env: NodeJS.ProcessEnv = {};
  for (const k of PASSED_THROUGH) {
    const v = from[k];
    if (v !== undefined) env[k] = v;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  env.LC_ALL = "C";
  env.LANGUAGE = "C";
  env.GIT_CONFIG_NOSYSTEM = "1";
  if (!opts.useGlobalConfig) env.GIT_CONFIG_GLOBAL = "/dev/null";
  env.GIT_TERMINAL_PROMPT = "0";
  env.GCM_INTERACTIVE = "never";
  env.GIT_SSH_COMMAND = sshCommand(opts.ssh);
  if (opts.caBundleFile !== undefined) env.GIT_SSL_CAINFO = opts.caBundleFile;
  const config: [string, string][] = [
    ...SAFE_CONFIG,
    ...Object.entries(opts.config ?? {}),
    ...(opts.configEntries ?? []),
  ];
  return { env, config };
}

/** Quotes s for the POSIX shell git runs GIT_SSH_COMMAND with. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The ssh command line git uses: never a prompt (BatchMode: no passphrase,
 * password or host-key question), host keys always checked and never
 * written (an unknown or changed key fails at once), dead connections
 * noticed within a minute, no shared master connection. Command-line
 * options win over ~/.ssh/config, which otherwise still applies (Host
 * blocks, ProxyJump); with a key file, only that key is offered.
 */
export function sshCommand(opts: SshOptions = {}): string {
  const args = [
    "ssh",
    "-o BatchMode=yes",
    "-o StrictHostKeyChecking=yes",
    "-o UpdateHostKeys=no",
    "-o ConnectTimeout=30",
    "-o ServerAliveInterval=15",
    "-o ServerAliveCountMax=4",
    "-o ControlMaster=no",
    "-o ControlPath=none",
  ];
  if (opts.keyFile !== undefined) args.push("-o IdentitiesOnly=yes", `-i ${shellQuote(opts.keyFile)}`);
  if (opts.knownHostsFile !== undefined) {
    args.push(`-o UserKnownHostsFile=${shellQuote(opts.knownHostsFile)}`);
  }
  return args.join(" ");
}

/**
 * The environment for one run: the base, the protocols allowed for this
 * remote (nothing else), and extra per-remote configuration such as an
 * Authorization header scoped to the remote's URL.
 */
export function runEnvironment(
  base: GitEnvironment,
  allow: readonly GitScheme[],
  extra: readonly [string, string][] = [],
): NodeJS.ProcessEnv {
  const entries: [string, string][] = [...base.config];
  for (const s of allow) entries.push([`protocol.${s}.allow`, "always"]);
  entries.push(...extra);
  const env: NodeJS.ProcessEnv = { ...base.env };
  // Older gits honour only this variable; it is a strict allow-list too.
  env.GIT_ALLOW_PROTOCOL = allow.length === 0 ? "none-allowed" : allow.join(":");
  env.GIT_CONFIG_COUNT = String(entries.length);
  entries.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

export interface GitRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Kill the process group after this long (default 10 minutes). */
  timeoutMs?: number;
  /** Most stdout bytes kept; more fails with TooLargeError (default 16 MiB). */
  maxOutput?: number;
  /** Write stdout to this file instead of memory (maxOutput still applies). */
  stdoutFile?: string;
  signal?: AbortSignal;
  /** What the command is, for error messages (never includes secrets). */
  what?: string;
  /** Told git's pid (also its process group) once it runs. */
  onSpawn?: (pid: number) => void;
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  /** The last few KiB of stderr. */
  stderr: string;
}

const MAX_STDERR = 8 << 10;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MAX_OUTPUT = 16 << 20;

/**
 * Runs git with args and returns its exit code and output; a non-zero exit
 * is not an error here (callers decide what it means). Spawn failures,
 * timeouts, aborts and output over the cap are errors.
 */
export function runGit(args: readonly string[], opts: GitRunOptions): Promise<GitResult> {
  const what = opts.what ?? `git ${args[0] ?? ""}`;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOutput = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
  return new Promise<GitResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(abortReason(opts.signal, what));
      return;
    }
    const child = spawn("git", args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group, so a timeout kills git's helpers too.
      detached: true,
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let stderr = "";
    let failure: GoarkError | undefined;
    const file = opts.stdoutFile === undefined ? undefined : createWriteStream(opts.stdoutFile);
    let fileDone: Promise<void> = Promise.resolve();
    if (file) {
      fileDone = new Promise<void>((res, rej) => {
        file.once("finish", res);
        file.once("error", rej);
      });
    }

    const kill = (err: GoarkError) => {
      failure ??= err;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(
      () => kill(new TimeoutError(`${what} did not finish within ${Math.round(timeoutMs / 1000)}s; stopped`)),
      timeoutMs,
    );
    const onAbort = () => kill(abortReason(opts.signal, what));
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxOutput) {
        kill(new TooLargeError(`${what} produced more than ${maxOutput} bytes; stopped`));
        return;
      }
      if (file) {
        if (!file.write(chunk)) {
          child.stdout.pause();
          file.once("drain", () => child.stdout.resume());
        }
      } else {
        chunks.push(chunk);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (stderr.length > MAX_STDERR) stderr = stderr.slice(-MAX_STDERR);
    });
    child.once("error", (err) => {
      failure ??= new UpstreamError(`${what}: cannot run git: ${err.message}`, { cause: err });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      file?.end();
      fileDone.then(
        () => {
          if (failure) reject(failure);
          else resolve({ code: code ?? -1, stdout: Buffer.concat(chunks), stderr });
        },
        (err: unknown) =>
          reject(
            failure ??
              new UpstreamError(`${what}: writing output failed: ${(err as Error).message}`, { cause: err }),
          ),
      );
    });
  });
}

function abortReason(signal: AbortSignal | undefined, what: string): GoarkError {
  const reason: unknown = signal?.reason;
  if (reason instanceof GoarkError) return reason;
  return new UpstreamError(`${what}: cancelled`, { cause: reason });
}

/**
 * The line of git's complaint that says what went wrong, without userinfo in
 * any URL it quotes. Over ssh, git's own line ("Could not read from remote
 * repository") says nothing, so ssh's reason is given instead.
 */
export function gitComplaint(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("hint:"));
  let fatal =
    sshComplaint(lines) ??
    lines.find((l) => l.startsWith("fatal:") || l.startsWith("error:")) ??
    lines[0] ??
    "";
  if (fatal.length > 300) fatal = `${fatal.slice(0, 300)}…`;
  // libcurl's words, with OpenSSL and with GnuTLS, for a certificate that does not verify.
  if (
    /SSL certificate problem|certificate verification failed|SSL: no alternative certificate subject name/i.test(
      fatal,
    )
  ) {
    fatal += ` (${CERTIFICATE_HINT})`;
  }
  return redactSecrets(fatal);
}

/** ssh's reason for failing, from its stderr lines, if ssh failed. */
function sshComplaint(lines: readonly string[]): string | undefined {
  const unknown = lines
    .map((l) => /^No \S+ host key is known for (\S+) and you have requested strict checking/.exec(l))
    .find((m) => m !== null);
  if (unknown) {
    return `ssh: the host key of ${unknown[1]} is not known; add it to the known_hosts file (sshKnownHosts, or ~/.ssh/known_hosts): host key verification failed`;
  }
  const changed = lines
    .map((l) => /^Host key for (\S+) has changed and you have requested strict checking/.exec(l))
    .find((m) => m !== null);
  if (changed) {
    return `ssh: the host key of ${changed[1]} does not match its known_hosts entry; refused: host key verification failed`;
  }
  const tooOpen = lines.find((l) => /^Permissions \d+ for '.*' are too open/.test(l));
  if (tooOpen) return `ssh: ${tooOpen} (the private key must be readable by its owner only)`;
  const reason = lines.find(
    (l) =>
      /: Permission denied \(/.test(l) ||
      /^Host key verification failed/.test(l) ||
      /^ssh: /.test(l) ||
      /^(Load key|kex_exchange_identification|Connection (closed|reset) by|banner exchange|Unable to negotiate)/.test(
        l,
      ),
  );
  return reason === undefined ? undefined : reason.startsWith("ssh:") ? reason : `ssh: ${reason}`;
}

/**
 * For a remote of an insecure (GOINSECURE-matched) module: TLS certificate
 * checks off for that remote's URL only, as the go command's insecure mode
 * does; nothing for other modules or non-https remotes.
 */
export function insecureTlsConfig(remote: string, insecure: boolean): [string, string][] {
  if (!insecure) return [];
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    return [];
  }
  if (url.protocol !== "https:") return [];
  return [[`http.https://${url.host}${url.pathname}.sslVerify`, "false"]];
}

/**
 * Removes user information from URLs in text, except a bare user name of an
 * ssh URL (ssh://git@host/…): that is a login, not a secret, and part of the
 * repository's address (the go command records it in Origin). Over http a
 * bare user name may be a token, so it goes.
 */
export function redactSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/gi, (_all, scheme: string, userinfo: string) =>
    /^(ssh|git\+ssh):\/\/$/i.test(scheme) && /^[A-Za-z0-9._-]+$/.test(userinfo)
      ? `${scheme}${userinfo}@`
      : scheme,
  );
}
