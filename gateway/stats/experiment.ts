// The experiment readout: each version served on an environment compared with the stable one (the
// label's version), metric by metric, from the aggregates' sufficient statistics alone. Fixed-horizon
// figures (Welch, two proportions) stand beside the always-valid sequential interval; the verdict is
// drawn from the sequential one, so it stays honest however often someone looks. Pure: the reads are
// in stats-ops.ts.
import { minimumDetectableEffect, meanDesign, proportionDesign, usersNeeded } from "../statistics/power.ts";
import { twoProportions } from "../statistics/proportions.ts";
import {
  confidenceSequence,
  proportionDifference,
  sequentialMeans,
  type ConfidenceSequenceResult,
} from "../statistics/sequential.ts";
import { sampleRatioMismatch } from "../statistics/srm.ts";
import type { MeanSummary, ProportionSummary } from "../statistics/summaries.ts";
import { directionOf, verdictOf, type Verdict } from "../statistics/verdict.ts";
import { welch } from "../statistics/welch.ts";

/** The feedback metric that quality comparisons read (feedback's default metric). */
export const QUALITY_METRIC = "quality";

/**
 * The smallest difference that matters, per compared metric: a verdict of "no difference" needs the
 * sequential interval inside +-this, and "users needed" is counted for it. Scores are 0..1, so 0.02
 * is two points of quality; rates are fractions, so 0.01 is one point of error rate.
 */
export const MINIMUM_EFFECTS: Readonly<Record<ComparedMetric, number>> = {
  quality: 0.02,
  error_rate: 0.01,
  thumbs_down_rate: 0.02,
};

export type ComparedMetric = "quality" | "error_rate" | "thumbs_down_rate";

/** What the aggregates hold for one version over the window. */
export interface ArmInput {
  readonly version: string;
  readonly variant: "stable" | "canary";
  /** The version's weight in the weights hash now; null when the hash does not name it. */
  readonly weight: number | null;
  /** Distinct users over the window; null when the store does not count them. */
  readonly users: number | null;
  readonly requests: number;
  readonly errors: number;
  /** Feedback scores of the quality metric. */
  readonly quality: MeanSummary;
  readonly thumbs: { readonly up: number; readonly down: number };
  readonly costPerRequestUsd: number | null;
  readonly latencyMs: { readonly mean: number | null; readonly p50: number | null; readonly p95: number | null };
  /** Latencies in ms and priced requests' costs in USD as sufficient statistics, for the informational comparisons. */
  readonly latencySamples?: MeanSummary;
  readonly costSamples?: MeanSummary;
}

/** Distinct users per version over the span the split held still, and the shares it promised them. */
export interface SrmInput {
  /** `current_step`: only the minutes since the weights last changed; `window`: the whole window. */
  readonly basis: "current_step" | "window";
  /** ISO time the basis starts at. */
  readonly since: string;
  readonly versions: readonly string[];
  readonly observedUsers: readonly number[];
  /** The weights in force over the basis, in the same order (any positive numbers). */
  readonly expectedShares: readonly number[];
  /** The distinct counter's relative standard error: 0.0081 for Redis HyperLogLog, 0 when exact. */
  readonly counterError: number;
}

export interface VersionReport {
  readonly version: string;
  readonly variant: "stable" | "canary";
  readonly weight: number | null;
  readonly users: number | null;
  readonly requests: number;
  readonly errors: number;
  readonly quality: { readonly n: number; readonly mean: number | null; readonly std: number | null };
  readonly thumbs: { readonly up: number; readonly down: number };
  readonly cost_per_request_usd: number | null;
  readonly latency_ms: { readonly mean: number | null; readonly p50: number | null; readonly p95: number | null };
}

/** One canary against the stable version on one metric: the fixed-horizon figures every comparison has. */
interface FixedHorizonComparison {
  readonly control: string;
  readonly treatment: string;
  readonly control_mean: number | null;
  readonly treatment_mean: number | null;
  /** treatment - control. */
  readonly diff: number | null;
  /** Fixed-horizon (Welch for means, two proportions for rates), 95%. */
  readonly ci_low: number | null;
  readonly ci_high: number | null;
  readonly p_value: number | null;
  readonly significant: boolean;
  /** Units compared: feedback scores, requests, thumbs, or priced requests. */
  readonly control_n: number;
  readonly treatment_n: number;
}

export interface Comparison extends FixedHorizonComparison {
  readonly metric: ComparedMetric;
  /** The always-valid sequential interval, 95%. */
  readonly seq_ci_low: number | null;
  readonly seq_ci_high: number | null;
  readonly seq_p_value: number | null;
  readonly seq_significant: boolean;
  readonly verdict: Verdict;
}

/** What is compared for information only: never a verdict, never in the segments' Holm families. */
export type InformationalMetric = "latency_ms" | "cost_per_request_usd";

/**
 * Mean latency (ms) and mean cost per priced request (USD), treatment - control, by Welch's test: fixed-horizon
 * figures to read beside the verdicts, which they do not change (latency and cost are not what a canary is judged on
 * here, and a fixed-horizon p-value looked at every hour is not to be acted on).
 */
