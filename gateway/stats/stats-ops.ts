// Per-version aggregates as the CLI (`promptgate stats`) and the admin API show them: one row per
// version that served on an environment in a time window, with rates, exact cost, percentiles,
// distinct users and feedback, then the experiment readout (experiment.ts): each canary against the
// stable version, the split checked against the weights in force, and, asked for, the same per segment.
import { compareVersions } from "../split/layout.ts";
import type { Store } from "../store/store.ts";
import {
  feedbackMoments,
  MAX_WINDOW_MS,
  quantileMs,
  readSegmentStats,
  readVersionStats,
  type FeedbackStats,
  type Histogram,
  type SquaredSums,
  type StatsWindow,
  type VersionStats,
  minuteWindow,
} from "./aggregate-stats.ts";
import { meanInterval } from "../statistics/mean-interval.ts";
import type { MeanSummary } from "../statistics/summaries.ts";
import { readDistinctUsers } from "./distinct-users.ts";
import { DEFAULT_TUNING_N } from "../statistics/sequential.ts";
import {
  experimentReport,
  MINIMUM_EFFECTS,
  QUALITY_METRIC,
  type ArmInput,
  type Comparison,
  type ExperimentReport,
  type InformationalComparison,
  type MdeReport,
  type SrmInput,
  type SrmReport,
} from "./experiment.ts";
import { segmentReadouts, type SegmentReadout } from "./segment-readout.ts";
import { readWeightsInForce } from "./weight-shares.ts";
import { MINUTE_MS, PINNED_ENV } from "../telemetry/aggregates.ts";
import { formatUsd } from "../telemetry/cost.ts";
import { ENVIRONMENTS, isEnvironment, type Environment } from "../registry/environments.ts";
import { weightsKey } from "../store/keys.ts";
import type { Registry } from "../registry/registry.ts";
import { RegistryError } from "../registry/registry-error.ts";
import type { Label } from "../registry/records.ts";

export interface LatencySummary {
  readonly count: number;
  readonly mean_ms: number | null;
  readonly p50_ms: number | null;
  readonly p95_ms: number | null;
  readonly p99_ms: number | null;
}

/** The request latency in ms as `stats --json` leads with it: the exact mean, its 95% interval, and percentiles. */
export interface LatencyMs {
  readonly mean: number | null;
  /** The mean's t interval, over the minutes that stored squares; null below 2 requests there. */
  readonly mean_ci_low: number | null;
  readonly mean_ci_high: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
}

export interface VersionRow {
  readonly version: string;
  /** Whether the environment's label points at this version now. */
  readonly label: boolean;
  /** `stable`: the label's version, the control of every comparison; `canary`: any other. */
  readonly variant: "stable" | "canary";
  /** Its canary weight now, if the weights hash names it. */
  readonly weight: number | null;
  /** Distinct identified users over the window (an estimate on Redis); null when none were counted. */
  readonly users: number | null;
  /** The feedback scores of the readout's metric (`quality` unless asked otherwise). */
  readonly quality: { readonly n: number; readonly mean: number | null; readonly std: number | null };
  readonly thumbs: { readonly up: number; readonly down: number };
  /** Mean cost of the priced requests in USD; null when none was priced. */
  readonly cost_per_request_usd: number | null;
  /** Its 95% t interval, over the minutes that stored squares; null below 2 priced requests there. */
  readonly cost_per_request_ci_low_usd: number | null;
  readonly cost_per_request_ci_high_usd: number | null;
  readonly requests: number;
  readonly errors: number;
  readonly error_rate: number | null;
  readonly client_errors: number;
  readonly aborted: number;
  readonly incomplete: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cached_input_tokens: number;
  readonly priced_requests: number;
  /** Exact decimal USD of the priced requests. */
  readonly cost_usd: string;
  readonly latency_ms: LatencyMs;
  readonly latency: LatencySummary;
  readonly ttft: LatencySummary;
}

export interface StatsView {
  readonly name: string;
  readonly env: string;
  /** ISO times; minutes are counted whole, so the window is widened to minute boundaries. */
  readonly from: string;
  readonly to: string;
  /** The feedback metric compared as quality. */
  readonly metric: string;
  /** The control of every comparison: the label's version, when it served in the window. */
  readonly stable: string | null;
  /** Newest version first. */
  readonly versions: VersionRow[];
  readonly comparisons: readonly Comparison[];
  /** Mean latency and cost per request compared by Welch's test: informational, no verdict is drawn from them. */
  readonly informational: readonly InformationalComparison[];
  readonly srm: SrmReport | null;
  /** What the data can detect now, per comparison, and the settings those figures assume. */
  readonly mde: MdeSection;
  /** With `by: "segment"`: the readout per segment, Holm-corrected across segments. */
  readonly segments?: readonly SegmentReadout[];
}

