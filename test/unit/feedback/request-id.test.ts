import { createCipheriv, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createRequestIdCodec,
  hmacSha256,
  MAX_CLOCK_SKEW_MS,
  MAX_REQUEST_ID_CHARS,
  REQUEST_ID_PREFIX,
  type RequestIdClaims,
} from "../../../gateway/feedback/request-id.ts";
import { MIN_KEY_CHARS, parseRequestIdKeys } from "../../../gateway/feedback/signing-keys.ts";

const DAY = 24 * 60 * 60_000;
const KEY = Buffer.from("k".repeat(32));
const OTHER = Buffer.from("o".repeat(32));
const codec = createRequestIdCodec({ signing: KEY, previous: [] }, 7 * DAY);
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

const claims: RequestIdClaims = {
  env: "prod",
  prompt: "summarization",
  version: "1.1.0",
  variant: "canary",
  segment: null,
  issuedAt: NOW,
};

/** Replaces the character at `i` with another base64url character. */
const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);

describe("request id codec", () => {
  it("round-trips every claim, with and without a segment, in any UTF-8", () => {
    const id = codec.issue(claims);
    expect(id.startsWith(REQUEST_ID_PREFIX)).toBe(true);
    expect(id).toMatch(/^pg2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    const back = codec.verify(id, NOW + 1_000);
    expect(back).toEqual({ ok: true, claims, tag: id.slice(id.lastIndexOf(".") + 1) });

    const segmented = { ...claims, segment: "<200", prompt: "résumé-✓", variant: "stable" };
    const seg = codec.verify(codec.issue(segmented), NOW);
    expect(seg.ok && seg.claims).toEqual(segmented);
    const empty = { ...claims, segment: "" };
    const e = codec.verify(codec.issue(empty), NOW);
    expect(e.ok && e.claims.segment).toBe("");
  });

  it("gives every request its own id and tag", () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => codec.issue(claims)));
    expect(ids.size).toBe(1_000);
  });

  it("refuses a tampered payload or tag as forged", () => {
    const id = codec.issue(claims);
    const dot = id.lastIndexOf(".");
    for (const i of [REQUEST_ID_PREFIX.length, REQUEST_ID_PREFIX.length + 10, dot - 2, dot + 1, dot + 5])
      expect(codec.verify(flip(id, i), NOW)).toEqual({ ok: false, reason: "forged" });
    // Another version's claims with this id's tag.
    const other = codec.issue({ ...claims, version: "9.9.9" });
    const swapped = other.slice(0, other.lastIndexOf(".")) + id.slice(dot);
    expect(codec.verify(swapped, NOW)).toEqual({ ok: false, reason: "forged" });
  });

  it("refuses ids signed with another key, and accepts previous keys during a rotation", () => {
    const foreign = createRequestIdCodec({ signing: OTHER, previous: [] }, 7 * DAY).issue(claims);
    expect(codec.verify(foreign, NOW)).toEqual({ ok: false, reason: "forged" });
    const rotated = createRequestIdCodec({ signing: OTHER, previous: [KEY] }, 7 * DAY);
    expect(rotated.verify(codec.issue(claims), NOW).ok).toBe(true);
    expect(rotated.verify(foreign, NOW).ok).toBe(true);
  });

  it("expires ids after the max age and refuses ids from the future", () => {
    const id = codec.issue(claims);
    expect(codec.verify(id, NOW + 7 * DAY).ok).toBe(true);
    expect(codec.verify(id, NOW + 7 * DAY + 1)).toEqual({ ok: false, reason: "expired" });
    expect(codec.verify(id, NOW - MAX_CLOCK_SKEW_MS).ok).toBe(true);
    expect(codec.verify(id, NOW - MAX_CLOCK_SKEW_MS - 1)).toEqual({ ok: false, reason: "forged" });
  });

  it("calls anything else malformed", () => {
    for (const bad of [
      "",
      "3f1c2d4e-1111-4222-8333-944445555666",
      "pg1.",
      "pg1..",
      "pg1.abc",
      "pg1.abc.",
      "pg1.a+c.AAAAAAAAAAAAAAAAAAAAAA",
      "pg1.abc.AAAA",
      "pg1.abc.AAAAAAAAAAAAAAAAAAAAAA==",
      "pg1." + "A".repeat(MAX_REQUEST_ID_CHARS),
    ])
      expect(codec.verify(bad, NOW), bad).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("the codec's primitives", () => {
  it("computes HMAC-SHA256 with a key object as with the raw key, for keys shorter and longer than a block", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.string({ maxLength: 300 }), (key, text) => {
        const message = Buffer.from(text, "utf8").toString("latin1");
        const expected = createHmac("sha256", Buffer.from(key)).update(Buffer.from(message, "latin1")).digest();
        const mac = hmacSha256(Buffer.from(key));
        expect(mac(message)).toEqual(expected);
        // The key object is reused, never changed by a call.
        expect(mac(message)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

/** The documented formats, computed here with nothing but node:crypto. */
const hmac = (key: Buffer, message: Buffer | string): Buffer => createHmac("sha256", key).update(message).digest();
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const fieldBytes = (fields: readonly string[]): Buffer =>
  Buffer.concat(fields.flatMap((f) => [u16(Buffer.byteLength(f)), Buffer.from(f, "utf8")]));

/** A pg2 id as docs/design.md describes it. */
function referencePg2(key: Buffer, c: RequestIdClaims, nonce: Buffer): string {
  const padKey = hmac(key, "promptgate request id pads").subarray(0, 16);
  const claimsKey = hmac(key, "promptgate request id claims");
  const second = Buffer.alloc(4);
  second.writeUInt32BE(Math.ceil(c.issuedAt / 1000));
  const flags = Buffer.from([c.segment === null ? 0 : 1]);
  const fields = fieldBytes([c.env, c.prompt, c.version, c.variant, ...(c.segment === null ? [] : [c.segment])]);
  const aes = createCipheriv("aes-128-ecb", padKey, null).setAutoPadding(false);
  const pad = Buffer.concat([aes.update(nonce), aes.final()]);
  const mac = hmac(claimsKey, Buffer.concat([Buffer.from("pg2"), second, flags, fields]));
  const tag = Buffer.from(pad.map((b, i) => b ^ (mac[i] as number)));
  const payload = Buffer.concat([second, nonce, flags, fields]);
  return `pg2.${payload.toString("base64url")}.${tag.toString("base64url")}`;
}

/** A pg1 id, as gateways issued them before pg2. */
function referencePg1(key: Buffer, c: RequestIdClaims, random: Buffer): string {
  const at = Buffer.alloc(6);
  at.writeUIntBE(c.issuedAt, 0, 6);
  const flags = Buffer.from([c.segment === null ? 0 : 1]);
  const fields = fieldBytes([c.env, c.prompt, c.version, c.variant, ...(c.segment === null ? [] : [c.segment])]);
  const signed = `pg1.${Buffer.concat([at, random, flags, fields]).toString("base64url")}`;
  return `${signed}.${hmac(key, signed).subarray(0, 16).toString("base64url")}`;
}

describe("the id formats", () => {
  it("issues pg2 ids exactly as documented, nonce after nonce across refills of the pool", () => {
    // A counter instead of crypto's random bytes: each pool of 256 nonces is 0..255, then 256..511.
    let filled = 0;
    const counting = (buf: Buffer): void => {
      for (let i = 0; i < buf.length / 16; i++) buf.writeUInt32BE(filled++, i * 16 + 12);
    };
    const pinned = createRequestIdCodec({ signing: KEY, previous: [] }, 7 * DAY, counting);
    const segmented = { ...claims, segment: "long", issuedAt: NOW + 1_500 };
    for (let n = 0; n < 600; n++) {
      const nonce = Buffer.alloc(16);
      nonce.writeUInt32BE(n, 12);
      // 70 versions of one prompt: more than the issuer keeps per prompt, so some are encoded again.
      const c = n % 3 === 0 ? segmented : { ...claims, version: `1.0.${n % 70}`, issuedAt: NOW + n * 7 };
      expect(pinned.issue(c)).toBe(referencePg2(KEY, c, nonce));
    }
  });

  it("keeps verifying the pg1 ids gateways issued before", () => {
    const random = Buffer.from("0123456789abcdef", "hex");
    const segmented = { ...claims, segment: "<200" };
    expect(codec.verify(referencePg1(KEY, claims, random), NOW)).toMatchObject({ ok: true, claims });
    expect(codec.verify(referencePg1(KEY, segmented, random), NOW)).toMatchObject({ ok: true, claims: segmented });
    expect(codec.verify(referencePg1(OTHER, claims, random), NOW)).toEqual({ ok: false, reason: "forged" });
    expect(codec.verify(referencePg1(KEY, claims, random), NOW + 7 * DAY + 1)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("refuses a pg2 id given another id's nonce or issue time", () => {
    const payloadOf = (id: string): Buffer => Buffer.from(id.slice(4, id.lastIndexOf(".")), "base64url");
    const id = codec.issue(claims);
    const tag = id.slice(id.lastIndexOf("."));
    const otherNonce = payloadOf(id);
    payloadOf(codec.issue(claims)).copy(otherNonce, 4, 4, 20);
    const later = payloadOf(id);
    later.writeUInt32BE(later.readUInt32BE(0) + 1);
    for (const p of [otherNonce, later])
      expect(codec.verify(`pg2.${p.toString("base64url")}${tag}`, NOW)).toEqual({ ok: false, reason: "forged" });
  });
});

describe("REQUEST_ID_KEYS", () => {
  it("signs with the first key and verifies with all", () => {
    const keys = parseRequestIdKeys(` ${"a".repeat(MIN_KEY_CHARS)} , ${"b".repeat(40)} ,`);
    expect(keys.signing.toString()).toBe("a".repeat(MIN_KEY_CHARS));
    expect(keys.previous.map((k) => k.toString())).toEqual(["b".repeat(40)]);
  });

  it("refuses no key and short keys", () => {
    expect(() => parseRequestIdKeys(" , ")).toThrow("holds no key");
    expect(() => parseRequestIdKeys(`${"a".repeat(32)},short`)).toThrow("key 2 is shorter than 32 characters");
  });
});
