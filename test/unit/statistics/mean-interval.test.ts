// One mean's t interval against scipy (test/reference/mean_interval.py).
import { describe, expect, it } from "vitest";
import { meanInterval } from "../../../gateway/statistics/mean-interval.ts";
import type { MeanSummary } from "../../../gateway/statistics/summaries.ts";
import { expectClose } from "../../support/close.ts";

// [summary, alpha, [mean, low, high]], printed by test/reference/mean_interval.py.
// prettier-ignore
const CASES: [MeanSummary, number, [number, number, number]][] = [
  [{"n": 2, "sum": 3.0, "sumSq": 5.0}, 0.05, [1.5, -4.853102368087347, 7.853102368087347]],
  [{"n": 50, "sum": 12500.0, "sumSq": 3400000.0}, 0.05, [250.0, 228.70941595242462, 271.2905840475754]],
  [{"n": 1000, "sum": 4210.0, "sumSq": 19000.0}, 0.01, [4.21, 4.117769803823896, 4.302230196176104]],
  [{"n": 250000, "sum": 31000000.0, "sumSq": 4100000000.0}, 0.05, [124.0, 123.87456144680533, 124.12543855319467]],
];

describe("meanInterval", () => {
  it.each(CASES)("matches scipy's t interval for %j at alpha %s", (s, alpha, [mean, low, high]) => {
    const r = meanInterval(s, alpha)!;
    expectClose(r.mean, mean, 1e-12);
    expectClose(r.low, low, 1e-9);
    expectClose(r.high, high, 1e-9);
  });

  it("is null below two observations, and rejects impossible summaries", () => {
    expect(meanInterval({ n: 1, sum: 4, sumSq: 16 })).toBeNull();
    expect(meanInterval({ n: 0, sum: 0, sumSq: 0 })).toBeNull();
    expect(() => meanInterval({ n: 3, sum: 30, sumSq: 10 })).toThrow(/sumSq/);
  });
});
