// The 95% interval of one mean from its sufficient statistics (Student's t with n - 1 degrees of freedom), for
// the side-by-side figures that are not compared for a verdict: mean latency and mean cost per request.
import { studentTQuantile } from "./distributions.ts";
import { checkAlpha, checkMeanSummary, meanOf, varianceOf, type MeanSummary } from "./summaries.ts";

export interface MeanInterval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
}

/**
 * mean -+ t_{1-alpha/2, n-1} * s / sqrt(n), equal to scipy.stats.t.interval. Null below 2 observations. Valid for
 * skewed data such as latencies by the central limit theorem, so best read with hundreds of observations or more.
 */
export function meanInterval(s: MeanSummary, alpha = 0.05): MeanInterval | null {
  checkMeanSummary(s, "summary");
  checkAlpha(alpha);
  if (s.n < 2) return null;
  const mean = meanOf(s);
  const half = studentTQuantile(1 - alpha / 2, s.n - 1) * Math.sqrt(varianceOf(s) / s.n);
  return { mean, low: mean - half, high: mean + half };
}