export interface MdeSection {
  readonly alpha: number;
  readonly power: number;
  /** The sequential interval's tuning sample size N* (units over both arms). */
  readonly tuning_n: number;
  /** The difference that matters, per compared metric: what `users_needed` is counted for. */
  readonly minimum_effects: Readonly<Record<string, number>>;
  readonly comparisons: readonly MdeReport[];
}

export interface StatsOptions {
  /** The feedback metric to compare as quality (default `quality`). */
  readonly metric?: string;
  /** `segment`: also the readout per segment of the prompt's segment dimension. */
  readonly by?: "segment";
}

const DURATION = /^([1-9][0-9]*)(m|h|d)$/;
const UNIT_MS = { m: MINUTE_MS, h: 60 * MINUTE_MS, d: 24 * 60 * MINUTE_MS } as const;

/** `30m`, `6h`, `7d` -> ms; at most the longest readable window. */
export function parseWindow(text: string): number {
  const match = DURATION.exec(text.trim());
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  if (!match || unit === undefined)
    throw new RegistryError("invalid", `since must be a duration such as 30m, 6h or 7d, got "${text}"`, {
      field: "since",
    });
  const ms = Number(match[1]) * UNIT_MS[unit];
  if (ms > MAX_WINDOW_MS)
    throw new RegistryError(
      "invalid",
      `since may be at most ${MAX_WINDOW_MS / UNIT_MS.d}d (the aggregates' default retention)`,
      { field: "since" },
    );
  return ms;
}

/** What a readout of `name` on `env` starts from: the label and the weights now, and the versions they serve. */
export interface StatsSubject {
  /** Null for `pinned` (requests that named their version), which has no label nor weights. */
  readonly environment: Environment | null;
  readonly label: Label | null;
  readonly weights: Record<string, string>;
  /** The label's version and the weighted ones, registered versions only. */
  readonly current: string[];
}

/** Checks `env` (an environment or `pinned`) and that the prompt is registered, and reads its label and weights. */
export async function statsSubject(store: Store, registry: Registry, name: string, env: string): Promise<StatsSubject> {
  const environment = isEnvironment(env) ? env : null;
  if (environment === null && env !== PINNED_ENV) {
    throw new RegistryError("invalid", `env must be one of ${[...ENVIRONMENTS, PINNED_ENV].join(", ")}, got "${env}"`, {
      field: "env",
    });
  }
  const known = await registry.versions(name);
  if (known.length === 0)
    throw new RegistryError("not_found", `no prompt named ${name} is registered`, { field: "name" });
  const [label, weights]: [Label | null, Record<string, string>] =
    environment === null
      ? [null, {}]
      : await Promise.all([registry.label(name, environment), store.hgetall(weightsKey(environment, name))]);
  const current = [label?.version, ...Object.keys(weights)].filter(
    (v): v is string => v !== undefined && known.includes(v),
  );
  return { environment, label, weights, current };
}

export async function versionStats(
  store: Store,
  registry: Registry,
  name: string,
  env: string,
  windowMs: number,
  now: number,
  options: StatsOptions = {},
): Promise<StatsView> {
  const metric = options.metric ?? QUALITY_METRIC;
  const { environment, label, weights, current } = await statsSubject(store, registry, name, env);

  const { from, to } = minuteWindow(now, windowMs);
  const window: StatsWindow = { env, name, from, to };
  const stats = (await readVersionStats(store, window, current)).sort((a, b) => compareVersions(b.version, a.version));
  const versions = stats.map((s) => s.version);
  const [users, srm] = await Promise.all([
    readDistinctUsers(store, window, versions),
    environment === null ? null : srmInput(store, window, versions),
  ]);
  const usersOf = new Map(users.map((u) => [u.version, u.users]));
  const stable = label?.version ?? null;
  const rows = stats.map((s) =>
    row(s, s.version === stable, weights[s.version], reportedUsers(usersOf.get(s.version) ?? 0, s.requests), metric),
  );
  // Pinned requests have no label to compare against.
  const report: ExperimentReport = experimentReport(
    environment === null ? [] : rows.map((r, i) => armOf(r, stats[i]!, metric)),
    srm,
  );
  const view: StatsView = {
    name,
    env,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    metric,
    stable: report.stable,
    versions: rows,
    comparisons: report.comparisons,
    informational: report.informational,
    srm: report.srm,
    mde: {
      alpha: 0.05,
      power: 0.8,
      tuning_n: DEFAULT_TUNING_N,
      minimum_effects: MINIMUM_EFFECTS,
      comparisons: report.mde,
    },
  };
  if (options.by !== "segment") return view;
  const segments = environment === null ? [] : await readSegmentStats(store, window, versions);
  return {
    ...view,
    segments: segmentReadouts(
      report,
      segments.map((s) => ({
        segment: s.segment,
        arms: s.versions
          .filter((v) => v.requests > 0)
          .map((v) => armOf(row(v, v.version === stable, weights[v.version], null, metric), v, metric)),
      })),
    ),
  };
}

/**
 * The distinct users of each version over the current step of the weights (the minutes since they
 * last changed), against the shares the split promised then. With no change in the window, the step
 * is the whole window.
 */
