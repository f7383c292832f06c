/**
 * Building, checking and (de)serialising ArtefactMeta records, shared by the
 * backends so they agree on what "the same artefact" and "verified" mean.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { crc32 } from "node:zlib";
import { ChecksumMismatchError, type ErrorDetails } from "../errors.ts";
import { parseKey } from "./keys.ts";
import type { ArtefactMeta, PutMeta } from "./storage.ts";

export interface Digest {
  sha256: string;
  size: number;
  /** CRC-32 (IEEE) of the bytes, where the code that hashed them also took it. */
  crc32?: number;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** sha256, size and CRC-32 of bytes in memory. */
export function digestOf(data: Uint8Array): Digest {
  return { sha256: sha256Hex(data), size: data.length, crc32: crc32(data) };
}

/** Streams a file through SHA-256 (and CRC-32) with large reads. */
export async function hashFile(path: string): Promise<Digest> {
  const hash = createHash("sha256");
  let size = 0;
  let crc = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    crc = crc32(chunk as Buffer, crc);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size, crc32: crc };
}

/** module/version details for errors about key, when key is in the layout. */
export function keyDetails(key: string): ErrorDetails {
  const parsed = parseKey(key);
  const details: ErrorDetails = { path: key };
  if (parsed !== undefined) {
    details.module = parsed.module;
    if (parsed.version !== undefined) details.version = parsed.version;
  }
  return details;
}

/** The record for bytes with digest d, after checking what the writer claimed about them. */
export function buildMeta(key: string, d: Digest, put: PutMeta, now = Date.now()): ArtefactMeta {
  if (put.size !== undefined && put.size !== d.size) {
    throw new ChecksumMismatchError(
      `${key}: stored ${d.size} bytes but the writer declared ${put.size}`,
      keyDetails(key),
    );
  }
  if (put.sha256 !== undefined && put.sha256.toLowerCase() !== d.sha256) {
    throw new ChecksumMismatchError(
      `${key}: bytes hash to sha256 ${d.sha256} but the writer declared ${put.sha256.toLowerCase()}`,
      keyDetails(key),
    );
  }
  const meta: ArtefactMeta = {
    sha256: d.sha256,
    size: d.size,
    origin: put.origin,
    fetchedAt: put.fetchedAt ?? now,
  };
  if (d.crc32 !== undefined) meta.crc32 = d.crc32;
  if (put.h1 !== undefined) meta.h1 = put.h1;
  return meta;
}

/** The error for a second, different commit of an immutable key. */
export function immutableConflict(key: string, stored: Digest, offered: Digest): ChecksumMismatchError {
  return new ChecksumMismatchError(
    `${key}: already stored with sha256 ${stored.sha256} (${stored.size} bytes); ` +
      `refusing different bytes with sha256 ${offered.sha256} (${offered.size} bytes), stored versions are immutable`,
    keyDetails(key),
  );
}

export function sameDigest(a: Digest, b: Digest): boolean {
  return a.sha256 === b.sha256 && a.size === b.size;
}

/** One JSON object per file; a version field lets the format grow. */
export function formatMetaRecord(meta: ArtefactMeta): string {
  return JSON.stringify({ v: 1, ...meta }) + "\n";
}

/** The record in text, or undefined when it is not a well-formed record (then it is rebuilt). */
export function parseMetaRecord(text: string): ArtefactMeta | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.v !== 1) return undefined;
  if (typeof r.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(r.sha256)) return undefined;
  if (typeof r.size !== "number" || !Number.isSafeInteger(r.size) || r.size < 0) return undefined;
  if (typeof r.origin !== "string") return undefined;
  if (typeof r.fetchedAt !== "number" || !Number.isFinite(r.fetchedAt)) return undefined;
  const meta: ArtefactMeta = { sha256: r.sha256, size: r.size, origin: r.origin, fetchedAt: r.fetchedAt };
  if (typeof r.crc32 === "number" && Number.isInteger(r.crc32) && r.crc32 >= 0 && r.crc32 <= 0xffffffff)
    meta.crc32 = r.crc32;
  if (typeof r.h1 === "string") meta.h1 = r.h1;
  if (typeof r.lastAccess === "number" && Number.isFinite(r.lastAccess)) meta.lastAccess = r.lastAccess;
  return meta;
}

/** A copy callers may keep or change without touching the store's record. */
export function copyMeta(meta: ArtefactMeta): ArtefactMeta {
  return { ...meta };
}
