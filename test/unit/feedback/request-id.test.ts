import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createRequestIdCodec,
  hmacSha256,
  pooledRandom,
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
    expect(id).toMatch(/^pg1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
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

  it("draws random bytes from a pool it refills, each draw its own copy", () => {
    const draw = pooledRandom(64);
    const draws = Array.from({ length: 40 }, () => draw(8));
    expect(draws.every((d) => d.length === 8)).toBe(true);
    // 40 draws of 8 bytes from a 64-byte pool: refilled several times, and no two draws alike.
    expect(new Set(draws.map((d) => d.toString("hex"))).size).toBe(40);
    const first = Buffer.from(draws[0]!);
    for (let i = 0; i < 20; i++) draw(8);
    expect(draws[0]).toEqual(first);
    expect(() => draw(65)).toThrow(RangeError);
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
