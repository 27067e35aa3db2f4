// Welch's unequal-variance t-test on two means, from (n, sum, sumSq) per arm: the fixed-horizon comparison,
// equal to scipy.stats.ttest_ind_from_stats(equal_var=False), with the Welch-Satterthwaite interval.
import { studentTQuantile, twoSidedTPValue } from "./distributions.ts";
import { checkAlpha, checkMeanSummary, meanOf, varianceOf, type MeanSummary } from "./summaries.ts";

export interface WelchResult {
  readonly controlMean: number;
  readonly treatmentMean: number;
  /** treatment - control. */
  readonly diff: number;
  /** Standard error of diff: sqrt(var_c / n_c + var_t / n_t). */
  readonly se: number;
  /** Welch-Satterthwaite degrees of freedom. */
  readonly df: number;
  readonly t: number;
  readonly pValue: number;
  /** diff -+ t_{1-alpha/2, df} * se. */
  readonly ciLow: number;
  readonly ciHigh: number;
  /** pValue < alpha. */
  readonly significant: boolean;
}

/**
 * Welch's t-test of treatment against control. Returns null when it is undefined: fewer than 2 observations in an
 * arm, or no variance in either (every score equal).
 */
export function welch(control: MeanSummary, treatment: MeanSummary, alpha = 0.05): WelchResult | null {
  checkMeanSummary(control, "control");
  checkMeanSummary(treatment, "treatment");
  checkAlpha(alpha);
  if (control.n < 2 || treatment.n < 2) return null;
  const [vc, vt] = [varianceOf(control) / control.n, varianceOf(treatment) / treatment.n];
  const se2 = vc + vt;
  if (!(se2 > 0)) return null;
  const se = Math.sqrt(se2);
  const df = (se2 * se2) / ((vc * vc) / (control.n - 1) + (vt * vt) / (treatment.n - 1));
  const [controlMean, treatmentMean] = [meanOf(control), meanOf(treatment)];
  const diff = treatmentMean - controlMean;
  const t = diff / se;
  const pValue = twoSidedTPValue(t, df);
  const half = studentTQuantile(1 - alpha / 2, df) * se;
  return {
    controlMean,
    treatmentMean,
    diff,
    se,
    df,
    t,
    pValue,
    ciLow: diff - half,
    ciHigh: diff + half,
    significant: pValue < alpha,
  };
}
