// A/A experiments looked at after every batch of users: the always-valid interval's false-positive rate stays at
// or below alpha (1.6% with these seeds), while the fixed-horizon p-value, checked at every look, fires in 28-30%.
import { describe, expect, it } from "vitest";
import { sequentialMeans, sequentialProportions } from "../../../gateway/statistics/sequential.ts";
import { twoProportions } from "../../../gateway/statistics/proportions.ts";
import { welch } from "../../../gateway/statistics/welch.ts";
import { seededNormal, seededUniform } from "../../support/random.ts";

const EXPERIMENTS = 1000;
const LOOKS = 40;
const BATCH = 50; // users per arm between looks: 2,000 per arm at the last look
const ALPHA = 0.05;
// Monte Carlo slack: three standard errors of a rate of alpha over EXPERIMENTS runs.
const SLACK = 3 * Math.sqrt((ALPHA * (1 - ALPHA)) / EXPERIMENTS);

describe("A/A experiments under continuous monitoring", () => {
  it("quality scores: sequential <= alpha, fixed horizon with peeking well above", () => {
    const uniform = seededUniform(2103);
    const normal = seededNormal(uniform);
    let [sequential, peeking] = [0, 0];
    for (let e = 0; e < EXPERIMENTS; e++) {
      const arms = [
        { n: 0, sum: 0, sumSq: 0 },
        { n: 0, sum: 0, sumSq: 0 },
      ];
      let [seqFired, fixedFired] = [false, false];
      for (let look = 0; look < LOOKS; look++) {
        for (const arm of arms) {
          for (let i = 0; i < BATCH; i++) {
            const score = Math.min(1, Math.max(0, 0.65 + 0.25 * normal())); // the same distribution in both arms
            arm.n++;
            arm.sum += score;
            arm.sumSq += score * score;
          }
        }
        seqFired ||= sequentialMeans(arms[0]!, arms[1]!)?.significant ?? false;
        fixedFired ||= welch(arms[0]!, arms[1]!)?.significant ?? false;
      }
      if (seqFired) sequential++;
      if (fixedFired) peeking++;
    }
    expect(sequential / EXPERIMENTS).toBeLessThanOrEqual(ALPHA + SLACK);
    expect(peeking / EXPERIMENTS).toBeGreaterThan(4 * ALPHA);
  });

  it("error rates: the same", () => {
    const uniform = seededUniform(14);
    let [sequential, peeking] = [0, 0];
    for (let e = 0; e < EXPERIMENTS; e++) {
      const arms = [
        { n: 0, x: 0 },
        { n: 0, x: 0 },
      ];
      let [seqFired, fixedFired] = [false, false];
      for (let look = 0; look < LOOKS; look++) {
        for (const arm of arms) {
          for (let i = 0; i < BATCH; i++) {
            arm.n++;
            if (uniform() < 0.05) arm.x++;
          }
        }
        seqFired ||= sequentialProportions(arms[0]!, arms[1]!)?.significant ?? false;
        fixedFired ||= twoProportions(arms[0]!, arms[1]!)?.significant ?? false;
      }
      if (seqFired) sequential++;
      if (fixedFired) peeking++;
    }
    expect(sequential / EXPERIMENTS).toBeLessThanOrEqual(ALPHA + SLACK);
    expect(peeking / EXPERIMENTS).toBeGreaterThan(4 * ALPHA);
  });
});
