/**
 * A real OpenSSH server on 127.0.0.1 for tests of git over ssh: Debian's
 * sshd (installed by scripts/prereqs.sh) run in the foreground with its own
 * configuration, host key and authorized_keys in a temp directory (no system
 * configuration), logging in the current user with public keys only. The
 * user's shell runs git-upload-pack, so any bare repository on disk is
 * reachable as ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH.git. Also an
 * ssh-agent, and keys made with ssh-keygen.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export const SSHD = "/usr/sbin/sshd";
const PREREQ_HINT = "run `bash scripts/prereqs.sh` (installs Debian's openssh-server and openssh-client)";

export interface SshKey {
  /** The private key file (mode 0600). */
  file: string;
  /** The public key line. */
  publicKey: string;
}

export interface SshHost {
  readonly port: number;
  /** The account sshd logs in: the current user. */
  readonly user: string;
  /** A key in authorized_keys (ed25519, no passphrase). */
  readonly key: SshKey;
  /** A known_hosts file holding this server's host key for [127.0.0.1]:PORT. */
  readonly knownHosts: string;
  /** The known_hosts line for this server. */
  readonly knownHostsLine: string;
  /** ssh://USER@127.0.0.1:PORT + an absolute path. */
  url(absolutePath: string): string;
  /** A new key pair in the server's directory; authorized only if asked. */
  newKey(name: string, opts?: { passphrase?: string; authorize?: boolean }): Promise<SshKey>;
  /** sshd's log so far. */
  log(): string;
  close(): Promise<void>;
}

/** Makes a key pair with ssh-keygen. */
export async function makeKey(file: string, passphrase = ""): Promise<SshKey> {
  await execFileP("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "goark-test", "-f", file]);
  return { file, publicKey: (await readFile(`${file}.pub`, "utf8")).trim() };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Fails with the install hint when sshd or ssh-keygen is missing (never a skip: CI must have them). */
export function assertSshPrereqs(): void {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing; ${PREREQ_HINT}`);
}

export async function startSshHost(): Promise<SshHost> {
  assertSshPrereqs();
  const dir = await mkdtemp(join(tmpdir(), "goark-sshd-"));
  const user = userInfo().username;
  const hostKey = await makeKey(join(dir, "host_ed25519"));
  const key = await makeKey(join(dir, "client_ed25519"));
  const authorizedKeys = join(dir, "authorized_keys");
  await writeFile(authorizedKeys, `${key.publicKey}\n`);
  // As root, sshd needs its privilege-separation directory (Debian's service creates it at boot).
  if (process.getuid?.() === 0) await mkdir("/run/sshd", { recursive: true, mode: 0o755 });

  const configFor = (port: number, penalties: boolean) =>
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey.file}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      // The temp directory is not laid out as sshd wants a home directory to be.
      "StrictModes no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      `AllowUsers ${user}`,
      "DisableForwarding yes",
      "PermitTTY no",
      "PermitUserRC no",
      "MaxStartups 64",
      "LogLevel VERBOSE",
      // Newer OpenSSH (9.8+) would lock out 127.0.0.1 after the tests' deliberate failures.
      ...(penalties ? ["PerSourcePenalties no"] : []),
      "",
    ].join("\n");
  const config = join(dir, "sshd_config");
  let proc: ChildProcess | undefined;
  let log = "";
  let port = 0;
  for (let attempt = 0; attempt < 3 && proc === undefined; attempt++) {
    port = await freePort();
    await writeFile(config, configFor(port, true));
    if (
      await execFileP(SSHD, ["-t", "-f", config]).then(
        () => false,
        () => true,
      )
    ) {
      await writeFile(config, configFor(port, false));
      await execFileP(SSHD, ["-t", "-f", config]).catch((err: { stderr?: string }) => {
        throw new Error(`sshd rejects its test configuration: ${err.stderr ?? String(err)}`);
      });
    }
    const child = spawn(SSHD, ["-D", "-e", "-f", config], {
      env: { PATH: "/usr/local/bin:/usr/bin:/bin" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.once("error", (err) => {
        log += `cannot run ${SSHD}: ${err.message}\n`;
        clearTimeout(timer);
        resolve(false);
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString("utf8");
        if (log.includes("Server listening on")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) proc = child;
    else {
      child.kill("SIGKILL");
      if (!/Address already in use/.test(log)) throw new Error(`sshd did not start:\n${log}`);
    }
  }
  if (proc === undefined) throw new Error(`sshd did not start after 3 attempts:\n${log}`);
  const running = proc;
  const hostPub = hostKey.publicKey.split(" ").slice(0, 2).join(" ");
  const knownHostsLine = `[127.0.0.1]:${port} ${hostPub}`;
  const knownHosts = join(dir, "known_hosts");
  await writeFile(knownHosts, `${knownHostsLine}\n`);

  return {
    port,
    user,
    key,
    knownHosts,
    knownHostsLine,
    url: (absolutePath) => `ssh://${user}@127.0.0.1:${port}${absolutePath}`,
    async newKey(name, opts = {}) {
      const k = await makeKey(join(dir, name), opts.passphrase ?? "");
      if (opts.authorize) await writeFile(authorizedKeys, `${k.publicKey}\n`, { flag: "a" });
      return k;
    },
    log: () => log,
    async close() {
      if (running.exitCode === null) {
        const exited = new Promise<void>((r) => running.once("exit", () => r()));
        running.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (running.exitCode === null) running.kill("SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SshAgent {
  /** The agent's socket, for SSH_AUTH_SOCK. */
  readonly socket: string;
  /** Loads a key (with its passphrase, given to ssh-add through SSH_ASKPASS, never an argument). */
  add(key: SshKey, passphrase?: string): Promise<void>;
  close(): Promise<void>;
}

/** An ssh-agent in the foreground on a socket in a temp directory. */
export async function startSshAgent(): Promise<SshAgent> {
  const dir = await mkdtemp(join(tmpdir(), "goark-agent-"));
  const socket = join(dir, "agent.sock");
  const child = spawn("ssh-agent", ["-D", "-a", socket], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString("utf8");
  });
  child.once("error", (e) => {
    err += `cannot run ssh-agent: ${e.message}; ${PREREQ_HINT}`;
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) {
    if (child.exitCode !== null || err.startsWith("cannot run")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(socket)) {
    child.kill("SIGKILL");
    throw new Error(`ssh-agent did not start: ${err}`);
  }
  return {
    socket,
    async add(key, passphrase) {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, SSH_AUTH_SOCK: socket };
      if (passphrase !== undefined) {
        const askpass = join(dir, "askpass.sh");
        await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$GOARK_TEST_PASSPHRASE"\n', { mode: 0o700 });
        Object.assign(env, {
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: "force",
          DISPLAY: "none",
          GOARK_TEST_PASSPHRASE: passphrase,
        });
      }
      await execFileP("ssh-add", ["-q", key.file], { env, timeout: 10_000 });
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
