import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { rootCertificates } from "node:tls";
import { makeTestCa, type TestCa } from "../../../test/helpers/test-ca.ts";
import { defaultGitBundle, parseCertificates, prepareExtraTrust, readCaFile } from "./tls-trust.ts";

describe("caFile: extra CA certificates added to the defaults", () => {
  let dir: string;
  let ca: TestCa;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "goark-tls-trust-"));
    ca = await makeTestCa(dir, ["git.corp.example"]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("reads PEM certificates and refuses files without any", async () => {
    const certs = readCaFile(ca.caFile);
    assert.equal(certs.length, 1);
    assert.equal(
      new X509Certificate(certs[0] as string).fingerprint256,
      new X509Certificate(ca.caPem).fingerprint256,
    );
    // A bundle with text around the blocks, as distributions write them.
    const both = join(dir, "both.pem");
    await writeFile(both, `# corp\n${ca.caPem}\nsome comment\n${ca.cert}`);
    assert.equal(readCaFile(both).length, 2);
    await writeFile(join(dir, "key-only.pem"), ca.key);
    assert.throws(() => readCaFile(join(dir, "key-only.pem")), /no PEM certificate/);
    assert.throws(
      () => readCaFile(join(dir, "missing.pem")),
      /caFile .*missing\.pem: cannot be read \(ENOENT\)/,
    );
    const broken = ca.caPem.replace(/^(-----BEGIN CERTIFICATE-----\n)(.{10})/, "$1AAAAAAAAAA");
    assert.throws(() => parseCertificates(broken, "caFile x"), /certificate 1 does not parse/);
  });

  test("discovery gets the default roots plus the extra ones; git a bundle extending its own", async () => {
    const base = join(dir, "system-bundle.pem");
    await writeFile(base, `${rootCertificates[0]}\n${rootCertificates[1]}\n`);
    const out = join(dir, "out");
    const t = prepareExtraTrust(ca.caFile, out, { GIT_SSL_CAINFO: base });
    assert.equal(t.ca.length, rootCertificates.length + 1);
    assert.equal(t.ca[t.ca.length - 1], t.certificates[0]);
    const bundle = await readFile(t.gitBundleFile, "utf8");
    assert.ok(bundle.startsWith(rootCertificates[0] as string), "git's own bundle comes first");
    assert.ok(bundle.includes(rootCertificates[1] as string));
    assert.ok(bundle.includes(ca.caPem.trim()), "then the extra CA");
    // Content-addressed: the same inputs give the same file, written once; no temporary files left.
    const again = prepareExtraTrust(ca.caFile, out, { GIT_SSL_CAINFO: base });
    assert.equal(again.gitBundleFile, t.gitBundleFile);
    assert.deepEqual(await readdir(out), [t.gitBundleFile.slice(out.length + 1)]);
  });

  test("NODE_EXTRA_CA_CERTS stays trusted for discovery", async () => {
    const other = await makeTestCa(dir, ["other.example"], "other");
    const t = prepareExtraTrust(ca.caFile, join(dir, "out2"), { NODE_EXTRA_CA_CERTS: other.caFile });
    assert.ok(t.ca.some((c) => c.trim() === other.caPem.trim()));
  });

  test("git's default bundle: GIT_SSL_CAINFO, else the system's", () => {
    assert.equal(defaultGitBundle({ GIT_SSL_CAINFO: "/x/ca.pem" }), "/x/ca.pem");
    const sys = defaultGitBundle({});
    if (sys !== undefined) assert.match(sys, /^\/etc\//);
  });
});
