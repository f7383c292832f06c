/**
 * Signed notes: the ed25519-signed texts a checksum database publishes (its
 * tree heads), with the rules of golang.org/x/mod/sumdb/note, byte for byte.
 *
 * A note is its text (ending in "\n"), a blank line, then one or more lines
 * `— <name> <base64(4-byte key hash ‖ signature)>`. Keys are written
 * `<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte ed25519 public key)>`
 * (verifier) and `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ 32-byte seed)>`
 * (signer); the key hash is the first 4 bytes (big-endian) of
 * SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). Crypto is node:crypto only.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import { NoteError } from "../errors.ts";
import { decodeGoBase64, encodeGoBase64 } from "./go-base64.ts";

/**
 * Why a note or key was rejected (NoteError.reason):
 * - malformed-note: the note breaks the layout rules (UTF-8, control
 *   characters, blank line before the signatures, signature lines, count).
 * - malformed-key: a verifier or signer key is not `name+hash+base64` shaped.
 * - unknown-key-algorithm: the key's algorithm byte is not 0x01 (ed25519).
 * - key-hash-mismatch: the key's hash does not match its name and key bytes.
 * - invalid-name: a key name is empty, not UTF-8, or holds a space or "+".
 * - invalid-signer: a signer's name is not a valid key name.
 * - invalid-signature: a known key's signature does not verify.
 * - unverified-note: no signature is from a known key.
 * - ambiguous-key: two known keys share a name and hash.
 * - mismatched-verifier: a Verifiers answered with a key of another name or hash.
 */
export type NoteErrorReason =
  | "malformed-note"
  | "malformed-key"
  | "unknown-key-algorithm"
  | "key-hash-mismatch"
  | "invalid-name"
  | "invalid-signer"
  | "invalid-signature"
  | "unverified-note"
  | "ambiguous-key"
  | "mismatched-verifier";

function noteError(reason: NoteErrorReason, message: string): NoteError {
  return new NoteError(reason, message);
}

/** A well-formed note without a signature from a known key; carries the note, unverified. */
export class UnverifiedNoteError extends NoteError {
  readonly note: Note;
  constructor(note: Note, message: string) {
    super("unverified-note", message);
    this.note = note;
  }
}

