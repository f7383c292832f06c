/**
 * A throw-away certificate authority for TLS tests, made at test time with
 * the openssl command (scripts/prereqs.sh installs it): a self-signed CA
 * (P-256, two days) and a server certificate it signs for the given host
 * names (subjectAltName, serverAuth), as a private host's own CA would.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface TestCa {
  /** The CA certificate file (PEM): what a client is told to trust. */
  caFile: string;
  caPem: string;
  /** The server's certificate (PEM) for the hosts. */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileP("openssl", args, { cwd, timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    if (e.code === "ENOENT") throw new Error("openssl is missing; run `bash scripts/prereqs.sh`");
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

/** Makes a CA named `name` and a certificate for hosts in dir (file names prefixed with name). */
export async function makeTestCa(dir: string, hosts: string[], name = "ca"): Promise<TestCa> {
  const cnf = join(dir, `${name}.cnf`);
  await writeFile(
    cnf,
    [
      "[req]",
      "distinguished_name = dn",
      "prompt = no",
      "[dn]",
      `CN = goark test CA ${name}`,
      "[ca_ext]",
      "basicConstraints = critical,CA:TRUE",
      "keyUsage = critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier = hash",
      "[leaf_ext]",
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature",
      "extendedKeyUsage = serverAuth",
      `subjectAltName = ${hosts.map((h) => `DNS:${h}`).join(",")}`,
      "authorityKeyIdentifier = keyid",
      "",
    ].join("\n"),
  );
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    "-new",
    "-config",
    cnf,
    "-extensions",
    "ca_ext",
    ...ec,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
  ]);
  await openssl(dir, [
    "req",
    "-new",
    "-config",
    cnf,
    "-subj",
    `/CN=${hosts[0]}`,
    ...ec,
    "-keyout",
    `${name}-server.key`,
    "-out",
    `${name}-server.csr`,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}-server.csr`,
    "-CA",
    `${name}.pem`,
    "-CAkey",
    `${name}.key`,
    "-CAcreateserial",
    "-out",
    `${name}-server.pem`,
    "-days",
    "2",
    "-extfile",
    cnf,
    "-extensions",
    "leaf_ext",
  ]);
  const caFile = join(dir, `${name}.pem`);
  return {
    caFile,
    caPem: await readFile(caFile, "utf8"),
    cert: await readFile(join(dir, `${name}-server.pem`), "utf8"),
    key: await readFile(join(dir, `${name}-server.key`), "utf8"),
  };
}
