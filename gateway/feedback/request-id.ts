// Self-describing, tamper-proof request ids for requests served from a prompt version. The id carries
// what feedback needs (environment, prompt, version, variant, segment, when it was issued) and an
// HMAC-SHA256 tag over it, so the feedback route resolves it without any lookup, and the request path
// issues it without a store round trip. Any replica holding the same key verifies any replica's ids.
//
//   pg1.<payload>.<tag>       both base64url (no padding)
//   payload: issued-at (uint48, epoch ms) | 8 random bytes | flags (bit 0: has a segment) |
//            env, prompt, version, variant[, segment], each a uint16 byte length and UTF-8 bytes
//   tag:     the first 16 bytes of HMAC-SHA256(key, "pg1." + payload)
import { createHmac, createSecretKey, randomFillSync, timingSafeEqual } from "node:crypto";

export const REQUEST_ID_PREFIX = "pg1.";
export const DAY_MS = 24 * 60 * 60_000;
/** Bytes of the HMAC kept in the id: 128 bits, far beyond guessing within any id's lifetime. */
export const TAG_BYTES = 16;
const RANDOM_BYTES = 8;
/** An id longer than this is not one of ours: refused before any work. */
export const MAX_REQUEST_ID_CHARS = 2_048;
/** Clocks of replicas may disagree a little; an id from further in the future than this is refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const MAX_FIELD_BYTES = 0xffff;

/** What a signed request id says about the request it names. */
export interface RequestIdClaims {
  /** The environment the aggregates counted it under (`pinned` for a pinned version). */
  readonly env: string;
  readonly prompt: string;
  readonly version: string;
  readonly variant: string;
  readonly segment: string | null;
  /** Epoch ms. */
  readonly issuedAt: number;
}

export type VerifiedRequestId =
  | { readonly ok: true; readonly claims: RequestIdClaims; readonly tag: string }
  /** `malformed`: not an id of this format; `forged`: no key signed it; `expired`: older than the max age. */
  | { readonly ok: false; readonly reason: "malformed" | "forged" | "expired" };

export interface RequestIdCodec {
  /** A new id for these claims, signed with the current key. */
  issue(claims: RequestIdClaims): string;
  /** Checks the tag against every key, then the age, at `now` (epoch ms). */
  verify(id: string, now: number): VerifiedRequestId;
}

export interface RequestIdKeys {
  /** Signs new ids. */
  readonly signing: Buffer;
  /** Also accepted when verifying (keys being rotated out). */
  readonly previous: readonly Buffer[];
}

const b64 = (b: Buffer): string => b.toString("base64url");
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * HMAC-SHA256 with the key set up once: crypto.createHmac with a raw Buffer key prepares the key again on
 * every call (about 15 µs here), with a KeyObject it costs a few µs, and every prompted request issues an id.
 */
export function hmacSha256(key: Buffer): (message: string) => Buffer {
  const secret = createSecretKey(key);
  return (message) => createHmac("sha256", secret).update(message, "latin1").digest();
}

/** Random bytes drawn from a pool refilled 4 KiB at a time: one system call per 512 ids, not one each. */
export function pooledRandom(poolBytes = 4_096): (n: number) => Buffer {
  const pool = Buffer.alloc(poolBytes);
  let at = poolBytes;
  return (n) => {
    if (n > poolBytes) throw new RangeError(`at most ${poolBytes} random bytes at once`);
    if (at + n > poolBytes) {
      randomFillSync(pool);
      at = 0;
    }
    at += n;
    return Buffer.from(pool.subarray(at - n, at));
  };
}

