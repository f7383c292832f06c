import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NoteError } from "../errors.ts";
import {
  ed25519VerifierKey,
  generateKey,
  isValidKeyName,
  keyHash,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  UnverifiedNoteError,
  verifierList,
} from "./note.ts";
import { vectors } from "./testdata/go-vectors.ts";

const [peterV, localV] = vectors.verifierKeys;
const [peterS, localS] = vectors.signerKeys;

function rejects(f: () => unknown, reason: string): void {
  assert.throws(f, (e: unknown) => e instanceof NoteError && e.reason === reason);
}

describe("note keys (vectors from x/mod)", () => {
  it("parses verifier keys as Go does", () => {
    for (const v of vectors.verifierKeys) {
      if (v.err) {
        const reason = v.err === "invalid verifier hash" ? "key-hash-mismatch" : "malformed-key";
        rejects(() => parseVerifierKey(v.key), reason);
      } else {
        const got = parseVerifierKey(v.key);
        assert.equal(got.name, v.name);
        assert.equal(got.keyHash, v.hash);
      }
    }
  });

  it("sum.golang.org's key has hash 033de0ae", () => {
    const v = vectors.verifierKeys.find((k) => k.name === "sum.golang.org");
    assert.equal(v?.hash?.toString(16).padStart(8, "0"), "033de0ae");
    assert.equal(parseVerifierKey(v!.key).keyHash, 0x033de0ae);
  });

  it("parses signer keys as Go does", () => {
    for (const s of vectors.signerKeys) {
      if (s.err) {
        const reason = s.err === "invalid verifier hash" ? "key-hash-mismatch" : "malformed-key";
        rejects(() => parseSignerKey(s.key), reason);
      } else {
        const got = parseSignerKey(s.key);
        assert.equal(got.name, s.name);
        assert.equal(got.keyHash, s.hash);
      }
    }
  });

  it("generates Go's keys from the same seed", () => {
    const g = vectors.generated;
    assert.deepEqual(generateKey(g.name, new Uint8Array(32)), {
      signerKey: g.signerKey,
      verifierKey: g.verifierKey,
    });
    const pub = Buffer.from(g.verifierKey.split("+")[2]!, "base64").subarray(1);
    assert.equal(ed25519VerifierKey(g.name, pub), g.verifierKey);
  });

  it("generated keys round-trip and sign what they verify", () => {
    const { signerKey, verifierKey } = generateKey("goark.example/sumdb");
    const msg = signNote({ text: "hello\n" }, [parseSignerKey(signerKey)]);
    const n = openNote(msg, verifierList(parseVerifierKey(verifierKey)));
    assert.equal(n.text, "hello\n");
    assert.equal(n.sigs.length, 1);
  });

  it("key names: no spaces (Go's unicode.IsSpace), no +, not empty", () => {
    assert.equal(isValidKeyName("sum.golang.org"), true);
    assert.equal(isValidKeyName("a\u00a0b"), false);
    assert.equal(isValidKeyName("a\u0085b"), false);
    // U+FEFF is not white space to Go (JS's \s says it is).
    assert.equal(isValidKeyName("a\ufeffb"), true);
    assert.equal(isValidKeyName("a+b"), false);
    assert.equal(isValidKeyName(""), false);
    assert.equal(isValidKeyName("a\ud800"), false);
    rejects(() => generateKey("bad name"), "invalid-name");
  });

  it("key hash is the first 4 bytes of SHA-256(name \\n key)", () => {
    // The base64 part may itself hold "+": take everything after the hash.
    const key = Buffer.from(localV!.key.split("+").slice(2).join("+"), "base64");
    assert.equal(keyHash(localV!.name!, key), localV!.hash);
  });

  it("never echoes a private key in an error", () => {
    const skey = peterS!.key.replace("c74f20a3", "c74f20a4");
    try {
      parseSignerKey(skey);
      assert.fail("accepted a key with a wrong hash");
    } catch (e) {
      assert.ok(e instanceof NoteError);
      assert.ok(!e.message.includes(skey.split("+")[4]!), e.message);
    }
  });
});

