import { describe, expect, it } from "vitest";
import { armObservation } from "../../../gateway/rollouts/observation.ts";
import { emptyStats } from "../../../gateway/stats/aggregate-stats.ts";

describe("armObservation", () => {
  it("reads users, errors, the histogram, cost in USD and quality scores from a step's aggregates", () => {
    const s = emptyStats("1.1.0");
    s.requests = 40;
    s.errors = 3;
    s.latency.counts[5] = 40;
    s.latency.bucketed = 40;
    Object.assign(s.costSquares, { n: 2, sum: 300, sumSq: 45_000 }); // 150 and 150 milli-cents
    s.feedback.quality = { n: 2, sumMicro: 1_500_000, sumSqMicro: 1_250_000, up: 0, down: 0 };
    const a = armObservation(s, 25);
    expect(a).toMatchObject({ users: 25, requests: 40, errors: 3, cost: { n: 2, sum: 0.003 } });
    expect(a.cost!.sumSq).toBeCloseTo(4.5e-6, 15);
    expect(a.quality).toEqual({ n: 2, sum: 1.5, sumSq: 1.25 });
    expect(a.latency!.counts[5]).toBe(40);
    expect(armObservation(emptyStats("1.0.0"), 0)).toMatchObject({ latency: null, cost: null, quality: { n: 0 } });
  });
});