/** Checks a signature made by one key. */
export interface Verifier {
  readonly name: string;
  /** The key hash, an unsigned 32-bit integer. */
  readonly keyHash: number;
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

/** Signs with one key. */
export interface Signer {
  readonly name: string;
  readonly keyHash: number;
  sign(msg: Uint8Array): Uint8Array;
}

/** The keys a reader trusts. */
export interface Verifiers {
  /**
   * The verifier for a name and key hash, or undefined for a key not known
   * (its signatures are kept unverified). May throw a NoteError (ambiguous-key).
   */
  verifier(name: string, keyHash: number): Verifier | undefined;
}

/** One signature line of a note. */
export interface Signature {
  name: string;
  /** Key hash (unsigned 32-bit). */
  hash: number;
  /** base64 of key hash ‖ signature bytes, as written in the note. */
  base64: string;
}

/** An opened note: its text and the signatures found on it. */
export interface Note {
  /** The text, ending in "\n" (what the signatures sign). */
  text: string;
  /** Signatures verified by a known key. */
  sigs: Signature[];
  /** Signatures from keys the reader does not know (kept, unchecked). */
  unverifiedSigs: Signature[];
}

const ALG_ED25519 = 1;
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SIG_PREFIX = "\u2014 ";
const MAX_SIGNATURES = 100;

// Go's unicode.IsSpace: Latin-1 spaces plus the White_Space property (no U+FEFF,
// which JS's \s includes).
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const LONE_SURROGATE = /\p{Surrogate}/u;
const HEX8 = /^[0-9a-fA-F]{8}$/;
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A key name: non-empty, valid UTF-8 (no lone surrogates here), without
 * white space (Go's unicode.IsSpace) and without "+".
 */
export function isValidKeyName(name: string): boolean {
  return name !== "" && !LONE_SURROGATE.test(name) && !GO_SPACE.test(name) && !name.includes("+");
}

/** First 4 bytes (big-endian) of SHA-256(name ‖ "\n" ‖ key), key including its algorithm byte. */
export function keyHash(name: string, key: Uint8Array): number {
  const sum = createHash("sha256").update(name, "utf8").update("\n").update(key).digest();
  return sum.readUInt32BE(0);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** Splits at the first sep (Go's chop): [s, ""] when sep is absent. */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + sep.length)];
}

function ed25519PublicKey(raw: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
  } catch {
    return undefined;
  }
}

function ed25519Verifier(name: string, hash: number, pub: Uint8Array): Verifier {
  const key = ed25519PublicKey(pub);
  return {
    name,
    keyHash: hash,
    verify(msg, sig) {
      if (key === undefined || sig.length !== 64) return false;
      try {
        return verify(null, msg, key, sig);
      } catch {
        return false;
      }
    },
  };
}

/** Parses a verifier key `name+hash+base64(0x01 ‖ pubkey)` (x/mod note.NewVerifier). */
export function parseVerifierKey(vkey: string): Verifier {
  const [name, rest] = chop(vkey, "+");
  const [hash16, key64] = chop(rest, "+");
  const key = decodeGoBase64(key64);
  const shown = JSON.stringify(vkey);
  if (!HEX8.test(hash16) || key === undefined || !isValidKeyName(name) || key.length === 0) {
    throw noteError(
      "malformed-key",
      `malformed verifier key ${shown}: want <name>+<8 hex digits>+<base64 key>`,
    );
  }
  const hash = Number.parseInt(hash16, 16);
  if (hash !== keyHash(name, key)) {
    throw noteError(
      "key-hash-mismatch",
      `invalid verifier key ${shown}: hash ${hash16} does not match its name and key`,
    );
  }
  if (key[0] !== ALG_ED25519) {
    throw noteError(
      "unknown-key-algorithm",
      `verifier key ${shown} uses unknown algorithm ${key[0]} (only 1, ed25519)`,
    );
  }
  if (key.length !== 33) {
    throw noteError(
      "malformed-key",
      `malformed verifier key ${shown}: ed25519 key is ${key.length - 1} bytes, want 32`,
    );
  }
  return ed25519Verifier(name, hash, key.subarray(1));
}

/** Parses a signer key `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)` (x/mod note.NewSigner). */
export function parseSignerKey(skey: string): Signer {
  const [priv1, r1] = chop(skey, "+");
  const [priv2, r2] = chop(r1, "+");
  const [name, r3] = chop(r2, "+");
  const [hash16, key64] = chop(r3, "+");
  const key = decodeGoBase64(key64);
  // Never echo a private key in an error message: name the key by its name only.
  const shown = isValidKeyName(name) ? `for ${JSON.stringify(name)}` : "";
  if (
    priv1 !== "PRIVATE" ||
    priv2 !== "KEY" ||
    !HEX8.test(hash16) ||
    key === undefined ||
    !isValidKeyName(name) ||
    key.length === 0
  ) {
    throw noteError(
      "malformed-key",
      `malformed signer key ${shown}: want PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>`,
    );
  }
  if (key[0] !== ALG_ED25519) {
    throw noteError(
      "unknown-key-algorithm",
      `signer key ${shown} uses unknown algorithm ${key[0]} (only 1, ed25519)`,
    );
  }
  if (key.length !== 33) {
    throw noteError(
      "malformed-key",
      `malformed signer key ${shown}: ed25519 seed is ${key.length - 1} bytes, want 32`,
    );
  }
  const { privateKey, publicKey } = ed25519FromSeed(key.subarray(1));
  const hash = Number.parseInt(hash16, 16);
  if (hash !== keyHash(name, Buffer.concat([Buffer.of(ALG_ED25519), publicKey]))) {
    throw noteError(
      "key-hash-mismatch",
      `invalid signer key ${shown}: hash ${hash16} does not match its name and key`,
    );
  }
  return {
    name,
    keyHash: hash,
    sign: (msg) => sign(null, msg, privateKey),
  };
}

function ed25519FromSeed(seed: Uint8Array): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return { privateKey, publicKey: spki.subarray(spki.length - 32) };
}

/** The verifier key text for a raw 32-byte ed25519 public key (x/mod note.NewEd25519VerifierKey). */
export function ed25519VerifierKey(name: string, publicKey: Uint8Array): string {
  if (publicKey.length !== 32) {
    throw noteError("malformed-key", `invalid ed25519 public key size ${publicKey.length}, want 32`);
  }
  const pub = Buffer.concat([Buffer.of(ALG_ED25519), publicKey]);
  return `${name}+${hex8(keyHash(name, pub))}+${encodeGoBase64(pub)}`;
}

/**
 * A new key pair for name (x/mod note.GenerateKey). The seed defaults to 32
 * random bytes; passing one gives the same keys Go derives from it. Unlike Go,
 * a name that no parser would accept is refused here.
 */
export function generateKey(name: string, seed?: Uint8Array): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) {
    throw noteError(
      "invalid-name",
      `invalid key name ${JSON.stringify(name)}: want non-empty, no spaces, no "+"`,
    );
  }
  const s = seed ?? randomBytes(32);
  if (s.length !== 32) throw noteError("malformed-key", `ed25519 seed is ${s.length} bytes, want 32`);
  const { publicKey } = ed25519FromSeed(s);
  const pub = Buffer.concat([Buffer.of(ALG_ED25519), publicKey]);
  const priv = Buffer.concat([Buffer.of(ALG_ED25519), s]);
  const h = hex8(keyHash(name, pub));
  return {
    signerKey: `PRIVATE+KEY+${name}+${h}+${encodeGoBase64(priv)}`,
    verifierKey: `${name}+${h}+${encodeGoBase64(pub)}`,
  };
}

