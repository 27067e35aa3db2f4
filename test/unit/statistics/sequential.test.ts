// The asymptotic confidence sequence against an independent numpy implementation (test/reference/sequential.py).
import { describe, expect, it } from "vitest";
import {
  confidenceSequence,
  DEFAULT_TUNING_N,
  sequentialHalfWidth,
  sequentialMeans,
  sequentialProportions,
  sequentialRho,
  type SequentialOptions,
} from "../../../gateway/statistics/sequential.ts";
import type { MeanSummary, ProportionSummary } from "../../../gateway/statistics/summaries.ts";
import { welch } from "../../../gateway/statistics/welch.ts";
import { expectClose } from "../../support/close.ts";

interface Expected {
  diff: number;
  halfWidth: number;
  low: number;
  high: number;
  pValue: number;
}
type Options = Required<SequentialOptions>;

// Printed by test/reference/sequential.py.
// prettier-ignore
const RHO: [number, number, number][] = [[0.05, 5000, 0.03984006677137368], [0.05, 1000, 0.08908509752892212], [0.01, 20000, 0.02401430963062984]];
// prettier-ignore
const MEANS: [MeanSummary, MeanSummary, Options, Expected][] = [
  [{"n": 800, "sum": 487.12602650728263, "sumSq": 340.7266244289376}, {"n": 780, "sum": 499.6885651507381, "sumSq": 359.37832722813664}, {"alpha": 0.05, "tuningN": 5000}, {"diff": 0.031718832443766054, "halfWidth": 0.03680339014262922, "low": -0.005084557698863165, "high": 0.06852222258639527, "pValue": 0.12697616683084412}],
  [{"n": 40, "sum": 28.273940730494594, "sumSq": 21.139704104141792}, {"n": 35, "sum": 22.992088606085048, "sumSq": 16.049891267847794}, {"alpha": 0.05, "tuningN": 5000}, {"diff": -0.04993170094564914, "halfWidth": 0.2967686217070214, "low": -0.34670032265267053, "high": 0.24683692076137226, "pValue": 0.9702902563604161}],
  [{"n": 20000, "sum": 9906.964258276992, "sumSq": 6402.508497017589}, {"n": 5000, "sum": 2290.2492464008337, "sumSq": 1408.9677994124272}, {"alpha": 0.01, "tuningN": 2000}, {"diff": -0.037298363633682885, "halfWidth": 0.016097399174974908, "low": -0.05339576280865779, "high": -0.021200964458707977, "pValue": 3.4700123774055524e-16}],
  [{"n": 3000, "sum": 1789.5938048369458, "sumSq": 1234.155310996572}, {"n": 3100, "sum": 1895.1538530650155, "sumSq": 1325.5137120853058}, {"alpha": 0.05, "tuningN": 1000}, {"diff": 0.014808684322635934, "halfWidth": 0.019036425196238483, "low": -0.004227740873602549, "high": 0.033845109518874414, "pValue": 0.3524412007991621}],
];
// prettier-ignore
const PROPORTIONS: [ProportionSummary, ProportionSummary, Options, Expected][] = [
  [{"n": 2000, "x": 97}, {"n": 2100, "x": 60}, {"alpha": 0.05, "tuningN": 5000}, {"diff": -0.01992857142857143, "halfWidth": 0.018309747053284288, "low": -0.038238318481855715, "high": -0.001618824375287143, "pValue": 0.023873460115992833}],
  [{"n": 300, "x": 40}, {"n": 320, "x": 35}, {"alpha": 0.05, "tuningN": 5000}, {"diff": -0.02395833333333333, "halfWidth": 0.09634749262984413, "low": -0.12030582596317746, "high": 0.0723891592965108, "pValue": 1.0}],
  [{"n": 40000, "x": 780}, {"n": 40000, "x": 1519}, {"alpha": 0.05, "tuningN": 5000}, {"diff": 0.018475000000000002, "halfWidth": 0.003899398391077051, "low": 0.01457560160892295, "high": 0.022374398391077053, "pValue": 1.5777062429045611e-52}],
];

function expectResult(actual: Expected | null, expected: Expected, alpha: number): void {
  expect(actual).not.toBeNull();
  const r = actual!;
  for (const key of ["diff", "halfWidth", "low", "high"] as const) expectClose(r[key], expected[key], 1e-9);
  expectClose(r.pValue, expected.pValue, 1e-6);
  // The interval and the always-valid p-value agree on significance.
  expect(r.low > 0 || r.high < 0).toBe(expected.pValue < alpha);
}

describe("confidence sequence (Waudby-Smith et al., arXiv 2103.06476)", () => {
  it("derives rho from alpha and N*", () => {
    for (const [alpha, n, rho] of RHO) expectClose(sequentialRho(alpha, n), rho, 1e-12);
    expect(DEFAULT_TUNING_N).toBe(5000);
  });

  it("is near its narrowest at N* with the closed-form rho", () => {
    // scipy.optimize's width-minimising rho at n = 5000 (alpha 0.05) is 0.04053, giving 0.0429231128 per unit sd.
    expectClose(sequentialHalfWidth(1, 5000, 0.05, sequentialRho(0.05, 5000)), 0.04292433718826846, 1e-12);
    expect(sequentialHalfWidth(1, 5000, 0.05, sequentialRho(0.05, 5000))).toBeLessThan(0.042923112801449656 * 1.0001);
  });

  it.each(MEANS)("matches the numpy reference for means %j vs %j", (control, treatment, options, expected) => {
    expectResult(sequentialMeans(control, treatment, options), expected, options.alpha);
  });

  it.each(PROPORTIONS)("matches the numpy reference for rates %j vs %j", (control, treatment, options, expected) => {
    expectResult(sequentialProportions(control, treatment, options), expected, options.alpha);
  });

  it("is wider than the fixed-horizon interval: the price of looking at any time", () => {
    const [control, treatment] = [MEANS[0]![0], MEANS[0]![1]];
    const fixed = welch(control, treatment)!;
    const seq = sequentialMeans(control, treatment)!;
    expect(seq.low).toBeLessThan(fixed.ciLow);
    expect(seq.high).toBeGreaterThan(fixed.ciHigh);
  });

  it("is null when an arm is empty or nothing varies", () => {
    expect(sequentialMeans({ n: 1, sum: 1, sumSq: 1 }, { n: 5, sum: 2, sumSq: 1 })).toBeNull();
    expect(sequentialProportions({ n: 10, x: 0 }, { n: 10, x: 0 })).toBeNull();
    expect(
      confidenceSequence({ diff: 0, controlVariance: 1, treatmentVariance: 1, controlN: 0, treatmentN: 3 }),
    ).toBeNull();
    expect(() => sequentialRho(0.05, 0)).toThrow(/tuningN/);
  });
});
