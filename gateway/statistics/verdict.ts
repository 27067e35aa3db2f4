// The verdict of a comparison, drawn from the always-valid interval and the metric's direction.

/** Which way is good: quality up, error and thumbs-down rates down. */
export type Direction = "higher_is_better" | "lower_is_better";

export type Verdict = "better" | "worse" | "no_difference" | "too_early";

/** The built-in metrics' directions; feedback metrics other than these are scores, higher is better. */
export const METRIC_DIRECTIONS: Readonly<Record<string, Direction>> = {
  quality: "higher_is_better",
  error_rate: "lower_is_better",
  thumbs_down_rate: "lower_is_better",
};

export const directionOf = (metric: string): Direction => METRIC_DIRECTIONS[metric] ?? "higher_is_better";

/** The sequential interval for treatment - control; null when it could not be computed yet. */
export interface Interval {
  readonly low: number;
  readonly high: number;
}

/**
 * better / worse: the interval excludes 0, on the good / bad side for the direction. no_difference: it contains 0
 * and lies within +-minimumEffect, so any true difference is smaller than the effect that matters. too_early: it
 * contains 0 and reaches beyond +-minimumEffect (or there is no interval yet). Valid however often it is asked.
 */
export function verdictOf(interval: Interval | null, direction: Direction, minimumEffect: number): Verdict {
  if (interval === null) return "too_early";
  const sign = direction === "higher_is_better" ? 1 : -1;
  if (interval.low > 0) return sign > 0 ? "better" : "worse";
  if (interval.high < 0) return sign > 0 ? "worse" : "better";
  if (interval.low >= -minimumEffect && interval.high <= minimumEffect) return "no_difference";
  return "too_early";
}
