// Self-describing, tamper-proof request ids for requests served from a prompt version. The id carries
// what feedback needs (environment, prompt, version, variant, segment, when it was issued) and a tag
// made with the gateway's key, so the feedback route resolves it without any lookup, and the request
// path issues it without a store round trip. Any replica holding the same key verifies any replica's ids.
//
//   pg2.<payload>.<tag>       both base64url (no padding); issued now
//   payload: issued-at (uint32, epoch seconds, rounded up) | nonce (16 random bytes) | flags (bit 0: has a segment) |
//            env, prompt, version, variant[, segment], each a uint16 byte length and UTF-8 bytes
//   tag:     AES-128(pad key, nonce) XOR the first 16 bytes of
//            HMAC-SHA256(claims key, "pg2" | issued-at | flags | fields)
//
// That is a nonce-based MAC of the Carter-Wegman kind: the HMAC binds the claims, and a pad that is
// never used twice (an AES block of a fresh random nonce) hides it, so that no tag says anything about
// another id's. What it buys: the HMAC depends only on the claims and the second, so it is computed once
// per version and second, and the pads come 256 at a time from one AES call over a pool of nonces.
// Issuing an id is then a copy and a XOR; one Node HMAC object per request cost about 20 µs of CPU under
// load (see loadtest/RESULTS.md). Both keys are derived from the configured key.
//
//   pg1.<payload>.<tag>       issued before pg2; still verified, for as long as such an id can live
//   payload: issued-at (uint48, epoch ms) | 8 random bytes | flags | the fields as above
//   tag:     the first 16 bytes of HMAC-SHA256(key, "pg1." + payload)
import {
  createCipheriv,
  createHmac,
  createSecretKey,
  randomFillSync,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";

/** The prefix of the ids issued now. */
export const REQUEST_ID_PREFIX = "pg2.";
/** The prefix of the ids issued before, still verified. */
const PG1_PREFIX = "pg1.";
export const DAY_MS = 24 * 60 * 60_000;
/** Bytes of tag in the id: 128 bits, far beyond guessing within any id's lifetime. */
export const TAG_BYTES = 16;
/** An id longer than this is not one of ours: refused before any work. */
export const MAX_REQUEST_ID_CHARS = 2_048;
/** Clocks of replicas may disagree a little; an id from further in the future than this is refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const MAX_FIELD_BYTES = 0xffff;
/** One AES block: a nonce, and the pad made from it. */
const NONCE_BYTES = 16;
/** pg2's head: issued-at, nonce, flags; a multiple of 3 bytes, so its base64url joins the fields' as is. */
const PG2_HEAD_BYTES = 4 + NONCE_BYTES + 1;
const PG1_HEAD_BYTES = 6 + 8 + 1;
/** Nonces (and pads) made at once: 4 KiB of random bytes and one AES call per 256 ids. */
const POOL_NONCES = 256;
/** The claims whose HMAC is kept for the current second: per prompt, and prompts, past which the oldest go. */
const MAX_CACHED_PER_PROMPT = 64;
const MAX_CACHED_PROMPTS = 1_024;

/** What a signed request id says about the request it names. */
export interface RequestIdClaims {
  /** The environment the aggregates counted it under (`pinned` for a pinned version). */
  readonly env: string;
  readonly prompt: string;
  readonly version: string;
  readonly variant: string;
  readonly segment: string | null;
  /** Epoch ms (a pg2 id keeps whole seconds). */
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
 * every call (about 15 µs here), with a KeyObject it costs a few µs.
 */
export function hmacSha256(key: Buffer): (message: Buffer | string) => Buffer {
  const secret = createSecretKey(key);
  return (message) =>
    typeof message === "string"
      ? createHmac("sha256", secret).update(message, "latin1").digest()
      : createHmac("sha256", secret).update(message).digest();
}

/** AES-128 of each 16-byte block of `blocks` (ECB: the blocks are nonces, each used once). */
function aesBlocks(key: KeyObject, blocks: Buffer): Buffer {
  const cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(blocks), cipher.final()]);
}

/** pg2's two keys, each derived from the configured key for its one use. */
interface Pg2Keys {
  readonly pad: KeyObject;
  readonly claims: (message: Buffer) => Buffer;
}

function pg2Keys(key: Buffer): Pg2Keys {
  const derive = hmacSha256(key);
  return {
    pad: createSecretKey(derive("promptgate request id pads").subarray(0, 16)),
    claims: hmacSha256(derive("promptgate request id claims")),
  };
}

