// The experiment readout in sentences: each verdict's wording, the numbers as the CLI shows them (scores to 3
// decimals, rates in percentage points), the loud sample-ratio block, and "too early: N of ~M users needed".
import { describe, expect, it } from "vitest";
import { describeComparison, describeExperiment, describeSrm } from "../../../gateway/cli/experiment-text.ts";
import type { Comparison, ExperimentReport, MdeReport, SrmReport } from "../../../gateway/stats/experiment.ts";

const quality: Comparison = {
  metric: "quality",
  control: "1.0.0",
  treatment: "1.1.0",
  control_mean: 0.7,
  treatment_mean: 0.739,
  diff: 0.0391,
  ci_low: 0.01349,
  ci_high: 0.0644,
  p_value: 0.00312,
  significant: true,
  seq_ci_low: 0.0042,
  seq_ci_high: 0.07349,
  seq_p_value: 0.01,
  seq_significant: true,
  verdict: "better",
  control_n: 800,
  treatment_n: 800,
};

const errorRate: Comparison = {
  ...quality,
  metric: "error_rate",
  control_mean: 0.02,
  treatment_mean: 0.035,
  diff: 0.015,
  ci_low: 0.0051,
  ci_high: 0.02494,
  p_value: 0.0004,
  seq_ci_low: 0.00123,
  seq_ci_high: 0.0288,
  verdict: "worse",
};

const mde = (over: Partial<MdeReport> = {}): MdeReport => ({
  metric: "quality",
  control: "1.0.0",
  treatment: "1.1.0",
  mde: 0.05,
  mde_fixed_horizon: 0.03,
  effect: 0.02,
  units: 240,
  units_needed: 1_800,
  users: 120,
  users_needed: 900,
  ...over,
});

const srm = (over: Partial<SrmReport> = {}): SrmReport => ({
  basis: "window",
  since: "2026-12-07T10:00:00.000Z",
  versions: ["1.0.0", "1.1.0"],
  p_value: 0.4,
  mismatch: false,
  expected: [4_750, 4_750],
  observed: [4_760, 4_740],
  counter_error: 0,
  ...over,
});

describe("describeComparison", () => {
  it("says better with scores to 3 decimals, the fixed-horizon CI and p, and the sequential CI", () => {
    expect(describeComparison(quality, mde())).toBe(
      "1.1.0 is better than 1.0.0 on quality: +0.039 (95% CI +0.013..+0.064), p=0.003; " +
        "sequential CI +0.004..+0.073: significant",
    );
  });

  it("says worse with rates in percentage points", () => {
    expect(describeComparison(errorRate, mde({ metric: "error_rate" }))).toBe(
      "1.1.0 is worse than 1.0.0 on error rate: +1.50 pt (95% CI +0.51 pt..+2.49 pt), p<0.001; " +
        "sequential CI +0.12 pt..+2.88 pt: significant",
    );
    const thumbs: Comparison = { ...errorRate, metric: "thumbs_down_rate", diff: -0.05, ci_low: -0.08, ci_high: -0.02 };
    expect(describeComparison({ ...thumbs, verdict: "better" }, undefined)).toMatch(
      /^1\.1\.0 is better than 1\.0\.0 on thumbs-down rate: -5\.00 pt \(95% CI -8\.00 pt\.\.-2\.00 pt\)/,
    );
  });

  it("says no difference against the effect that matters", () => {
    const none: Comparison = {
      ...quality,
      diff: 0,
      ci_low: -0.004,
      ci_high: 0.0041,
      p_value: 0.98,
      seq_ci_low: -0.012,
      seq_ci_high: 0.0119,
      verdict: "no_difference",
    };
    expect(describeComparison(none, mde())).toBe(
      "1.1.0 and 1.0.0 do not differ on quality by a 2-point effect or more: ±0.000 (95% CI -0.004..+0.004), " +
        "p=0.980; sequential CI -0.012..+0.012",
    );
  });

  it("says too early with the users seen and the users needed for a 2-point effect", () => {
    const early: Comparison = { ...quality, verdict: "too_early", significant: false, p_value: 0.2 };
    expect(describeComparison(early, mde())).toBe(
      "1.1.0 vs 1.0.0 on quality: too early: 120 of ~900 users needed for a 2-point effect; " +
        "so far +0.039 (95% CI +0.013..+0.064), p=0.200; sequential CI +0.004..+0.073",
    );
  });

  it("counts in the metric's own units when users are not counted, and says so when nothing can be estimated", () => {
    const early: Comparison = { ...errorRate, verdict: "too_early" };
    const rates = mde({
      metric: "error_rate",
      effect: 0.01,
      units: 3_000,
      units_needed: 41_000,
      users: null,
      users_needed: null,
    });
    expect(describeComparison(early, rates)).toContain(
      "too early: 3000 of ~41000 requests needed for a 1-point effect;",
    );
    const thumbs = mde({ metric: "thumbs_down_rate", units: 30, units_needed: 900, users: null, users_needed: null });
    expect(describeComparison({ ...early, metric: "thumbs_down_rate" }, thumbs)).toContain(
      "30 of ~900 thumbs needed for a 2-point effect",
    );
    expect(
      describeComparison({ ...quality, verdict: "too_early" }, mde({ users: null, users_needed: null })),
    ).toContain("240 of ~1800 scores needed");
    const blank: Comparison = {
      ...quality,
      diff: null,
      ci_low: null,
      ci_high: null,
      p_value: null,
      seq_ci_low: null,
      seq_ci_high: null,
      verdict: "too_early",
    };
    expect(describeComparison(blank, mde({ units_needed: null, users_needed: null }))).toBe(
      "1.1.0 vs 1.0.0 on quality: too early: not enough data to estimate how much more it needs; " +
        "so far - (95% CI -), p=-; sequential CI -",
    );
  });
});

