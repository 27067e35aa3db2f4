// The behaviour every Store implementation must share, as one vitest suite run against each of them.
import { afterEach, describe, expect, it, vi } from "vitest";
import { uniquePrefix } from "./redis.ts";
import type { Store } from "../../gateway/store/store.ts";

const sorted = (values: readonly string[]): string[] => [...values].sort();

/** `make(prefix)` opens a store; two calls with the same prefix must share one backing store. */
export function storeContract(name: string, make: (prefix: string) => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    const opened: Store[] = [];
    const open = async (prefix = uniquePrefix(name)): Promise<Store> => {
      const store = await make(prefix);
      opened.push(store);
      return store;
    };

    afterEach(async () => {
      for (const store of opened.splice(0)) {
        try {
          for (const key of await store.keys("")) await store.del(key);
        } catch {
          // closed by the test itself
        }
        await store.close();
      }
    });

    it("gets, sets, deletes and multi-gets in the order asked", async () => {
      const s = await open();
      expect(await s.get("a")).toBeNull();
      await s.set("a", "1");
      await s.set("a", "2");
      await s.set("b", 'héllo\n✓ {"json": true}');
      expect(await s.get("a")).toBe("2");
      expect(await s.get("b")).toBe('héllo\n✓ {"json": true}');
      expect(await s.mget(["b", "missing", "a"])).toEqual(['héllo\n✓ {"json": true}', null, "2"]);
      expect(await s.mget([])).toEqual([]);
      await s.del("a");
      await s.del("never-existed");
      expect(await s.get("a")).toBeNull();
      expect(await s.get("b")).not.toBeNull();
    });

    it("setIfAbsent writes once, and exactly one of many concurrent callers wins", async () => {
      const s = await open();
      expect(await s.setIfAbsent("lock", "first")).toBe(true);
      expect(await s.setIfAbsent("lock", "second")).toBe(false);
      expect(await s.get("lock")).toBe("first");

      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.setIfAbsent("race", `v${i}`)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await s.get("race")).toBe(`v${results.indexOf(true)}`);
    });

    it("setIfAbsent with expireMs: the key reads as absent after it, and may be set again", async () => {
      const [a, b] = await openPair(open, name);
      expect(await a.setIfAbsent("once:x", "first", { expireMs: 300 })).toBe(true);
      expect(await b.setIfAbsent("once:x", "second", { expireMs: 300 })).toBe(false);
      expect(await b.get("once:x")).toBe("first");
      expect(await a.setIfAbsent("once:long", "kept", { expireMs: 60_000 })).toBe(true);
      const raced = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).setIfAbsent("once:race", `v${i}`, { expireMs: 60_000 })),
      );
      expect(raced.filter(Boolean)).toHaveLength(1);
      await vi.waitFor(async () => expect(await b.get("once:x")).toBeNull(), { timeout: 5_000, interval: 10 });
      expect(await b.mget(["once:x", "once:long"])).toEqual([null, "kept"]);
      expect(sorted(await b.keys("once:"))).toEqual(["once:long", "once:race"]);
      expect(await b.setIfAbsent("once:x", "again", { expireMs: 60_000 })).toBe(true);
      expect(await a.get("once:x")).toBe("again");
      // A plain SET clears the expiry, as in Redis; a key written without one never expires.
      expect(await a.setIfAbsent("once:y", "1", { expireMs: 300 })).toBe(true);
      await a.set("once:y", "2");
      expect(await a.setIfAbsent("once:z", "1")).toBe(true);
      await expect(a.setIfAbsent("once:bad", "1", { expireMs: 0 })).rejects.toThrow(RangeError);
      await expect(a.setIfAbsent("once:bad", "1", { expireMs: 1.5 })).rejects.toThrow(RangeError);
      expect(await b.setIfAbsent("once:x2", "1", { expireMs: 300 })).toBe(true);
      await vi.waitFor(async () => expect(await b.get("once:x2")).toBeNull(), { timeout: 5_000, interval: 10 });
      expect(await b.mget(["once:y", "once:z"])).toEqual(["2", "1"]);
    });

    it("compareAndSet writes only over the expected value (null = absent)", async () => {
      const s = await open();
      expect(await s.compareAndSet("k", "anything", "x")).toBe(false);
      expect(await s.get("k")).toBeNull();
      expect(await s.compareAndSet("k", null, "v1")).toBe(true);
      expect(await s.compareAndSet("k", null, "v2")).toBe(false);
      expect(await s.compareAndSet("k", "wrong", "v2")).toBe(false);
      expect(await s.get("k")).toBe("v1");
      expect(await s.compareAndSet("k", "v1", "v2")).toBe(true);
      expect(await s.get("k")).toBe("v2");
      await s.del("k");
      expect(await s.compareAndSet("k", null, "again")).toBe(true);
    });

    it("compareAndSet lets exactly one of 20 concurrent writers win from the same value", async () => {
      const [a, b] = await openPair(open, name);
      await a.set("label", "1.0.0");
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).compareAndSet("label", "1.0.0", `winner-${i}`)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await a.get("label")).toBe(`winner-${results.indexOf(true)}`);
    });

    it("compareAndSetWith appends and sets hash fields only when it wins", async () => {
      const s = await open();
      const effects = {
        append: [
          { key: "history", value: "old record" },
          { key: "history", value: 'second {"json": "✓"}' },
          { key: "other-list", value: "x" },
        ],
        hset: [
          { key: "index", fields: { "prod:a": "id-1", "dev:a": "id-0" } },
          { key: "empty-fields", fields: {} },
        ],
      };
      expect(await s.compareAndSetWith("current", "not there", "v1", effects)).toBe(false);
      expect(await s.mget(["current"])).toEqual([null]);
      expect(await s.range("history", 0, -1)).toEqual([]);
      expect(await s.hgetall("index")).toEqual({});

      expect(await s.compareAndSetWith("current", null, "v1", {})).toBe(true);
      expect(await s.compareAndSetWith("current", null, "v2", effects)).toBe(false);
      expect(await s.compareAndSetWith("current", "v0", "v2", effects)).toBe(false);
      expect(await s.range("history", 0, -1)).toEqual([]);
      expect(await s.hgetall("index")).toEqual({});

      await s.hset("index", { "prod:a": "id-0", "staging:a": "kept" });
      expect(await s.compareAndSetWith("current", "v1", "v2", effects)).toBe(true);
      expect(await s.get("current")).toBe("v2");
      expect(await s.range("history", 0, -1)).toEqual(["old record", 'second {"json": "✓"}']);
      expect(await s.range("other-list", 0, -1)).toEqual(["x"]);
      expect(await s.hgetall("index")).toEqual({ "prod:a": "id-1", "dev:a": "id-0", "staging:a": "kept" });
      expect(sorted(await s.keys(""))).toEqual(["current", "history", "index", "other-list"]);
    });

    it("compareAndSetWith lets exactly one of 20 concurrent writers win, and only its effects land", async () => {
      const [a, b] = await openPair(open, name);
      await a.set("current", "finished");
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).compareAndSetWith("current", "finished", `new-${i}`, {
            append: [{ key: "history", value: `replaced-by-${i}` }],
            hset: [{ key: "index", fields: { f: `new-${i}` } }],
          }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await b.get("current")).toBe(`new-${winner}`);
      expect(await b.range("history", 0, -1)).toEqual([`replaced-by-${winner}`]);
      expect(await a.hgetall("index")).toEqual({ f: `new-${winner}` });
    });

    it("lists logical keys of every kind by prefix, isolated from other store prefixes", async () => {
      const s = await open();
      const other = await open();
      await s.set("weights:a", "1");
      await s.hset("weights:b", { v: "1" });
      await s.append("weights:c", "x");
      await s.set("weightsX", "no separator");
      await s.set("audit:1", "1");
      await other.set("weights:d", "1");

      expect(sorted(await s.keys("weights:"))).toEqual(["weights:a", "weights:b", "weights:c"]);
      expect(sorted(await s.keys(""))).toEqual(["audit:1", "weights:a", "weights:b", "weights:c", "weightsX"]);
      expect(await other.keys("")).toEqual(["weights:d"]);
      expect(await other.get("weights:a")).toBeNull();
      expect(await s.keys("nothing:")).toEqual([]);

      await s.del("weights:b");
      await s.del("weights:c");
      expect(await s.keys("weights:")).toEqual(["weights:a"]);
      expect(await s.hgetall("weights:b")).toEqual({});
      expect(await s.range("weights:c", 0, -1)).toEqual([]);
    });

    it("treats glob characters in a key prefix literally and finds many keys", async () => {
      const s = await open();
      await s.set("lit*al", "1");
      await s.set("litXal", "2");
      await s.set("br[a]:1", "3");
      await s.set("bra:1", "4");
      await s.set("q?", "5");
      await s.set("qq", "6");
      expect(await s.keys("lit*")).toEqual(["lit*al"]);
      expect(await s.keys("br[a]")).toEqual(["br[a]:1"]);
      expect(await s.keys("q?")).toEqual(["q?"]);

      await Promise.all(Array.from({ length: 300 }, (_, i) => s.set(`many:${i}`, "x")));
      const many = await s.keys("many:");
      expect(new Set(many).size).toBe(300);
      expect(many).toHaveLength(300);
    });

    it("sets, reads, deletes and increments hash fields", async () => {
      const s = await open();
      expect(await s.hgetall("h")).toEqual({});
      await s.hset("h", { a: "1", b: "2" });
      await s.hset("h", { b: "3", c: "text" });
      await s.hset("h", {});
      expect(await s.hgetall("h")).toEqual({ a: "1", b: "3", c: "text" });
      await s.hdel("h", ["a", "absent"]);
      await s.hdel("h", []);
      expect(await s.hgetall("h")).toEqual({ b: "3", c: "text" });

      expect(await s.hincrby("h", "n", 5)).toBe(5);
      expect(await s.hincrby("h", "n", -2)).toBe(3);
      expect(await s.hincrby("h", "b", 10)).toBe(13);
      expect(await s.hgetall("h")).toEqual({ b: "13", c: "text", n: "3" });
      await expect(s.hincrby("h", "c", 1)).rejects.toThrow();
      await expect(s.hincrby("h", "n", 1.5)).rejects.toThrow();
      expect((await s.hgetall("h")).n).toBe("3");

      await s.hdel("h", ["b", "c", "n"]);
      expect(await s.hgetall("h")).toEqual({});
      expect(await s.keys("h")).toEqual([]);
    });

    it("hincrbyBatch sums exactly under concurrency and rejects a bad batch whole", async () => {
      const [a, b] = await openPair(open, name);
      await a.hincrbyBatch([
        { key: "agg:x", field: "requests", by: 2 },
        { key: "agg:x", field: "requests", by: 3 },
        { key: "agg:y", field: "cost", by: -1 },
      ]);
      await a.hincrbyBatch([]);
      expect(await b.hgetall("agg:x")).toEqual({ requests: "5" });
      expect(await b.hgetall("agg:y")).toEqual({ cost: "-1" });

      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 ? a : b).hincrbyBatch([
            { key: "agg:x", field: "requests", by: 1 },
            { key: "agg:x", field: "tokens", by: i },
            { key: "agg:y", field: "cost", by: 2 },
          ]),
        ),
      );
      expect(await a.hgetall("agg:x")).toEqual({ requests: "55", tokens: "1225" });
      expect(await a.hgetall("agg:y")).toEqual({ cost: "99" });

      await expect(
        a.hincrbyBatch([
          { key: "agg:x", field: "requests", by: 1 },
          { key: "agg:x", field: "tokens", by: 0.5 },
        ]),
      ).rejects.toThrow();
      expect(await a.hgetall("agg:x")).toEqual({ requests: "55", tokens: "1225" });
    });

    it("hincrbyBatch is never seen half-applied by another reader", async () => {
      const [writer, reader] = await openPair(open, name);
      // Wide batches: a non-transactional pipeline of this size spans several socket reads.
      const batch = Array.from({ length: 500 }, (_, i) => ({ key: "wide", field: `f${i}`, by: 1 }));
      const writes: Promise<void>[] = [];
      const reads: Promise<Record<string, string>>[] = [];
      for (let i = 0; i < 10; i++) {
        writes.push(writer.hincrbyBatch(batch));
        for (let j = 0; j < 10; j++) reads.push(reader.hgetall("wide"));
      }
      await Promise.all(writes);
      for (const snapshot of await Promise.all(reads)) {
        expect(new Set(Object.values(snapshot)).size).toBeLessThanOrEqual(1);
      }
      const final = await reader.hgetall("wide");
      expect(Object.keys(final)).toHaveLength(500);
      expect(new Set(Object.values(final))).toEqual(new Set(["10"]));
    });

    it("hgetallMany reads several hashes in the order asked", async () => {
      const [a, b] = await openPair(open, name);
      await a.hset("m:1", { x: "1" });
      await a.hincrbyBatch([{ key: "m:2", field: "n", by: 7 }]);
      expect(await b.hgetallMany(["m:2", "missing", "m:1"])).toEqual([{ n: "7" }, {}, { x: "1" }]);
      expect(await b.hgetallMany([])).toEqual([]);
    });

    it("readStrings reads each key on its own: another type or an oversized value is reported, not thrown", async () => {
      const s = await open();
      await s.set("str", "héllo"); // 6 bytes in UTF-8
      await s.set("empty", "");
      await s.hset("hash", { f: "1" });
      await s.append("list", "x");
      await s.set("big", "x".repeat(7));
      const reads = await s.readStrings(["str", "missing", "hash", "list", "big", "empty"], 6);
      expect(reads).toEqual([
        { ok: true, value: "héllo" },
        { ok: true, value: null },
        { ok: false, problem: "wrong_type", detail: "a hash, not a string" },
        { ok: false, problem: "wrong_type", detail: "a list, not a string" },
        { ok: false, problem: "too_large", detail: "a value of 7 bytes, more than 6" },
        { ok: true, value: "" },
      ]);
      expect(await s.readStrings([], 10)).toEqual([]);
      expect(await s.readStrings(["str"], 5)).toEqual([
        { ok: false, problem: "too_large", detail: "a value of 6 bytes, more than 5" },
      ]);
    });

    it("readHashes refuses another type, too many fields or a long field or value, key by key", async () => {
      const s = await open();
      const limits = { maxFields: 3, maxBytes: 9 };
      const fields = Object.fromEntries([
        ["1.0.0", "95"],
        ["1.1.0", "5"],
        ["__proto__", "1"], // a field like any other, not the object's prototype
      ]);
      await s.hset("ok", fields);
      await s.set("str", "notahash");
      await s.append("list", "x");
      await s.hset("wide", { a: "1", b: "2", c: "3", d: "4" });
      await s.hset("long-value", { a: "1234567890" });
      await s.hset("long-field", { "1234567890": "1" });
      await s.hset("exact", { "123456789": "123456789" });
      const reads = await s.readHashes(
        ["ok", "missing", "str", "list", "wide", "long-value", "long-field", "exact"],
        limits,
      );
      expect(reads[0]).toEqual({ ok: true, value: fields });
      expect(reads.slice(1)).toEqual([
        { ok: true, value: {} },
        { ok: false, problem: "wrong_type", detail: "a string, not a hash" },
        { ok: false, problem: "wrong_type", detail: "a list, not a hash" },
        { ok: false, problem: "too_large", detail: "4 fields, more than 3" },
        { ok: false, problem: "too_large", detail: "a field or value of 10 bytes, more than 9" },
        { ok: false, problem: "too_large", detail: "a field or value of 10 bytes, more than 9" },
        { ok: true, value: { "123456789": "123456789" } },
      ]);
      expect(await s.readHashes([], limits)).toEqual([]);
    });

    it("hincrbyBatch with expireMs: the hashes vanish after it and count from zero again", async () => {
      const [a, b] = await openPair(open, name);
      await a.hincrbyBatch(
        [
          { key: "ttl:x", field: "n", by: 2 },
          { key: "ttl:y", field: "n", by: 3 },
        ],
        { expireMs: 300 },
      );
      await a.hincrbyBatch([{ key: "keep", field: "n", by: 1 }]);
      expect(await b.hgetallMany(["ttl:x", "ttl:y"])).toEqual([{ n: "2" }, { n: "3" }]);
      // A later batch renews the expiry of what it touches: ttl:y outlives ttl:x, written with it.
      await a.hincrbyBatch([{ key: "ttl:y", field: "n", by: 1 }], { expireMs: 60_000 });
      await vi.waitFor(async () => expect(await b.hgetall("ttl:x")).toEqual({}), { timeout: 5_000, interval: 10 });
      expect(await b.hgetall("ttl:y")).toEqual({ n: "4" });
      expect(sorted(await b.keys("ttl:"))).toEqual(["ttl:y"]);
      await a.hincrbyBatch([{ key: "ttl:x", field: "n", by: 5 }]);
      expect(await b.hgetall("ttl:x")).toEqual({ n: "5" });
      expect(await b.hgetall("keep")).toEqual({ n: "1" });
    });

    it("counts distinct members over the union of sets written with a batch", async () => {
      const [a, b] = await openPair(open, name);
      expect(await a.countDistinct([])).toBe(0);
      expect(await a.countDistinct(["users:none"])).toBe(0);
      await a.hincrbyBatch([{ key: "agg", field: "requests", by: 3 }], {
        distinct: [
          { key: "users:1", members: ["u1", "u2", "u2"] },
          { key: "users:2", members: ["u2", "u3"] },
          { key: "users:3", members: [] },
        ],
      });
      // Only distinct adds: a batch without increments still writes them.
      await b.hincrbyBatch([], { distinct: [{ key: "users:2", members: ["u4", "u1"] }] });
      expect(await b.hgetall("agg")).toEqual({ requests: "3" });
      // Small sets are exact on both stores (HyperLogLog is exact at this size).
      expect(await b.countDistinct(["users:1"])).toBe(2);
      expect(await b.countDistinct(["users:2"])).toBe(4);
      expect(await b.countDistinct(["users:1", "users:2", "users:missing"])).toBe(4);
      expect(sorted(await a.keys("users:"))).toEqual(["users:1", "users:2"]);
      await a.del("users:2");
      expect(await a.countDistinct(["users:1", "users:2"])).toBe(2);
      expect(a.distinctError).toBe(a.kind === "redis" ? 0.0081 : 0);
    });

    it("counts many distinct members within the store's stated error, and a bad batch adds none", async () => {
      const s = await open();
      const members = (from: number, to: number): string[] =>
        Array.from({ length: to - from }, (_, i) => (from + i).toString(16).padStart(16, "0"));
      // 20,000 members in two overlapping sets written by several batches: the union holds 20,000.
      for (let i = 0; i < 10; i++)
        await s.hincrbyBatch([], { distinct: [{ key: "big:a", members: members(i * 1_200, (i + 1) * 1_200) }] });
      for (let i = 0; i < 10; i++)
        await s.hincrbyBatch([], { distinct: [{ key: "big:b", members: members(8_000 + i * 1_200, 20_000) }] });
      const union = await s.countDistinct(["big:a", "big:b"]);
      // Within 4 standard errors (exact on the embedded store).
      expect(Math.abs(union - 20_000)).toBeLessThanOrEqual(Math.ceil(4 * s.distinctError * 20_000));
      await expect(
        s.hincrbyBatch([{ key: "agg", field: "n", by: 0.5 }], { distinct: [{ key: "big:c", members: ["x"] }] }),
      ).rejects.toThrow();
      expect(await s.countDistinct(["big:c"])).toBe(0);
    });

    it("distinct sets expire with the batch's expireMs", async () => {
      const [a, b] = await openPair(open, name);
      await a.hincrbyBatch([{ key: "ttl:h", field: "n", by: 1 }], {
        expireMs: 300,
        distinct: [{ key: "ttl:u", members: ["u1", "u2"] }],
      });
      await a.hincrbyBatch([], { expireMs: 60_000, distinct: [{ key: "keep:u", members: ["u1"] }] });
      expect(await b.countDistinct(["ttl:u"])).toBe(2);
      await vi.waitFor(async () => expect(await b.countDistinct(["ttl:u"])).toBe(0), { timeout: 5_000, interval: 10 });
      expect(await b.countDistinct(["keep:u", "ttl:u"])).toBe(1);
      await a.hincrbyBatch([], { distinct: [{ key: "ttl:u", members: ["u3"] }] });
      expect(await b.countDistinct(["ttl:u"])).toBe(1);
    });

    it("incrby counts from zero and exactly under concurrency", async () => {
      const s = await open();
      expect(await s.incrby("c", 5)).toBe(5);
      expect(await s.incrby("c", -7)).toBe(-2);
      expect(await s.get("c")).toBe("-2");
      await Promise.all(Array.from({ length: 30 }, () => s.incrby("c", 1)));
      expect(await s.get("c")).toBe("28");
    });

    it("appends and reads ranges with Redis LRANGE semantics", async () => {
      const s = await open();
      const lengths: number[] = [];
      for (const v of ["a", "b", "c", "d", "e"]) lengths.push(await s.append("log", v));
      expect(lengths).toEqual([1, 2, 3, 4, 5]);
      expect(await s.range("log", 0, -1)).toEqual(["a", "b", "c", "d", "e"]);
      expect(await s.range("log", -2, -1)).toEqual(["d", "e"]);
      expect(await s.range("log", 1, 2)).toEqual(["b", "c"]);
      expect(await s.range("log", 0, 0)).toEqual(["a"]);
      expect(await s.range("log", -100, 100)).toEqual(["a", "b", "c", "d", "e"]);
      expect(await s.range("log", 3, 1)).toEqual([]);
      expect(await s.range("log", 5, 10)).toEqual([]);
      expect(await s.range("log", -3, 3)).toEqual(["c", "d"]);
      expect(await s.range("missing", 0, -1)).toEqual([]);

      const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append("log2", `e${i}`)));
      expect(sorted(concurrent.map(String))).toEqual(sorted(Array.from({ length: 20 }, (_, i) => String(i + 1))));
      expect(await s.range("log2", 0, -1)).toHaveLength(20);
    });

    it("queuePush keeps a bounded queue: the oldest beyond maxLength are trimmed and counted", async () => {
      const s = await open();
      const limits = { maxLength: 3, retentionMs: 60_000 };
      expect(await s.queuePush("q", ["a", "b"], limits)).toEqual({ length: 2, trimmed: 0, expired: 0 });
      expect(await s.queuePush("q", ["c", 'd:{"x": 1}\n✓'], limits)).toEqual({ length: 3, trimmed: 1, expired: 0 });
      expect(await s.queueLength("q")).toBe(3);
      expect(await s.queuePop("q", 2)).toEqual({ values: ["b", "c"], expired: 0 });
      expect(await s.queuePop("q", 5)).toEqual({ values: ['d:{"x": 1}\n✓'], expired: 0 });
      expect(await s.queuePop("q", 1)).toEqual({ values: [], expired: 0 });
      expect(await s.queueLength("q")).toBe(0);
      await expect(s.queuePush("q", ["x"], { maxLength: 0, retentionMs: 1 })).rejects.toThrow(/maxLength/);
      await expect(s.queuePop("q", 0)).rejects.toThrow(/count/);
    });

    it("queuePop hands each item to exactly one of several concurrent consumers", async () => {
      const [a, b] = await openPair(open, name);
      const items = Array.from({ length: 60 }, (_, i) => `item-${i}`);
      await a.queuePush("work", items, { maxLength: 1_000, retentionMs: 60_000 });
      const popped = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).queuePop("work", 7)));
      const all = popped.flatMap((r) => r.values);
      expect(all).toHaveLength(60);
      expect(sorted(all)).toEqual(sorted(items));
      expect(await b.queueLength("work")).toBe(0);
    });

    it("queue items expire after their retention: dropped and counted, never handed out", async () => {
      const [a, b] = await openPair(open, name);
      await a.queuePush("old", ["1", "2"], { maxLength: 10, retentionMs: 200 });
      await a.queuePush("keep", ["k"], { maxLength: 10, retentionMs: 60_000 });
      await vi.waitFor(async () => expect(await b.queueLength("old")).toBe(0), { timeout: 5_000, interval: 20 });
      expect(await b.queuePush("old", ["3"], { maxLength: 10, retentionMs: 60_000 })).toMatchObject({ length: 1 });
      const popped = await b.queuePop("old", 10);
      expect(popped.values).toEqual(["3"]);
      expect(await b.queuePop("keep", 10)).toEqual({ values: ["k"], expired: 0 });
      expect(sorted(await a.keys(""))).not.toContain("keep");
    });

    it("publishes to every listener of a channel until it unsubscribes", async () => {
      const s = await open();
      const other = await open(); // same logical channel, different prefix
      const got = { one: [] as string[], two: [] as string[], elsewhere: [] as string[], other: [] as string[] };
      const offOne = await s.subscribe("changes", (m) => got.one.push(m));
      const offTwo = await s.subscribe("changes", (m) => got.two.push(m));
      const offElsewhere = await s.subscribe("elsewhere", (m) => got.elsewhere.push(m));
      await s.subscribe("changes", () => {
        throw new Error("a failing listener must not stop the others");
      });
      await other.subscribe("changes", (m) => got.other.push(m));

      for (const m of ["m1", "m2", "m3"]) await s.publish("changes", m);
      await vi.waitFor(() => expect(got.two).toEqual(["m1", "m2", "m3"]), { timeout: 1_000, interval: 5 });
      expect(got.one).toEqual(["m1", "m2", "m3"]);

      await offOne();
      await offOne(); // twice is harmless
      await s.publish("changes", "m4");
      await vi.waitFor(() => expect(got.two).toContain("m4"), { timeout: 1_000, interval: 5 });
      expect(got.one).toEqual(["m1", "m2", "m3"]);
      expect(got.elsewhere).toEqual([]);

      await other.publish("changes", "marker");
      await vi.waitFor(() => expect(got.other).toEqual(["marker"]), { timeout: 1_000, interval: 5 });
      await offTwo();
      await offElsewhere();
    });

    it("shares writes, compare-and-set and notifications between two instances", async () => {
      const [a, b] = await openPair(open, name);
      await a.set("shared", "1");
      expect(await b.get("shared")).toBe("1");
      await b.hincrbyBatch([{ key: "agg", field: "n", by: 4 }]);
      expect(await a.hgetall("agg")).toEqual({ n: "4" });
      await a.append("audit", "e1");
      expect(await b.range("audit", 0, -1)).toEqual(["e1"]);
      expect(await a.compareAndSet("leader", null, "a")).toBe(true);
      expect(await b.compareAndSet("leader", null, "b")).toBe(false);
      expect(await b.compareAndSet("leader", "a", "b")).toBe(true);
      expect(await a.get("leader")).toBe("b");

      const atA: string[] = [];
      const atB: string[] = [];
      await a.subscribe("reload", (m) => atA.push(m));
      await b.subscribe("reload", (m) => atB.push(m));
      await a.publish("reload", "from-a");
      await vi.waitFor(() => expect(atB).toEqual(["from-a"]), { timeout: 1_000, interval: 10 });
      await b.publish("reload", "from-b");
      await vi.waitFor(() => expect(atA).toEqual(["from-a", "from-b"]), { timeout: 1_000, interval: 10 });
      expect(atB).toEqual(["from-a", "from-b"]);
    });

    // --- The controller lease and fenced writes ---
    const spec = { key: "controller:lease", fenceKey: "controller:fence" };

    it("acquireLease: one holder at a time, renewable by it, released only by it", async () => {
      const [a, b] = await openPair(open, name);
      const first = await a.acquireLease(spec, "a-1", 60_000);
      expect(first).toEqual({ key: spec.key, token: 1, owner: "a-1" });
      expect(await b.get(spec.key)).toBe("1:a-1");
      expect(await b.acquireLease(spec, "b-1", 60_000)).toBeNull();
      // The holder asking again keeps its token; renewing works while it holds.
      expect(await a.acquireLease(spec, "a-1", 60_000)).toEqual(first);
      expect(await a.renewLease(first!, 60_000)).toBe(true);
      expect(await b.releaseLease({ ...first!, owner: "b-1" })).toBe(false);
      expect(await b.releaseLease({ ...first!, token: 2 })).toBe(false);
      expect(await b.get(spec.key)).toBe("1:a-1");
      expect(await a.releaseLease(first!)).toBe(true);
      expect(await a.renewLease(first!, 60_000)).toBe(false);
      expect(await a.releaseLease(first!)).toBe(false);
      // Released: the next holder need not wait for the expiry, and gets a larger token.
      const second = await b.acquireLease(spec, "b-1", 60_000);
      expect(second?.token).toBe(2);
      await expect(a.acquireLease(spec, "", 1_000)).rejects.toThrow(RangeError);
      await expect(a.acquireLease(spec, "x", 0)).rejects.toThrow(RangeError);
    });

    it("acquireLease lets exactly one of 20 concurrent contenders win", async () => {
      const [a, b] = await openPair(open, name);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquireLease(spec, `owner-${i}`, 60_000)),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(await a.get(spec.key)).toBe(`${winners[0]!.token}:${winners[0]!.owner}`);
    });

    it("an expired lease is taken over with a larger token, and the old holder can neither renew nor write", async () => {
      const [a, b] = await openPair(open, name);
      const old = (await a.acquireLease(spec, "a", 200))!;
      await a.set("rollout:prod:x", "v1");
      expect(await a.fencedCompareAndSet(old, "rollout:prod:x", "v1", "v2")).toBe("written");
      await vi.waitFor(async () => expect(await b.acquireLease(spec, "b", 60_000)).not.toBeNull(), {
        timeout: 5_000,
        interval: 20,
      });
      const fresh = (await b.acquireLease(spec, "b", 60_000))!;
      expect(fresh.token).toBeGreaterThan(old.token);
      expect(await a.renewLease(old, 60_000)).toBe(false);
      expect(await a.releaseLease(old)).toBe(false);
      // A write with the stale token is refused, even with the right expected value.
      expect(await a.fencedCompareAndSet(old, "rollout:prod:x", "v2", "stale")).toBe("lease_lost");
      expect(await a.fencedReplaceHash(old, "weights:prod:x", { "1.0.0": "100" })).toBe("lease_lost");
      expect(await b.get("rollout:prod:x")).toBe("v2");
      expect(await b.hgetall("weights:prod:x")).toEqual({});
      // The same owner name with an old token is someone else too.
      expect(await a.fencedCompareAndSet({ ...fresh, token: old.token }, "rollout:prod:x", "v2", "x")).toBe(
        "lease_lost",
      );
      expect(await b.fencedCompareAndSet(fresh, "rollout:prod:x", "v2", "v3")).toBe("written");
      expect(await a.get("rollout:prod:x")).toBe("v3");
    });

    it("fencedCompareAndSet writes only over the expected value (null = absent) while the lease holds", async () => {
      const s = await open();
      const lease = (await s.acquireLease(spec, "c", 60_000))!;
      expect(await s.fencedCompareAndSet(lease, "k", "anything", "x")).toBe("conflict");
      expect(await s.get("k")).toBeNull();
      expect(await s.fencedCompareAndSet(lease, "k", null, "v1")).toBe("written");
      expect(await s.fencedCompareAndSet(lease, "k", null, "v2")).toBe("conflict");
      // An operator's plain compare-and-set in between: the controller's stale compare loses.
      expect(await s.compareAndSet("k", "v1", "operator")).toBe(true);
      expect(await s.fencedCompareAndSet(lease, "k", "v1", "v2")).toBe("conflict");
      expect(await s.get("k")).toBe("operator");
      expect(await s.fencedCompareAndSet(lease, "k", "operator", "v3")).toBe("written");
      expect(await s.get("k")).toBe("v3");
      // No lease at all: refused before the compare.
      await s.releaseLease(lease);
      expect(await s.fencedCompareAndSet(lease, "k", "v3", "v4")).toBe("lease_lost");
      expect(await s.get("k")).toBe("v3");
    });

    it("fencedReplaceHash replaces every field, or deletes the hash, while the lease holds", async () => {
      const [a, b] = await openPair(open, name);
      const lease = (await a.acquireLease(spec, "w", 60_000))!;
      await b.hset("weights:prod:p", { "1.0.0": "90", "1.1.0": "10", "0.9.0": "1" });
      expect(await a.fencedReplaceHash(lease, "weights:prod:p", { "1.0.0": "75", "1.1.0": "25" })).toBe("written");
      expect(await b.hgetall("weights:prod:p")).toEqual({ "1.0.0": "75", "1.1.0": "25" });
      expect(await a.fencedReplaceHash(lease, "weights:prod:p", {})).toBe("written");
      expect(await b.hgetall("weights:prod:p")).toEqual({});
      expect(await b.keys("weights:")).toEqual([]);
      expect(await a.fencedReplaceHash(lease, "weights:prod:p", { "1.0.0": "100" })).toBe("written");
      expect(await b.hgetall("weights:prod:p")).toEqual({ "1.0.0": "100" });
      // Concurrent writers under two tokens: only the holder's writes land.
      const stale = { ...lease, token: lease.token + 100 };
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).fencedReplaceHash(i % 2 ? lease : stale, "weights:prod:p", { v: String(i) }),
        ),
      );
      expect(outcomes.filter((o) => o === "written")).toHaveLength(5);
      expect(outcomes.filter((o) => o === "lease_lost")).toHaveLength(5);
      expect(Number((await b.hgetall("weights:prod:p")).v) % 2).toBe(1);
    });

    it("pings while open and rejects once closed; close is idempotent", async () => {
      const s = await make(uniquePrefix(name));
      await s.ping();
      await s.close();
      await s.close();
      await expect(s.get("x")).rejects.toThrow();
    });
  });
}

async function openPair(open: (prefix?: string) => Promise<Store>, name: string): Promise<[Store, Store]> {
  const prefix = uniquePrefix(name);
  return [await open(prefix), await open(prefix)];
}
