/**
 * A git host on 127.0.0.1 for tests that run the real go command (or goark's
 * direct mode) against git: bare repositories built from file trees, served
 * over git's dumb HTTP protocol (static files), with `?go-get=1` discovery
 * pages. Module paths need a dotted host name, so the same server is also a
 * plain HTTP forward proxy: point HTTP_PROXY at it and a made-up host such as
 * git.goark.test reaches it. CONNECT is refused, so HTTPS attempts fail fast.
 * With the `https` option the host speaks only TLS instead: the proxy tunnels
 * CONNECT HOST:443 (point HTTPS_PROXY at it) to a TLS listener with the given
 * certificate, and plain-http requests for HOST are refused.
 */
import { execFile, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export const DEFAULT_GIT_HOST = "git.goark.test";

/** A file's content, or a symlink, or an executable file. */
export type TreeEntry =
  | string
  | Uint8Array
  | { symlink: string }
  | { data: string | Uint8Array; executable: true };
/** Slash-separated relative path → entry. Directories are implied by the paths. */
export type FileTree = Record<string, TreeEntry>;

export interface CommitSpec {
  /** The whole tree of this commit (not a diff against the previous one). */
  files: FileTree;
  /** Lightweight tags on this commit. */
  tags?: string[];
  /** Annotated tags on this commit (tagged one second after the commit). */
  annotatedTags?: string[];
  /** Author and committer date; defaults to 2020-01-02T03:04:05Z plus one hour per commit. */
  date?: Date | string;
  message?: string;
  /**
   * Index of the parent commit (default: the previous one; null for a new
   * root). Commits off the main line are reachable only through `branches`.
   */
  parent?: number | null;
}

export interface CreateRepoOptions {
  /** Extra branches: name → index of the commit it points to. `main` defaults to the last commit. */
  branches?: Record<string, number>;
  /** The branch HEAD names (default main). */
  head?: string;
}

export interface CommitInfo {
  hash: string;
  /** Committer time, whole seconds. */
  date: Date;
  tags: string[];
}

export interface RepoInfo {
  name: string;
  /** The import-path root the go-get page announces: HOST/NAME. */
  root: string;
  /** The clone URL the go-get page announces: http://HOST/NAME.git (https:// with the https option). */
  url: string;
  /** The bare repository on disk. */
  dir: string;
  commits: CommitInfo[];
}

export interface GitHost {
  /** The made-up host name that reaches this server through the proxy. */
  readonly host: string;
  /** http://127.0.0.1:PORT — both the proxy and the origin. */
  readonly proxyUrl: string;
  /** Every request line seen, for debugging failed tests. */
  readonly requests: string[];
  /** Builds a bare repository NAME (slashes allowed) from commits on branch main. */
  createRepo(name: string, commits: CommitSpec[], options?: CreateRepoOptions): Promise<RepoInfo>;
  /** Serves html for `https?://HOST/path?go-get=1` instead of the generated page. */
  setGoGetPage(path: string, html: string): void;
  /** Adds commits, tags and branches to an existing repository (same specs; parents index all commits so far). */
  extendRepo(name: string, commits: CommitSpec[], options?: CreateRepoOptions): Promise<RepoInfo>;
  /**
   * A hermetic environment for running `go` in direct mode against this host:
   * fresh GOPATH/GOMODCACHE/GOCACHE under `workDir`, proxy variables pointing
   * here, no GOPRIVATE/GONOPROXY/GONOSUMDB leaking in from the caller.
   */
  goEnv(workDir: string, extra?: Record<string, string>): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface GitHostOptions {
  host?: string;
  /**
   * Also speak git's smart HTTP protocol (`git http-backend` as a CGI), so
   * fetches negotiate and transfer only missing objects. Default: dumb only.
   */
  smartHttp?: boolean;
  /** Repository requests (not go-get pages) need HTTP basic auth with these credentials. */
  requireAuth?: { username: string; password: string };
  /** Go-get pages to serve instead of the generated ones: the path after the host → HTML. */
  goGetPages?: Record<string, string>;
  /**
   * Serve HOST over TLS only, with this certificate (chain) and key in PEM
   * (test/helpers/test-ca.ts makes them): reached through the proxy's CONNECT
   * tunnel, so HTTPS_PROXY must point here.
   */
  https?: { cert: string; key: string };
  /**
   * Awaited before each request is answered (e.g. to hold a fetch's pack
   * request while a test looks at what the client holds meanwhile).
   */
  gate?: (method: string, path: string) => Promise<void> | undefined;
}

const BASE_DATE = Date.UTC(2020, 0, 2, 3, 4, 5);

/** Environment for the git commands that build repositories: no user or system config. */
function gitEnv(home: string, date?: Date): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "goark test",
    GIT_AUTHOR_EMAIL: "test@goark.test",
    GIT_COMMITTER_NAME: "goark test",
    GIT_COMMITTER_EMAIL: "test@goark.test",
    LC_ALL: "C",
    TZ: "UTC",
  };
  if (date) {
    const stamp = `@${Math.floor(date.getTime() / 1000)} +0000`;
    env.GIT_AUTHOR_DATE = stamp;
    env.GIT_COMMITTER_DATE = stamp;
  }
  return env;
}

