// Guardrails of a rollout step: the canary against the stable version on the step's own traffic, one metric at a
// time (error rate, p95 latency, cost per request, quality), each a ONE-SIDED test read off the always-valid
// confidence sequence (statistics/sequential.ts), so that a controller may look after every interval without
// inflating false rollbacks; plus hard limits that short-circuit the statistics. Pure; see docs/rollouts.md.
import { confidenceSequence, type ConfidenceSequenceResult } from "../statistics/sequential.ts";
import type { MeanSummary } from "../statistics/summaries.ts";

export type GuardrailMetric = "error_rate" | "p95_latency" | "cost_per_request" | "quality";
export const GUARDRAIL_METRICS: readonly GuardrailMetric[] = [
  "error_rate",
  "p95_latency",
  "cost_per_request",
  "quality",
];

/** A latency histogram: upper bounds in whole ms, `counts` one longer (the last counts everything above). */
export interface LatencyHistogram {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

/** What one side (stable or canary) served within the current step. */
export interface ArmObservation {
  /** Distinct users. */
  readonly users: number;
  readonly requests: number;
  /** Failed requests (5xx and cut streams). */
  readonly errors: number;
  /** Request latencies; null when not read. */
  readonly latency: LatencyHistogram | null;
  /** Priced requests' cost in USD, as n, sum and sum of squares; null when nothing was priced. */
  readonly cost: MeanSummary | null;
  /** Feedback scores (0..1) of the quality metric, as n, sum and sum of squares. */
  readonly quality: MeanSummary;
}

export interface StepObservation {
  readonly stable: ArmObservation;
  readonly canary: ArmObservation;
}

export interface GuardrailSettings {
  /**
   * The rollout's whole false-rollback budget: the chance that a canary no worse than stable is ever rolled back by
   * the statistical guardrails, over every step and metric. Split evenly (Bonferroni) over the compared steps and
   * the enabled metrics: see `perTestAlpha`.
   */
  readonly alpha: number;
  /** Tuning size N* of the confidence sequence (total units over both arms where it is tightest). */
  readonly tuning_n: number;
  /** Units each arm needs before a statistical guardrail may fail (hard limits do not wait). */
  readonly min_samples: number;
  readonly error_rate: {
    readonly enabled: boolean;
    /** absolute, in rate: 0.01 is one point */ readonly margin: number;
  };
  readonly p95_latency: {
    readonly enabled: boolean;
    /** Absolute, in share of requests above the step's threshold: 0.05 lets the canary have 5 points more. */
    readonly margin: number;
    /** The quantile the threshold is taken at. */
    readonly quantile: number;
    /** Requests (both arms) the step needs before its threshold is fixed. */
    readonly threshold_min_requests: number;
  };
  /** Relative to the stable's mean cost per priced request: 0.25 lets the canary cost 25% more. */
  readonly cost_per_request: { readonly enabled: boolean; readonly margin: number };
  /** Absolute, in score (0..1): 0.02 is two points of quality. Higher is better. */
  readonly quality: { readonly enabled: boolean; readonly margin: number };
  readonly hard_limits: {
    /** Fails at once when the canary's error rate is above `max`, above stable's, with at least `min_errors`. */
    readonly error_rate: { readonly max: number; readonly min_errors: number } | null;
    /** Fails at once when the canary's p95 latency is above `max_ms` with at least `min_requests` requests. */
    readonly p95_latency: { readonly max_ms: number; readonly min_requests: number } | null;
  };
}

export const DEFAULT_GUARDRAILS: GuardrailSettings = {
  alpha: 0.05,
  tuning_n: 2000,
  min_samples: 30,
  error_rate: { enabled: true, margin: 0.01 },
  p95_latency: { enabled: true, margin: 0.05, quantile: 0.95, threshold_min_requests: 200 },
  cost_per_request: { enabled: true, margin: 0.25 },
  quality: { enabled: true, margin: 0.02 },
  hard_limits: { error_rate: { max: 0.5, min_errors: 10 }, p95_latency: null },
};

export type GuardrailStatus = "pass" | "fail" | "insufficient";

export interface GuardrailResult {
  readonly metric: GuardrailMetric;
  readonly status: GuardrailStatus;
  /** `hard_limit` when a hard limit decided, else `sequential`. */
  readonly test: "sequential" | "hard_limit";
  readonly stable: number | null;
  readonly canary: number | null;
  /** canary - stable, in the metric's unit (for latency: share above the threshold). */
  readonly diff: number | null;
  /** The two-sided always-valid interval the one-sided test reads (at level `interval_alpha`). */
  readonly low: number | null;
  readonly high: number | null;
  /** The worst difference allowed, in the unit of `diff` (negative for quality: higher is better). */
  readonly margin: number;
  /** The one-sided error spent on this test, and the two-sided level of the interval that spends it. */
  readonly alpha: number;
  readonly interval_alpha: number;
  readonly stable_n: number;
  readonly canary_n: number;
  readonly reason: string;
}

/**
 * The one-sided error each test may spend: the rollout's alpha over (compared steps x enabled metrics). Steps at
 * 100% compare nothing (no stable traffic is left) and do not count.
 */
export function perTestAlpha(settings: GuardrailSettings, comparedSteps: number): number {
  const enabled = GUARDRAIL_METRICS.filter((m) => settings[m].enabled).length;
  return settings.alpha / Math.max(1, comparedSteps * enabled);
}

/**
 * The two-sided level whose confidence sequence, read on one side only, errs with chance at most `oneSided`.
 * The sequence excludes a value when the normal-mixture e-value E = (E+ + E-)/2 reaches 1/a (E+ and E- mix the
 * positive and the negative half of the mixing distribution, each a nonnegative supermartingale). On the side
 * where the sum S is above its mean, E- <= 1, so E+ >= 2/a - 1, which by Ville's inequality happens with chance
 * at most a / (2 - a). Solving a / (2 - a) = oneSided gives a = 2 oneSided / (1 + oneSided).
 */
export const intervalAlphaFor = (oneSided: number): number => (2 * oneSided) / (1 + oneSided);

/** A rate's variance with half an event added, (x + 0.5) / (n + 1): never 0, so a few requests stay uncertain. */
const smoothedRateVariance = (x: number, n: number): number => {
  const p = (x + 0.5) / (n + 1);
  return p * (1 - p);
};

const variance = (s: MeanSummary): number => (s.n < 2 ? 0 : Math.max(0, (s.sumSq - (s.sum * s.sum) / s.n) / (s.n - 1)));

interface Test {
  readonly alpha: number;
  readonly intervalAlpha: number;
  readonly tuningN: number;
}

/** Rates: x events in n units per arm. */
function rateInterval(
  c: { x: number; n: number },
  t: { x: number; n: number },
  test: Test,
): ConfidenceSequenceResult | null {
  return confidenceSequence(
    {
      diff: t.x / t.n - c.x / c.n,
      controlVariance: smoothedRateVariance(c.x, c.n),
      treatmentVariance: smoothedRateVariance(t.x, t.n),
      controlN: c.n,
      treatmentN: t.n,
    },
    { alpha: test.intervalAlpha, tuningN: test.tuningN },
  );
}

function meanInterval(c: MeanSummary, t: MeanSummary, test: Test): ConfidenceSequenceResult | null {
  return confidenceSequence(
    {
      diff: t.sum / t.n - c.sum / c.n,
      controlVariance: variance(c),
      treatmentVariance: variance(t),
      controlN: c.n,
      treatmentN: t.n,
    },
    { alpha: test.intervalAlpha, tuningN: test.tuningN },
  );
}

const fmt = (x: number, digits = 4): string => String(Number(x.toPrecision(digits)));
const pct = (x: number): string => `${fmt(100 * x, 3)}%`;

interface Compared {
  readonly metric: GuardrailMetric;
  readonly stable: number | null;
  readonly canary: number | null;
  readonly stableN: number;
  readonly canaryN: number;
  /** The difference allowed; `worse` is "higher" when a higher canary value is worse. */
  readonly margin: number;
  readonly worse: "higher" | "lower";
  readonly interval: ConfidenceSequenceResult | null;
  readonly show: (x: number) => string;
  readonly label: string;
}

function sequentialResult(c: Compared, settings: GuardrailSettings, test: Test): GuardrailResult {
  const base = {
    metric: c.metric,
    test: "sequential" as const,
    stable: c.stable,
    canary: c.canary,
    margin: c.margin,
    alpha: test.alpha,
    interval_alpha: test.intervalAlpha,
    stable_n: c.stableN,
    canary_n: c.canaryN,
  };
  if (c.stableN < settings.min_samples || c.canaryN < settings.min_samples || c.interval === null) {
    return {
      ...base,
      status: "insufficient",
      diff: c.interval?.diff ?? null,
      low: c.interval?.low ?? null,
      high: c.interval?.high ?? null,
      reason: `${c.label}: not enough data (stable ${c.stableN}, canary ${c.canaryN}; ${settings.min_samples} each needed)`,
    };
  }
  const { diff, low, high } = c.interval;
  const failed = c.worse === "higher" ? low > c.margin : high < c.margin;
  const shown = `${c.label}: canary ${c.show(c.canary ?? 0)} vs stable ${c.show(c.stable ?? 0)}, difference ${fmt(diff)} [${fmt(low)}, ${fmt(high)}]`;
  const rule = c.worse === "higher" ? `above the margin ${fmt(c.margin)}` : `below the margin ${fmt(c.margin)}`;
  return {
    ...base,
    status: failed ? "fail" : "pass",
    diff,
    low,
    high,
    reason: failed
      ? `${shown}: worse than stable beyond the margin (the interval lies wholly ${rule})`
      : `${shown}: not shown worse beyond the margin ${fmt(c.margin)}`,
  };
}

/**
 * The threshold of the latency guardrail: the smallest bucket bound at which the pooled histogram of both arms
 * reaches `quantile`. Pooled, so that under "no difference" the two arms are exchangeable with respect to it; a
 * bucket bound, so that the share above it is counted exactly from the histograms. Null below `minRequests`.
 */
export function latencyThreshold(
  stable: LatencyHistogram,
  canary: LatencyHistogram,
  quantile: number,
  minRequests: number,
): number | null {
  const counts = stable.counts.map((c, i) => c + (canary.counts[i] ?? 0));
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || total < minRequests) return null;
  let seen = 0;
  for (let i = 0; i < stable.bounds.length; i++) {
    seen += counts[i] ?? 0;
    if (seen >= quantile * total) return stable.bounds[i] ?? null;
  }
  return null; // the quantile lies in the open top bucket: nothing above it can be counted
}