/** The fields' bytes: env, prompt, version, variant[, segment], each with a uint16 length. */
function encodeFields(claims: RequestIdClaims): Buffer {
  const fields = [claims.env, claims.prompt, claims.version, claims.variant];
  if (claims.segment !== null) fields.push(claims.segment);
  const parts: Buffer[] = [];
  for (const text of fields) {
    const f = Buffer.from(text, "utf8");
    if (f.length > MAX_FIELD_BYTES) throw new RangeError("a request id field is longer than 65535 bytes");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(f.length);
    parts.push(len, f);
  }
  return Buffer.concat(parts);
}

/** The fields after a head of `headBytes`; null unless they are exactly what `flags` announces. */
function decodeFields(payload: Buffer, headBytes: number, flags: number): string[] | null {
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
  return at === payload.length ? fields : null;
}

function claimsOf(fields: readonly string[], issuedAt: number): RequestIdClaims {
  const [env, prompt, version, variant, segment] = fields as [string, string, string, string, string?];
  return { env, prompt, version, variant, segment: segment ?? null, issuedAt };
}

/** What HMAC-SHA256(claims key) covers in a pg2 id: "pg2" | issued-at | flags | fields. */
function claimsMessage(second: number, flags: number, fields: Buffer): Buffer {
  const head = Buffer.alloc(3 + 4 + 1);
  head.write("pg2", 0, "latin1");
  head.writeUInt32BE(second, 3);
  head.writeUInt8(flags, 7);
  return Buffer.concat([head, fields]);
}

/** One version's claims as pg2 issues them: their encoded fields, and their HMAC for one second. */
interface ClaimsEntry {
  readonly claims: RequestIdClaims;
  readonly flags: number;
  readonly fields: Buffer;
  readonly fieldsText: string;
  second: number;
  mac: Buffer;
}

const sameFields = (a: RequestIdClaims, b: RequestIdClaims): boolean =>
  a.env === b.env && a.version === b.version && a.variant === b.variant && a.segment === b.segment;

/**
 * Issues pg2 ids. `fill` fills a buffer with random bytes (crypto by default; tests may pin it).
 */
function pg2Issuer(keys: Pg2Keys, fill: (buf: Buffer) => void): (claims: RequestIdClaims) => string {
  const nonces = Buffer.alloc(POOL_NONCES * NONCE_BYTES);
  let pads: Buffer = Buffer.alloc(0);
  let at = nonces.length;
  const scratch = Buffer.alloc(PG2_HEAD_BYTES + TAG_BYTES);
  // By prompt, the few (environment, version, variant, segment) it is served as: found by comparing the
  // snapshot's own strings, with no key built per request.
  const cache = new Map<string, ClaimsEntry[]>();

  const entryFor = (claims: RequestIdClaims, second: number): ClaimsEntry => {
    let entries = cache.get(claims.prompt);
    if (entries === undefined) {
      if (cache.size >= MAX_CACHED_PROMPTS) cache.clear();
      cache.set(claims.prompt, (entries = []));
    }
    let entry = entries.find((e) => sameFields(e.claims, claims));
    if (entry === undefined) {
      const fields = encodeFields(claims);
      const flags = claims.segment === null ? 0 : 1;
      entry = { claims, flags, fields, fieldsText: b64(fields), second: -1, mac: Buffer.alloc(0) };
      if (entries.length >= MAX_CACHED_PER_PROMPT) entries.shift();
      entries.push(entry);
    }
    if (entry.second !== second) {
      entry.mac = keys.claims(claimsMessage(second, entry.flags, entry.fields));
      entry.second = second;
    }
    return entry;
  };

  return (claims) => {
    // Rounded up, so that an id lives at least its max age.
    const second = Math.max(0, Math.ceil(claims.issuedAt / 1000));
    if (second > 0xffffffff) throw new RangeError("a request id cannot be issued after 2106");
    const entry = entryFor(claims, second);
    if (at === nonces.length) {
      fill(nonces);
      pads = aesBlocks(keys.pad, nonces);
      at = 0;
    }
    scratch.writeUInt32BE(second, 0);
    nonces.copy(scratch, 4, at, at + NONCE_BYTES);
    scratch[4 + NONCE_BYTES] = entry.flags;
    for (let i = 0; i < TAG_BYTES; i++)
      scratch[PG2_HEAD_BYTES + i] = (pads[at + i] as number) ^ (entry.mac[i] as number);
    at += NONCE_BYTES;
    const head = scratch.toString("base64url", 0, PG2_HEAD_BYTES);
    const tag = scratch.toString("base64url", PG2_HEAD_BYTES);
    return `${REQUEST_ID_PREFIX}${head}${entry.fieldsText}.${tag}`;
  };
}

