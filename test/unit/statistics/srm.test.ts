// Sample-ratio mismatch against scipy (test/reference/srm.py), and a simulation: a correct split of a million users
// counted by a HyperLogLog-like counter does not alarm, while Pearson's test on the same noisy counts does.
import { describe, expect, it } from "vitest";
import { HYPERLOGLOG_RELATIVE_ERROR, sampleRatioMismatch } from "../../../gateway/statistics/srm.ts";
import { expectClose } from "../../support/close.ts";
import { seededNormal, seededUniform } from "../../support/random.ts";

// [observed, shares, statistic, p], scipy.stats.chisquare; printed by test/reference/srm.py.
// prettier-ignore
const PEARSON: [number[], number[], number, number][] = [
  [[5020, 4980], [1, 1], 0.16, 0.6891565167793516],
  [[5300, 4700], [0.5, 0.5], 36.0, 1.9731752900753933e-09],
  [[9480, 520], [95, 5], 0.8421052631578948, 0.3587953578869416],
  [[3100, 2950, 4000], [0.3, 0.3, 0.4], 3.897180762852405, 0.1424747651778668],
  [[120, 80, 15, 5], [0.5, 0.3, 0.15, 0.05], 16.96969696969697, 0.0007169569044696687],
];
// [observed, shares, eps, statistic, p], the numpy implementation in test/reference/srm.py.
// prettier-ignore
const COUNTER_AWARE: [number[], number[], number, number, number][] = [
  [[502000, 498000], [1, 1], 0.0081, 0.47329541714839374, 0.4914750162949624],
  [[515000, 485000], [1, 1], 0.0081, 26.60004871651145, 2.5023744349723585e-07],
  [[951500, 48500], [95, 5], 0.0081, 6.710723994101241, 0.009583480808837154],
  [[5020, 4980], [1, 1], 0.0081, 0.12047691550827597, 0.7285178107955324],
  [[310000, 296000, 399000], [0.3, 0.3, 0.4], 0.0081, 16.76556079077182, 0.00022877298101849956],
  [[530000, 470000], [1, 1], 0.02, 17.846519928613922, 2.394567912748596e-05],
];

describe("sampleRatioMismatch", () => {
  it.each(PEARSON)("equals Pearson's chi-square with exact counts: %j vs %j", (observed, shares, statistic, p) => {
    const r = sampleRatioMismatch(observed, shares, 0)!;
    expectClose(r.statistic, statistic, 1e-9);
    expectClose(r.pValue, p, 1e-6);
    expect(r.df).toBe(observed.length - 1);
    expect(r.mismatch).toBe(p < 0.001);
  });

  it.each(COUNTER_AWARE)("carries the counter's error: %j vs %j, eps %d", (observed, shares, eps, statistic, p) => {
    const r = sampleRatioMismatch(observed, shares, eps)!;
    expectClose(r.statistic, statistic, 1e-9);
    expectClose(r.pValue, p, 1e-6);
  });

  it("reports the expected counts and rejects what cannot be tested", () => {
    expect(sampleRatioMismatch([600, 400], [3, 1])!.expected).toEqual([750, 250]);
    expect(sampleRatioMismatch([0, 0], [1, 1])).toBeNull();
    expect(sampleRatioMismatch([10], [1])).toBeNull();
    expect(() => sampleRatioMismatch([10, 20], [1])).toThrow(/same length/);
    expect(() => sampleRatioMismatch([10, 20], [1, 0])).toThrow(/expectedShares\[1\]/);
    expect(() => sampleRatioMismatch([10, -1], [1, 1])).toThrow(/observed\[1\]/);
    expect(() => sampleRatioMismatch([10, 20], [1, 1], -0.1)).toThrow(/eps/);
  });

  describe("a correct split of 1,000,000 users counted by a HyperLogLog-like counter", () => {
    const RUNS = 20_000;
    const USERS = 1_000_000;

    /** Alarm rates over seeded runs: the counter-aware test, and Pearson's on the same noisy counts. */
    function alarmRates(share: number, seed: number): { aware: number; pearson: number } {
      const normal = seededNormal(seededUniform(seed));
      let [aware, pearson] = [0, 0];
      for (let run = 0; run < RUNS; run++) {
        // The true split (binomial, by its normal limit at this size), then each count's own relative error.
        const first = Math.round(USERS * share + Math.sqrt(USERS * share * (1 - share)) * normal());
        const truth = [first, USERS - first];
        const counted = truth.map((t) => Math.round(t * (1 + HYPERLOGLOG_RELATIVE_ERROR * normal())));
        if (sampleRatioMismatch(counted, [share, 1 - share], HYPERLOGLOG_RELATIVE_ERROR)!.mismatch) aware++;
        if (sampleRatioMismatch(counted, [share, 1 - share], 0)!.mismatch) pearson++;
      }
      return { aware: aware / RUNS, pearson: pearson / RUNS };
    }

    it("50/50: alarms at about the nominal 0.1%, where plain Pearson alarms almost always", () => {
      const { aware, pearson } = alarmRates(0.5, 14);
      // 20,000 runs at 0.1% expect 20 alarms (sd 4.5).
      expect(aware).toBeLessThanOrEqual(0.0025);
      expect(pearson).toBeGreaterThan(0.5);
    });

    it("95/5: the same", () => {
      const { aware, pearson } = alarmRates(0.95, 1401);
      expect(aware).toBeLessThanOrEqual(0.0025);
      expect(pearson).toBeGreaterThan(0.1);
    });

    it("still alarms on a real skew, and says what the counter costs", () => {
      // The counter's error on each count (~4,000 users at 500,000) hides a 1-point skew at this size; 2 points
      // (20,000 users) still alarms. Exact counting sees far smaller skews.
      expect(sampleRatioMismatch([505_000, 495_000], [1, 1], HYPERLOGLOG_RELATIVE_ERROR)!.mismatch).toBe(false);
      expect(sampleRatioMismatch([510_000, 490_000], [1, 1], HYPERLOGLOG_RELATIVE_ERROR)!.mismatch).toBe(true);
      expect(sampleRatioMismatch([502_000, 498_000], [1, 1], 0)!.mismatch).toBe(true);
    });
  });
});