async function srmInput(store: Store, window: StatsWindow, versions: readonly string[]): Promise<SrmInput | null> {
  const force = await readWeightsInForce(store, window);
  const step = force.current;
  if (step === null) return null;
  const inStep = versions.filter((v) => (step.shares[v] ?? 0) > 0);
  if (inStep.length < 2) return null;
  const users = await readDistinctUsers(store, { ...window, from: step.from, to: step.to }, inStep);
  return {
    basis: force.steps.length > 1 ? "current_step" : "window",
    since: new Date(step.from).toISOString(),
    versions: inStep,
    observedUsers: users.map((u) => u.users),
    expectedShares: inStep.map((v) => step.shares[v]!),
    counterError: store.distinctError,
  };
}

/**
 * The users a row reports: the distinct count, or null when the version served requests but none of them
 * named a user (0 would read as "no users", and would make every users-needed figure 0).
 */
export const reportedUsers = (counted: number, requests: number): number | null =>
  counted === 0 && requests > 0 ? null : counted;

const scores = (f: FeedbackStats | undefined): { n: number; sum: number; sumSq: number } =>
  f === undefined ? { n: 0, sum: 0, sumSq: 0 } : { n: f.n, sum: f.sumMicro / 1e6, sumSq: f.sumSqMicro / 1e6 };

function armOf(r: VersionRow, s: VersionStats, metric: string): ArmInput {
  return {
    version: r.version,
    variant: r.variant,
    weight: r.weight,
    users: r.users,
    requests: r.requests,
    errors: r.errors,
    quality: scores(s.feedback[metric]),
    thumbs: r.thumbs,
    costPerRequestUsd: r.cost_per_request_usd,
    latencyMs: { mean: r.latency_ms.mean, p50: r.latency_ms.p50, p95: r.latency_ms.p95 },
    latencySamples: samples(s.latencySquares),
    costSamples: costUsd(samples(s.costSquares)),
  };
}

/**
 * Squares as a mean's summary. The cost's squares are each rounded, which can leave sumSq a hair under sum^2 / n
 * when every cost is nearly equal: clamp it there (no variance) rather than reject it.
 */
const samples = (q: SquaredSums): MeanSummary => ({
  n: q.n,
  sum: q.sum,
  sumSq: q.n === 0 ? q.sumSq : Math.max(q.sumSq, (q.sum * q.sum) / q.n),
});

/** Milli-cents (aggregates.ts) to USD. */
const costUsd = (s: MeanSummary): MeanSummary => ({ n: s.n, sum: s.sum / 1e5, sumSq: s.sumSq / 1e10 });

function row(
  s: VersionStats,
  label: boolean,
  weight: string | undefined,
  users: number | null,
  metric: string,
): VersionRow {
  const weightNumber = weight === undefined ? NaN : Number(weight);
  const latency = summary(s.latency);
  const latencyCi = meanInterval(samples(s.latencySquares));
  const costCi = meanInterval(costUsd(samples(s.costSquares)));
  const feedback = Object.hasOwn(s.feedback, metric) ? s.feedback[metric] : undefined;
  const moments = feedback === undefined ? { mean: null, std: null } : feedbackMoments(feedback);
  return {
    version: s.version,
    label,
    variant: label ? "stable" : "canary",
    weight: Number.isFinite(weightNumber) ? weightNumber : null,
    users,
    quality: { n: feedback?.n ?? 0, ...moments },
    thumbs: { up: feedback?.up ?? 0, down: feedback?.down ?? 0 },
    cost_per_request_usd: s.priced === 0 ? null : Number(s.costPico) / 1e12 / s.priced,
    cost_per_request_ci_low_usd: costCi?.low ?? null,
    cost_per_request_ci_high_usd: costCi?.high ?? null,
    requests: s.requests,
    errors: s.errors,
    error_rate: s.requests === 0 ? null : s.errors / s.requests,
    client_errors: s.clientErrors,
    aborted: s.aborted,
    incomplete: s.incomplete,
    input_tokens: s.inputTokens,
    output_tokens: s.outputTokens,
    cached_input_tokens: s.cachedInputTokens,
    priced_requests: s.priced,
    cost_usd: formatUsd(s.costPico),
    latency_ms: {
      mean: latency.mean_ms,
      mean_ci_low: latencyCi && Math.round(latencyCi.low * 10) / 10,
      mean_ci_high: latencyCi && Math.round(latencyCi.high * 10) / 10,
      p50: latency.p50_ms,
      p95: latency.p95_ms,
    },
    latency,
    ttft: summary(s.ttft),
  };
}

function summary(h: Histogram): LatencySummary {
  const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
  return {
    count: h.count,
    mean_ms: h.count === 0 ? null : round(h.sumMs / h.count),
    p50_ms: round(quantileMs(h, 0.5)),
    p95_ms: round(quantileMs(h, 0.95)),
    p99_ms: round(quantileMs(h, 0.99)),
  };
}
