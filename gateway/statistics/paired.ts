// Paired comparisons: the same cases scored under a baseline and a candidate, compared case by case (the
// regression gate of evaluation suites). Differences are always candidate - baseline. Three tests, chosen by
// the kind of score (docs/statistics.md, "Paired comparisons"):
// - pairedT: scores with many values (a judge's 0..1 score): the paired t-test and its interval of the mean
//   difference, equal to scipy.stats.ttest_rel / ttest_1samp(...).confidence_interval();
// - wilcoxonSignedRank: the same scores without assuming the differences are near normal (shown beside the t);
// - pairedProportions: 0/1 scores (pass/fail): the exact sign test (McNemar's exact test) on the discordant
//   cases and Newcombe's score interval for a difference of paired proportions.
import betainc from "@stdlib/math-base-special-betainc";
import { normalQuantile, studentTQuantile, twoSidedTPValue, twoSidedZPValue } from "./distributions.ts";
import { wilsonInterval } from "./proportions.ts";
import { checkAlpha, checkFinite, StatisticsError } from "./summaries.ts";

export interface PairedTResult {
  readonly n: number;
  /** The mean of candidate - baseline. */
  readonly meanDiff: number;
  /** The sample standard deviation of the differences (n - 1). */
  readonly sdDiff: number;
  readonly se: number;
  readonly df: number;
  readonly t: number;
  readonly pValue: number;
  /** meanDiff -+ t_{1-alpha/2, n-1} * se. */
  readonly ciLow: number;
  readonly ciHigh: number;
}

/**
 * The paired t-test of the differences' mean against 0, with its two-sided 1 - alpha interval. Null when it is
 * undefined: fewer than 2 differences, or every difference equal (no variance).
 */
export function pairedT(diffs: readonly number[], alpha = 0.05): PairedTResult | null {
  checkDiffs(diffs);
  checkAlpha(alpha);
  const n = diffs.length;
  if (n < 2) return null;
  const meanDiff = mean(diffs);
  const ss = diffs.reduce((acc, d) => acc + (d - meanDiff) ** 2, 0);
  const sdDiff = Math.sqrt(ss / (n - 1));
  if (!(sdDiff > 0) || diffs.every((d) => d === diffs[0])) return null;
  const se = sdDiff / Math.sqrt(n);
  const df = n - 1;
  const t = meanDiff / se;
  const half = studentTQuantile(1 - alpha / 2, df) * se;
  return {
    n,
    meanDiff,
    sdDiff,
    se,
    df,
    t,
    pValue: twoSidedTPValue(t, df),
    ciLow: meanDiff - half,
    ciHigh: meanDiff + half,
  };
}

export interface WilcoxonResult {
  /** Non-zero differences ranked (zeros are dropped, scipy's zero_method="wilcox"). */
  readonly n: number;
  /** The sum of the ranks of the positive differences. */
  readonly rPlus: number;
  readonly rMinus: number;
  readonly pValue: number;
  /** "exact": the null distribution counted (n <= 50, no ties); "approx": normal, tie-corrected, no continuity. */
  readonly method: "exact" | "approx";
}

/** Largest n the exact distribution is counted for (as scipy does). */
export const WILCOXON_EXACT_MAX_N = 50;

/**
 * Wilcoxon's signed-rank test of the differences against 0 (two-sided), as scipy.stats.wilcoxon(d,
 * zero_method="wilcox", correction=False) with method="exact" for n <= 50 without ties, else "approx". Null when
 * every difference is 0.
 */
export function wilcoxonSignedRank(diffs: readonly number[]): WilcoxonResult | null {
  checkDiffs(diffs);
  const nonZero = diffs.filter((d) => d !== 0);
  const n = nonZero.length;
  if (n === 0) return null;
  const sorted = nonZero.map((d) => ({ d, a: Math.abs(d) })).sort((x, y) => x.a - y.a);
  // Average ranks within ties; the tie term sum(t^3 - t) corrects the normal variance.
  const ranks: number[] = new Array<number>(n);
  let tieTerm = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && sorted[j + 1]!.a === sorted[i]!.a) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  let rPlus = 0;
  sorted.forEach((s, i) => {
    if (s.d > 0) rPlus += ranks[i]!;
  });
  const total = (n * (n + 1)) / 2;
  const rMinus = total - rPlus;
  if (n <= WILCOXON_EXACT_MAX_N && tieTerm === 0) {
    const low = Math.min(rPlus, rMinus);
    return { n, rPlus, rMinus, pValue: Math.min(1, 2 * signedRankCdf(n, low)), method: "exact" };
  }
  const mn = total / 2;
  const se = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  const pValue = se > 0 ? twoSidedZPValue((rPlus - mn) / se) : 1;
  return { n, rPlus, rMinus, pValue, method: "approx" };
}

