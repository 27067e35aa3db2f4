// The paired regression gate: a candidate and its baseline graded on the same cases, each gated metric's
// per-case differences (candidate - baseline) tested for non-inferiority against the metric's largest allowed
// regression. A metric holds when the lower end of the two-sided `confidence` interval of its difference is at
// or above -max_regression. The gate passes when the candidate's own thresholds hold and every gated metric
// holds. Pure: scores in, verdicts out (docs/statistics.md, "Paired comparisons and the regression gate").
import { countPairs, pairedProportions, pairedT, wilcoxonSignedRank } from "../statistics/paired.ts";

/** The suite's `gate:` section, parsed: per metric the largest regression allowed, and the confidence. */
export interface GateConfig {
  readonly metrics: Readonly<Record<string, GateMetricConfig>>;
  /** Of the two-sided interval whose lower end decides (default 0.95). */
  readonly confidence?: number;
}

export interface GateMetricConfig {
  /** How far (in the metric's 0..1 units) the candidate's mean may fall below the baseline's: >= 0. */
  readonly maxRegression: number;
  /** Forces the test; by default a metric whose every score is 0 or 1 is "binary", any other is "score". */
  readonly kind?: MetricKind;
}

/** One run's scores of one metric: case id -> score in 0..1. A case whose grading failed is left out. */
export type CaseScores = ReadonlyMap<string, number>;

export interface GateInput {
  readonly config: GateConfig;
  /** metric name -> the candidate's scores per case. */
  readonly candidate: Readonly<Record<string, CaseScores>>;
  /** metric name -> the baseline's scores per case (the same suite, the same case ids). */
  readonly baseline: Readonly<Record<string, CaseScores>>;
  /** Whether the candidate's own run met every threshold (assertions, cases, the suite). */
  readonly thresholdsPassed: boolean;
}

/**
 * "binary": pass/fail scores, compared as paired proportions (Newcombe's interval, the exact sign test);
 * "score": graded scores, compared with the paired t-test (its interval decides; Wilcoxon's p is shown beside).
 */
export type MetricKind = "binary" | "score";

/**
 * `non_inferior`: the interval's lower end is at or above -max_regression (holds). `regressed`: the whole interval
 * is below -max_regression. `inconclusive`: the interval straddles -max_regression (more cases would tell).
 * `not_enough_cases`: fewer than 2 cases were graded in both runs. `not_gated`: compared, but no margin is set.
 */
export type MetricVerdict = "non_inferior" | "regressed" | "inconclusive" | "not_enough_cases" | "not_gated";

// Type aliases (not interfaces) so that a result is a plain JSON object where the registry stores it.
export type GateMetric = {
  readonly metric: string;
  readonly kind: MetricKind;
  readonly test: "paired_t" | "paired_proportions" | "none";
  /** Cases graded in both runs: the pairs tested. */
  readonly n: number;
  /** Cases graded in one run only (a grader error, a case added or removed): left out of the test. */
  readonly unpaired: number;
  readonly baseline_mean: number | null;
  readonly candidate_mean: number | null;
  /** candidate_mean - baseline_mean over the paired cases. */
  readonly diff: number | null;
  readonly ci_low: number | null;
  readonly ci_high: number | null;
  /** The two-sided test of "no difference": paired t for scores, the exact sign test for binary metrics. */
  readonly p_value: number | null;
  /** Wilcoxon's signed-rank p for scores (shown, does not decide); null for binary metrics. */
  readonly wilcoxon_p_value: number | null;
  /** null when the metric is not gated. */
  readonly max_regression: number | null;
  readonly verdict: MetricVerdict;
  /** The verdict in plain words, with the interval. */
  readonly reason: string;
};

export type GateResult = {
  readonly passed: boolean;
  readonly confidence: number;
  readonly thresholds_passed: boolean;
  /** Gated metrics first (in the config's order), then the others both runs scored, by name. */
  readonly metrics: readonly GateMetric[];
  /** Why it failed, one line each; empty when it passed. */
  readonly failures: readonly string[];
};

export const DEFAULT_CONFIDENCE = 0.95;
/** Fewer paired cases than this and a metric cannot be tested. */
export const MIN_PAIRED_CASES = 2;

/** Compares the candidate with the baseline per metric and decides the gate. */
export function regressionGate(input: GateInput): GateResult {
  const confidence = input.config.confidence ?? DEFAULT_CONFIDENCE;
  if (!(confidence > 0 && confidence < 1)) throw new RangeError("gate confidence must be between 0 and 1 (exclusive)");
  for (const [metric, c] of Object.entries(input.config.metrics)) {
    if (!(Number.isFinite(c.maxRegression) && c.maxRegression >= 0)) {
      throw new RangeError(`gate max_regression of metric ${metric} must be a number >= 0`);
    }
  }
  const gated = Object.keys(input.config.metrics);
  const others = Object.keys(input.candidate)
    .filter((m) => !(m in input.config.metrics) && m in input.baseline)
    .sort();
  const metrics = [...gated, ...others].map((metric) =>
    compareMetric(
      metric,
      input.candidate[metric] ?? new Map<string, number>(),
      input.baseline[metric] ?? new Map<string, number>(),
      input.config.metrics[metric] ?? null,
      confidence,
    ),
  );
  const failures: string[] = [];
  if (!input.thresholdsPassed) failures.push("the candidate's own run did not meet its thresholds");
  for (const m of metrics) if (m.verdict !== "non_inferior" && m.verdict !== "not_gated") failures.push(m.reason);
  return { passed: failures.length === 0, confidence, thresholds_passed: input.thresholdsPassed, metrics, failures };
}

