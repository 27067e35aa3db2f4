// Production regressions: a live version against its own baseline (the first days after the label moved to
// it), metric by metric, on the always-valid sequential interval. Pure: the reader (regression-watch.ts)
// brings the samples and keeps the state; docs/regressions.md explains the choices.
//
// The recent window is a tumbling window (the current hour by default): within it the sample only grows, so
// the confidence sequence may be looked at every few minutes without inflating false alarms; each window
// spends at most `alpha` (a one-sided crossing of a two-sided sequence at level alpha has probability at most
// alpha, by Ville's inequality applied to the two-sided mixture). The baseline is a fixed sample; its
// estimation error enters the per-unit variance (s2 = v_recent + n_recent v_baseline / n_baseline), which only
// widens the interval.
import { alertEvent, type AlertEvent } from "../alerts/alert-event.ts";
import { sequentialHalfWidth, sequentialRho } from "../statistics/sequential.ts";
import type { MeanSummary, ProportionSummary } from "../statistics/summaries.ts";
import { varianceOf } from "../statistics/summaries.ts";
import { quantileMs, type Histogram, type VersionStats } from "./aggregate-stats.ts";
import { QUALITY_METRIC } from "./experiment.ts";

export const REGRESSION_METRICS = [
  "error_rate",
  "p95_latency",
  "cost_per_request",
  "quality",
  "thumbs_down_rate",
] as const;
export type RegressionMetric = (typeof REGRESSION_METRICS)[number];

/** One side's sufficient statistics: what a regression check reads, and what a stored baseline keeps. */
export interface RegressionSample {
  readonly requests: number;
  readonly errors: number;
  /** Request latency histogram: upper bounds in ms, counts with one more entry for the open top bucket. */
  readonly latencyBounds: readonly number[];
  readonly latencyCounts: readonly number[];
  /** Priced requests' cost in milli-cents (1e-5 USD). */
  readonly cost: MeanSummary;
  /** The quality metric's feedback scores (0..1). */
  readonly quality: MeanSummary;
  /** Thumbs: x = down among n = up + down. */
  readonly thumbs: ProportionSummary;
}

/** The sample of a version's aggregates over a window. */
export function sampleOf(stats: VersionStats, qualityMetric = QUALITY_METRIC): RegressionSample {
  const f = Object.hasOwn(stats.feedback, qualityMetric) ? stats.feedback[qualityMetric] : undefined;
  return {
    requests: stats.requests,
    errors: stats.errors,
    latencyBounds: [...stats.latency.bounds],
    latencyCounts: [...stats.latency.counts],
    cost: { ...stats.costSquares },
    quality: f ? { n: f.n, sum: f.sumMicro / 1e6, sumSq: f.sumSqMicro / 1e6 } : { n: 0, sum: 0, sumSq: 0 },
    thumbs: f ? { n: f.up + f.down, x: f.down } : { n: 0, x: 0 },
  };
}

export interface RegressionMargins {
  /** Absolute error rate points (0.02: 2 points worse). */
  readonly error_rate: number;
  /** Absolute points of the share of requests slower than the baseline's p95 bucket (0.05: 5 points more). */
  readonly p95_latency: number;
  /** Relative to the baseline's mean cost per request (0.2: 20% dearer). */
  readonly cost_per_request: number;
  /** Absolute points of the mean quality score (0.05). */
  readonly quality: number;
  /** Absolute points of the thumbs-down share (0.05). */
  readonly thumbs_down_rate: number;
}

export interface RegressionSettings {
  /** Spent per recent window, one-sided. */
  readonly alpha: number;
  /** The sequential interval's tuning size N*: about the units a recent window holds. */
  readonly tuningN: number;
  /** Requests each side needs before error rate, latency and cost are tested. */
  readonly minRequests: number;
  /** Feedback each side needs before quality and thumbs-down are tested. */
  readonly minFeedback: number;
  readonly margins: RegressionMargins;
}

export const REGRESSION_DEFAULTS: RegressionSettings = {
  alpha: 0.01,
  tuningN: 2000,
  minRequests: 200,
  minFeedback: 30,
  margins: { error_rate: 0.02, p95_latency: 0.05, cost_per_request: 0.2, quality: 0.05, thumbs_down_rate: 0.05 },
};

/**
 * `regressed`: the interval shows the recent window worse than the baseline beyond the margin.
 * `ok`: enough data on both sides and no regression shown. `insufficient`: too few units on a side.
 */
