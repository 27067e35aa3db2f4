// Per-version aggregates as the CLI (`promptgate stats`) and the admin API show them: one row per
// version that served on an environment in a time window, with rates, exact cost and percentiles.
import { compareVersions } from "../split/layout.ts";
import type { Store } from "../store/store.ts";
import { MAX_WINDOW_MS, quantileMs, readVersionStats, type Histogram, type VersionStats } from "./aggregate-stats.ts";
import { MINUTE_MS, PINNED_ENV } from "../telemetry/aggregates.ts";
import { formatUsd } from "../telemetry/cost.ts";
import { ENVIRONMENTS, isEnvironment } from "../registry/environments.ts";
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

/** The request latency in ms as `stats --json` leads with it: the exact mean, and percentiles. */
export interface LatencyMs {
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
}

export interface VersionRow {
  readonly version: string;
  /** Whether the environment's label points at this version now. */
  readonly label: boolean;
  /** Its canary weight now, if the weights hash names it. */
  readonly weight: number | null;
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
  /** Newest version first. */
  readonly versions: VersionRow[];
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

export async function versionStats(
  store: Store,
  registry: Registry,
  name: string,
  env: string,
  windowMs: number,
  now: number,
): Promise<StatsView> {
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

  const to = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
  const from = Math.floor((now - windowMs) / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const current = [label?.version, ...Object.keys(weights)].filter(
    (v): v is string => v !== undefined && known.includes(v),
  );
  const stats = await readVersionStats(store, { env, name, from, to }, current);
  const rows = stats
    .sort((a, b) => compareVersions(b.version, a.version))
    .map((s) => row(s, s.version === label?.version, weights[s.version]));
  return { name, env, from: new Date(from).toISOString(), to: new Date(to).toISOString(), versions: rows };
}

function row(s: VersionStats, label: boolean, weight: string | undefined): VersionRow {
  const weightNumber = weight === undefined ? NaN : Number(weight);
  const latency = summary(s.latency);
  return {
    version: s.version,
    label,
    weight: Number.isFinite(weightNumber) ? weightNumber : null,
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
    latency_ms: { mean: latency.mean_ms, p50: latency.p50_ms, p95: latency.p95_ms },
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
