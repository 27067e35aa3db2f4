// parseWeights drops each bad entry with a problem and keeps the rest; validateWeights refuses exactly those.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_WEIGHT,
  MAX_WEIGHTS_ENTRY_BYTES,
  MAX_WEIGHTS_FIELDS,
  parseWeights,
  validateWeights,
} from "../../../gateway/split/weights.ts";

const known = new Set(["1.0.0", "1.1.0", "1.2.0", "2.0.0"]);

const bad: Record<string, [version: string, raw: string, problem: RegExp]> = {
  "non-numeric": ["1.1.0", "ten", /"ten" for 1\.1\.0 is not a number/],
  empty: ["1.1.0", "", /"" for 1\.1\.0 is not a number/],
  negative: ["1.1.0", "-5", /"-5" for 1\.1\.0 is negative/],
  "non-integer": ["1.1.0", "2.5", /"2\.5" for 1\.1\.0 is not an integer/],
  exponent: ["1.1.0", "1e3", /"1e3" for 1\.1\.0 is not an integer/],
  "too large": ["1.1.0", String(MAX_WEIGHT + 1), /above the maximum/],
  "unknown version": ["9.9.9", "5", /"9\.9\.9" is not registered/],
};

describe("parseWeights", () => {
  it("reads the hash an SRE writes with redis-cli, stable version included", () => {
    expect(parseWeights({ "1.0.0": "95", "1.1.0": "5" }, known, "1.0.0")).toEqual({
      weights: new Map([
        ["1.0.0", 95],
        ["1.1.0", 5],
      ]),
      problems: [],
      notes: [],
    });
    expect(parseWeights({ "1.0.0": " 90 ", "1.1.0": "0", "1.2.0": "10" }, known, "1.0.0").weights).toEqual(
      new Map([
        ["1.0.0", 90],
        ["1.1.0", 0],
        ["1.2.0", 10],
      ]),
    );
  });

  for (const [kind, [version, raw, problem]] of Object.entries(bad)) {
    it(`ignores a ${kind} entry with one problem and keeps the others`, () => {
      const parsed = parseWeights({ "1.0.0": "95", [version]: raw, "1.2.0": "5" }, known, "1.0.0");
      expect(parsed.weights).toEqual(
        new Map([
          ["1.0.0", 95],
          ["1.2.0", 5],
        ]),
      );
      expect(parsed.problems).toHaveLength(1);
      expect(parsed.problems[0]).toMatch(problem);
    });
  }

  it("means 100% stable (null) for an empty hash, all zeros, or nothing usable", () => {
    expect(parseWeights({}, known, "1.0.0")).toEqual({ weights: null, problems: [], notes: [] });
    expect(parseWeights({ "1.0.0": "0", "1.1.0": "0" }, known, "1.0.0")).toEqual({
      weights: null,
      problems: [],
      notes: [],
    });
    const unusable = parseWeights({ "1.1.0": "x", "9.9.9": "5" }, known, "1.0.0");
    expect(unusable.weights).toBeNull();
    expect(unusable.problems).toHaveLength(2);
  });

  it("serves a hash without the stable version as written (no problem), with a note", () => {
    const parsed = parseWeights({ "1.1.0": "5" }, known, "1.0.0");
    expect(parsed.weights).toEqual(new Map([["1.1.0", 5]]));
    expect(parsed.problems).toEqual([]);
    expect(parsed.notes).toEqual([expect.stringMatching(/stable version 1\.0\.0 is not in the hash.*"1\.0\.0 0"/)]);
    expect(parseWeights({ "1.0.0": "0", "1.1.0": "5" }, known, "1.0.0").notes).toEqual([]);
  });

  it("refuses a hash of more than MAX_WEIGHTS_FIELDS versions whole, with one problem, without reading its entries", () => {
    const many = new Set(Array.from({ length: MAX_WEIGHTS_FIELDS + 1 }, (_, i) => `1.0.${i}`));
    const raw = Object.fromEntries([...many].map((v) => [v, "1"]));
    expect(parseWeights(raw, many, "1.0.0")).toEqual({
      weights: null,
      problems: [`the hash has ${MAX_WEIGHTS_FIELDS + 1} versions, more than the ${MAX_WEIGHTS_FIELDS} allowed`],
      notes: [],
    });
    delete raw["1.0.1"];
    expect(parseWeights(raw, many, "1.0.0").weights?.size).toBe(MAX_WEIGHTS_FIELDS);
    expect(validateWeights({ ...raw, "1.0.1": "1" }, many, "1.0.0").ok).toBe(false);
  });

  it("refuses a weight text longer than MAX_WEIGHTS_ENTRY_BYTES, even one that is a number once trimmed", () => {
    const padded = "5".padStart(MAX_WEIGHTS_ENTRY_BYTES + 1, " ");
    const parsed = parseWeights({ "1.0.0": "95", "1.1.0": padded }, known, "1.0.0");
    expect(parsed.weights).toEqual(new Map([["1.0.0", 95]]));
    expect(parsed.problems).toEqual([
      `the weight for 1.1.0 is ${MAX_WEIGHTS_ENTRY_BYTES + 1} bytes long, more than the ${MAX_WEIGHTS_ENTRY_BYTES} allowed`,
    ]);
    expect(parseWeights({ "1.0.0": "95", "1.1.0": padded.slice(1) }, known, "1.0.0").problems).toEqual([]);
  });

  it("keeps exactly the valid entries of any hash, with one problem per other entry", () => {
    const entry = fc.oneof(
      fc.record({
        version: fc.constantFrom(...known),
        raw: fc.integer({ min: 0, max: MAX_WEIGHT }).map(String),
        valid: fc.constant(true),
      }),
      fc.record({
        version: fc.constantFrom(...known),
        raw: fc.constantFrom("ten", "", " ", "-5", "-0.5", "2.5", "1e3", "0x10", "NaN", String(MAX_WEIGHT + 1)),
        valid: fc.constant(false),
      }),
      fc.record({
        version: fc.string().filter((v) => !known.has(v)),
        raw: fc.nat().map(String),
        valid: fc.constant(false),
      }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.version, maxLength: 6 }), (entries) => {
        const raw = Object.fromEntries(entries.map((e) => [e.version, e.raw]));
        const { weights, problems } = parseWeights({ ...raw, "1.0.0": "1" }, known, "1.0.0");
        const valid = entries.filter((e) => e.valid && e.version !== "1.0.0");
        expect(weights).toEqual(
          new Map([["1.0.0", 1], ...valid.map((e): [string, number] => [e.version, Number(e.raw)])]),
        );
        expect(problems).toHaveLength(entries.filter((e) => !e.valid && e.version !== "1.0.0").length);
      }),
    );
  });
});

