// The production-regression check of one prompt on one environment, for the controller to run every few
// minutes: reads the live version's baseline (the first `baselineMs` after the label moved to it, kept in
// the store once read so that it outlives the aggregates' retention) and its current tumbling window, runs
// the pure detector (regressions.ts), and keeps which regressions were alerted until they recover.
import { z } from "zod";
import type { AlertEvent } from "../alerts/alert-event.ts";
import type { Registry } from "../registry/registry.ts";
import { regressionBaselineKey, regressionsKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import { MINUTE_MS } from "../telemetry/aggregates.ts";
import { readVersionStats } from "./aggregate-stats.ts";
import { QUALITY_METRIC } from "./experiment.ts";
import {
  detectRegressions,
  REGRESSION_DEFAULTS,
  REGRESSION_METRICS,
  regressionAlert,
  sampleOf,
  trackRegressions,
  type RegressionFinding,
  type RegressionMetric,
  type RegressionSample,
  type RegressionSettings,
} from "./regressions.ts";

export interface RegressionWatchSettings extends RegressionSettings {
  /** The tumbling window the recent figures are read over (aligned to multiples of it since the epoch). */
  readonly windowMs: number;
  /** How long after the label moved the baseline is read; no check runs before it closes. */
  readonly baselineMs: number;
  /** The feedback metric read as quality. */
  readonly qualityMetric: string;
}

export const REGRESSION_WATCH_DEFAULTS: RegressionWatchSettings = {
  ...REGRESSION_DEFAULTS,
  windowMs: 60 * MINUTE_MS,
  baselineMs: 3 * 24 * 60 * MINUTE_MS,
  qualityMetric: QUALITY_METRIC,
};

/**
 * `no_label`: the environment has no label for the prompt. `forming_baseline`: the label moved less than
 * `baselineMs` ago. `no_baseline`: the baseline window holds no request (it served nothing, or its
 * aggregates expired before they were kept). `checked`: the findings are in.
 */
export type WatchPhase = "no_label" | "forming_baseline" | "no_baseline" | "checked";

export interface WatchResult {
  readonly phase: WatchPhase;
  readonly version: string | null;
  /** Epoch ms: the baseline window, and the start of the recent window read (null unless checked). */
  readonly baselineFrom: number | null;
  readonly baselineTo: number | null;
  readonly windowStart: number | null;
  /** Where the quality baseline came from: the live baseline window, the version's eval record, or nowhere. */
  readonly qualityBaseline: "live" | "eval" | "none";
  readonly findings: readonly RegressionFinding[];
  /** production_regression alerts to send (new regressions only). */
  readonly alerts: readonly AlertEvent[];
  readonly recovered: readonly RegressionMetric[];
}

const meanSummary = z.strictObject({ n: z.number().int().nonnegative(), sum: z.number(), sumSq: z.number() });
const sampleSchema = z.strictObject({
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  latencyBounds: z.array(z.number()),
  latencyCounts: z.array(z.number().nonnegative()),
  cost: meanSummary,
  quality: meanSummary,
  thumbs: z.strictObject({ n: z.number().int().nonnegative(), x: z.number().int().nonnegative() }),
}) satisfies z.ZodType<RegressionSample>;
const storedBaselineSchema = z.strictObject({ moved_at: z.string(), sample: sampleSchema });
const stateSchema = z.record(
  z.string(),
  z.strictObject({ version: z.string(), metric: z.enum(REGRESSION_METRICS), since: z.string() }),
);

const parseJson = <T>(text: string | null | undefined, schema: z.ZodType<T>): T | null => {
  if (text == null) return null;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
};

/** The version's baseline: the stored one for this stint on the label, else read from the aggregates and kept. */
async function baselineOf(
  store: Store,
  name: string,
  env: string,
  version: string,
  movedAt: string,
  window: { from: number; to: number },
): Promise<RegressionSample | null> {
  const key = regressionBaselineKey(env, name);
  const stored = parseJson((await store.hgetall(key))[version], storedBaselineSchema);
  if (stored !== null && stored.moved_at === movedAt) return stored.sample;
  const [stats] = await readVersionStats(store, { env, name, ...window }, [version]);
  if (stats === undefined || stats.requests === 0) return null;
  const sample = sampleOf(stats, QUALITY_METRIC);
  await store.hset(key, { [version]: JSON.stringify({ moved_at: movedAt, sample }) });
  return sample;
}

/** The quality of the version's last evaluation record with a spread, as sufficient statistics. */
async function evalQuality(
  registry: Pick<Registry, "evals">,
  name: string,
  version: string,
  metric: string,
): Promise<RegressionSample["quality"] | null> {
  const records = (await registry.evals(name)).filter((r) => r.version === version);
  for (const r of records.reverse()) {
    const m = Object.hasOwn(r.metrics, metric) ? r.metrics[metric] : undefined;
    if (m && m.n >= 2 && m.mean !== null && m.std !== null)
      return { n: m.n, sum: m.n * m.mean, sumSq: (m.n - 1) * m.std * m.std + m.n * m.mean * m.mean };
  }
  return null;
}

const empty = (phase: WatchPhase, version: string | null): WatchResult => ({
  phase,
  version,
  baselineFrom: null,
  baselineTo: null,
  windowStart: null,
  qualityBaseline: "none",
  findings: [],
  alerts: [],
  recovered: [],
});

/**
 * One check of `name` on `env` at `now`. Writes the baseline once it is read, and the open regressions
 * when they change; returns the alerts for new regressions (the caller sends them).
 */
export async function watchRegressions(
  store: Store,
  registry: Pick<Registry, "label" | "evals">,
  name: string,
  env: string,
  now: number,
  settings: RegressionWatchSettings = REGRESSION_WATCH_DEFAULTS,
): Promise<WatchResult> {
  if (!(settings.windowMs >= MINUTE_MS && settings.windowMs % MINUTE_MS === 0))
    throw new RangeError("windowMs must be a whole number of minutes");
  const label = await registry.label(name, env);
  const stateKey = regressionsKey(env, name);
  if (label === null) {
    await store.del(stateKey);
    return empty("no_label", null);
  }
  const version = label.version;
  const movedAt = Date.parse(label.at);
  const baselineTo = movedAt + settings.baselineMs;
  if (!(now >= baselineTo)) return empty("forming_baseline", version);
  const baseline = await baselineOf(store, name, env, version, label.at, { from: movedAt, to: baselineTo });
  if (baseline === null) return empty("no_baseline", version);

  const windowStart = Math.max(baselineTo, Math.floor(now / settings.windowMs) * settings.windowMs);
  const [recentStats] = await readVersionStats(store, { env, name, from: windowStart, to: now + 1 }, [version]);
  const recent = sampleOf(recentStats!, settings.qualityMetric);
  // The kept baseline holds the default quality metric; without it (or for another metric), the eval record's.
  let quality = settings.qualityMetric === QUALITY_METRIC ? baseline.quality : { n: 0, sum: 0, sumSq: 0 };
  let qualityBaseline: WatchResult["qualityBaseline"] = "live";
  if (quality.n < 2) {
    const fromEval = await evalQuality(registry, name, version, settings.qualityMetric);
    quality = fromEval ?? { n: 0, sum: 0, sumSq: 0 };
    qualityBaseline = fromEval === null ? "none" : "eval";
  }
  // Thumbs are kept for the default metric too: another metric's have no baseline.
  const thumbs = settings.qualityMetric === QUALITY_METRIC ? baseline.thumbs : { n: 0, x: 0 };
  const base: RegressionSample = { ...baseline, quality, thumbs };
  const findings = detectRegressions(base, recent, settings).map((f) =>
    f.metric === "quality" && qualityBaseline === "eval"
      ? { ...f, reason: `${f.reason} (baseline: the version's evaluation record)` }
      : f,
  );

  const before = parseJson(await store.get(stateKey), stateSchema) ?? {};
  const tracked = trackRegressions(before, version, findings, now);
  if (JSON.stringify(tracked.state) !== JSON.stringify(before))
    await store.set(stateKey, JSON.stringify(tracked.state));
  const ctx = { prompt: name, env, version, at: now, windowStart, alpha: settings.alpha };
  return {
    phase: "checked",
    version,
    baselineFrom: movedAt,
    baselineTo,
    windowStart,
    qualityBaseline,
    findings,
    alerts: tracked.raised.map((f) => regressionAlert(ctx, f)),
    recovered: tracked.recovered,
  };
}
