// Two rates (error rate, thumbs-down rate) compared: the pooled z-test's p-value and Newcombe's hybrid score
// interval for the difference, which stays sensible at 0 events where the Wald interval collapses to a point.
import { normalQuantile, twoSidedZPValue } from "./distributions.ts";
import { checkAlpha, checkProportionSummary, type ProportionSummary } from "./summaries.ts";

export interface TwoProportionsResult {
  readonly controlRate: number;
  readonly treatmentRate: number;
  /** treatment rate - control rate. */
  readonly diff: number;
  /** The pooled z statistic (0 when neither arm can differ: no events at all, or events everywhere). */
  readonly z: number;
  readonly pValue: number;
  /** Newcombe's hybrid score interval (his method 10): Wilson intervals of each rate, combined. */
  readonly ciLow: number;
  readonly ciHigh: number;
  readonly significant: boolean;
}

/** Wilson's score interval for one rate x / n at critical value z. */
export function wilsonInterval(x: number, n: number, z: number): [number, number] {
  const p = x / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At x = 0 (x = n) the bound is exactly 0 (1); the formula leaves a rounding residue there.
  return [x === 0 ? 0 : Math.max(0, centre - half), x === n ? 1 : Math.min(1, centre + half)];
}

/** Compares treatment's rate with control's. Returns null when an arm has no trials. */
export function twoProportions(
  control: ProportionSummary,
  treatment: ProportionSummary,
  alpha = 0.05,
): TwoProportionsResult | null {
  checkProportionSummary(control, "control");
  checkProportionSummary(treatment, "treatment");
  checkAlpha(alpha);
  if (control.n === 0 || treatment.n === 0) return null;
  const [pc, pt] = [control.x / control.n, treatment.x / treatment.n];
  const diff = pt - pc;
  const pooled = (control.x + treatment.x) / (control.n + treatment.n);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n));
  const z = se0 > 0 ? diff / se0 : 0;
  const pValue = se0 > 0 ? twoSidedZPValue(z) : 1;
  const crit = normalQuantile(1 - alpha / 2);
  const [lt, ut] = wilsonInterval(treatment.x, treatment.n, crit);
  const [lc, uc] = wilsonInterval(control.x, control.n, crit);
  return {
    controlRate: pc,
    treatmentRate: pt,
    diff,
    z,
    pValue,
    ciLow: diff - Math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2),
    ciHigh: diff + Math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2),
    significant: pValue < alpha,
  };
}