/** P(W+ <= w) under the null for n untied ranks: subsets of {1..n} whose sum is at most w, over 2^n. */
function signedRankCdf(n: number, w: number): number {
  const max = (n * (n + 1)) / 2;
  // counts[s] / 2^k: the probability that the first k ranks' positive part sums to s (kept as probabilities).
  let probs = new Float64Array(max + 1);
  probs[0] = 1;
  for (let k = 1; k <= n; k++) {
    const next = new Float64Array(max + 1);
    for (let s = 0; s <= max; s++) {
      const p = probs[s]!;
      if (p === 0) continue;
      next[s] = next[s]! + p / 2;
      next[s + k] = next[s + k]! + p / 2;
    }
    probs = next;
  }
  let cdf = 0;
  for (let s = 0; s <= Math.floor(w); s++) cdf += probs[s]!;
  return Math.min(1, cdf);
}

/** Paired 0/1 outcomes counted: how many cases each combination of (candidate, baseline) holds. */
export interface PairedCounts {
  /** Both passed. */
  readonly both: number;
  /** The candidate passed, the baseline failed. */
  readonly candidateOnly: number;
  /** The baseline passed, the candidate failed. */
  readonly baselineOnly: number;
  /** Both failed. */
  readonly neither: number;
}

export interface PairedProportionsResult {
  readonly n: number;
  readonly candidateRate: number;
  readonly baselineRate: number;
  /** candidateRate - baselineRate = (candidateOnly - baselineOnly) / n. */
  readonly diff: number;
  /** The exact two-sided sign test on the discordant cases (McNemar's exact test); 1 when there are none. */
  readonly pValue: number;
  /** Newcombe's score interval for paired proportions (his method 10), two-sided 1 - alpha. */
  readonly ciLow: number;
  readonly ciHigh: number;
}

/** Counts pairs of 0/1 scores (candidate[i], baseline[i]); any other value is refused. */
export function countPairs(candidate: readonly number[], baseline: readonly number[]): PairedCounts {
  if (candidate.length !== baseline.length) {
    throw new StatisticsError("candidate and baseline must hold the same cases", "baseline");
  }
  const counts = { both: 0, candidateOnly: 0, baselineOnly: 0, neither: 0 };
  candidate.forEach((c, i) => {
    const b = baseline[i];
    if (c !== 0 && c !== 1) throw notBinary("candidate", i, c);
    if (b !== 0 && b !== 1) throw notBinary("baseline", i, b);
    if (c === 1 && b === 1) counts.both++;
    else if (c === 1) counts.candidateOnly++;
    else if (b === 1) counts.baselineOnly++;
    else counts.neither++;
  });
  return counts;
}

/**
 * The difference of two rates measured on the same cases. Null with no cases. The interval (Newcombe 1998,
 * "Improved confidence intervals for the difference between binomial proportions based on paired data", method
 * 10) combines the Wilson intervals of both rates with the phi correlation of the pairs, so it stays sensible
 * when no case changed, where the Wald interval shrinks to a point.
 */
export function pairedProportions(counts: PairedCounts, alpha = 0.05): PairedProportionsResult | null {
  const { both: e, candidateOnly: f, baselineOnly: g, neither: h } = counts;
  for (const [field, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 0) throw new StatisticsError(`${field} must be a whole number >= 0`, field);
  }
  checkAlpha(alpha);
  const n = e + f + g + h;
  if (n === 0) return null;
  const [p1, p2] = [(e + f) / n, (e + g) / n];
  const diff = (f - g) / n;
  const z = normalQuantile(1 - alpha / 2);
  const [l1, u1] = wilsonInterval(e + f, n, z);
  const [l2, u2] = wilsonInterval(e + g, n, z);
  const denominator = Math.sqrt((e + f) * (g + h) * (e + g) * (f + h));
  const phi = denominator > 0 ? (e * h - f * g) / denominator : 0;
  const [dl1, du1, dl2, du2] = [p1 - l1, u1 - p1, p2 - l2, u2 - p2];
  const ciLow = diff - Math.sqrt(Math.max(0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2));
  const ciHigh = diff + Math.sqrt(Math.max(0, du1 * du1 - 2 * phi * du1 * dl2 + dl2 * dl2));
  return {
    n,
    candidateRate: p1,
    baselineRate: p2,
    diff,
    pValue: signTestPValue(f, f + g),
    ciLow: Math.max(-1, ciLow),
    ciHigh: Math.min(1, ciHigh),
  };
}

/** The exact two-sided binomial test of k successes in n at 1/2: scipy.stats.binomtest(k, n).pvalue. */
export function signTestPValue(k: number, n: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < k) {
    throw new StatisticsError("the sign test needs whole numbers 0 <= k <= n", "k");
  }
  if (n === 0) return 1;
  const low = Math.min(k, n - k);
  // P(X <= low) = I_{1/2}(n - low, low + 1); the distribution is symmetric, so the two tails are equal.
  const tail = low === n ? 1 : betainc(0.5, n - low, low + 1, true, false);
  return Math.min(1, 2 * tail);
}

function notBinary(arm: string, i: number, value: number | undefined): StatisticsError {
  return new StatisticsError(`${arm}[${i}] is ${value}: paired proportions need scores of 0 or 1`, arm);
}

function checkDiffs(diffs: readonly number[]): void {
  diffs.forEach((d, i) => checkFinite(d, `diffs[${i}]`));
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
