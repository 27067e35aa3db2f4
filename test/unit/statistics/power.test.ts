// Minimum detectable effect and units needed against scipy (test/reference/power.py).
import { describe, expect, it } from "vitest";
import {
  meanDesign,
  minimumDetectableEffect,
  proportionDesign,
  usersNeeded,
  type PowerDesign,
  type PowerOptions,
} from "../../../gateway/statistics/power.ts";
import { sequentialMeans } from "../../../gateway/statistics/sequential.ts";
import { expectClose } from "../../support/close.ts";

interface Expected {
  fixedHorizon: number;
  sequential: number;
  total: number;
  additional: number;
}

// [design, effect, options, expected], printed by test/reference/power.py.
// prettier-ignore
const CASES: [PowerDesign, number, PowerOptions, Expected][] = [
  [{"controlVariance": 0.0625, "treatmentVariance": 0.0625, "controlN": 60, "treatmentN": 60}, 0.02, {}, {"fixedHorizon": 0.1278742850611253, "sequential": 0.3217641807429267, "total": 9504, "additional": 9384}],
  [{"controlVariance": 0.05, "treatmentVariance": 0.07, "controlN": 4000, "treatmentN": 1000}, 0.03, {}, {"fixedHorizon": 0.025446661432962082, "sequential": 0.03521305920094667, "total": 6909, "additional": 1909}],
  [{"controlVariance": 0.0475, "treatmentVariance": 0.0475, "controlN": 9500, "treatmentN": 500}, 0.01, {"alpha": 0.01, "power": 0.9, "tuningN": 2000}, {"fixedHorizon": 0.03857380869093501, "sequential": 0.04957495890925087, "total": 287295, "additional": 277295}],
  [{"controlVariance": 0.09, "treatmentVariance": 0.08, "controlN": 50000, "treatmentN": 50000}, 0.05, {}, {"fixedHorizon": 0.00516586789385742, "sequential": 0.007704734151905082, "total": 2126, "additional": 0}],
];

describe("minimumDetectableEffect and usersNeeded", () => {
  it.each(CASES)("match scipy for %j, effect %d", (design, effect, options, expected) => {
    const mde = minimumDetectableEffect(design, options);
    expectClose(mde.fixedHorizon, expected.fixedHorizon, 1e-9);
    expectClose(mde.sequential, expected.sequential, 1e-9);
    expect(usersNeeded(design, effect, options)).toEqual({ total: expected.total, additional: expected.additional });
  });

  it("agrees with the sequential interval the verdict is drawn from", () => {
    // At power 0.5 the units needed are where the interval's half-width reaches the effect: a difference just
    // above the effect is significant there, one just below it is not with a few units fewer.
    const design: PowerDesign = { controlVariance: 0.0625, treatmentVariance: 0.0625, controlN: 100, treatmentN: 100 };
    const { total } = usersNeeded(design, 0.03, { power: 0.5 });
    /** n scores with mean m and sample variance 0.0625. */
    const arm = (n: number, m: number) => ({ n, sum: m * n, sumSq: 0.0625 * (n - 1) + m * m * n });
    const [enough, fewer] = [Math.ceil(total / 2), Math.floor(total / 2) - 20];
    expect(sequentialMeans(arm(enough, 0.6), arm(enough, 0.6301))!.significant).toBe(true);
    expect(sequentialMeans(arm(fewer, 0.6), arm(fewer, 0.6299))!.significant).toBe(false);
  });

  it("builds designs from summaries, never with zero variance for rates", () => {
    expect(meanDesign({ n: 1, sum: 1, sumSq: 1 }, { n: 3, sum: 1, sumSq: 1 })).toBeNull();
    const d = meanDesign({ n: 3, sum: 1.5, sumSq: 0.89 }, { n: 5, sum: 4.1, sumSq: 3.55 })!;
    expectClose(d.controlVariance, (0.89 - 0.75) / 2, 1e-12);
    const rates = proportionDesign({ n: 100, x: 0 }, { n: 100, x: 0 })!;
    expectClose(rates.controlVariance, (0.5 / 201) * (1 - 0.5 / 201), 1e-12);
    expect(proportionDesign({ n: 0, x: 0 }, { n: 100, x: 0 })).toBeNull();
  });

  it("rejects what has no answer", () => {
    const design: PowerDesign = { controlVariance: 0.06, treatmentVariance: 0.06, controlN: 10, treatmentN: 0 };
    expect(() => minimumDetectableEffect(design)).toThrow(/both arms/);
    expect(() => usersNeeded({ ...design, treatmentN: 10 }, 0)).toThrow(/effect/);
    expect(() => usersNeeded({ ...design, treatmentN: 10 }, 0.1, { power: 1 })).toThrow(/power/);
  });
});