/** Verifiers over a fixed list (x/mod note.VerifierList); a name+hash listed twice is ambiguous. */
export function verifierList(...list: Verifier[]): Verifiers {
  const byKey = new Map<string, Verifier[]>();
  for (const v of list) {
    const k = `${v.name}+${hex8(v.keyHash)}`;
    const have = byKey.get(k);
    if (have) have.push(v);
    else byKey.set(k, [v]);
  }
  return {
    verifier(name, hash) {
      const k = `${name}+${hex8(hash)}`;
      const vs = byKey.get(k);
      if (vs === undefined) return undefined;
      if (vs.length > 1) throw noteError("ambiguous-key", `ambiguous key ${k}: listed more than once`);
      return vs[0];
    },
  };
}

/** The note bytes as a string, or undefined if not valid UTF-8 (lone surrogates count as invalid). */
function noteString(msg: string | Uint8Array): string | undefined {
  if (typeof msg === "string") return LONE_SURROGATE.test(msg) ? undefined : msg;
  try {
    return strictUtf8.decode(msg);
  } catch {
    return undefined;
  }
}

/**
 * Opens a signed note (x/mod note.Open): checks its layout, verifies every
 * signature from a known key (one that fails is an error), keeps signatures
 * from unknown keys as unverified, and requires at least one verified.
 */
