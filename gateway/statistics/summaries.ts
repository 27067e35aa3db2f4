// What the statistics read: sufficient statistics only (counts, sums, sums of squares), never raw rows.

/** A metric's observations in one arm: how many, their sum and the sum of their squares. */
export interface MeanSummary {
  readonly n: number;
  readonly sum: number;
  readonly sumSq: number;
}

/** A rate in one arm: x events (errors, thumbs down) out of n trials. */
export interface ProportionSummary {
  readonly n: number;
  readonly x: number;
}

/** Input a statistic cannot use: a negative count, a sum of squares below what the sum allows, a share <= 0. */
export class StatisticsError extends RangeError {
  override readonly name = "StatisticsError";
  /** The argument at fault, e.g. "control.n". */
  readonly field: string;
  constructor(message: string, field: string) {
    super(message);
    this.field = field;
  }
}

export function checkCount(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0) throw new StatisticsError(`${field} must be a whole number >= 0`, field);
}

export function checkFinite(value: number, field: string): void {
  if (!Number.isFinite(value)) throw new StatisticsError(`${field} must be a finite number`, field);
}

export function checkAlpha(alpha: number, field = "alpha"): void {
  if (!(alpha > 0 && alpha < 1)) throw new StatisticsError(`${field} must be between 0 and 1 (exclusive)`, field);
}

export function checkMeanSummary(s: MeanSummary, field: string): void {
  checkCount(s.n, `${field}.n`);
  checkFinite(s.sum, `${field}.sum`);
  checkFinite(s.sumSq, `${field}.sumSq`);
  if (s.sumSq < 0) throw new StatisticsError(`${field}.sumSq must be >= 0`, `${field}.sumSq`);
  // Cauchy-Schwarz: sum^2 <= n * sumSq, with room for rounding of the stored micro-units.
  if (s.sum * s.sum > s.n * s.sumSq * (1 + 1e-9) + 1e-9) {
    throw new StatisticsError(
      `${field}.sumSq is smaller than ${field}.sum allows (sum^2 > n * sumSq)`,
      `${field}.sumSq`,
    );
  }
}

export function checkProportionSummary(s: ProportionSummary, field: string): void {
  checkCount(s.n, `${field}.n`);
  checkCount(s.x, `${field}.x`);
  if (s.x > s.n) throw new StatisticsError(`${field}.x must be <= ${field}.n`, `${field}.x`);
}

/** The sample mean (NaN when n = 0). */
export const meanOf = (s: MeanSummary): number => (s.n === 0 ? Number.NaN : s.sum / s.n);

/**
 * The unbiased sample variance (n - 1 in the denominator; NaN when n < 2), clamped at 0 against the rounding of
 * sumSq - sum^2 / n. Scores are in [0, 1] and stored as integer micro-units, so the cancellation costs at most
 * about 1e-6 of the variance.
 */
export function varianceOf(s: MeanSummary): number {
  if (s.n < 2) return Number.NaN;
  return Math.max(0, (s.sumSq - (s.sum * s.sum) / s.n) / (s.n - 1));
}

/** The summary of a 0/1 metric: x ones among n. */
export const proportionAsMean = (s: ProportionSummary): MeanSummary => ({ n: s.n, sum: s.x, sumSq: s.x });