/** Requests above `thresholdMs` and all requests in the buckets. */
export function countAbove(h: LatencyHistogram, thresholdMs: number): { x: number; n: number } {
  let x = 0;
  let n = 0;
  h.counts.forEach((c, i) => {
    n += c;
    const bound = h.bounds[i];
    if (bound === undefined || bound > thresholdMs) x += c;
  });
  return { x, n };
}

/** The q-quantile of a histogram as its bucket's upper bound (the conservative reading); null when empty. */
export function histogramQuantileBound(h: LatencyHistogram, q: number): number | null {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i] ?? 0;
    if (seen >= q * total) return h.bounds[i] ?? Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}

export interface GuardrailInput {
  readonly step: StepObservation;
  readonly settings: GuardrailSettings;
  /** Steps below 100% in the rollout, for the split of alpha. */
  readonly comparedSteps: number;
  /** The latency threshold fixed for this step, or null when not yet fixed. */
  readonly latencyThresholdMs: number | null;
}

export interface GuardrailVerdict {
  readonly results: readonly GuardrailResult[];
  /** The first failure (hard limits first), or null. */
  readonly failure: GuardrailResult | null;
  /** The latency threshold to keep for the rest of the step (fixed the first time there is enough traffic). */
  readonly latencyThresholdMs: number | null;
}

