// From the aggregates read back over a step (stats/aggregate-stats.ts) to what the guardrails compare: one side's
// users, requests, errors, latency histogram, cost and quality scores. Pure.
import type { MeanSummary } from "../statistics/summaries.ts";
import type { VersionStats } from "../stats/aggregate-stats.ts";
import type { ArmObservation } from "./guardrails.ts";

/** The feedback metric the quality guardrail reads. */
export const ROLLOUT_QUALITY_METRIC = "quality";

/** A mean's summary from squares; a sumSq a hair under sum^2 / n (each square rounded) is clamped there. */
const summary = (n: number, sum: number, sumSq: number): MeanSummary => ({
  n,
  sum,
  sumSq: n === 0 ? sumSq : Math.max(sumSq, (sum * sum) / n),
});

/**
 * One side of a step: `stats` summed over the minutes since the step started, `users` its distinct users over the
 * same minutes. Cost is in USD per priced request (the aggregates keep milli-cents); minutes written before the
 * squares existed are left out of the cost (see aggregate-stats.ts `costSquares`).
 */
export function armObservation(
  stats: VersionStats,
  users: number,
  qualityMetric = ROLLOUT_QUALITY_METRIC,
): ArmObservation {
  const q = Object.hasOwn(stats.feedback, qualityMetric) ? stats.feedback[qualityMetric] : undefined;
  const c = stats.costSquares;
  return {
    users,
    requests: stats.requests,
    errors: stats.errors,
    latency: stats.latency.bucketed > 0 ? { bounds: stats.latency.bounds, counts: stats.latency.counts } : null,
    cost: c.n === 0 ? null : summary(c.n, c.sum / 1e5, c.sumSq / 1e10),
    quality: q === undefined ? { n: 0, sum: 0, sumSq: 0 } : summary(q.n, q.sumMicro / 1e6, q.sumSqMicro / 1e6),
  };
}
