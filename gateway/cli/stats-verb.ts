// `promptgate stats`: what each version of a prompt served on an environment over a time window,
// read from the per-version aggregates every gateway replica writes to the store.
import { ENVIRONMENTS, isEnvironment } from "../registry/environments.ts";
import type { StatsView } from "../stats/stats-ops.ts";
import { describeComparison, describeExperiment } from "./experiment-text.ts";
import { asUsageError, UsageError } from "./args.ts";
import { emit, table } from "./output.ts";
import type { Verb } from "./verb.ts";

const ms = (v: number | null): string => (v === null ? "-" : `${v}`);
const pct = (v: number | null): string => (v === null ? "-" : `${(v * 100).toFixed(2)}%`);

export function describeStats(v: StatsView): string {
  const head = `${v.name} on ${v.env}, ${v.from} to ${v.to}`;
  if (v.versions.length === 0) return `${head}: nothing served in this window\n`;
  const quality = (q: StatsView["versions"][number]["quality"]): string =>
    q.mean === null ? "-" : `${q.mean.toFixed(3)}${q.std === null ? "" : ` ±${q.std.toFixed(3)}`} (${q.n})`;
  const rows = v.versions.map((r) => [
    r.label ? `${r.version} (stable)` : r.version,
    r.weight,
    r.users ?? "-",
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
    quality(r.quality),
    `${r.thumbs.up}/${r.thumbs.down}`,
  ]);
  const versions = table(
    [
      "version",
      "weight",
      "users",
      "requests",
      "errors",
      "aborted",
      "input tok",
      "output tok",
      "cost usd",
      "mean ms",
      "p50 ms",
      "p95 ms",
      "ttft p50",
      v.metric,
      "thumbs up/down",
    ],
    rows,
  );
  const segments = (v.segments ?? []).map((s) => {
    const lines = s.comparisons.map(
      (c) =>
        `  ${describeComparison(
          c,
          s.mde.find((m) => m.metric === c.metric && m.treatment === c.treatment),
        )} [Holm-corrected: p=${c.p_value_holm === null ? "-" : c.p_value_holm.toPrecision(2)}, sequential p=${c.seq_p_value_holm === null ? "-" : c.seq_p_value_holm.toPrecision(2)}]`,
    );
    const warnings = s.warnings.map((w) => `  !!! ${w}`);
    return `segment ${s.segment}:\n${[...warnings, ...lines].join("\n") || "  nothing to compare"}\n`;
  });
  return `${head}\n${versions}\n${describeExperiment({ ...v, mde: v.mde.comparisons })}${segments.length === 0 ? "" : `\n${segments.join("\n")}`}`;
}

export const stats: Verb = {
  name: "stats",
  summary: "per-version requests, errors, tokens, cost and latency over a time window",
  usage: "<name> --env <env> [--since <duration>] [--by segment] [--metric <name>]",
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
    by: { type: "string", placeholder: "segment", description: "also the readout per segment (Holm-corrected)" },
    metric: { type: "string", placeholder: "<name>", description: "the feedback metric compared (default quality)" },
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
    const by = args.string("by");
    if (by !== undefined && by !== "segment") throw new UsageError(`--by must be segment, got "${by}"`);
    const metric = args.string("metric");
    if (metric !== undefined && !/^[a-z][a-z0-9_]{0,31}$/.test(metric))
      throw new UsageError(`--metric must be a feedback metric name such as quality, got "${metric}"`);
    const ctx = await context();
    const view = await versionStats(ctx.store, ctx.registry, name, env, windowMs, ctx.clock.now(), {
      ...(by === undefined ? {} : { by }),
      ...(metric === undefined ? {} : { metric }),
    });
    emit(out, view, () => describeStats(view));
  },
};