async function git(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(
      "git",
      ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", ...args],
      {
        cwd,
        env,
        maxBuffer: 64 << 20,
      },
    );
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`git ${args.join(" ")} failed in ${cwd}: ${e.stderr || e.message}`);
  }
}

/** Writes a file tree into dir (which must exist). */
export async function writeTree(dir: string, files: FileTree): Promise<void> {
  for (const [rel, entry] of Object.entries(files)) {
    const file = join(dir, ...rel.split("/"));
    await mkdir(dirname(file), { recursive: true });
    if (typeof entry === "string" || entry instanceof Uint8Array) {
      await writeFile(file, entry);
    } else if ("symlink" in entry) {
      await symlink(entry.symlink, file);
    } else {
      await writeFile(file, entry.data);
      await chmod(file, 0o755);
    }
  }
}

async function emptyWorktree(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name !== ".git") await rm(join(dir, name), { recursive: true, force: true });
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export async function startGitHost(options: GitHostOptions = {}): Promise<GitHost> {
  const host = options.host ?? DEFAULT_GIT_HOST;
  const top = await mkdtemp(join(tmpdir(), "goark-git-host-"));
  const reposDir = join(top, "repos");
  const home = join(top, "home");
  await mkdir(reposDir, { recursive: true });
  await mkdir(home, { recursive: true });
  const repos = new Map<string, RepoInfo>();
  const requests: string[] = [];
  const goGetPages: Record<string, string> = { ...options.goGetPages };

  /** Like the big hosts, a repository answers with and without its ".git" suffix. */
  const withGitSuffix = (path: string): string => {
    for (const r of repos.values()) {
      if (path === r.name || path.startsWith(`${r.name}/`))
        return `${r.name}.git${path.slice(r.name.length)}`;
    }
    return path;
  };

  const isSmartRequest = (url: URL, method: string | undefined): boolean =>
    (method === "GET" &&
      url.pathname.endsWith("/info/refs") &&
      url.searchParams.get("service") === "git-upload-pack") ||
    (method === "POST" && url.pathname.endsWith("/git-upload-pack"));

  /** Runs `git http-backend` for one smart-protocol request (upload-pack only: the host is read-only). */
  const smart = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_PROJECT_ROOT: reposDir,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: `/${withGitSuffix(decodeURIComponent(url.pathname).replace(/^\/+/, ""))}`,
      QUERY_STRING: url.search.replace(/^\?/, ""),
      REQUEST_METHOD: req.method ?? "GET",
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_ADDR: "127.0.0.1",
      GATEWAY_INTERFACE: "CGI/1.1",
    };
    const encoding = req.headers["content-encoding"];
    if (typeof encoding === "string") env.HTTP_CONTENT_ENCODING = encoding;
    const protocol = req.headers["git-protocol"];
    if (typeof protocol === "string") env.GIT_PROTOCOL = protocol;
    const cgi = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "ignore"] });
    // A client gone (killed) must not leave git http-backend waiting for the rest of its request.
    res.once("close", () => {
      if (cgi.exitCode === null && cgi.signalCode === null) cgi.kill("SIGKILL");
    });
    cgi.stdin.on("error", () => undefined);
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => {
      if (!headersDone) send(res, 500, "git http-backend failed\n");
      else res.end();
    });
  };

  const send = (res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8") => {
    res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };

  /** The repository whose root is the longest path prefix of the request path. */
  const repoFor = (path: string): RepoInfo | undefined => {
    let best: RepoInfo | undefined;
    for (const r of repos.values()) {
      if ((path === r.name || path.startsWith(r.name + "/")) && (!best || r.name.length > best.name.length)) {
        best = r;
      }
    }
    return best;
  };

  /** secure: the request came through the TLS listener (origin-form target, HOST only). */
  const handle = async (req: IncomingMessage, res: ServerResponse, secure: boolean) => {
    requests.push(secure ? `${req.method} https://${host}${req.url}` : `${req.method} ${req.url}`);
    let url: URL;
    try {
      url = new URL(req.url ?? "/", `${secure ? "https" : "http"}://${req.headers.host ?? host}`);
    } catch {
      return send(res, 400, "bad request URL\n");
    }
    await options.gate?.(req.method ?? "GET", url.pathname);
    if (req.socket.destroyed) return;
    const local = url.hostname === "127.0.0.1" || url.hostname === "localhost";
    if (url.protocol !== (secure ? "https:" : "http:") || (url.hostname !== host && !local)) {
      // A proxy with no network behind it: every other host is unreachable.
      return send(res, 502, `git host test proxy: no route to ${url.host}\n`);
    }
    if (options.https && !secure && url.hostname === host) {
      return send(res, 502, `git host test proxy: ${host} speaks https only\n`);
    }
    if (options.requireAuth && url.searchParams.get("go-get") !== "1") {
      const { username, password } = options.requireAuth;
      const want = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
      if (req.headers.authorization !== want) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git host"', "Content-Length": 0 });
        return res.end();
      }
    }
    if (options.smartHttp && isSmartRequest(url, req.method)) return smart(req, res, url);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "only GET and HEAD\n");
    const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
    const page = goGetPages[path];
    if (url.searchParams.get("go-get") === "1" && page !== undefined) {
      return send(res, 200, page, "text/html; charset=utf-8");
    }

    if (url.searchParams.get("go-get") === "1") {
      const repo = repoFor(path);
      if (!repo) return send(res, 404, `no repository for ${path}\n`);
      const content = `${repo.root} git ${repo.url}`;
      const page =
        `<!DOCTYPE html>\n<html><head>\n<meta name="go-import" content="${escapeHtml(content)}">\n` +
        `</head><body>go get ${escapeHtml(repo.root)}</body></html>\n`;
      return send(res, 200, page, "text/html; charset=utf-8");
    }

    // Dumb HTTP: the bare repositories are served as static files.
    const file = resolve(reposDir, withGitSuffix(path));
    if (!file.startsWith(reposDir + sep)) return send(res, 403, "outside the repositories\n");
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(file);
    } catch {
      return send(res, 404, `not found: ${path}\n`);
    }
    if (!info.isFile()) return send(res, 404, `not a file: ${path}\n`);
    const type = path.endsWith("/info/refs") ? "text/plain; charset=utf-8" : "application/octet-stream";
    res.writeHead(200, { "Content-Type": type, "Content-Length": info.size });
    if (req.method === "HEAD") return res.end();
    createReadStream(file).pipe(res);
  };

  const serve = (secure: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, secure).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `git host: ${String(err)}\n`);
      else res.destroy();
    });
  };
  const server = createServer(serve(false));
  const tlsServer = options.https
    ? createHttpsServer({ cert: options.https.cert, key: options.https.key }, serve(true))
    : undefined;
  let tlsPort = 0;
  const tunnels = new Set<Socket>();
  server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    requests.push(`CONNECT ${req.url}`);
    if (tlsServer === undefined || req.url !== `${host}:443`) {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const upstream = netConnect(tlsPort, "127.0.0.1", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    for (const s of [socket, upstream]) {
      tunnels.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        tunnels.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const proxyUrl = `http://127.0.0.1:${port}`;
  if (tlsServer !== undefined) {
    await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
    tlsPort = (tlsServer.address() as AddressInfo).port;
  }
  const scheme = tlsServer === undefined ? "http" : "https";

  /** Commits specs into the work tree at work, after the commits in infos; returns the new infos. */
  const commitAll = async (work: string, commits: CommitSpec[], infos: CommitInfo[]): Promise<void> => {
    const env = gitEnv(home);
    for (const c of commits) {
      const i = infos.length;
      const date = c.date === undefined ? new Date(BASE_DATE + i * 3600_000) : new Date(c.date);
      const cenv = gitEnv(home, date);
      const parent = c.parent === undefined ? i - 1 : c.parent;
      if (parent === null || parent < 0) {
        if (i > 0) {
          await git(work, env, "checkout", "-q", "-f", "--orphan", `goark-root-${i}`);
          await git(work, env, "rm", "-rq", "--cached", "--ignore-unmatch", ".");
        }
      } else {
        const p = infos[parent];
        if (!p) throw new Error(`commit ${i}: parent ${parent} does not exist`);
        await git(work, env, "checkout", "-q", "-f", "--detach", p.hash);
      }
      await emptyWorktree(work);
      await writeTree(work, c.files);
      await git(work, cenv, "add", "-A", "--force", ".");
      await git(work, cenv, "commit", "-q", "--allow-empty", "-m", c.message ?? `commit ${i}`);
      const hash = (await git(work, cenv, "rev-parse", "HEAD")).trim();
      for (const t of c.tags ?? []) await git(work, cenv, "tag", t);
      const tenv = gitEnv(home, new Date(date.getTime() + 1000));
      for (const t of c.annotatedTags ?? []) await git(work, tenv, "tag", "-a", "-m", `tag ${t}`, t);
      infos.push({
        hash,
        date: new Date(Math.floor(date.getTime() / 1000) * 1000),
        tags: [...(c.tags ?? []), ...(c.annotatedTags ?? [])],
      });
    }
  };

  const publish = async (
    work: string,
    info: RepoInfo,
    options: CreateRepoOptions,
    fresh: boolean,
  ): Promise<void> => {
    const env = gitEnv(home);
    const infos = info.commits;
    // Commits are made on a detached HEAD (or a temporary orphan branch, which must not be published).
    await git(work, env, "checkout", "-q", "-f", "--detach");
    for (const line of (await git(work, env, "branch", "--format=%(refname:short)")).split("\n")) {
      if (line.startsWith("goark-root-")) await git(work, env, "branch", "-q", "-D", line);
    }
    const branches: Record<string, number> = { ...options.branches };
    if (fresh && branches.main === undefined) branches.main = infos.length - 1;
    for (const [b, idx] of Object.entries(branches)) {
      const c = infos[idx];
      if (!c) throw new Error(`branch ${b}: commit ${idx} does not exist`);
      await git(work, env, "branch", "-f", b, c.hash);
    }
    await git(work, env, "symbolic-ref", "HEAD", `refs/heads/${options.head ?? "main"}`);
    if (fresh) {
      await mkdir(dirname(info.dir), { recursive: true });
      await git(top, env, "clone", "-q", "--bare", "--no-hardlinks", work, info.dir);
    } else {
      await git(
        work,
        env,
        "push",
        "-q",
        "--force",
        info.dir,
        "refs/heads/*:refs/heads/*",
        "refs/tags/*:refs/tags/*",
      );
      await git(info.dir, env, "symbolic-ref", "HEAD", `refs/heads/${options.head ?? "main"}`);
    }
    // One pack keeps the dumb protocol to a handful of requests.
    await git(info.dir, env, "repack", "-a", "-d", "-q");
    await git(info.dir, env, "update-server-info");
  };

  const works = new Map<string, string>();

  const createRepo = async (
    name: string,
    commits: CommitSpec[],
    options: CreateRepoOptions = {},
  ): Promise<RepoInfo> => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/.test(name) || name.endsWith(".git")) {
      throw new Error(`createRepo: bad repository name ${JSON.stringify(name)}`);
    }
    if (repos.has(name)) throw new Error(`createRepo: repository ${name} exists`);
    const work = await mkdtemp(join(top, "work-"));
    const env = gitEnv(home);
    await git(work, env, "-c", "init.defaultBranch=main", "init", "-q");
    await git(work, env, "config", "core.autocrlf", "false");
    await git(work, env, "config", "core.symlinks", "true");
    const info: RepoInfo = {
      name,
      root: `${host}/${name}`,
      url: `${scheme}://${host}/${name}.git`,
      dir: join(reposDir, `${name}.git`),
      commits: [],
    };
    await commitAll(work, commits, info.commits);
    await publish(work, info, options, true);
    works.set(name, work);
    repos.set(name, info);
    return info;
  };

  const extendRepo = async (
    name: string,
    commits: CommitSpec[],
    options: CreateRepoOptions = {},
  ): Promise<RepoInfo> => {
    const info = repos.get(name);
    const work = works.get(name);
    if (!info || !work) throw new Error(`extendRepo: no repository ${name}`);
    const before = info.commits.length;
    await commitAll(work, commits, info.commits);
    const branches = { ...options.branches };
    if (branches.main === undefined && info.commits.length > before) branches.main = info.commits.length - 1;
    await publish(work, info, { ...options, branches }, false);
    return info;
  };

  const goEnv = (workDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const gopath = join(workDir, "gopath");
    return {
      PATH: process.env.PATH,
      HOME: join(workDir, "home"),
      TMPDIR: process.env.TMPDIR ?? tmpdir(),
      GOENV: "off",
      GO111MODULE: "on",
      GOTOOLCHAIN: "local",
      GOPATH: gopath,
      GOMODCACHE: join(gopath, "pkg/mod"),
      GOCACHE: join(workDir, "gocache"),
      GOPROXY: "direct",
      GOSUMDB: "off",
      GOINSECURE: host,
      GOPRIVATE: "",
      GONOPROXY: "",
      GONOSUMDB: "",
      GOVCS: "",
      GOFLAGS: "-mod=mod",
      HTTP_PROXY: proxyUrl,
      http_proxy: proxyUrl,
      HTTPS_PROXY: proxyUrl,
      https_proxy: proxyUrl,
      NO_PROXY: "",
      no_proxy: "",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
      ...extra,
    };
  };

  return {
    host,
    proxyUrl,
    requests,
    createRepo,
    extendRepo,
    goEnv,
    setGoGetPage(path: string, html: string) {
      goGetPages[path] = html;
    },
    async close() {
      for (const s of tunnels) s.destroy();
      server.closeAllConnections();
      tlsServer?.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => server.close(() => r())),
        new Promise<void>((r) => (tlsServer ? tlsServer.close(() => r()) : r())),
      ]);
      await rm(top, { recursive: true, force: true });
    },
  };
}

/** Lists the regular files and symlinks under dir as slash paths (for assertions). */
export async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const full = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = await lstat(full);
    if (st.isDirectory()) out.push(...(await listTree(full, rel)));
    else out.push(rel);
  }
  return out.sort();
}