describe("signed notes (vectors from x/mod)", () => {
  const peter = parseSignerKey(peterS!.key);
  const local = parseSignerKey(localS!.key);
  const known = verifierList(parseVerifierKey(peterV!.key), parseVerifierKey(localV!.key));

  it("signs exactly as Go does (ed25519 is deterministic)", () => {
    assert.equal(signNote({ text: vectors.signed.text }, [peter]), vectors.signed.peter);
    assert.equal(signNote({ text: vectors.signed.text }, [peter, local]), vectors.signed.peterAndLocal);
  });

  it("opens Go's notes", () => {
    const n = openNote(vectors.signed.peterAndLocal, known);
    assert.equal(n.text, vectors.signed.text);
    assert.deepEqual(
      n.sigs.map((s) => [s.name, s.hash]),
      [
        ["PeterNeumann", peterV!.hash],
        ["localhost.localdev/sumdb", localV!.hash],
      ],
    );
    assert.deepEqual(n.unverifiedSigs, []);
    const tree = openNote(Buffer.from(vectors.treeNote), verifierList(parseVerifierKey(localV!.key)));
    assert.ok(tree.text.startsWith("go.sum database tree\n13\n"));
  });

  it("keeps signatures of unknown keys unverified, needs one verified", () => {
    const n = openNote(vectors.signed.peterAndLocal, verifierList(parseVerifierKey(localV!.key)));
    assert.deepEqual(
      n.unverifiedSigs.map((s) => s.name),
      ["PeterNeumann"],
    );
    assert.throws(
      () => openNote(vectors.signed.peter, verifierList(parseVerifierKey(localV!.key))),
      (e: unknown) => e instanceof UnverifiedNoteError && e.note.unverifiedSigs.length === 1,
    );
  });

  it("rejects a changed text or signature", () => {
    rejects(
      () => openNote(vectors.signed.peter.replace("cryptography", "Cryptography"), known),
      "invalid-signature",
    );
    const sig = vectors.signed.peter.trimEnd();
    const flipped = `${sig.slice(0, -6)}${sig.slice(-6, -5) === "A" ? "B" : "A"}${sig.slice(-5)}\n`;
    rejects(() => openNote(flipped, known), "invalid-signature");
  });

  it("rejects malformed notes", () => {
    const good = vectors.signed.peter;
    for (const bad of [
      good.replace("\n\n", "\n"), // no blank line
      good.slice(0, -1), // signatures do not end in \n
      good.replace("\u2014 ", "- "), // wrong prefix
      good.replace("problem,", "problem\r,"), // control character
      Buffer.concat([Buffer.from(good), Buffer.from([0xff])]), // invalid UTF-8
      `${good}\n`, // the last blank line leaves no signatures
      good.replace("PeterNeumann", "Peter+Neumann"),
      good.replace(/ \S+\n$/, " AAAA\n"), // signature shorter than 5 bytes
      good.replace(/ \S+\n$/, " !!!!\n"), // not base64
      `${good}${"\u2014 x AAAAAAA=\n".repeat(100)}`, // 101 signatures
    ]) {
      rejects(() => openNote(bad, known), "malformed-note");
    }
    rejects(() => signNote({ text: "no newline" }, [peter]), "malformed-note");
  });

  it("drops duplicate signature lines", () => {
    const line = vectors.signed.peter.slice(vectors.signed.peter.lastIndexOf("\n\n") + 2);
    const n = openNote(vectors.signed.peter + line, known);
    assert.equal(n.sigs.length, 1);
  });

  it("an ambiguous verifier list is an error", () => {
    const twice = verifierList(parseVerifierKey(peterV!.key), parseVerifierKey(peterV!.key));
    rejects(() => openNote(vectors.signed.peter, twice), "ambiguous-key");
  });
});
