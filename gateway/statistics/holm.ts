// Holm's step-down adjustment, for the per-segment readout: many segments, one family-wise error rate.
import { StatisticsError } from "./summaries.ts";

/**
 * Holm-adjusted p-values, in the order given: the i-th smallest p becomes max over j <= i of
 * min(1, (m - j + 1) * p_(j)). Rejecting where the adjusted p < alpha controls the family-wise error rate.
 */
export function holm(pValues: readonly number[]): number[] {
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new StatisticsError(`pValues[${i}] must be between 0 and 1`, `pValues[${i}]`);
  });
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}
