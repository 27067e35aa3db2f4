// Split properties: exact shares over real user ids, monotonic ramps, the 3+ version guarantees, a pinned layout.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BUCKETS, createBucketer } from "../../../gateway/split/bucket.ts";
import { buildSplit, pick } from "../../../gateway/split/layout.ts";
import type { Split } from "../../../gateway/split/layout.ts";
import { parseWeights } from "../../../gateway/split/weights.ts";

const STABLE = "1.0.0";
const CANARIES = ["1.1.0", "1.2.0", "1.9.0", "1.10.0"]; // 1.9.0 < 1.10.0 in semver, not as strings

/** Every bucket's version: checking all 10,000 buckets covers every possible user. */
const owners = (split: Split): string[] => Array.from({ length: BUCKETS }, (_, b) => pick(split, b).version);
const bucketsOf = (split: Split, version: string): Set<number> =>
  new Set(owners(split).flatMap((v, b) => (v === version ? [b] : [])));
const difference = <T>(a: ReadonlySet<T>, b: ReadonlySet<T>): number => [...a].filter((x) => !b.has(x)).length;
const isSubset = <T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean => difference(a, b) === 0;

/** 2 to 4 versions: the stable one (in the map or not) and 1 to 3 canaries, some positive weight. */
const weightSets = fc
  .record({
    stable: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
    canaries: fc.uniqueArray(fc.tuple(fc.constantFrom(...CANARIES), fc.integer({ min: 0, max: 1000 })), {
      selector: ([v]) => v,
      minLength: 1,
      maxLength: 3,
    }),
  })
  .map(({ stable, canaries }) => new Map(stable === undefined ? canaries : [[STABLE, stable] as const, ...canaries]))
  .filter((weights) => [...weights.values()].some((w) => w > 0));

const total = (weights: ReadonlyMap<string, number>): number => [...weights.values()].reduce((a, b) => a + b, 0);