describe("validateWeights", () => {
  it("accepts what the gateway serves unchanged, including all zeros", () => {
    expect(validateWeights({ "1.0.0": "90", "1.1.0": "10" }, known, "1.0.0")).toEqual({
      ok: true,
      weights: new Map([
        ["1.0.0", 90],
        ["1.1.0", 10],
      ]),
    });
    expect(validateWeights({ "1.0.0": "0", "1.1.0": "0" }, known, "1.0.0")).toEqual({ ok: true, weights: null });
  });

  it("refuses anything the gateway would ignore, with every reason", () => {
    const result = validateWeights({ "1.0.0": "90", "1.1.0": "2.5", "9.9.9": "5", "1.2.0": "-1" }, known, "1.0.0");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reasons).toEqual([
      expect.stringMatching(/not an integer/),
      expect.stringMatching(/not registered/),
      expect.stringMatching(/negative/),
    ]);
  });

  it("refuses a hash that would give the stable version nothing unless it says so with 0", () => {
    expect(validateWeights({ "1.1.0": "100" }, known, "1.0.0")).toEqual({
      ok: false,
      reasons: [expect.stringMatching(/stable version 1\.0\.0/)],
    });
    expect(validateWeights({ "1.0.0": "0", "1.1.0": "100" }, known, "1.0.0")).toEqual({
      ok: true,
      weights: new Map([
        ["1.0.0", 0],
        ["1.1.0", 100],
      ]),
    });
  });
});