function compareMetric(
  metric: string,
  candidate: CaseScores,
  baseline: CaseScores,
  config: GateMetricConfig | null,
  confidence: number,
): GateMetric {
  const ids = [...candidate.keys()].filter((id) => baseline.has(id)).sort();
  const c = ids.map((id) => candidate.get(id)!);
  const b = ids.map((id) => baseline.get(id)!);
  for (const [arm, scores] of [
    ["candidate", c],
    ["baseline", b],
  ] as const) {
    if (scores.some((s) => !Number.isFinite(s)))
      throw new RangeError(`metric ${metric}: a ${arm} score is not a number`);
  }
  const n = ids.length;
  const unpaired = candidate.size + baseline.size - 2 * n;
  const margin = config === null ? null : config.maxRegression;
  const kind: MetricKind = config?.kind ?? ([...c, ...b].every((s) => s === 0 || s === 1) ? "binary" : "score");
  const mean = (xs: readonly number[]): number | null =>
    xs.length === 0 ? null : xs.reduce((x, y) => x + y, 0) / xs.length;
  const base = {
    metric,
    kind,
    n,
    unpaired,
    baseline_mean: mean(b),
    candidate_mean: mean(c),
    max_regression: margin,
  };
  if (n < MIN_PAIRED_CASES) {
    return {
      ...base,
      test: "none",
      diff: null,
      ci_low: null,
      ci_high: null,
      p_value: null,
      wilcoxon_p_value: null,
      verdict: margin === null ? "not_gated" : "not_enough_cases",
      reason:
        `${metric}: ${n} case${n === 1 ? "" : "s"} graded in both runs, ${MIN_PAIRED_CASES} needed ` +
        "(is the metric named in the suite, and did both runs grade it?)",
    };
  }
  const alpha = 1 - confidence;
  const diffs = c.map((x, i) => x - b[i]!);
  let tested: Pick<GateMetric, "test" | "diff" | "ci_low" | "ci_high" | "p_value" | "wilcoxon_p_value">;
  let note = "";
  if (kind === "binary") {
    const r = pairedProportions(countPairs(c, b), alpha)!;
    tested = {
      test: "paired_proportions",
      diff: r.diff,
      ci_low: r.ciLow,
      ci_high: r.ciHigh,
      p_value: r.pValue,
      wilcoxon_p_value: null,
    };
  } else {
    const r = pairedT(diffs, alpha);
    const wilcoxon = wilcoxonSignedRank(diffs)?.pValue ?? 1;
    if (r === null) {
      // Every case moved by the same amount (often 0: the same outputs): no spread to estimate, the shift is exact.
      const d = diffs[0]!;
      tested = { test: "paired_t", diff: d, ci_low: d, ci_high: d, p_value: null, wilcoxon_p_value: wilcoxon };
      note = ", every case by the same amount";
    } else {
      tested = {
        test: "paired_t",
        diff: r.meanDiff,
        ci_low: r.ciLow,
        ci_high: r.ciHigh,
        p_value: r.pValue,
        wilcoxon_p_value: wilcoxon,
      };
    }
  }
  const low = tested.ci_low!;
  const high = tested.ci_high!;
  const interval = `${fmt(tested.diff!)} [${fmt(low)}, ${fmt(high)}] at ${Math.round(confidence * 1000) / 10}%${note}`;
  if (margin === null) {
    return { ...base, ...tested, verdict: "not_gated", reason: `${metric}: ${interval} (not gated)` };
  }
  const verdict: MetricVerdict = low >= -margin ? "non_inferior" : high < -margin ? "regressed" : "inconclusive";
  const words = {
    non_inferior: `holds: at worst ${fmt(low)}, within the allowed -${num(margin)}`,
    regressed: `regressed beyond the allowed -${num(margin)}`,
    inconclusive: `may have regressed beyond the allowed -${num(margin)} (the interval reaches ${fmt(low)}; more cases would tell)`,
  }[verdict];
  return { ...base, ...tested, verdict, reason: `${metric}: ${interval} on ${n} paired cases; ${words}` };
}

/** 4 decimals, no sign for 0. */
const num = (x: number): string => String(Math.round(x * 10000) / 10000 || 0);
/** 4 decimals with its sign: +0.012, -0.03, 0. */
const fmt = (x: number): string => `${x > 0 && num(x) !== "0" ? "+" : ""}${num(x)}`;
