// The weights in force over a window: each minute's mean share per version among the identified
// requests the split served (store/keys.ts: shares:...), and the steps of a ramp (runs of minutes
// with the same shares), so a sample-ratio test can restrict itself to the current step or weight the
// expected counts by the time each step lasted.
import { BUCKETS } from "../split/bucket.ts";
import { sharesKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import { MINUTE_MS, SHARES_REQUESTS_FIELD, shareField } from "../telemetry/aggregates.ts";
import { minutesOf, type StatsWindow } from "./aggregate-stats.ts";

export interface ShareMinute {
  /** Epoch minute. */
  readonly minute: number;
  /** Identified requests the split served in that minute (every replica). */
  readonly requests: number;
  /** Version -> mean share (0..1) of the buckets in force over those requests; absent = 0. */
  readonly shares: Readonly<Record<string, number>>;
}

export interface WeightStep {
  /** Epoch ms: the start of the step's first minute (inclusive) and the end of its last (exclusive). */
  readonly from: number;
  readonly to: number;
  /** Identified requests served during the step. */
  readonly requests: number;
  readonly shares: Readonly<Record<string, number>>;
}

export interface WeightsInForce {
  /** Minutes with identified requests, oldest first (minutes without any are not listed). */
  readonly minutes: readonly ShareMinute[];
  /**
   * Runs of minutes whose shares are equal, oldest first. A minute in which the weights changed blends
   * the two and forms a step of its own; the last step is the one in force now.
   */
  readonly steps: readonly WeightStep[];
  /** The last step, or null when nothing was split in the window. */
  readonly current: WeightStep | null;
}

const SAME = 1e-9;

/** One stored shares hash as a minute; null when it counts no request. */
export function shareMinute(minute: number, hash: Readonly<Record<string, string>>): ShareMinute | null {
  const requests = Number(hash[SHARES_REQUESTS_FIELD] ?? "0");
  if (!(requests > 0)) return null;
  const shares: Record<string, number> = {};
  const prefix = shareField("");
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(prefix)) continue;
    const share = Number(value) / (requests * BUCKETS);
    if (share > 0) shares[field.slice(prefix.length)] = share;
  }
  return { minute, requests, shares };
}

function sameShares(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const versions = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const v of versions) if (Math.abs((a[v] ?? 0) - (b[v] ?? 0)) > SAME) return false;
  return true;
}

/** Groups minutes (oldest first) into steps of equal shares; minutes without requests join no step. */
export function stepsOf(minutes: readonly ShareMinute[]): WeightStep[] {
  const steps: { from: number; to: number; requests: number; shares: Readonly<Record<string, number>> }[] = [];
  for (const m of minutes) {
    const last = steps.at(-1);
    if (last && sameShares(last.shares, m.shares)) {
      last.to = (m.minute + 1) * MINUTE_MS;
      last.requests += m.requests;
    } else {
      steps.push({
        from: m.minute * MINUTE_MS,
        to: (m.minute + 1) * MINUTE_MS,
        requests: m.requests,
        shares: m.shares,
      });
    }
  }
  return steps;
}

/**
 * Shares per version weighted by the identified requests of each step: the expected share over the
 * whole window when the weights moved (requests stand in for time, as they are what the split saw).
 */
export function requestWeightedShares(steps: readonly WeightStep[]): Record<string, number> {
  const total = steps.reduce((sum, s) => sum + s.requests, 0);
  const out: Record<string, number> = {};
  if (total === 0) return out;
  for (const step of steps)
    for (const [v, share] of Object.entries(step.shares)) out[v] = (out[v] ?? 0) + (share * step.requests) / total;
  return out;
}

/** The weights in force over a window (its minutes read whole). */
export async function readWeightsInForce(store: Store, window: StatsWindow): Promise<WeightsInForce> {
  if (!(window.to > window.from)) throw new RangeError("the window must end after it starts");
  const minutes = minutesOf(window.from, window.to);
  const hashes = await store.hgetallMany(minutes.map((m) => sharesKey(window.env, window.name, m)));
  const found = minutes.map((m, i) => shareMinute(m, hashes[i] ?? {})).filter((m): m is ShareMinute => m !== null);
  const steps = stepsOf(found);
  return { minutes: found, steps, current: steps.at(-1) ?? null };
}
