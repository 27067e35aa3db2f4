// Prometheus metrics (prom-client) labelled by prompt, version, variant, model and status class, with
// a guard against label explosion: past a limit, new prompts and models are counted as "other".
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AggregateWriter } from "./aggregates.ts";
import type { SpanExportStats } from "./otel.ts";
import type { RequestRecord } from "./request-record.ts";

const LABELS = ["prompt", "version", "variant", "model", "status"] as const;
type Labels = Record<(typeof LABELS)[number], string>;

/** Keeps at most `limit` distinct values; the rest become "other". */
export function boundedLabel(limit: number): (value: string | null) => string {
  const seen = new Set<string>();
  return (value) => {
    if (value === null || value === "") return "none";
    if (seen.has(value)) return value;
    if (seen.size >= limit) return "other";
    seen.add(value);
    return value;
  };
}

export interface Metrics {
  readonly registry: Registry;
  record(rec: RequestRecord, status: number, now: number): void;
  readonly contentType: string;
}

export interface MetricsOptions {
  maxPrompts?: number;
  maxModels?: number;
  /** Read at scrape time: the count of refused canary hashes. */
  invalidWeights?: () => number;
  /** Read at scrape time: keys waiting to be written, requests dropped while the store was away. */
  aggregates?: Pick<AggregateWriter, "pendingKeys" | "droppedRequests">;
  /** Read at scrape time: spans exported, dropped (queue full) and lost in failed exports. */
  spans?: SpanExportStats;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "promptgate_" });
  const prompt = boundedLabel(opts.maxPrompts ?? 200);
  const model = boundedLabel(opts.maxModels ?? 100);
  const version = boundedLabel(2000);

  const requests = new Counter({ name: "promptgate_requests_total", help: "Requests by prompt, version, variant, model and status class", labelNames: LABELS, registers: [registry] });
  const tokens = new Counter({ name: "promptgate_tokens_total", help: "Tokens by type (input, output, cached_input)", labelNames: [...LABELS, "type"], registers: [registry] });
  const cost = new Counter({ name: "promptgate_cost_usd_total", help: "Cost in USD from config/pricing.yaml", labelNames: LABELS, registers: [registry] });
  const unpriced = new Counter({ name: "promptgate_unpriced_requests_total", help: "Answers with usage for models pricing.yaml does not price", labelNames: ["model"], registers: [registry] });
  const anonymous = new Counter({ name: "promptgate_split_anonymous_total", help: "Prompt requests without a user id, served the label's version", labelNames: ["prompt"], registers: [registry] });
  const duration = new Histogram({
    name: "promptgate_request_duration_seconds", help: "Request duration, streams included to their end", labelNames: LABELS, registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  });
  const ttft = new Histogram({
    name: "promptgate_time_to_first_token_seconds", help: "Time to the first streamed event", labelNames: LABELS, registers: [registry],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
  });
  // Counts kept elsewhere (the split, the aggregate writer, the span processor), read at scrape time.
  const observed = (name: string, help: string, read: () => number): void => {
    new Counter({
      name, help, registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const { invalidWeights, aggregates, spans } = opts;
  if (invalidWeights) observed("promptgate_weights_invalid_total", "Canary weight changes refused (the last good split stayed)", invalidWeights);
  if (aggregates) {
    new Gauge({
      name: "promptgate_aggregates_pending_keys", help: "Per-version aggregate keys counted in memory, not yet written to the store", registers: [registry],
      collect() {
        this.set(aggregates.pendingKeys());
      },
    });
    observed("promptgate_aggregates_dropped_total", "Requests left out of the per-version aggregates because the store stayed unreachable past max_pending_keys", () => aggregates.droppedRequests());
  }
  if (spans) {
    observed("promptgate_spans_exported_total", "Spans the OTLP exporter delivered", () => spans.exported);
    observed("promptgate_spans_dropped_total", "Spans dropped because the export queue was full (collector slow, down or unreachable)", () => spans.dropped);
    observed("promptgate_spans_export_failed_total", "Spans lost in failed or timed-out exports", () => spans.failed);
  }

  // prom-client hashes a label object on every call; a series' children are looked up once instead.
  interface Series {
    requests: ReturnType<typeof requests.labels>;
    duration: ReturnType<typeof duration.labels>;
    ttft: ReturnType<typeof ttft.labels>;
    input: ReturnType<typeof tokens.labels>;
    output: ReturnType<typeof tokens.labels>;
    cached: ReturnType<typeof tokens.labels>;
    cost: ReturnType<typeof cost.labels>;
    model: string;
  }
  const series = new Map<string, Series>();
  const seriesFor = (rec: RequestRecord, status: number): Series => {
    const labels: Labels = {
      prompt: prompt(rec.prompt),
      version: rec.version === null ? "none" : version(rec.version),
      variant: rec.variant ?? "none",
      model: model(rec.model),
      status: `${Math.floor(status / 100)}xx`,
    };
    const key = `${labels.prompt}\u0000${labels.version}\u0000${labels.variant}\u0000${labels.model}\u0000${labels.status}`;
    let s = series.get(key);
    if (!s) {
      s = {
        requests: requests.labels(labels),
        duration: duration.labels(labels),
        ttft: ttft.labels(labels),
        input: tokens.labels({ ...labels, type: "input" }),
        output: tokens.labels({ ...labels, type: "output" }),
        cached: tokens.labels({ ...labels, type: "cached_input" }),
        cost: cost.labels(labels),
        model: labels.model,
      };
      series.set(key, s);
    }
    return s;
  };

  return {
    registry,
    contentType: registry.contentType,
    record(rec, status, now) {
      const s = seriesFor(rec, status);
      s.requests.inc();
      s.duration.observe((now - rec.startedAt) / 1000);
      if (rec.ttftMs !== null) s.ttft.observe(rec.ttftMs / 1000);
      if (rec.usage) {
        s.input.inc(rec.usage.inputTokens);
        s.output.inc(rec.usage.outputTokens);
        if (rec.usage.cachedInputTokens > 0) s.cached.inc(rec.usage.cachedInputTokens);
        if (rec.costPico === null) unpriced.inc({ model: s.model });
      }
      if (rec.costPico !== null) s.cost.inc(rec.costPico / 1e12);
      if (rec.anonymous && rec.prompt !== null) anonymous.inc({ prompt: prompt(rec.prompt) });
    },
  };
}
