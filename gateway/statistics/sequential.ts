// Always-valid inference: the asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Howard & Ramdas,
// "Time-uniform central limit theory and asymptotic confidence sequences" (arXiv 2103.06476, Theorem 2.2), in the
// two-sample form GrowthBook and Eppo use for a difference in means. Unlike a fixed-horizon interval, it may be
// looked at after every new observation: the chance that it ever excludes the true difference is about alpha.
import { checkAlpha, checkCount, checkMeanSummary, checkProportionSummary, StatisticsError } from "./summaries.ts";
import { meanOf, varianceOf, type MeanSummary, type ProportionSummary } from "./summaries.ts";

/**
 * Default tuning sample size N*: the total number of units (both arms) at which the sequence is tightest relative
 * to a fixed-horizon interval. 5,000 is GrowthBook's default, and about where a 3-point quality difference (scores'
 * standard deviation near 0.25) or a 2.5-point error-rate difference from 5% becomes detectable.
 */
export const DEFAULT_TUNING_N = 5000;

export interface SequentialOptions {
  readonly alpha?: number;
  /** N*, total units over both arms; see DEFAULT_TUNING_N. */
  readonly tuningN?: number;
}

/** A difference to bound: the estimate, each arm's per-unit variance and size. */
export interface DifferenceEstimate {
  readonly diff: number;
  readonly controlVariance: number;
  readonly treatmentVariance: number;
  readonly controlN: number;
  readonly treatmentN: number;
}

export interface ConfidenceSequenceResult {
  readonly diff: number;
  readonly halfWidth: number;
  readonly low: number;
  readonly high: number;
  /** The always-valid p-value: min(1, 1 / E), E the mixture e-value; below alpha exactly when 0 is outside. */
  readonly pValue: number;
  readonly significant: boolean;
}

/** The mixing parameter rho for N* (the paper's approximately optimal choice for a two-sided sequence at time N*). */
export function sequentialRho(alpha: number, tuningN: number): number {
  checkAlpha(alpha);
  if (!(tuningN > 0 && Number.isFinite(tuningN))) throw new StatisticsError("tuningN must be > 0", "tuningN");
  const l = -2 * Math.log(alpha);
  return Math.sqrt((l + Math.log(l + 1)) / tuningN);
}

/**
 * The half-width at total size n for a per-unit variance s2:
 * sqrt(s2) * sqrt( 2 (n rho^2 + 1) / (n^2 rho^2) * log( sqrt(n rho^2 + 1) / alpha ) ).
 */
export function sequentialHalfWidth(s2: number, n: number, alpha: number, rho: number): number {
  const r = n * rho * rho + 1;
  return Math.sqrt(s2) * Math.sqrt(((2 * r) / (n * n * rho * rho)) * Math.log(Math.sqrt(r) / alpha));
}

/**
 * The per-unit variance of the two-sample difference, as the paper's one-sample s2: with n = n_c + n_t and
 * se^2 = v_c / n_c + v_t / n_t, s2 = n * se^2 (GrowthBook's reduction; exact when the split's shares are fixed).
 */
const pooledUnitVariance = (e: DifferenceEstimate): number =>
  (e.controlN + e.treatmentN) * (e.controlVariance / e.controlN + e.treatmentVariance / e.treatmentN);

/** The confidence sequence for a difference; null when an arm is empty or nothing varies. */
export function confidenceSequence(
  e: DifferenceEstimate,
  options: SequentialOptions = {},
): ConfidenceSequenceResult | null {
  const { alpha = 0.05, tuningN = DEFAULT_TUNING_N } = options;
  const rho = sequentialRho(alpha, tuningN);
  checkCount(e.controlN, "controlN");
  checkCount(e.treatmentN, "treatmentN");
  if (e.controlN === 0 || e.treatmentN === 0) return null;
  const s2 = pooledUnitVariance(e);
  if (!(s2 > 0) || !Number.isFinite(e.diff)) return null;
  const n = e.controlN + e.treatmentN;
  const halfWidth = sequentialHalfWidth(s2, n, alpha, rho);
  const r = n * rho * rho + 1;
  // log E = rho^2 S^2 / (2 s2 r) - log(sqrt(r)), with S = n * diff the sum the paper's martingale tracks.
  const logE = (rho * rho * n * n * e.diff * e.diff) / (2 * s2 * r) - 0.5 * Math.log(r);
  return {
    diff: e.diff,
    halfWidth,
    low: e.diff - halfWidth,
    high: e.diff + halfWidth,
    pValue: Math.min(1, Math.exp(-logE)),
    significant: Math.abs(e.diff) > halfWidth,
  };
}

/** The difference in means (treatment - control) with sample variances; null below 2 observations an arm. */
export function meanDifference(control: MeanSummary, treatment: MeanSummary): DifferenceEstimate | null {
  checkMeanSummary(control, "control");
  checkMeanSummary(treatment, "treatment");
  if (control.n < 2 || treatment.n < 2) return null;
  return {
    diff: meanOf(treatment) - meanOf(control),
    controlVariance: varianceOf(control),
    treatmentVariance: varianceOf(treatment),
    controlN: control.n,
    treatmentN: treatment.n,
  };
}

/** The difference in rates (treatment - control) with Bernoulli variances p (1 - p); null when an arm is empty. */
export function proportionDifference(
  control: ProportionSummary,
  treatment: ProportionSummary,
): DifferenceEstimate | null {
  checkProportionSummary(control, "control");
  checkProportionSummary(treatment, "treatment");
  if (control.n === 0 || treatment.n === 0) return null;
  const [pc, pt] = [control.x / control.n, treatment.x / treatment.n];
  return {
    diff: pt - pc,
    controlVariance: pc * (1 - pc),
    treatmentVariance: pt * (1 - pt),
    controlN: control.n,
    treatmentN: treatment.n,
  };
}

/** The confidence sequence for a difference in means. */
export function sequentialMeans(
  control: MeanSummary,
  treatment: MeanSummary,
  options: SequentialOptions = {},
): ConfidenceSequenceResult | null {
  const e = meanDifference(control, treatment);
  return e && confidenceSequence(e, options);
}

/** The confidence sequence for a difference in rates. */
export function sequentialProportions(
  control: ProportionSummary,
  treatment: ProportionSummary,
  options: SequentialOptions = {},
): ConfidenceSequenceResult | null {
  const e = proportionDifference(control, treatment);
  return e && confidenceSequence(e, options);
}
