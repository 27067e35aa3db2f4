// How small an effect the data can show now, and how many units it would take to show a given one. The sequential
// figures come from the confidence sequence's own width, so "too early" agrees with the verdict drawn from it.
import { normalQuantile } from "./distributions.ts";
import { DEFAULT_TUNING_N, sequentialHalfWidth, sequentialRho, type SequentialOptions } from "./sequential.ts";
import { checkAlpha, checkMeanSummary, checkProportionSummary, StatisticsError, varianceOf } from "./summaries.ts";
import type { MeanSummary, ProportionSummary } from "./summaries.ts";

/** Per-unit variances and sizes of the two arms. */
export interface PowerDesign {
  readonly controlVariance: number;
  readonly treatmentVariance: number;
  readonly controlN: number;
  readonly treatmentN: number;
}

export interface PowerOptions extends SequentialOptions {
  /** Probability of detecting an effect of the given size; 0.8 by default. */
  readonly power?: number;
}

export interface MinimumDetectableEffect {
  /** (z_{1-alpha/2} + z_power) * se: for one look at a fixed sample size. */
  readonly fixedHorizon: number;
  /** halfWidth(n) + z_power * se: for the always-valid interval the verdict is drawn from. */
  readonly sequential: number;
}

export interface UsersNeeded {
  /** Total units (both arms) at which the sequential MDE reaches the effect, at the current split. */
  readonly total: number;
  /** What is still missing: total minus the units already there (0 when enough). */
  readonly additional: number;
}

function resolve(options: PowerOptions): { alpha: number; power: number; rho: number } {
  const { alpha = 0.05, tuningN = DEFAULT_TUNING_N, power = 0.8 } = options;
  checkAlpha(alpha);
  if (!(power > 0 && power < 1)) throw new StatisticsError("power must be between 0 and 1 (exclusive)", "power");
  return { alpha, power, rho: sequentialRho(alpha, tuningN) };
}

/** The per-unit variance s2 of the difference (see sequential.ts) for a treatment share r. */
function unitVariance(design: PowerDesign, r: number): number {
  if (!(design.controlVariance >= 0 && design.treatmentVariance >= 0)) {
    throw new StatisticsError("variances must be >= 0", "design");
  }
  return design.controlVariance / (1 - r) + design.treatmentVariance / r;
}

function shareOf(design: PowerDesign): number {
  const n = design.controlN + design.treatmentN;
  if (!(design.controlN > 0 && design.treatmentN > 0)) throw new StatisticsError("both arms need units", "design");
  return design.treatmentN / n;
}

/** The smallest true difference detected with the given power at the current sizes. */
export function minimumDetectableEffect(design: PowerDesign, options: PowerOptions = {}): MinimumDetectableEffect {
  const { alpha, power, rho } = resolve(options);
  const r = shareOf(design);
  const n = design.controlN + design.treatmentN;
  const s2 = unitVariance(design, r);
  const se = Math.sqrt(s2 / n);
  const zPower = normalQuantile(power);
  return {
    fixedHorizon: (normalQuantile(1 - alpha / 2) + zPower) * se,
    sequential: sequentialHalfWidth(s2, n, alpha, rho) + zPower * se,
  };
}

/**
 * The total units at which the sequential MDE falls to `effect` (keeping the current split between the arms), and
 * how many more that is. The sequential MDE decreases with n, so a bisection on log n finds it.
 */
export function usersNeeded(design: PowerDesign, effect: number, options: PowerOptions = {}): UsersNeeded {
  if (!(effect > 0 && Number.isFinite(effect))) throw new StatisticsError("effect must be > 0", "effect");
  const { alpha, power, rho } = resolve(options);
  const r = shareOf(design);
  const s2 = unitVariance(design, r);
  const current = design.controlN + design.treatmentN;
  const zPower = normalQuantile(power);
  const mde = (n: number): number => sequentialHalfWidth(s2, n, alpha, rho) + zPower * Math.sqrt(s2 / n);
  if (s2 === 0 || mde(1) <= effect) return { total: 1, additional: 0 };
  let [lo, hi] = [1, 2];
  while (mde(hi) > effect) [lo, hi] = [hi, hi * 2];
  while (hi - lo > 1) {
    const mid = Math.floor(Math.sqrt(lo * hi));
    const m = mid <= lo ? lo + 1 : mid >= hi ? hi - 1 : mid;
    if (mde(m) > effect) lo = m;
    else hi = m;
  }
  return { total: hi, additional: Math.max(0, hi - current) };
}

/** The design of a comparison of means: sample variances and sizes; null below 2 observations an arm. */
export function meanDesign(control: MeanSummary, treatment: MeanSummary): PowerDesign | null {
  checkMeanSummary(control, "control");
  checkMeanSummary(treatment, "treatment");
  if (control.n < 2 || treatment.n < 2) return null;
  return {
    controlVariance: varianceOf(control),
    treatmentVariance: varianceOf(treatment),
    controlN: control.n,
    treatmentN: treatment.n,
  };
}

/**
 * The design of a comparison of rates: both arms get the pooled rate's variance p (1 - p) (the null's), with
 * p = (x + 0.5) / (n + 1) when no event (or only events) has been seen yet, so that power is never infinite.
 * Null when an arm is empty.
 */
export function proportionDesign(control: ProportionSummary, treatment: ProportionSummary): PowerDesign | null {
  checkProportionSummary(control, "control");
  checkProportionSummary(treatment, "treatment");
  if (control.n === 0 || treatment.n === 0) return null;
  const [x, n] = [control.x + treatment.x, control.n + treatment.n];
  const p = x === 0 || x === n ? (x + 0.5) / (n + 1) : x / n;
  return { controlVariance: p * (1 - p), treatmentVariance: p * (1 - p), controlN: control.n, treatmentN: treatment.n };
}