/** The tag a pg2 payload should carry under one key. */
function pg2Tag(keys: Pg2Keys, payload: Buffer): Buffer {
  const nonce = payload.subarray(4, 4 + NONCE_BYTES);
  const message = Buffer.concat([
    Buffer.from("pg2", "latin1"),
    payload.subarray(0, 4),
    payload.subarray(4 + NONCE_BYTES),
  ]);
  const pad = aesBlocks(keys.pad, nonce);
  const mac = keys.claims(message);
  const tag = Buffer.alloc(TAG_BYTES);
  for (let i = 0; i < TAG_BYTES; i++) tag[i] = (pad[i] as number) ^ (mac[i] as number);
  return tag;
}

/** An id split into its signed text, payload and tag, each checked to have one spelling only. */
interface SplitId {
  readonly signed: string;
  readonly payload: Buffer;
  readonly tag: Buffer;
  readonly tagText: string;
}

function splitId(id: string, prefix: string): SplitId | null {
  const dot = id.lastIndexOf(".");
  if (dot <= prefix.length) return null;
  const signed = id.slice(0, dot);
  const tagText = id.slice(dot + 1);
  const payloadText = signed.slice(prefix.length);
  if (!BASE64URL.test(payloadText) || !BASE64URL.test(tagText)) return null;
  const tag = Buffer.from(tagText, "base64url");
  const payload = Buffer.from(payloadText, "base64url");
  // Re-encoding must give the same text: one id, one spelling (no trailing bits, no padding games).
  if (tag.length !== TAG_BYTES || b64(tag) !== tagText || b64(payload) !== payloadText) return null;
  return { signed, payload, tag, tagText };
}

/**
 * `maxAgeMs`: how long an id stays valid after it was issued. `fill`: fills a buffer with random bytes
 * for the ids' nonces (crypto by default; tests may pin it).
 */
export function createRequestIdCodec(
  keys: RequestIdKeys,
  maxAgeMs: number,
  fill: (buf: Buffer) => void = randomFillSync,
): RequestIdCodec {
  const all = [keys.signing, ...keys.previous];
  const pg2 = all.map(pg2Keys);
  const pg1 = all.map(hmacSha256);
  const issue = pg2Issuer(pg2[0] as Pg2Keys, fill);

  /** The claims of a pg2 id one of the keys signed; null when none did or it does not parse. */
  const verifyPg2 = (split: SplitId): RequestIdClaims | "forged" | null => {
    const { payload } = split;
    if (payload.length < PG2_HEAD_BYTES) return null;
    let valid = false;
    for (const k of pg2) valid = timingSafeEqual(pg2Tag(k, payload), split.tag) || valid;
    if (!valid) return "forged";
    const fields = decodeFields(payload, PG2_HEAD_BYTES, payload.readUInt8(PG2_HEAD_BYTES - 1));
    return fields === null ? null : claimsOf(fields, payload.readUInt32BE(0) * 1000);
  };
  const verifyPg1 = (split: SplitId): RequestIdClaims | "forged" | null => {
    let valid = false;
    for (const mac of pg1) valid = timingSafeEqual(mac(split.signed).subarray(0, TAG_BYTES), split.tag) || valid;
    if (!valid) return "forged";
    const { payload } = split;
    if (payload.length < PG1_HEAD_BYTES) return null;
    const fields = decodeFields(payload, PG1_HEAD_BYTES, payload.readUInt8(PG1_HEAD_BYTES - 1));
    return fields === null ? null : claimsOf(fields, payload.readUIntBE(0, 6));
  };

  return {
    issue,
    verify(id, now) {
      if (id.length > MAX_REQUEST_ID_CHARS) return { ok: false, reason: "malformed" };
      const prefix = id.startsWith(REQUEST_ID_PREFIX)
        ? REQUEST_ID_PREFIX
        : id.startsWith(PG1_PREFIX)
          ? PG1_PREFIX
          : null;
      const split = prefix === null ? null : splitId(id, prefix);
      if (split === null) return { ok: false, reason: "malformed" };
      const claims = prefix === REQUEST_ID_PREFIX ? verifyPg2(split) : verifyPg1(split);
      if (claims === "forged") return { ok: false, reason: "forged" };
      // Signed by us but unreadable: only a key shared with something else could do that.
      if (claims === null) return { ok: false, reason: "forged" };
      if (claims.issuedAt - now > MAX_CLOCK_SKEW_MS) return { ok: false, reason: "forged" };
      if (now - claims.issuedAt > maxAgeMs) return { ok: false, reason: "expired" };
      return { ok: true, claims, tag: split.tagText };
    },
  };
}