export function openNote(msg: string | Uint8Array, known: Verifiers = verifierList()): Note {
  const s = noteString(msg);
  if (s === undefined) throw noteError("malformed-note", "malformed note: not valid UTF-8");
  const ctl = CONTROL.exec(s);
  if (ctl) {
    const code = ctl[0].charCodeAt(0).toString(16).padStart(2, "0");
    throw noteError(
      "malformed-note",
      `malformed note: control character U+00${code} (only newline is allowed)`,
    );
  }
  const split = s.lastIndexOf("\n\n");
  if (split < 0) throw noteError("malformed-note", "malformed note: no blank line before the signatures");
  const text = s.slice(0, split + 1);
  let sigs = s.slice(split + 2);
  if (sigs === "" || !sigs.endsWith("\n")) {
    throw noteError(
      "malformed-note",
      "malformed note: signature block is empty or does not end in a newline",
    );
  }
  const textBytes = Buffer.from(text, "utf8");
  const note: Note = { text, sigs: [], unverifiedSigs: [] };
  const seen = new Set<string>();
  const seenUnverified = new Set<string>();
  let count = 0;
  while (sigs.length > 0) {
    const nl = sigs.indexOf("\n");
    let line = sigs.slice(0, nl);
    sigs = sigs.slice(nl + 1);
    if (!line.startsWith(SIG_PREFIX)) {
      throw noteError(
        "malformed-note",
        `malformed note: signature line ${JSON.stringify(line)} does not start with "— "`,
      );
    }
    line = line.slice(SIG_PREFIX.length);
    const [name, b64] = chop(line, " ");
    const raw = decodeGoBase64(b64);
    if (raw === undefined || !isValidKeyName(name) || b64 === "" || raw.length < 5) {
      throw noteError(
        "malformed-note",
        `malformed note: bad signature line ${JSON.stringify(`${SIG_PREFIX}${line}`)}`,
      );
    }
    if (++count > MAX_SIGNATURES) {
      throw noteError("malformed-note", `malformed note: more than ${MAX_SIGNATURES} signatures`);
    }
    const hash = raw.readUInt32BE(0);
    const v = known.verifier(name, hash);
    if (v === undefined) {
      // Identical repeated lines from an unknown key are kept once.
      if (!seenUnverified.has(line)) {
        seenUnverified.add(line);
        note.unverifiedSigs.push({ name, hash, base64: b64 });
      }
      continue;
    }
    if (v.name !== name || v.keyHash !== hash) {
      throw noteError(
        "mismatched-verifier",
        `verifier ${v.name}+${hex8(v.keyHash)} answered for ${name}+${hex8(hash)}`,
      );
    }
    // Only the first signature by each known key counts.
    const k = `${name}+${hex8(hash)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    if (!v.verify(textBytes, raw.subarray(4))) {
      throw noteError("invalid-signature", `invalid signature for key ${k}`);
    }
    note.sigs.push({ name, hash, base64: b64 });
  }
  if (note.sigs.length === 0) {
    const names = note.unverifiedSigs.map((g) => `${g.name}+${hex8(g.hash)}`).join(", ");
    throw new UnverifiedNoteError(
      note,
      `note has no verifiable signatures (signed only by unknown keys: ${names})`,
    );
  }
  return note;
}

/**
 * Signs a note (x/mod note.Sign): the text (ending in "\n"), a blank line,
 * the existing signatures not replaced by a signer with the same key, then
 * one new signature per signer, in order.
 */
export function signNote(
  note: { text: string; sigs?: readonly Signature[]; unverifiedSigs?: readonly Signature[] },
  signers: readonly Signer[],
): string {
  const { text } = note;
  if (!text.endsWith("\n"))
    throw noteError("malformed-note", "malformed note: text does not end in a newline");
  if (LONE_SURROGATE.test(text)) throw noteError("malformed-note", "malformed note: text is not valid UTF-8");
  const textBytes = Buffer.from(text, "utf8");
  const have = new Set<string>();
  let fresh = "";
  for (const s of signers) {
    have.add(`${s.name}+${hex8(s.keyHash)}`);
    if (!isValidKeyName(s.name)) {
      throw noteError(
        "invalid-signer",
        `invalid signer name ${JSON.stringify(s.name)}: want non-empty, no spaces, no "+"`,
      );
    }
    const sig = s.sign(textBytes);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(s.keyHash >>> 0);
    fresh += `${SIG_PREFIX}${s.name} ${encodeGoBase64(Buffer.concat([head, sig]))}\n`;
  }
  let out = `${text}\n`;
  for (const list of [note.sigs ?? [], note.unverifiedSigs ?? []]) {
    for (const g of list) {
      if (!isValidKeyName(g.name)) {
        throw noteError(
          "malformed-note",
          `malformed note: signature name ${JSON.stringify(g.name)} is not a valid key name`,
        );
      }
      if (have.has(`${g.name}+${hex8(g.hash)}`)) continue;
      const raw = decodeGoBase64(g.base64);
      if (raw === undefined || raw.length < 4 || raw.readUInt32BE(0) !== g.hash) {
        throw noteError(
          "malformed-note",
          `malformed note: signature of ${g.name} is not base64 of its key hash and signature`,
        );
      }
      out += `${SIG_PREFIX}${g.name} ${g.base64}\n`;
    }
  }
  return out + fresh;
}