describe("describeSrm", () => {
  it("says the split matches in one line, naming its basis and the counter's error", () => {
    expect(describeSrm(srm())).toBe(
      "split: users match the weights over the window (2026-12-07T10:00:00.000Z): " +
        "1.0.0 4760 users (expected 4750), 1.1.0 4740 users (expected 4750); p=0.400",
    );
    expect(describeSrm(srm({ basis: "current_step", counter_error: 0.0081 }))).toBe(
      "split: users match the weights since the weights last changed (2026-12-07T10:00:00.000Z): " +
        "1.0.0 4760 users (expected 4750), 1.1.0 4740 users (expected 4750); p=0.400, counter error 0.81% allowed for",
    );
  });

  it("prints a loud block when the split is mismatched", () => {
    const text = describeSrm(srm({ p_value: 1e-9, mismatch: true, observed: [5_000, 4_500] }));
    const lines = text.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.startsWith("!!! "))).toBe(true);
    expect(lines[0]).toBe(
      "!!! SAMPLE RATIO MISMATCH over the window (2026-12-07T10:00:00.000Z): " +
        "1.0.0 5000 users (expected 4750), 1.1.0 4500 users (expected 4750); p<0.001.",
    );
    expect(text).toContain("the comparisons above are not to be trusted");
  });

  it("says so when no users were counted", () => {
    expect(describeSrm(srm({ p_value: null, expected: [] }))).toBe(
      "split: no users counted over the window (2026-12-07T10:00:00.000Z)",
    );
  });
});

describe("describeExperiment", () => {
  const report = (over: Partial<ExperimentReport> = {}): ExperimentReport => ({
    stable: "1.0.0",
    versions: [],
    comparisons: [quality, errorRate],
    srm: null,
    informational: [],
    mde: [mde(), mde({ metric: "error_rate" })],
    ...over,
  });

  it("writes one line per comparison, then the split check", () => {
    const text = describeExperiment(report({ srm: srm({ p_value: 1e-5, mismatch: true }) }));
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^1\.1\.0 is better than 1\.0\.0 on quality:/);
    expect(lines[1]).toMatch(/^1\.1\.0 is worse than 1\.0\.0 on error rate:/);
    expect(lines[2]).toMatch(/^!!! SAMPLE RATIO MISMATCH/);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("says when there is nothing to compare", () => {
    expect(describeExperiment(report({ stable: null, comparisons: [] }))).toBe(
      "no stable version served in this window: nothing to compare against\n",
    );
    expect(describeExperiment(report({ comparisons: [] }))).toBe(
      "only the stable version (1.0.0) served: nothing to compare\n",
    );
  });
});