describe("buildSplit shares", () => {
  let userBuckets: Int32Array;
  beforeAll(async () => {
    const bucket = await createBucketer();
    const ids = fc.sample(fc.uuid(), { numRuns: 100_000, seed: 20240601 });
    userBuckets = Int32Array.from(ids, (id) => bucket("summarization", id));
  });

  it("gives each version its weight's share of 100,000 random users, within 1 percentage point", () => {
    fc.assert(
      fc.property(weightSets, (weights) => {
        const split = buildSplit(STABLE, weights);
        const seen = new Map<string, number>();
        for (const b of userBuckets) {
          const { version } = pick(split, b);
          seen.set(version, (seen.get(version) ?? 0) + 1);
        }
        for (const [version, w] of weights) {
          expect(Math.abs((seen.get(version) ?? 0) / userBuckets.length - w / total(weights)), version).toBeLessThan(
            0.01,
          );
        }
        expect([...seen.keys()].every((v) => v === STABLE || weights.has(v))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it("normalises to exactly 10,000 buckets by largest remainder", () => {
    fc.assert(
      fc.property(weightSets, (weights) => {
        const { counts } = buildSplit(STABLE, weights);
        expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(BUCKETS);
        for (const [version, w] of weights) {
          const exact = (w * BUCKETS) / total(weights);
          expect(counts.get(version)! - Math.floor(exact)).toBeOneOf([0, 1]);
        }
        const owned = owners(buildSplit(STABLE, weights));
        for (const [version, count] of counts) expect(owned.filter((v) => v === version)).toHaveLength(count);
      }),
    );
    // ties go to the stable version first, then canaries in semver order
    expect(
      buildSplit(
        STABLE,
        new Map([
          ["1.2.0", 1],
          [STABLE, 1],
          ["1.1.0", 1],
        ]),
      ).counts,
    ).toEqual(
      new Map([
        [STABLE, 3334],
        ["1.1.0", 3333],
        ["1.2.0", 3333],
      ]),
    );
  });

  it("sends everything to stable for no weights, all zeros, or only the stable version", () => {
    for (const weights of [
      null,
      new Map([
        [STABLE, 0],
        ["1.1.0", 0],
      ]),
      new Map([[STABLE, 7]]),
    ]) {
      const split = buildSplit(STABLE, weights);
      expect(split.table).toBeNull();
      expect(new Set(owners(split))).toEqual(new Set([STABLE]));
      expect(pick(split, 0)).toEqual({ version: STABLE, variant: "stable" });
    }
  });

  it("labels the stable version stable and every other version canary", () => {
    const split = buildSplit(
      STABLE,
      new Map([
        [STABLE, 50],
        ["1.1.0", 25],
        ["0.9.0", 25],
      ]),
    );
    const variants = new Map(
      Array.from({ length: BUCKETS }, (_, b) => [pick(split, b).version, pick(split, b).variant]),
    );
    expect(variants).toEqual(
      new Map([
        [STABLE, "stable"],
        ["1.1.0", "canary"],
        ["0.9.0", "canary"],
      ]),
    );
  });

  it("never routes to a version the gateway does not know, whatever the hash says", () => {
    const known = new Set([STABLE, "1.1.0"]);
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(STABLE, "1.1.0", "2.0.0", "9.9.9", "x"), fc.nat(1000).map(String)),
        (raw) => {
          const { weights } = parseWeights(raw, known, STABLE);
          expect(isSubset(new Set(owners(buildSplit(STABLE, weights))), known)).toBe(true);
        },
      ),
    );
  });

  it("picks without allocating and sends out-of-range buckets to stable", () => {
    const split = buildSplit(
      STABLE,
      new Map([
        [STABLE, 50],
        ["1.1.0", 50],
      ]),
    );
    for (let b = 0; b < BUCKETS; b++) expect(pick(split, b)).toBe(pick(split, b));
    for (const b of [-1, BUCKETS, 1.5, Number.NaN]) expect(pick(split, b)).toBe(split.stable);
  });

  it("refuses weights that parseWeights never produces", () => {
    expect(() => buildSplit(STABLE, new Map([["1.1.0", -1]]))).toThrow(RangeError);
    expect(() => buildSplit(STABLE, new Map([["1.1.0", 0.5]]))).toThrow(RangeError);
  });
});

describe("buildSplit ramps", () => {
  const ramp = fc.record({
    stable: fc.integer({ min: 1, max: 1000 }),
    steps: fc
      .array(fc.integer({ min: 0, max: 2000 }), { minLength: 2, maxLength: 8 })
      .map((ws) => ws.sort((a, b) => a - b)),
  });
  const twoVersion = (stable: number, canary: number) =>
    buildSplit(
      STABLE,
      new Map([
        [STABLE, stable],
        ["1.1.0", canary],
      ]),
    );

  it("keeps every canary user on the canary as its weight rises (two versions)", () => {
    fc.assert(
      fc.property(ramp, ({ stable, steps }) => {
        const splits = steps.map((w) => bucketsOf(twoVersion(stable, w), "1.1.0"));
        for (let i = 1; i < splits.length; i++) expect(isSubset(splits[i - 1]!, splits[i]!)).toBe(true);
      }),
    );
  });

  it("moves only canary users, to stable, as its weight falls (two versions)", () => {
    fc.assert(
      fc.property(ramp, ({ stable, steps }) => {
        const splits = steps.reverse().map((w) => owners(twoVersion(stable, w)));
        for (let i = 1; i < splits.length; i++) {
          const moves = new Set(
            splits[i]!.flatMap((now, b) => (now === splits[i - 1]![b] ? [] : [`${splits[i - 1]![b]} -> ${now}`])),
          );
          expect([...moves]).toEqual(moves.size === 0 ? [] : [`1.1.0 -> ${STABLE}`]);
        }
      }),
    );
  });

  it("keeps the lowest canary's users whatever the other versions' weights, or the label, become", () => {
    const change = fc
      .integer({ min: 1, max: 9_999 })
      .chain((count) => fc.tuple(fc.constant(count), fc.integer({ min: 0, max: 10_000 - count })));
    fc.assert(
      fc.property(change, ([count, other]) => {
        // 1.9.0 holds `count` buckets in both; the label moves from 1.0.0 to 1.2.0 and 1.10.0 joins
        const before = buildSplit(
          STABLE,
          new Map([
            [STABLE, 10_000 - count],
            ["1.9.0", count],
          ]),
        );
        const after = buildSplit(
          "1.2.0",
          new Map([
            ["1.2.0", other],
            ["1.9.0", count],
            ["1.10.0", 10_000 - count - other],
          ]),
        );
        expect(bucketsOf(after, "1.9.0")).toEqual(bucketsOf(before, "1.9.0"));
      }),
      { numRuns: 50 },
    );
  });

  it("bounds each later canary's churn by the buckets that changed hands before it (3+ versions)", () => {
    const order = ["1.1.0", "1.2.0", "1.10.0"];
    const setting = fc.tuple(fc.nat(100), fc.nat(100), fc.nat(100), fc.nat(100));
    const split = ([s, ...canaries]: number[]) =>
      owners(
        buildSplit(STABLE, new Map([[STABLE, s! + 1], ...order.map((v, i): [string, number] => [v, canaries[i]!])])),
      );
    const bucketsWhere = (owned: string[], test: (version: string) => boolean) =>
      new Set(owned.flatMap((v, b) => (test(v) ? [b] : [])));
    fc.assert(
      fc.property(setting, setting, (x, y) => {
        const [before, after] = [split(x), split(y)];
        for (const [i, version] of order.entries()) {
          const isEarlier = (v: string) => order.indexOf(v) >= 0 && order.indexOf(v) < i;
          const [e, e2] = [bucketsWhere(before, isEarlier), bucketsWhere(after, isEarlier)];
          const bound = Math.max(difference(e2, e), difference(e, e2));
          const [s, s2] = [bucketsWhere(before, (v) => v === version), bucketsWhere(after, (v) => v === version)];
          if (s2.size >= s.size) expect(difference(s, s2), `users leaving ${version}`).toBeLessThanOrEqual(bound);
          if (s2.size <= s.size) expect(difference(s2, s), `users joining ${version}`).toBeLessThanOrEqual(bound);
          if (bound === 0) expect(s2.size >= s.size ? isSubset(s, s2) : isSubset(s2, s)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("buildSplit with independent permutations", () => {
  it("gives a growing earlier canary a later canary's users only in proportion to that canary's share", () => {
    // contiguous ranges would satisfy the bound above yet hand over all of a later canary's users
    const sizes = fc.tuple(fc.nat(3_000), fc.integer({ min: 1, max: 3_000 }), fc.integer({ min: 1, max: 3_000 }));
    fc.assert(
      fc.property(sizes, ([n1, d, n2]) => {
        const before = buildSplit(
          STABLE,
          new Map([
            [STABLE, BUCKETS - n1 - n2],
            ["1.1.0", n1],
            ["1.2.0", n2],
          ]),
        );
        const after = buildSplit(
          STABLE,
          new Map([
            [STABLE, BUCKETS - n1 - d - n2],
            ["1.1.0", n1 + d],
            ["1.2.0", n2],
          ]),
        );
        const lost = difference(bucketsOf(before, "1.2.0"), bucketsOf(after, "1.2.0"));
        const expected = (d * n2) / (BUCKETS - n1);
        expect(lost).toBeLessThanOrEqual(expected + 6 * Math.sqrt(expected) + 10);
      }),
      { numRuns: 60 },
    );
  });
});

describe("layout stability across releases", () => {
  it("keeps the buckets of a pinned split (changing the permutation would move live canary users)", () => {
    const split = buildSplit(
      STABLE,
      new Map([
        [STABLE, 95],
        ["1.1.0", 5],
      ]),
    );
    const canary = [...bucketsOf(split, "1.1.0")].sort((a, b) => a - b);
    expect(canary).toHaveLength(500);
    expect(canary.slice(0, 8)).toEqual([23, 32, 34, 43, 95, 111, 115, 130]);
  });
});
