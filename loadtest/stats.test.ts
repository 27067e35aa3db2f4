import { describe, expect, it } from "vitest";
import { median, percentileSorted, ratio, rotated } from "./stats.ts";

describe("median", () => {
  it("takes the middle value, or the mean of the two middle ones, whatever the input order", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("percentileSorted", () => {
  it("interpolates between samples and clamps to the ends", () => {
    const s = Float64Array.from([1, 2, 3, 4]);
    expect(percentileSorted(s, 50)).toBe(2.5);
    expect(percentileSorted(s, 0)).toBe(1);
    expect(percentileSorted(s, 100)).toBe(4);
    expect(percentileSorted([7], 99)).toBe(7);
    expect(percentileSorted([], 50)).toBeNaN();
  });
});

describe("rotated", () => {
  it("gives every target every slot over as many rounds as there are targets", () => {
    const t = ["direct", "bare", "gateway"];
    expect([0, 1, 2, 3].map((r) => rotated(t, r))).toEqual([
      ["direct", "bare", "gateway"],
      ["bare", "gateway", "direct"],
      ["gateway", "direct", "bare"],
      ["direct", "bare", "gateway"],
    ]);
  });
});

describe("ratio", () => {
  it("refuses quotients that mean nothing", () => {
    expect(ratio(3, 4)).toBe(0.75);
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(1, -0.1)).toBeNull();
    expect(ratio(Number.NaN, 1)).toBeNull();
  });
});
