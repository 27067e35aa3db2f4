// The distributions every test here needs, from the @stdlib packages (typed, no install scripts, accurate for
// degrees of freedom in the millions). Tails are computed directly, never as 1 - cdf, so small p-values keep
// their digits.
import gammainc from "@stdlib/math-base-special-gammainc";
import normalCdfOf from "@stdlib/stats-base-dists-normal-cdf";
import normalQuantileOf from "@stdlib/stats-base-dists-normal-quantile";
import tCdf from "@stdlib/stats-base-dists-t-cdf";
import tQuantile from "@stdlib/stats-base-dists-t-quantile";

/** P(Z <= z) for a standard normal Z. */
export const normalCdf = (z: number): number => normalCdfOf(z, 0, 1);

/** The z with P(Z <= z) = p for a standard normal Z. */
export const normalQuantile = (p: number): number => normalQuantileOf(p, 0, 1);

/** P(T <= t) for Student's t with df degrees of freedom (df > 0, not necessarily an integer). */
export const studentTCdf = (t: number, df: number): number => tCdf(t, df);

/** The t with P(T <= t) = p for Student's t with df degrees of freedom. */
export const studentTQuantile = (p: number, df: number): number => tQuantile(p, df);

/** P(T >= |t|) + P(T <= -|t|): the two-sided p-value of a t statistic. */
export const twoSidedTPValue = (t: number, df: number): number => Math.min(1, 2 * tCdf(-Math.abs(t), df));

/** P(|Z| >= |z|): the two-sided p-value of a z statistic. */
export const twoSidedZPValue = (z: number): number => Math.min(1, 2 * normalCdf(-Math.abs(z)));

/** P(X >= x) for a chi-square X with df degrees of freedom: the regularized upper incomplete gamma Q(df/2, x/2). */
export const chiSquareSurvival = (x: number, df: number): number => (x <= 0 ? 1 : gammainc(x / 2, df / 2, true, true));