function encodePayload(claims: RequestIdClaims, random: Buffer): Buffer {
  const fields = [claims.env, claims.prompt, claims.version, claims.variant];
  if (claims.segment !== null) fields.push(claims.segment);
  const encoded = fields.map((f) => Buffer.from(f, "utf8"));
  const head = Buffer.alloc(6 + RANDOM_BYTES + 1);
  head.writeUIntBE(Math.max(0, Math.floor(claims.issuedAt)), 0, 6);
  random.copy(head, 6);
  head.writeUInt8(claims.segment === null ? 0 : 1, 6 + RANDOM_BYTES);
  const parts: Buffer[] = [head];
  for (const f of encoded) {
    if (f.length > MAX_FIELD_BYTES) throw new RangeError("a request id field is longer than 65535 bytes");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(f.length);
    parts.push(len, f);
  }
  return Buffer.concat(parts);
}

function decodePayload(payload: Buffer): RequestIdClaims | null {
  const headBytes = 6 + RANDOM_BYTES + 1;
  if (payload.length < headBytes) return null;
  const issuedAt = payload.readUIntBE(0, 6);
  const flags = payload.readUInt8(6 + RANDOM_BYTES);
  if (flags > 1) return null;
  const count = flags === 1 ? 5 : 4;
  const fields: string[] = [];
  let at = headBytes;
  for (let i = 0; i < count; i++) {
    if (at + 2 > payload.length) return null;
    const len = payload.readUInt16BE(at);
    at += 2;
    if (at + len > payload.length) return null;
    fields.push(payload.toString("utf8", at, at + len));
    at += len;
  }
  if (at !== payload.length) return null;
  const [env, prompt, version, variant, segment] = fields as [string, string, string, string, string?];
  return { env, prompt, version, variant, segment: segment ?? null, issuedAt };
}

/**
 * `maxAgeMs`: how long an id stays valid after it was issued. `random`: bytes for the id's uniqueness
 * (crypto by default; tests may pin it).
 */
export function createRequestIdCodec(
  keys: RequestIdKeys,
  maxAgeMs: number,
  random: (n: number) => Buffer = pooledRandom(),
): RequestIdCodec {
  const sign = hmacSha256(keys.signing);
  const all = [sign, ...keys.previous.map(hmacSha256)];
  const tagOf = (mac: (message: string) => Buffer, signed: string): Buffer => mac(signed).subarray(0, TAG_BYTES);
  return {
    issue(claims) {
      const payload = REQUEST_ID_PREFIX + b64(encodePayload(claims, random(RANDOM_BYTES)));
      return `${payload}.${b64(tagOf(sign, payload))}`;
    },
    verify(id, now) {
      if (id.length > MAX_REQUEST_ID_CHARS || !id.startsWith(REQUEST_ID_PREFIX))
        return { ok: false, reason: "malformed" };
      const dot = id.lastIndexOf(".");
      if (dot <= REQUEST_ID_PREFIX.length) return { ok: false, reason: "malformed" };
      const signed = id.slice(0, dot);
      const tagText = id.slice(dot + 1);
      const payloadText = signed.slice(REQUEST_ID_PREFIX.length);
      if (!BASE64URL.test(payloadText) || !BASE64URL.test(tagText)) return { ok: false, reason: "malformed" };
      const tag = Buffer.from(tagText, "base64url");
      // Re-encoding must give the same text: one id, one spelling (no trailing bits, no padding games).
      if (tag.length !== TAG_BYTES || b64(tag) !== tagText) return { ok: false, reason: "malformed" };
      let valid = false;
      for (const mac of all) valid = timingSafeEqual(tagOf(mac, signed), tag) || valid;
      if (!valid) return { ok: false, reason: "forged" };
      const payload = Buffer.from(payloadText, "base64url");
      const claims = b64(payload) === payloadText ? decodePayload(payload) : null;
      // Signed by us but unreadable: only a key shared with something else could do that.
      if (claims === null) return { ok: false, reason: "forged" };
      if (claims.issuedAt - now > MAX_CLOCK_SKEW_MS) return { ok: false, reason: "forged" };
      if (now - claims.issuedAt > maxAgeMs) return { ok: false, reason: "expired" };
      return { ok: true, claims, tag: tagText };
    },
  };
}

/** True when `id` has the shape of a signed request id (whether or not it verifies). */
export const isSignedRequestId = (id: string): boolean => id.startsWith(REQUEST_ID_PREFIX);