export interface InformationalComparison extends FixedHorizonComparison {
  readonly metric: InformationalMetric;
}

export interface SrmReport {
  readonly basis: "current_step" | "window";
  readonly since: string;
  readonly versions: readonly string[];
  readonly p_value: number | null;
  readonly mismatch: boolean;
  readonly expected: readonly number[];
  readonly observed: readonly number[];
  readonly counter_error: number;
}

export interface MdeReport {
  readonly metric: ComparedMetric;
  readonly control: string;
  readonly treatment: string;
  /** The smallest true difference the sequential verdict would catch now (80% power). */
  readonly mde: number | null;
  /** The same for one fixed-horizon look. */
  readonly mde_fixed_horizon: number | null;
  /** The difference that matters (MINIMUM_EFFECTS), and what it takes to see it. */
  readonly effect: number;
  readonly units: number;
  readonly units_needed: number | null;
  /** `units_needed` in users, at the window's units per user; null when users are not counted. */
  readonly users: number | null;
  readonly users_needed: number | null;
}

export interface ExperimentReport {
  readonly stable: string | null;
  readonly versions: readonly VersionReport[];
  readonly comparisons: readonly Comparison[];
  /** Latency and cost, each canary against the stable version; informational only. */
  readonly informational: readonly InformationalComparison[];
  readonly srm: SrmReport | null;
  readonly mde: readonly MdeReport[];
}

const meanAndStd = (s: MeanSummary): { n: number; mean: number | null; std: number | null } => {
  if (s.n === 0) return { n: 0, mean: null, std: null };
  const mean = s.sum / s.n;
  const std = s.n < 2 ? null : Math.sqrt(Math.max(0, (s.sumSq - s.n * mean * mean) / (s.n - 1)));
  return { n: s.n, mean, std };
};

/** One metric's units for an arm: its mean summary, or its count of events out of a total. */
type Units =
  { readonly kind: "mean"; readonly s: MeanSummary } | { readonly kind: "rate"; readonly s: ProportionSummary };

const unitsOf = (arm: ArmInput, metric: ComparedMetric): Units => {
  switch (metric) {
    case "quality":
      return { kind: "mean", s: arm.quality };
    case "error_rate":
      return { kind: "rate", s: { n: arm.requests, x: arm.errors } };
    case "thumbs_down_rate":
      return { kind: "rate", s: { n: arm.thumbs.up + arm.thumbs.down, x: arm.thumbs.down } };
  }
};

const sizeOf = (u: Units): number => u.s.n;

/**
 * The sequential interval for two rates. When nothing varies (no event on either side, the usual error
 * rate of a healthy canary, or only events), the Bernoulli variances are 0 and the interval undefined;
 * it then takes the variance of the pooled rate with half an event added, as the power design does
 * (statistics/power.ts), so zero errors in many requests reads "no difference" rather than "too early"
 * forever, while a handful of requests still reads "too early".
 */
function sequentialRates(c: ProportionSummary, t: ProportionSummary): ConfidenceSequenceResult | null {
  const e = proportionDifference(c, t);
  if (e === null) return null;
  if (e.controlVariance > 0 || e.treatmentVariance > 0) return confidenceSequence(e);
  const p = (c.x + t.x + 0.5) / (c.n + t.n + 1);
  return confidenceSequence({ ...e, controlVariance: p * (1 - p), treatmentVariance: p * (1 - p) });
}

function compare(metric: ComparedMetric, control: ArmInput, treatment: ArmInput): Comparison {
  const [c, t] = [unitsOf(control, metric), unitsOf(treatment, metric)];
  let fixed: { cMean: number; tMean: number; diff: number; low: number; high: number; p: number; sig: boolean } | null =
    null;
  let seq: ConfidenceSequenceResult | null = null;
  if (c.kind === "mean" && t.kind === "mean") {
    const w = welch(c.s, t.s);
    if (w) {
      fixed = {
        cMean: w.controlMean,
        tMean: w.treatmentMean,
        diff: w.diff,
        low: w.ciLow,
        high: w.ciHigh,
        p: w.pValue,
        sig: w.significant,
      };
    }
    seq = sequentialMeans(c.s, t.s);
  } else if (c.kind === "rate" && t.kind === "rate" && c.s.n > 0 && t.s.n > 0) {
    const r = twoProportions(c.s, t.s);
    if (r) {
      fixed = {
        cMean: r.controlRate,
        tMean: r.treatmentRate,
        diff: r.diff,
        low: r.ciLow,
        high: r.ciHigh,
        p: r.pValue,
        sig: r.significant,
      };
    }
    seq = sequentialRates(c.s, t.s);
  }
  const plainMean = (u: Units): number | null =>
    u.s.n === 0 ? null : u.kind === "mean" ? u.s.sum / u.s.n : u.s.x / u.s.n;
  const [cMean, tMean] = [fixed?.cMean ?? plainMean(c), fixed?.tMean ?? plainMean(t)];
  return {
    metric,
    control: control.version,
    treatment: treatment.version,
    control_mean: cMean,
    treatment_mean: tMean,
    diff: fixed?.diff ?? (cMean === null || tMean === null ? null : tMean - cMean),
    ci_low: fixed?.low ?? null,
    ci_high: fixed?.high ?? null,
    p_value: fixed?.p ?? null,
    significant: fixed?.sig ?? false,
    seq_ci_low: seq?.low ?? null,
    seq_ci_high: seq?.high ?? null,
    seq_p_value: seq?.pValue ?? null,
    seq_significant: seq?.significant ?? false,
    verdict: verdictOf(seq && { low: seq.low, high: seq.high }, directionOf(metric), MINIMUM_EFFECTS[metric]),
    control_n: sizeOf(c),
    treatment_n: sizeOf(t),
  };
}