function hardLimits(input: GuardrailInput, test: Test): GuardrailResult[] {
  const { stable, canary } = input.step;
  const limits = input.settings.hard_limits;
  const out: GuardrailResult[] = [];
  const base = {
    test: "hard_limit" as const,
    alpha: test.alpha,
    interval_alpha: test.intervalAlpha,
    low: null,
    high: null,
  };
  const er = limits.error_rate;
  if (er !== null && canary.requests > 0) {
    const [cr, sr] = [canary.errors / canary.requests, stable.requests > 0 ? stable.errors / stable.requests : 0];
    if (canary.errors >= er.min_errors && cr > er.max && cr > sr) {
      out.push({
        ...base,
        metric: "error_rate",
        status: "fail",
        stable: stable.requests > 0 ? sr : null,
        canary: cr,
        diff: cr - sr,
        margin: er.max,
        stable_n: stable.requests,
        canary_n: canary.requests,
        reason: `error rate: canary ${pct(cr)} (${canary.errors} of ${canary.requests}) is above the hard limit ${pct(er.max)} and stable's ${pct(sr)}`,
      });
    }
  }
  const lat = limits.p95_latency;
  if (lat !== null && canary.latency !== null && canary.requests >= lat.min_requests) {
    const p95 = histogramQuantileBound(canary.latency, 0.95);
    if (p95 !== null && p95 > lat.max_ms) {
      out.push({
        ...base,
        metric: "p95_latency",
        status: "fail",
        stable: stable.latency === null ? null : histogramQuantileBound(stable.latency, 0.95),
        canary: p95,
        diff: null,
        margin: lat.max_ms,
        stable_n: stable.requests,
        canary_n: canary.requests,
        reason: `p95 latency: canary ${p95 === Number.POSITIVE_INFINITY ? "beyond the top bucket" : `${fmt(p95)} ms`} is above the hard limit ${lat.max_ms} ms`,
      });
    }
  }
  return out;
}

