/**
 * Extra CA certificates for direct mode's https (the caFile setting): read
 * and checked once at start, then added to the default roots, never put in
 * their place. Discovery (undici) gets Node's roots plus the extra ones; git
 * gets one bundle file holding the bundle it would use anyway plus the extra
 * ones, because libcurl takes a single CA file that replaces its default.
 */
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { ConfigError } from "../../errors.ts";

/** What to do about a certificate that does not verify, for discovery's and git's errors. */
export const CERTIFICATE_HINT =
  "trust the host's CA with caFile, or match the module with the insecure patterns";

export interface ExtraTrust {
  /** The extra certificates, one PEM block each. */
  certificates: string[];
  /** For discovery: Node's default roots (with NODE_EXTRA_CA_CERTS) and the extra certificates. */
  ca: string[];
  /** For git (GIT_SSL_CAINFO): git's default bundle and the extra certificates, in one file. */
  gitBundleFile: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** The PEM certificates of text; each must parse as X.509. `what` names the source in errors. */
export function parseCertificates(text: string, what: string): string[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0)
    throw new ConfigError(`${what}: no PEM certificate (-----BEGIN CERTIFICATE-----) found`);
  return blocks.map((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new ConfigError(`${what}: certificate ${i + 1} does not parse: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return `${pem.replace(/\r/g, "")}\n`;
  });
}

/** Reads a CA file (caFile) as PEM certificates; unreadable or certificate-free files are configuration errors. */
export function readCaFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`caFile ${path}: cannot be read (${reason})`, { cause: err });
  }
  return parseCertificates(text, `caFile ${path}`);
}

// Where distributions keep the bundle libcurl (and so git) trusts by default.
const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/pki/tls/cacert.pem",
  "/etc/ssl/cert.pem",
];

/** The CA bundle git would trust without goark's help: GIT_SSL_CAINFO, else the system's, else undefined. */
export function defaultGitBundle(env: NodeJS.ProcessEnv): string | undefined {
  if (env.GIT_SSL_CAINFO) return env.GIT_SSL_CAINFO;
  return SYSTEM_BUNDLES.find((f) => existsSync(f));
}

/** Node's default roots for this process: its bundled ones plus NODE_EXTRA_CA_CERTS, if readable. */
function nodeDefaultRoots(env: NodeJS.ProcessEnv): string[] {
  const roots = [...rootCertificates];
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      roots.push(...(readFileSync(extra, "utf8").match(PEM_BLOCK) ?? []));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS.
    }
  }
  return roots;
}

/**
 * Reads caFile and writes git's combined bundle into dir (content-addressed,
 * written to a temporary name and renamed, so concurrent goark processes
 * sharing a store never see a partial file).
 */
export function prepareExtraTrust(
  caFile: string,
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): ExtraTrust {
  const certificates = readCaFile(caFile);
  const base = defaultGitBundle(env);
  let baseText: string;
  try {
    baseText = base === undefined ? rootCertificates.join("\n") : readFileSync(base, "utf8");
  } catch (err) {
    throw new ConfigError(`caFile: git's CA bundle ${base} cannot be read to extend it`, { cause: err });
  }
  const bundle = `${baseText.replace(/\n*$/, "\n")}\n# goark caFile ${caFile}\n${certificates.join("")}`;
  const name = `ca-bundle-${createHash("sha256").update(bundle).digest("hex").slice(0, 16)}.pem`;
  const gitBundleFile = join(dir, name);
  if (!existsSync(gitBundleFile)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${gitBundleFile}.${process.pid}.tmp`;
    writeFileSync(tmp, bundle, { mode: 0o644 });
    renameSync(tmp, gitBundleFile);
  }
  return { certificates, ca: [...nodeDefaultRoots(env), ...certificates], gitBundleFile };
}
