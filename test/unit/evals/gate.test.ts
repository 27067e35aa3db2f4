// The paired regression gate: verdicts per metric from the paired tests (whose numbers are held to scipy in
// test/unit/statistics/paired.test.ts), and the gate's decision.
import { describe, expect, it } from "vitest";
import { regressionGate, type CaseScores, type GateConfig } from "../../../gateway/evals/gate.ts";
import { expectClose } from "../../support/close.ts";

const scores = (values: readonly number[], prefix = "case-"): CaseScores =>
  new Map(values.map((v, i) => [`${prefix}${i}`, v]));

/** A fixed spread of baseline scores in 0..1, and small case-to-case noise around a shift. */
const BASE = Array.from({ length: 40 }, (_, i) => 0.5 + 0.4 * Math.sin(i * 1.7));
const NOISE = Array.from({ length: 40 }, (_, i) => 0.02 * Math.cos(i * 2.3));
const shifted = (by: number): number[] => BASE.map((b, i) => Math.min(1, Math.max(0, b + by + NOISE[i]!)));

const gate = (config: GateConfig, candidate: Record<string, CaseScores>, baseline: Record<string, CaseScores>) =>
  regressionGate({ config, candidate, baseline, thresholdsPassed: true });

describe("regressionGate", () => {
  it("fails a score metric that regressed beyond its margin, showing the interval", () => {
    const r = gate(
      { metrics: { quality: { maxRegression: 0.02 } } },
      { quality: scores(shifted(-0.1)) },
      { quality: scores(BASE) },
    );
    expect(r.passed).toBe(false);
    const [m] = r.metrics;
    expect(m).toMatchObject({ metric: "quality", kind: "score", test: "paired_t", n: 40, verdict: "regressed" });
    expect(m!.ci_high!).toBeLessThan(-0.02);
    expect(m!.diff!).toBeGreaterThan(m!.ci_low!);
    expect(r.failures[0]).toMatch(/^quality: -0\.\d+ \[-0\.\d+, -0\.\d+\] at 95% on 40 paired cases; regressed/);
  });

  it("passes a metric whose worst plausible regression stays within the margin", () => {
    const r = gate(
      { metrics: { quality: { maxRegression: 0.05 } }, confidence: 0.95 },
      { quality: scores(shifted(0)) },
      { quality: scores(BASE) },
    );
    expect(r).toMatchObject({ passed: true, failures: [], confidence: 0.95, thresholds_passed: true });
    expect(r.metrics[0]).toMatchObject({ verdict: "non_inferior", max_regression: 0.05 });
    expect(r.metrics[0]!.ci_low!).toBeGreaterThan(-0.05);
    expect(r.metrics[0]!.wilcoxon_p_value).not.toBeNull();
  });

  it("uses the paired t interval at the gate's confidence (scipy: ttest_rel on [0, 0.25, 0.5] differences)", () => {
    // test/reference/paired.py, case 4: mean 0.25, 95% interval [-0.37103442793758246, 0.8710344279375825].
    const r = gate(
      { metrics: { quality: { maxRegression: 0.1 } } },
      { quality: scores([0.5, 0.75, 1]) },
      { quality: scores([0.5, 0.5, 0.5]) },
    );
    const m = r.metrics[0]!;
    expectClose(m.ci_low!, -0.37103442793758246, 1e-8);
    expectClose(m.ci_high!, 0.8710344279375825, 1e-8);
    expectClose(m.p_value!, 0.22540333075851665, 1e-6);
    // Better on average, but 3 cases cannot rule out a regression of 0.1: not shown non-inferior.
    expect(m.verdict).toBe("inconclusive");
    expect(r.passed).toBe(false);
    expect(r.failures[0]).toMatch(/may have regressed beyond the allowed -0\.1 .*more cases would tell/);
  });

  it("compares pass/fail metrics as paired proportions (Newcombe's interval, the sign test)", () => {
    // 400 both pass, 11 only the candidate, 25 only the baseline, 64 neither (test/reference/paired.py).
    const cand = [...Array<number>(400).fill(1), ...Array<number>(11).fill(1), ...Array<number>(89).fill(0)];
    const base = [
      ...Array<number>(400).fill(1),
      ...Array<number>(11).fill(0),
      ...Array<number>(25).fill(1),
      ...Array<number>(64).fill(0),
    ];
    const run = (margin: number) =>
      gate({ metrics: { pass: { maxRegression: margin } } }, { pass: scores(cand) }, { pass: scores(base) });
    const tight = run(0.02).metrics[0]!;
    expect(tight).toMatchObject({ kind: "binary", test: "paired_proportions", n: 500, verdict: "inconclusive" });
    expectClose(tight.diff!, -0.028, 1e-12);
    expectClose(tight.ci_low!, -0.052190842766623106, 1e-9);
    expectClose(tight.ci_high!, -0.004481457239942897, 1e-9);
    expectClose(tight.p_value!, 0.028816719655878845, 1e-6);
    expect(run(0.06).metrics[0]!.verdict).toBe("non_inferior");
    expect(run(0.001).metrics[0]!.verdict).toBe("regressed");
  });

  it("passes identical runs with no margin at all: every case moved by exactly 0", () => {
    const r = gate(
      { metrics: { quality: { maxRegression: 0 } } },
      { quality: scores(BASE) },
      { quality: scores(BASE) },
    );
    expect(r.passed).toBe(true);
    expect(r.metrics[0]).toMatchObject({ diff: 0, ci_low: 0, ci_high: 0, verdict: "non_inferior" });
    expect(r.metrics[0]!.reason).toMatch(/every case by the same amount/);
  });

  it("fails when the candidate's own thresholds did not hold, whatever the comparison says", () => {
    const r = regressionGate({
      config: { metrics: { quality: { maxRegression: 0.05 } } },
      candidate: { quality: scores(BASE) },
      baseline: { quality: scores(BASE) },
      thresholdsPassed: false,
    });
    expect(r.passed).toBe(false);
    expect(r.failures).toEqual(["the candidate's own run did not meet its thresholds"]);
  });

  it("pairs cases by id, counts the unpaired apart, and fails a gated metric neither run scored", () => {
    const candidate = new Map([
      ["a", 0.9],
      ["b", 0.8],
      ["c", 0.7],
      ["only-candidate", 0.1],
    ]);
    const baseline = new Map([
      ["a", 0.9],
      ["b", 0.7],
      ["c", 0.75],
    ]);
    const r = gate(
      { metrics: { quality: { maxRegression: 0.5 }, tone: { maxRegression: 0.1 } } },
      { quality: candidate, length: scores([1, 0, 1]) },
      { quality: baseline, length: scores([1, 1, 1]) },
    );
    expect(r.metrics.map((m) => [m.metric, m.verdict, m.n, m.unpaired])).toEqual([
      ["quality", "non_inferior", 3, 1],
      ["tone", "not_enough_cases", 0, 0],
      ["length", "not_gated", 3, 0],
    ]);
    expect(r.metrics[0]!.candidate_mean).toBeCloseTo(0.8, 12);
    expect(r.passed).toBe(false);
    expect(r.failures).toEqual([expect.stringMatching(/^tone: 0 cases graded in both runs, 2 needed/)]);
  });

  it("lets a metric's kind be forced, and refuses a negative margin or a confidence outside (0, 1)", () => {
    const r = gate(
      { metrics: { pass: { maxRegression: 0.1, kind: "score" } } },
      { pass: scores([1, 0, 1, 1]) },
      { pass: scores([1, 1, 1, 0]) },
    );
    expect(r.metrics[0]).toMatchObject({ kind: "score", test: "paired_t" });
    expect(() => gate({ metrics: { q: { maxRegression: -0.1 } } }, {}, {})).toThrow(/max_regression of metric q/);
    expect(() => gate({ metrics: {}, confidence: 1 }, {}, {})).toThrow(/confidence/);
  });
});