function mdeOf(metric: ComparedMetric, control: ArmInput, treatment: ArmInput): MdeReport {
  const [c, t] = [unitsOf(control, metric), unitsOf(treatment, metric)];
  const design =
    c.kind === "mean" && t.kind === "mean"
      ? meanDesign(c.s, t.s)
      : c.kind === "rate" && t.kind === "rate"
        ? proportionDesign(c.s, t.s)
        : null;
  const effect = MINIMUM_EFFECTS[metric];
  const units = sizeOf(c) + sizeOf(t);
  // Users scale units to users only when both arms counted some (0 users for a version that served is unknown).
  const counted = control.users === null || treatment.users === null ? 0 : control.users + treatment.users;
  const users = counted > 0 ? counted : null;
  if (design === null) {
    return {
      metric,
      control: control.version,
      treatment: treatment.version,
      mde: null,
      mde_fixed_horizon: null,
      effect,
      units,
      units_needed: null,
      users,
      users_needed: null,
    };
  }
  const mde = minimumDetectableEffect(design);
  const needed = usersNeeded(design, effect);
  return {
    metric,
    control: control.version,
    treatment: treatment.version,
    mde: mde.sequential,
    mde_fixed_horizon: mde.fixedHorizon,
    effect,
    units,
    units_needed: needed.total,
    users,
    users_needed: users === null || units === 0 ? null : Math.ceil((needed.total * users) / units),
  };
}

const NO_SAMPLES: MeanSummary = { n: 0, sum: 0, sumSq: 0 };

function informational(metric: InformationalMetric, control: ArmInput, treatment: ArmInput): InformationalComparison {
  const pick = (a: ArmInput): MeanSummary => (metric === "latency_ms" ? a.latencySamples : a.costSamples) ?? NO_SAMPLES;
  const [c, t] = [pick(control), pick(treatment)];
  const w = welch(c, t);
  const mean = (s: MeanSummary): number | null => (s.n === 0 ? null : s.sum / s.n);
  const [cMean, tMean] = [mean(c), mean(t)];
  return {
    metric,
    control: control.version,
    treatment: treatment.version,
    control_mean: cMean,
    treatment_mean: tMean,
    diff: w?.diff ?? (cMean === null || tMean === null ? null : tMean - cMean),
    ci_low: w?.ciLow ?? null,
    ci_high: w?.ciHigh ?? null,
    p_value: w?.pValue ?? null,
    significant: w?.significant ?? false,
    control_n: c.n,
    treatment_n: t.n,
  };
}

const INFORMATIONAL: readonly InformationalMetric[] = ["latency_ms", "cost_per_request_usd"];

function srmOf(input: SrmInput | null): SrmReport | null {
  if (input === null) return null;
  const result = sampleRatioMismatch(input.observedUsers, input.expectedShares, input.counterError);
  return {
    basis: input.basis,
    since: input.since,
    versions: input.versions,
    p_value: result?.pValue ?? null,
    mismatch: result?.mismatch ?? false,
    expected: result?.expected ?? [],
    observed: [...input.observedUsers],
    counter_error: input.counterError,
  };
}

const COMPARED: readonly ComparedMetric[] = ["quality", "error_rate", "thumbs_down_rate"];

/** The readout of `arms` (one per version served in the window), each canary against the stable version. */
export function experimentReport(arms: readonly ArmInput[], srm: SrmInput | null): ExperimentReport {
  const stable = arms.find((a) => a.variant === "stable") ?? null;
  const canaries = stable === null ? [] : arms.filter((a) => a !== stable);
  return {
    stable: stable?.version ?? null,
    versions: arms.map((a) => ({
      version: a.version,
      variant: a.variant,
      weight: a.weight,
      users: a.users,
      requests: a.requests,
      errors: a.errors,
      quality: meanAndStd(a.quality),
      thumbs: { up: a.thumbs.up, down: a.thumbs.down },
      cost_per_request_usd: a.costPerRequestUsd,
      latency_ms: a.latencyMs,
    })),
    comparisons: canaries.flatMap((t) => COMPARED.map((m) => compare(m, stable!, t))),
    informational: canaries.flatMap((t) => INFORMATIONAL.map((m) => informational(m, stable!, t))),
    srm: srmOf(srm),
    mde: canaries.flatMap((t) => COMPARED.map((m) => mdeOf(m, stable!, t))),
  };
}
