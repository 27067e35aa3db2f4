// What the controller reads for one look at a rollout step: each side's aggregates and distinct users since the
// step started (stats/aggregate-stats.ts, stats/distinct-users.ts), turned into what the guardrails compare.
import { MAX_WINDOW_MS, readVersionStats, emptyStats } from "../stats/aggregate-stats.ts";
import { readDistinctUsers } from "../stats/distinct-users.ts";
import type { Store } from "../store/store.ts";
import type { StepObservation } from "./guardrails.ts";
import { armObservation } from "./observation.ts";
import type { RolloutRecord } from "./record.ts";

/**
 * The current step's traffic per side, from `step_started_at` to `now`. The aggregates are kept per minute, so
 * the minute holding the step's start is read whole: up to a minute of the step before it counts too. Both sides
 * are read over the same minutes, and each side's rates are its own, so this shifts no comparison; it only lets
 * a step's first minute start with the previous step's users. Null when the step has not started.
 */
export async function readStepObservation(
  store: Store,
  r: Pick<RolloutRecord, "prompt" | "env" | "stable_version" | "canary_version" | "step_started_at">,
  now: number,
): Promise<StepObservation | null> {
  if (r.step_started_at === null) return null;
  const started = Date.parse(r.step_started_at);
  const to = Math.max(now, started) + 1; // exclusive: the current millisecond is in
  const window = { env: r.env, name: r.prompt, from: Math.max(started, to - MAX_WINDOW_MS), to };
  const versions = [r.stable_version, r.canary_version];
  const [stats, users] = await Promise.all([
    readVersionStats(store, window, versions, { only: true }),
    readDistinctUsers(store, window, versions),
  ]);
  const side = (version: string) =>
    armObservation(
      stats.find((s) => s.version === version) ?? emptyStats(version),
      users.find((u) => u.version === version)?.users ?? 0,
    );
  return { stable: side(r.stable_version), canary: side(r.canary_version) };
}
