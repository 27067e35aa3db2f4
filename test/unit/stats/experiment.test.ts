// The experiment readout composed from the statistics: each canary against the stable version, the
// fixed-horizon figures taken from Welch / two proportions as they are, the verdict from the sequential
// interval, users needed scaled from units, and the sample-ratio test on the basis it was given.
import { describe, expect, it } from "vitest";
import { experimentReport, MINIMUM_EFFECTS, type ArmInput, type SrmInput } from "../../../gateway/stats/experiment.ts";
import { reportedUsers } from "../../../gateway/stats/stats-ops.ts";
import { twoProportions } from "../../../gateway/statistics/proportions.ts";
import { sequentialMeans } from "../../../gateway/statistics/sequential.ts";
import { welch } from "../../../gateway/statistics/welch.ts";
import type { MeanSummary } from "../../../gateway/statistics/summaries.ts";

/** n scores with the given mean and standard deviation, as sufficient statistics. */
const scores = (n: number, mean: number, std: number): MeanSummary => ({
  n,
  sum: n * mean,
  sumSq: (n - 1) * std * std + n * mean * mean,
});

const arm = (over: Partial<ArmInput> & Pick<ArmInput, "version" | "variant">): ArmInput => ({
  weight: null,
  users: null,
  requests: 0,
  errors: 0,
  quality: { n: 0, sum: 0, sumSq: 0 },
  thumbs: { up: 0, down: 0 },
  costPerRequestUsd: null,
  latencyMs: { mean: null, p50: null, p95: null },
  ...over,
});

