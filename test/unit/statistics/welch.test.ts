// Welch's t-test against scipy.stats.ttest_ind_from_stats(equal_var=False) (test/reference/welch.py).
import { describe, expect, it } from "vitest";
import { StatisticsError, type MeanSummary } from "../../../gateway/statistics/summaries.ts";
import { welch } from "../../../gateway/statistics/welch.ts";
import { expectClose } from "../../support/close.ts";

interface Expected {
  diff: number;
  df: number;
  t: number;
  pValue: number;
  ciLow: number;
  ciHigh: number;
}

// [control, treatment, alpha, expected], printed by test/reference/welch.py.
// prettier-ignore
const CASES: [MeanSummary, MeanSummary, number, Expected][] = [
  [{"n": 400, "sum": 236.97783524240486, "sumSq": 148.07965118309505}, {"n": 380, "sum": 242.7355933962803, "sumSq": 163.18463482223254}, 0.05, {"diff": 0.04633328925262015, "df": 769.4820642574549, "t": 4.530396161742088, "pValue": 6.8223709939627125e-06, "ciLow": 0.026256757509435003, "ciHigh": 0.0664098209958053}],
  [{"n": 3, "sum": 1.5, "sumSq": 0.89}, {"n": 5, "sum": 4.1, "sumSq": 3.55}, 0.05, {"diff": 0.31999999999999995, "df": 3.6405933230394036, "t": 1.7687027936602078, "pValue": 0.15870521599007578, "ciLow": -0.20249946067961067, "ciHigh": 0.8424994606796106}],
  [{"n": 1000000, "sum": 700000.0, "sumSq": 529999.96}, {"n": 1000000, "sum": 700500.0, "sumSq": 530800.2099}, 0.05, {"diff": 0.000500000000000056, "df": 1999994.8828058518, "t": 1.7666631333441312, "pValue": 0.0772848135141204, "ciLow": -5.4708233190273506e-05, "ciHigh": 0.0010547082331903855}],
  [{"n": 2000, "sum": 1603.290755119866, "sumSq": 1313.7097026060958}, {"n": 45, "sum": 27.31928157370086, "sumSq": 17.76396793837033}, 0.01, {"diff": -0.19455023147769157, "df": 45.05778236580201, "t": -7.926984462182193, "pValue": 4.3650779088776694e-10, "ciLow": -0.2605563973403682, "ciHigh": -0.12854406561501494}],
  [{"n": 300, "sum": 150.46716903347067, "sumSq": 78.45451285570795}, {"n": 300, "sum": 183.6042733746138, "sumSq": 115.78784113016744}, 0.05, {"diff": 0.11045701447047707, "df": 595.2828813192662, "t": 13.070588642424873, "pValue": 1.6735209079508577e-34, "ciLow": 0.0938599933825126, "ciHigh": 0.12705403555844155}],
];

describe("welch", () => {
  it.each(CASES)("matches scipy for control %j and treatment %j", (control, treatment, alpha, expected) => {
    const r = welch(control, treatment, alpha)!;
    // The million-per-arm case loses digits to sumSq - sum^2/n in both implementations alike.
    const rel = control.n >= 1e6 ? 1e-7 : 1e-9;
    expectClose(r.diff, expected.diff, rel);
    expectClose(r.df, expected.df, rel);
    expectClose(r.t, expected.t, rel);
    expectClose(r.pValue, expected.pValue, 1e-6);
    expectClose(r.ciLow, expected.ciLow, rel * 100);
    expectClose(r.ciHigh, expected.ciHigh, rel * 100);
    expect(r.significant).toBe(expected.pValue < alpha);
    expect(r.controlMean).toBeCloseTo(control.sum / control.n, 12);
  });

  it("is undefined (null) with fewer than two observations or no variance", () => {
    expect(welch({ n: 1, sum: 0.5, sumSq: 0.25 }, { n: 10, sum: 5, sumSq: 3 })).toBeNull();
    expect(welch({ n: 4, sum: 2, sumSq: 1 }, { n: 4, sum: 4, sumSq: 4 })).toBeNull();
  });

  it("rejects summaries no data could produce", () => {
    expect(() => welch({ n: -1, sum: 0, sumSq: 0 }, { n: 2, sum: 1, sumSq: 1 })).toThrow(StatisticsError);
    expect(() => welch({ n: 2.5, sum: 0, sumSq: 0 }, { n: 2, sum: 1, sumSq: 1 })).toThrow(/control\.n/);
    expect(() => welch({ n: 2, sum: 2, sumSq: 1 }, { n: 2, sum: 1, sumSq: 1 })).toThrow(/control\.sumSq/);
    expect(() => welch({ n: 2, sum: 1, sumSq: 1 }, { n: 2, sum: Number.NaN, sumSq: 1 })).toThrow(/treatment\.sum/);
    expect(() => welch({ n: 2, sum: 1, sumSq: 1 }, { n: 2, sum: 1, sumSq: 1 }, 1)).toThrow(/alpha/);
  });
});