export type FindingStatus = "regressed" | "ok" | "insufficient";

export interface RegressionFinding {
  readonly metric: RegressionMetric;
  readonly status: FindingStatus;
  /** The metric on each side: a rate, a share above the threshold (p95), milli-cents, a mean score. */
  readonly baseline: number | null;
  readonly recent: number | null;
  /** recent - baseline, and its always-valid interval. */
  readonly diff: number | null;
  readonly low: number | null;
  readonly high: number | null;
  /** The margin in the metric's units (cost: relative margin times the baseline's mean). */
  readonly margin: number;
  readonly baselineN: number;
  readonly recentN: number;
  /** p95_latency: the baseline's p95 bucket bound in ms, which both shares are counted above. */
  readonly thresholdMs?: number;
  /** p95_latency: each side's p95 in ms (interpolated in its bucket), for people. */
  readonly baselineP95Ms?: number | null;
  readonly recentP95Ms?: number | null;
  /** The point estimate worse than the baseline by no more than the margin (used to close an alert). */
  readonly withinMargin: boolean;
  readonly reason: string;
}

/** Whether a larger value of the metric is worse (everything but quality). */
const higherIsWorse = (metric: RegressionMetric): boolean => metric !== "quality";

interface Compared {
  readonly baseline: number;
  readonly recent: number;
  readonly diff: number;
  readonly half: number;
}

/**
 * The always-valid interval of recent - baseline: a one-sample confidence sequence over the recent window's
 * units (its time index), the baseline's variance added as a fixed uncertainty.
 */
function compareMoments(
  b: { mean: number; variance: number; n: number },
  r: { mean: number; variance: number; n: number },
  s: RegressionSettings,
): Compared {
  const s2 = r.variance + (r.n * b.variance) / b.n;
  const half = s2 > 0 ? sequentialHalfWidth(s2, r.n, s.alpha, sequentialRho(s.alpha, s.tuningN)) : 0;
  return { baseline: b.mean, recent: r.mean, diff: r.mean - b.mean, half };
}

/** Two rates; while no side varies (no events, or only events), the pooled rate with half an event added. */
function compareRates(b: ProportionSummary, r: ProportionSummary, s: RegressionSettings): Compared {
  const [pb, pr] = [b.x / b.n, r.x / r.n];
  let [vb, vr] = [pb * (1 - pb), pr * (1 - pr)];
  if (vb === 0 && vr === 0) {
    const p = (b.x + r.x + 0.5) / (b.n + r.n + 1);
    vb = vr = p * (1 - p);
  }
  return compareMoments({ mean: pb, variance: vb, n: b.n }, { mean: pr, variance: vr, n: r.n }, s);
}