describe("experimentReport", () => {
  const stable = arm({
    version: "1.0.0",
    variant: "stable",
    weight: 50,
    users: 4_000,
    requests: 10_000,
    errors: 200,
    quality: scores(5_000, 0.7, 0.25),
    thumbs: { up: 900, down: 100 },
  });
  const better = arm({
    version: "1.1.0",
    variant: "canary",
    weight: 50,
    users: 4_000,
    requests: 10_000,
    errors: 190,
    quality: scores(5_000, 0.75, 0.25),
    thumbs: { up: 950, down: 50 },
  });

  it("compares every canary with the stable version, with the statistics' own figures", () => {
    const report = experimentReport([better, stable], null);
    expect(report.stable).toBe("1.0.0");
    expect(report.comparisons.map((c) => c.metric)).toEqual(["quality", "error_rate", "thumbs_down_rate"]);
    const quality = report.comparisons[0]!;
    const w = welch(stable.quality, better.quality)!;
    const seq = sequentialMeans(stable.quality, better.quality)!;
    expect(quality).toMatchObject({
      control: "1.0.0",
      treatment: "1.1.0",
      diff: w.diff,
      ci_low: w.ciLow,
      ci_high: w.ciHigh,
      p_value: w.pValue,
      significant: true,
      seq_ci_low: seq.low,
      seq_ci_high: seq.high,
      seq_significant: true,
      verdict: "better",
      control_n: 5_000,
      treatment_n: 5_000,
    });
    const errors = report.comparisons[1]!;
    const r = twoProportions({ n: 10_000, x: 200 }, { n: 10_000, x: 190 })!;
    // 2% against 1.9% of 10,000 requests each: the interval excludes any difference of a point or more.
    expect(errors).toMatchObject({ p_value: r.pValue, ci_low: r.ciLow, significant: false, verdict: "no_difference" });
    // Thumbs down fell from 10% to 5%: lower is better.
    expect(report.comparisons[2]).toMatchObject({ control_mean: 0.1, treatment_mean: 0.05, verdict: "better" });
  });

  it("reads a drop in quality as worse, and a tight interval around zero as no difference", () => {
    const worse = arm({ ...better, quality: scores(5_000, 0.65, 0.25) });
    expect(experimentReport([stable, worse], null).comparisons[0]!.verdict).toBe("worse");
    const same = arm({ ...better, quality: scores(400_000, 0.7, 0.25) });
    const control = arm({ ...stable, quality: scores(400_000, 0.7, 0.25) });
    const q = experimentReport([control, same], null).comparisons[0]!;
    expect(q.verdict).toBe("no_difference");
    expect(q.seq_ci_high! - q.seq_ci_low!).toBeLessThan(2 * MINIMUM_EFFECTS.quality);
  });

  it("says too early, and how many users it takes, when the data cannot tell yet", () => {
    const early = arm({ ...better, users: 60, quality: scores(60, 0.72, 0.25) });
    const control = arm({ ...stable, users: 60, quality: scores(60, 0.7, 0.25) });
    const report = experimentReport([control, early], null);
    expect(report.comparisons[0]!.verdict).toBe("too_early");
    const mde = report.mde.find((m) => m.metric === "quality")!;
    expect(mde.units).toBe(120);
    expect(mde.mde).toBeGreaterThan(MINIMUM_EFFECTS.quality);
    expect(mde.units_needed).toBeGreaterThan(120);
    // One feedback score per user here: users needed = units needed.
    expect(mde.users).toBe(120);
    expect(mde.users_needed).toBe(mde.units_needed);
  });

  it("counts users needed only where both versions counted users", () => {
    // Versions that served requests without naming a user report null users (stats-ops.ts reportedUsers).
    expect(reportedUsers(0, 120)).toBeNull();
    expect(reportedUsers(0, 0)).toBe(0);
    expect(reportedUsers(57, 120)).toBe(57);
    const control = arm({ ...stable, users: 0, quality: scores(60, 0.7, 0.25) });
    const early = arm({ ...better, users: 0, quality: scores(60, 0.72, 0.25) });
    for (const [c, t] of [
      [control, early],
      [arm({ ...control, users: null }), arm({ ...early, users: 40 })],
    ] as const) {
      const mde = experimentReport([c, t], null).mde.find((m) => m.metric === "quality")!;
      expect(mde).toMatchObject({ units: 120, users: null, users_needed: null });
      expect(mde.units_needed).toBeGreaterThan(120);
    }
  });

  it("compares mean latency and cost by Welch for information, leaving the verdicts as they were", () => {
    const latency = { control: scores(10_000, 820, 300), treatment: scores(10_000, 760, 280) };
    const cost = { control: scores(9_000, 0.0021, 0.0009), treatment: scores(9_000, 0.0024, 0.001) };
    const withSamples = experimentReport(
      [
        arm({ ...stable, latencySamples: latency.control, costSamples: cost.control }),
        arm({ ...better, latencySamples: latency.treatment, costSamples: cost.treatment }),
      ],
      null,
    );
    expect(withSamples.comparisons).toEqual(experimentReport([stable, better], null).comparisons);
    const [ms, usd] = withSamples.informational;
    const w = welch(latency.control, latency.treatment)!;
    expect(ms).toEqual({
      metric: "latency_ms",
      control: "1.0.0",
      treatment: "1.1.0",
      control_mean: w.controlMean,
      treatment_mean: w.treatmentMean,
      diff: w.diff,
      ci_low: w.ciLow,
      ci_high: w.ciHigh,
      p_value: w.pValue,
      significant: true,
      control_n: 10_000,
      treatment_n: 10_000,
    });
    expect(usd).toMatchObject({ metric: "cost_per_request_usd", diff: welch(cost.control, cost.treatment)!.diff });
    // Without samples (minutes written before the squares), nothing is claimed.
    expect(experimentReport([stable, better], null).informational[0]).toMatchObject({
      metric: "latency_ms",
      control_mean: null,
      diff: null,
      p_value: null,
      significant: false,
    });
  });

  it("reads zero errors on both sides as no difference once there are enough requests, too early before", () => {
    const clean = (version: string, variant: "stable" | "canary", requests: number): ArmInput =>
      arm({ version, variant, users: requests, requests, errors: 0 });
    const rate = (requests: number) =>
      experimentReport([clean("1.0.0", "stable", requests), clean("1.1.0", "canary", requests)], null).comparisons.find(
        (c) => c.metric === "error_rate",
      )!;
    const many = rate(5_000);
    expect(many).toMatchObject({ diff: 0, verdict: "no_difference", seq_significant: false });
    expect(many.seq_ci_low!).toBeLessThan(0);
    expect(many.seq_ci_high!).toBeLessThanOrEqual(MINIMUM_EFFECTS.error_rate);
    expect(rate(20)).toMatchObject({ diff: 0, verdict: "too_early" });
    // Consistent with the users needed: past them, the verdict is no longer "too early".
    const needed = experimentReport([clean("1.0.0", "stable", 5_000), clean("1.1.0", "canary", 5_000)], null).mde.find(
      (m) => m.metric === "error_rate",
    )!;
    expect(needed.units_needed!).toBeLessThan(10_000);
  });

  it("leaves a statistic null where it is undefined, and compares nothing without a stable version", () => {
    const lone = arm({ version: "1.1.0", variant: "canary", requests: 5 });
    expect(experimentReport([lone], null).comparisons).toEqual([]);
    const empty = experimentReport([arm({ version: "1.0.0", variant: "stable" }), lone], null);
    expect(empty.comparisons[0]).toMatchObject({ metric: "quality", diff: null, p_value: null, verdict: "too_early" });
    expect(empty.versions[0]!.quality).toEqual({ n: 0, mean: null, std: null });
  });

  it("runs the sample-ratio test on the basis it is given", () => {
    const srm: SrmInput = {
      basis: "current_step",
      since: "2026-12-07T10:00:00.000Z",
      versions: ["1.0.0", "1.1.0"],
      observedUsers: [5_000, 4_500],
      expectedShares: [50, 50],
      counterError: 0,
    };
    const report = experimentReport([stable, better], srm);
    expect(report.srm).toMatchObject({ basis: "current_step", mismatch: true, expected: [4_750, 4_750] });
    expect(report.srm!.p_value).toBeLessThan(1e-6);
    const fine = experimentReport([stable, better], { ...srm, observedUsers: [4_760, 4_740] });
    expect(fine.srm!.mismatch).toBe(false);
  });
});
