import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError } from "../errors.ts";
import { sshSettings } from "./direct-settings.ts";
import { loadConfig, loadConfigDetailed } from "./load.ts";

describe("ssh and CA file settings", () => {
  test("relative paths: from the config file's directory in the file, from the working directory in flags and env", () => {
    const dir = mkdtempSync(join(tmpdir(), "goark-direct-settings-"));
    const etc = join(dir, "etc");
    mkdirSync(etc);
    writeFileSync(
      join(etc, "goark.yaml"),
      "sshKeyFile: keys/id_ed25519\nsshKnownHosts: /abs/known_hosts\ncaFile: corp-ca.pem\n",
    );
    const fromFile = loadConfig({ flags: { config: "etc/goark.yaml" }, env: {}, cwd: dir });
    assert.equal(fromFile.sshKeyFile, join(etc, "keys/id_ed25519"));
    assert.equal(fromFile.sshKnownHosts, "/abs/known_hosts");
    assert.equal(fromFile.caFile, join(etc, "corp-ca.pem"));

    const layered = loadConfigDetailed({
      flags: { config: "etc/goark.yaml", sshKeyFile: "flag-key" },
      env: { GOARK_CA_FILE: "env-ca.pem" },
      cwd: dir,
    });
    assert.equal(layered.config.sshKeyFile, join(dir, "flag-key"));
    assert.equal(layered.origin.sshKeyFile, "flag");
    assert.equal(layered.config.caFile, join(dir, "env-ca.pem"));
    assert.equal(layered.origin.caFile, "env");

    const defaults = loadConfig({ env: {}, cwd: dir });
    assert.deepEqual([defaults.sshKeyFile, defaults.sshKnownHosts, defaults.caFile], ["", "", ""]);
  });

  test("ssh files must be readable at start; only their paths are handed on", () => {
    const dir = mkdtempSync(join(tmpdir(), "goark-direct-settings-"));
    const key = join(dir, "id");
    writeFileSync(key, "not read by goark\n", { mode: 0o600 });
    assert.deepEqual(sshSettings({ sshKeyFile: "", sshKnownHosts: "" }), {});
    assert.deepEqual(sshSettings({ sshKeyFile: key, sshKnownHosts: key }), {
      keyFile: key,
      knownHostsFile: key,
    });
    assert.throws(
      () => sshSettings({ sshKeyFile: join(dir, "nope"), sshKnownHosts: "" }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === `sshKeyFile ${join(dir, "nope")}: cannot be read (ENOENT)`,
    );
    assert.throws(
      () => sshSettings({ sshKeyFile: key, sshKnownHosts: join(dir, "kh") }),
      /sshKnownHosts .*kh: cannot be read \(ENOENT\)/,
    );
  });

  test("a path with a line break is refused", () => {
    assert.throws(
      () => loadConfig({ flags: { sshKeyFile: "a\nb" }, env: {}, cwd: tmpdir() }),
      /invalid sshKeyFile \(flag --ssh-key-file\): a file path must not contain NUL or line breaks/,
    );
  });
});
