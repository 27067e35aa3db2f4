// Two-proportion test against scipy (test/reference/proportions.py): pooled z p-value, Newcombe's hybrid interval.
import { describe, expect, it } from "vitest";
import { twoProportions, wilsonInterval } from "../../../gateway/statistics/proportions.ts";
import type { ProportionSummary } from "../../../gateway/statistics/summaries.ts";
import { expectClose } from "../../support/close.ts";

interface Expected {
  diff: number;
  pValue: number;
  ciLow: number;
  ciHigh: number;
}

// [control, treatment, alpha, expected], printed by test/reference/proportions.py.
// prettier-ignore
const CASES: [ProportionSummary, ProportionSummary, number, Expected][] = [
  [{"n": 1000, "x": 52}, {"n": 980, "x": 31}, 0.05, {"diff": -0.02036734693877551, "pValue": 0.023757058391943923, "ciLow": -0.03847034674544285, "ciHigh": -0.002649790749047847}],
  [{"n": 56, "x": 9}, {"n": 48, "x": 3}, 0.05, {"diff": -0.09821428571428573, "pValue": 0.11808438348543308, "ciLow": -0.22252388664812645, "ciHigh": 0.03081966802522365}],
  [{"n": 200, "x": 0}, {"n": 210, "x": 4}, 0.05, {"diff": 0.01904761904761905, "pValue": 0.049833387204382004, "ciLow": -0.0030901112867838185, "ciHigh": 0.0479433819242079}],
  [{"n": 150, "x": 0}, {"n": 150, "x": 0}, 0.05, {"diff": 0.0, "pValue": 1.0, "ciLow": -0.024970244368076596, "ciHigh": 0.024970244368076596}],
  [{"n": 250000, "x": 12500}, {"n": 250000, "x": 13400}, 0.01, {"diff": 0.003599999999999999, "pValue": 9.298585875582866e-09, "ciLow": 0.0019854636621075604, "ciHigh": 0.00521495386002786}],
  [{"n": 30, "x": 30}, {"n": 40, "x": 35}, 0.05, {"diff": -0.125, "pValue": 0.044474348283052974, "ciLow": -0.261121198388511, "ciHigh": 0.008574526394488163}],
];

describe("twoProportions", () => {
  it.each(CASES)("matches scipy for control %j and treatment %j", (control, treatment, alpha, expected) => {
    const r = twoProportions(control, treatment, alpha)!;
    expectClose(r.diff, expected.diff, 1e-12, 1e-15);
    expectClose(r.pValue, expected.pValue, 1e-6);
    expectClose(r.ciLow, expected.ciLow, 1e-9);
    expectClose(r.ciHigh, expected.ciHigh, 1e-9);
    expect(r.significant).toBe(expected.pValue < alpha);
  });

  it("gives a real interval at zero events, where Wald's would be a point", () => {
    const [low, high] = wilsonInterval(0, 150, 1.959963984540054);
    expect(low).toBe(0);
    expect(high).toBeGreaterThan(0.02);
  });

  it("is null for an empty arm and rejects impossible counts", () => {
    expect(twoProportions({ n: 0, x: 0 }, { n: 10, x: 1 })).toBeNull();
    expect(() => twoProportions({ n: 5, x: 6 }, { n: 10, x: 1 })).toThrow(/control\.x/);
    expect(() => twoProportions({ n: 5, x: 1 }, { n: -10, x: 1 })).toThrow(/treatment\.n/);
  });
});
