// The per-version aggregates over time: a window cut into equal steps (one minute and up), each step summed as
// `stats` sums a window, for charts of requests, users, quality, error rate, cost and latency per version.
// `/admin/prompts/:name/series` serves it; the console's experiment page draws it.
import { compareVersions } from "../split/layout.ts";
import { statsIndexKey, statsKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import type { Registry } from "../registry/registry.ts";
import { RegistryError } from "../registry/registry-error.ts";
import { MINUTE_MS } from "../telemetry/aggregates.ts";
import { addMinute, emptyStats, feedbackMoments, MAX_WINDOW_MS, minutesOf, quantileMs } from "./aggregate-stats.ts";
import { readDistinctUsers } from "./distinct-users.ts";
import { QUALITY_METRIC } from "./experiment.ts";
import { statsSubject } from "./stats-ops.ts";

/** A chart needs no more points than this; a longer window gets longer steps. */
export const MAX_POINTS = 120;

export interface SeriesPoint {
  /** ISO time the step starts. */
  readonly t: string;
  readonly requests: number;
  readonly errors: number;
  /** errors / requests; null without requests. */
  readonly error_rate: number | null;
  /** Distinct identified users in the step (an estimate on Redis). */
  readonly users: number;
  /** Feedback scores of the metric in the step, and their mean (null without any). */
  readonly quality_n: number;
  readonly quality_mean: number | null;
  readonly thumbs_up: number;
  readonly thumbs_down: number;
  /** Mean cost of the priced requests in USD; null when none was priced. */
  readonly cost_per_request_usd: number | null;
  readonly latency_mean_ms: number | null;
  readonly latency_p95_ms: number | null;
}

export interface VersionSeries {
  readonly version: string;
  /** `stable`: the label's version now; `canary`: any other. */
  readonly variant: "stable" | "canary";
  readonly points: readonly SeriesPoint[];
}

export interface StatsSeries {
  readonly name: string;
  readonly env: string;
  readonly from: string;
  readonly to: string;
  readonly step_ms: number;
  readonly metric: string;
  readonly stable: string | null;
  /** Newest version first: the label's, those its weights name, and any other that served in the window. */
  readonly versions: readonly VersionSeries[];
}

export interface SeriesOptions {
  /** Step length in ms, whole minutes; default: the shortest that keeps the window within MAX_POINTS. */
  readonly stepMs?: number;
  /** The feedback metric (default `quality`). */
  readonly metric?: string;
}

export async function versionSeries(
  store: Store,
  registry: Registry,
  name: string,
  env: string,
  windowMs: number,
  now: number,
  options: SeriesOptions = {},
): Promise<StatsSeries> {
  if (windowMs > MAX_WINDOW_MS) throw new RegistryError("invalid", "the window is too long", { field: "since" });
  const windowMinutes = Math.ceil(windowMs / MINUTE_MS);
  const stepMinutes =
    options.stepMs === undefined ? Math.max(1, Math.ceil(windowMinutes / MAX_POINTS)) : options.stepMs / MINUTE_MS;
  if (!Number.isInteger(stepMinutes) || stepMinutes < 1)
    throw new RegistryError("invalid", "step must be a whole number of minutes", { field: "step" });
  if (Math.ceil(windowMinutes / stepMinutes) > MAX_POINTS)
    throw new RegistryError("invalid", `step is too short: the window would have more than ${MAX_POINTS} points`, {
      field: "step",
    });
  const [{ label, current }, index] = await Promise.all([
    statsSubject(store, registry, name, env),
    store.hgetall(statsIndexKey(env, name)),
  ]);
  const stable = label?.version ?? null;
  const candidates = [...new Set([...current, ...Object.keys(index)])];

  // Steps end with the minute now is in, as `stats` windows do.
  const stepMs = stepMinutes * MINUTE_MS;
  const to = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
  const steps = Math.ceil(windowMinutes / stepMinutes);
  const from = to - steps * stepMs;
  const minutes = minutesOf(from, to);
  const hashes = await store.hgetallMany(candidates.flatMap((v) => minutes.map((m) => statsKey(env, name, v, m))));

  const metric = options.metric ?? QUALITY_METRIC;
  const series: { version: string; points: SeriesPoint[]; requests: number }[] = [];
  for (const [vi, version] of candidates.entries()) {
    const points: SeriesPoint[] = [];
    let requests = 0;
    for (let s = 0; s < steps; s++) {
      const sum = emptyStats(version);
      for (let k = 0; k < stepMinutes; k++) {
        const hash = hashes[vi * minutes.length + s * stepMinutes + k];
        if (hash) addMinute(sum, hash);
      }
      requests += sum.requests;
      const feedback = Object.hasOwn(sum.feedback, metric) ? sum.feedback[metric] : undefined;
      points.push({
        t: new Date(from + s * stepMs).toISOString(),
        requests: sum.requests,
        errors: sum.errors,
        error_rate: sum.requests === 0 ? null : sum.errors / sum.requests,
        users: 0,
        quality_n: feedback?.n ?? 0,
        quality_mean: feedback === undefined ? null : feedbackMoments(feedback).mean,
        thumbs_up: feedback?.up ?? 0,
        thumbs_down: feedback?.down ?? 0,
        cost_per_request_usd: sum.priced === 0 ? null : Number(sum.costPico) / 1e12 / sum.priced,
        latency_mean_ms: sum.latency.count === 0 ? null : round(sum.latency.sumMs / sum.latency.count),
        latency_p95_ms: round(quantileMs(sum.latency, 0.95)),
      });
    }
    if (requests > 0 || current.includes(version)) series.push({ version, points, requests });
  }
  // Distinct users per step: a version's steps read in parallel, each over its own minutes.
  await Promise.all(
    series.map(async (v) => {
      const counts = await Promise.all(
        v.points.map(async (p, s) =>
          p.requests === 0
            ? 0
            : ((
                await readDistinctUsers(store, { env, name, from: from + s * stepMs, to: from + (s + 1) * stepMs }, [
                  v.version,
                ])
              )[0]?.users ?? 0),
        ),
      );
      v.points = v.points.map((p, s) => ({ ...p, users: counts[s] ?? 0 }));
    }),
  );
  return {
    name,
    env,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    step_ms: stepMs,
    metric,
    stable,
    versions: series
      .sort((a, b) => compareVersions(b.version, a.version))
      .map((v) => ({ version: v.version, variant: v.version === stable ? "stable" : "canary", points: v.points })),
  };
}

function round(v: number | null): number | null {
  return v === null ? null : Math.round(v * 10) / 10;
}