/** Every enabled guardrail on the step's traffic. */
export function evaluateGuardrails(input: GuardrailInput): GuardrailVerdict {
  const { settings } = input;
  const { stable, canary } = input.step;
  const alpha = perTestAlpha(settings, input.comparedSteps);
  const test: Test = { alpha, intervalAlpha: intervalAlphaFor(alpha), tuningN: settings.tuning_n };
  const results: GuardrailResult[] = [];
  const rateOf = (x: number, n: number): number | null => (n > 0 ? x / n : null);
  const rates = (c: { x: number; n: number }, t: { x: number; n: number }): ConfidenceSequenceResult | null =>
    c.n > 0 && t.n > 0 ? rateInterval(c, t, test) : null;

  if (settings.error_rate.enabled) {
    const [c, t] = [
      { x: stable.errors, n: stable.requests },
      { x: canary.errors, n: canary.requests },
    ];
    results.push(
      sequentialResult(
        {
          metric: "error_rate",
          label: "error rate",
          stable: rateOf(c.x, c.n),
          canary: rateOf(t.x, t.n),
          stableN: c.n,
          canaryN: t.n,
          margin: settings.error_rate.margin,
          worse: "higher",
          interval: rates(c, t),
          show: pct,
        },
        settings,
        test,
      ),
    );
  }

  let threshold = input.latencyThresholdMs;
  if (settings.p95_latency.enabled) {
    const { quantile, threshold_min_requests: minRequests, margin } = settings.p95_latency;
    if (threshold === null && stable.latency !== null && canary.latency !== null) {
      threshold = latencyThreshold(stable.latency, canary.latency, quantile, minRequests);
    }
    const c = threshold !== null && stable.latency !== null ? countAbove(stable.latency, threshold) : { x: 0, n: 0 };
    const t = threshold !== null && canary.latency !== null ? countAbove(canary.latency, threshold) : { x: 0, n: 0 };
    const r = sequentialResult(
      {
        metric: "p95_latency",
        label: threshold === null ? "p95 latency (threshold not fixed yet)" : `share of requests above ${threshold} ms`,
        stable: rateOf(c.x, c.n),
        canary: rateOf(t.x, t.n),
        stableN: c.n,
        canaryN: t.n,
        margin,
        worse: "higher",
        interval: rates(c, t),
        show: pct,
      },
      settings,
      test,
    );
    results.push(r);
  }

  if (settings.cost_per_request.enabled) {
    const [c, t] = [stable.cost, canary.cost];
    const stableMean = c !== null && c.n > 0 ? c.sum / c.n : null;
    const canaryMean = t !== null && t.n > 0 ? t.sum / t.n : null;
    results.push(
      sequentialResult(
        {
          metric: "cost_per_request",
          label: "cost per request",
          stable: stableMean,
          canary: canaryMean,
          stableN: c?.n ?? 0,
          canaryN: t?.n ?? 0,
          margin: settings.cost_per_request.margin * (stableMean ?? 0),
          worse: "higher",
          interval: c !== null && t !== null && c.n >= 2 && t.n >= 2 ? meanInterval(c, t, test) : null,
          show: (x) => `$${fmt(x)}`,
        },
        settings,
        test,
      ),
    );
  }

  if (settings.quality.enabled) {
    const [c, t] = [stable.quality, canary.quality];
    results.push(
      sequentialResult(
        {
          metric: "quality",
          label: "quality",
          stable: c.n > 0 ? c.sum / c.n : null,
          canary: t.n > 0 ? t.sum / t.n : null,
          stableN: c.n,
          canaryN: t.n,
          margin: -settings.quality.margin,
          worse: "lower",
          interval: c.n >= 2 && t.n >= 2 ? meanInterval(c, t, test) : null,
          show: (x) => fmt(x),
        },
        settings,
        test,
      ),
    );
  }

  const hard = hardLimits(input, test);
  const failure = hard[0] ?? results.find((r) => r.status === "fail") ?? null;
  return { results: [...hard, ...results], failure, latencyThresholdMs: threshold };
}