function compareMeans(b: MeanSummary, r: MeanSummary, s: RegressionSettings): Compared {
  return compareMoments(
    { mean: b.sum / b.n, variance: varianceOf(b), n: b.n },
    { mean: r.sum / r.n, variance: varianceOf(r), n: r.n },
    s,
  );
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const fmt: Record<RegressionMetric, (x: number) => string> = {
  error_rate: pct,
  p95_latency: pct,
  thumbs_down_rate: pct,
  quality: (x) => x.toFixed(3),
  cost_per_request: (x) => `$${(x / 1e5).toPrecision(3)}`,
};
const points = (x: number): string => `${(x * 100).toFixed(1)} points`;
/** Differences and margins: points for rates and shares, the metric's own unit otherwise. */
const fmtDiff: Record<RegressionMetric, (x: number) => string> = {
  ...fmt,
  error_rate: points,
  p95_latency: points,
  thumbs_down_rate: points,
};
const LABEL: Record<RegressionMetric, string> = {
  error_rate: "error rate",
  p95_latency: "share of requests slower than the baseline's p95",
  cost_per_request: "cost per request",
  quality: "quality",
  thumbs_down_rate: "thumbs-down rate",
};

function finding(
  metric: RegressionMetric,
  c: Compared | null,
  margin: number,
  sizes: { baselineN: number; recentN: number; need: number },
  extra: Partial<RegressionFinding> = {},
): RegressionFinding {
  const base = { metric, margin, baselineN: sizes.baselineN, recentN: sizes.recentN, ...extra };
  if (c === null || sizes.baselineN < sizes.need || sizes.recentN < sizes.need) {
    return {
      ...base,
      status: "insufficient",
      baseline: c?.baseline ?? null,
      recent: c?.recent ?? null,
      diff: c?.diff ?? null,
      low: null,
      high: null,
      withinMargin: true,
      reason: `${LABEL[metric]}: not enough data (${sizes.recentN} recent and ${sizes.baselineN} baseline units, ${sizes.need} needed on each side)`,
    };
  }
  const [low, high] = [c.diff - c.half, c.diff + c.half];
  const worse = higherIsWorse(metric);
  const regressed = worse ? low > margin : high < -margin;
  const withinMargin = worse ? c.diff <= margin : c.diff >= -margin;
  const [f, d] = [fmt[metric], fmtDiff[metric]];
  const bound = worse ? d(low) : d(-high);
  const reason = regressed
    ? `${LABEL[metric]} ${f(c.recent)} in the recent window vs ${f(c.baseline)} at baseline: worse by at least ${bound}, beyond the margin of ${d(margin)}`
    : `${LABEL[metric]} ${f(c.recent)} vs ${f(c.baseline)} at baseline: not shown worse beyond the margin of ${d(margin)}`;
  return {
    ...base,
    status: regressed ? "regressed" : "ok",
    baseline: c.baseline,
    recent: c.recent,
    diff: c.diff,
    low,
    high,
    withinMargin,
    reason,
  };
}

/** Observations above `bound` ms in a histogram of that layout (the bucket of `bound` itself excluded). */
const countAbove = (bounds: readonly number[], counts: readonly number[], bound: number): number => {
  let n = 0;
  counts.forEach((c, i) => {
    const upper = bounds[i];
    if (upper === undefined || upper > bound) n += c;
  });
  return n;
};

const histogramOf = (bounds: readonly number[], counts: readonly number[]): Histogram => {
  const total = counts.reduce((a, b) => a + b, 0);
  return { bounds, counts: [...counts], bucketed: total, count: total, sumMs: 0 };
};

/**
 * p95 latency as a proportion: the baseline's p95 falls in some bucket; T is that bucket's upper bound (the
 * last bound if it is the open top bucket). Each side's share of requests above T is counted exactly from
 * the buckets (at most 5% for the baseline, by construction), and the shares are compared as two rates: a
 * recent p95 that moved past T shows as a share above T well over 5%. No quantile is interpolated for the test.
 */
function latencyFinding(b: RegressionSample, r: RegressionSample, s: RegressionSettings): RegressionFinding {
  const bh = histogramOf(b.latencyBounds, b.latencyCounts);
  const rh = histogramOf(r.latencyBounds, r.latencyCounts);
  const sameLayout =
    b.latencyBounds.length === r.latencyBounds.length && b.latencyBounds.every((x, i) => x === r.latencyBounds[i]);
  const p95 = quantileMs(bh, 0.95);
  const sizes = { baselineN: bh.bucketed, recentN: rh.bucketed, need: s.minRequests };
  const margin = s.margins.p95_latency;
  if (p95 === null || rh.bucketed === 0 || !sameLayout) return finding("p95_latency", null, margin, sizes);
  const threshold = b.latencyBounds.find((x) => x + 0.5 >= p95) ?? b.latencyBounds[b.latencyBounds.length - 1] ?? 0;
  const xb = countAbove(b.latencyBounds, b.latencyCounts, threshold);
  const xr = countAbove(r.latencyBounds, r.latencyCounts, threshold);
  const c = compareRates({ n: bh.bucketed, x: xb }, { n: rh.bucketed, x: xr }, s);
  return finding("p95_latency", c, margin, sizes, {
    thresholdMs: threshold,
    baselineP95Ms: p95,
    recentP95Ms: quantileMs(rh, 0.95),
  });
}

/** Every metric of a live version's recent window against its baseline. */
export function detectRegressions(
  baseline: RegressionSample,
  recent: RegressionSample,
  settings: RegressionSettings = REGRESSION_DEFAULTS,
): RegressionFinding[] {
  const s = settings;
  const m = s.margins;
  const rate = (b: ProportionSummary, r: ProportionSummary): Compared | null =>
    b.n > 0 && r.n > 0 ? compareRates(b, r, s) : null;
  const mean = (b: MeanSummary, r: MeanSummary): Compared | null =>
    b.n >= 2 && r.n >= 2 ? compareMeans(b, r, s) : null;
  const cost = mean(baseline.cost, recent.cost);
  return [
    finding(
      "error_rate",
      rate({ n: baseline.requests, x: baseline.errors }, { n: recent.requests, x: recent.errors }),
      m.error_rate,
      { baselineN: baseline.requests, recentN: recent.requests, need: s.minRequests },
    ),
    latencyFinding(baseline, recent, s),
    finding("cost_per_request", cost, m.cost_per_request * (cost?.baseline ?? 0), {
      baselineN: baseline.cost.n,
      recentN: recent.cost.n,
      need: s.minRequests,
    }),
    finding("quality", mean(baseline.quality, recent.quality), m.quality, {
      baselineN: baseline.quality.n,
      recentN: recent.quality.n,
      need: s.minFeedback,
    }),
    finding("thumbs_down_rate", rate(baseline.thumbs, recent.thumbs), m.thumbs_down_rate, {
      baselineN: baseline.thumbs.n,
      recentN: recent.thumbs.n,
      need: s.minFeedback,
    }),
  ];
}

/** An alert open for one (version, metric): raised once, kept until the metric recovers. */
export interface OpenRegression {
  readonly version: string;
  readonly metric: RegressionMetric;
  /** ISO time it was raised. */
  readonly since: string;
}

/** Open regressions of one prompt and environment, by `{version}|{metric}`. */
export type RegressionState = Readonly<Record<string, OpenRegression>>;

export const regressionKey = (version: string, metric: RegressionMetric): string => `${version}|${metric}`;

export interface TrackResult {
  readonly state: RegressionState;
  /** Findings that newly regressed: alert these. */
  readonly raised: readonly RegressionFinding[];
  /** Metrics whose open regression closed: the check had enough data and the estimate is back within the margin. */
  readonly recovered: readonly RegressionMetric[];
}

/**
 * Deduplicates: one alert per (version, metric) until it recovers. A regressed finding already open raises
 * nothing; an open one closes only on an `ok` finding whose estimate is within the margin (not merely no
 * longer shown worse, which a fresh window with little data would also be); `insufficient` changes nothing.
 * Open regressions of other versions are dropped (the label moved on).
 */
export function trackRegressions(
  state: RegressionState,
  version: string,
  findings: readonly RegressionFinding[],
  now: number,
): TrackResult {
  const next: Record<string, OpenRegression> = {};
  for (const [k, v] of Object.entries(state)) if (v.version === version) next[k] = v;
  const raised: RegressionFinding[] = [];
  const recovered: RegressionMetric[] = [];
  for (const f of findings) {
    const key = regressionKey(version, f.metric);
    const open = Object.hasOwn(next, key);
    if (f.status === "regressed" && !open) {
      next[key] = { version, metric: f.metric, since: new Date(now).toISOString() };
      raised.push(f);
    } else if (f.status === "ok" && open && f.withinMargin) {
      delete next[key];
      recovered.push(f.metric);
    }
  }
  return { state: next, raised, recovered };
}

export interface RegressionAlertContext {
  readonly prompt: string;
  readonly env: string;
  readonly version: string;
  /** Epoch ms of the check. */
  readonly at: number;
  /** Epoch ms the recent window began: the `stats` link covers it. */
  readonly windowStart: number;
  readonly alpha: number;
}

/** The production_regression alert of a finding. */
export function regressionAlert(ctx: RegressionAlertContext, f: RegressionFinding): AlertEvent {
  return alertEvent({
    type: "production_regression",
    prompt: ctx.prompt,
    env: ctx.env,
    stable: ctx.version,
    canary: null,
    metric: f.metric,
    numbers: {
      baseline: f.baseline,
      recent: f.recent,
      diff: f.diff,
      low: f.low,
      high: f.high,
      margin: f.margin,
      alpha: ctx.alpha,
      baseline_n: f.baselineN,
      recent_n: f.recentN,
      ...(f.thresholdMs === undefined
        ? {}
        : {
            threshold_ms: f.thresholdMs,
            baseline_p95_ms: f.baselineP95Ms ?? null,
            recent_p95_ms: f.recentP95Ms ?? null,
          }),
    },
    verdict: "worse",
    reason: f.reason,
    at: ctx.at,
    sinceMs: Math.max(60_000, ctx.at - ctx.windowStart),
  });
}
