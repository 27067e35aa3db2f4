// `promptgate stats`: what each version of a prompt served on an environment over a time window,
// read from the per-version aggregates every gateway replica writes to the store.
import { ENVIRONMENTS, isEnvironment } from "../registry/environments.ts";
import type { StatsView } from "../stats/stats-ops.ts";
import { asUsageError, UsageError } from "./args.ts";
import { emit, table } from "./output.ts";
import type { Verb } from "./verb.ts";

const ms = (v: number | null): string => (v === null ? "-" : `${v}`);
const pct = (v: number | null): string => (v === null ? "-" : `${(v * 100).toFixed(2)}%`);

export function describeStats(v: StatsView): string {
  const head = `${v.name} on ${v.env}, ${v.from} to ${v.to}`;
  if (v.versions.length === 0) return `${head}: nothing served in this window\n`;
  const rows = v.versions.map((r) => [
    r.label ? `${r.version} (label)` : r.version,
    r.weight,
    r.requests,
    pct(r.error_rate),
    r.aborted,
    r.input_tokens,
    r.output_tokens,
    r.cost_usd,
    ms(r.latency_ms.mean),
    ms(r.latency_ms.p50),
    ms(r.latency_ms.p95),
    ms(r.ttft.p50_ms),
  ]);
  return `${head}\n${table(["version", "weight", "requests", "errors", "aborted", "input tok", "output tok", "cost usd", "mean ms", "p50 ms", "p95 ms", "ttft p50"], rows)}`;
}

export const stats: Verb = {
  name: "stats",
  summary: "per-version requests, errors, tokens, cost and latency over a time window",
  usage: "<name> --env <env> [--since <duration>]",
  details:
    "Sums the per-version aggregates that every gateway replica writes to the store (about once a\n" +
    "second) over the last --since (30m, 6h, 7d; default 1h, whole minutes). <env> is dev, staging or\n" +
    "prod, or pinned for requests that named their version (name@1.2.0). Mean latency is exact (from\n" +
    "summed durations); percentiles are interpolated inside histogram buckets at most 10% wide (1 ms\n" +
    "below 10 ms), as Prometheus does; cost is exact, from config/pricing.yaml.",
  positionals: { min: 1, max: 1 },
  options: {
    env: { type: "string", placeholder: "<env>", description: "dev, staging, prod or pinned" },
    since: { type: "string", placeholder: "<duration>", description: "how far back: 30m, 6h, 7d (default 1h)" },
  },
  json: true,
  async run({ args, out, context }) {
    const name = args.positional(0);
    const [{ parseWindow, versionStats }, { PINNED_ENV }] = await Promise.all([
      import("../stats/stats-ops.ts"),
      import("../telemetry/aggregates.ts"),
    ]);
    const env = args.required("env");
    if (!isEnvironment(env) && env !== PINNED_ENV)
      throw new UsageError(`--env must be one of ${[...ENVIRONMENTS, PINNED_ENV].join(", ")}, got "${env}"`);
    // parseWindow says "since must be a duration such as 30m, ...": on the command line, that is --since.
    const windowMs = asUsageError(() => parseWindow(args.string("since") ?? "1h"), "--");
    const ctx = await context();
    const view = await versionStats(ctx.store, ctx.registry, name, env, windowMs, ctx.clock.now());
    emit(out, view, () => describeStats(view));
  },
};
