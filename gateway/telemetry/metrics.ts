// Prometheus metrics (prom-client) labelled by prompt, version, variant, model and status class, with
// a guard against label explosion: past a limit, new prompts and models are counted as "other".
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
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

/** `invalidWeights` reads the count of refused canary hashes at scrape time. */
export function createMetrics(opts: { maxPrompts?: number; maxModels?: number; invalidWeights?: () => number } = {}): Metrics {
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
  const invalidWeights = opts.invalidWeights;
  if (invalidWeights) {
    new Counter({
      name: "promptgate_weights_invalid_total", help: "Canary weight changes refused (the last good split stayed)", registers: [registry],
      collect() {
        this.reset();
        this.inc(invalidWeights());
      },
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    record(rec, status, now) {
      const labels: Labels = {
        prompt: prompt(rec.prompt),
        version: rec.version === null ? "none" : version(`${rec.version}`),
        variant: rec.variant ?? "none",
        model: model(rec.model),
        status: `${Math.floor(status / 100)}xx`,
      };
      requests.inc(labels);
      duration.observe(labels, (now - rec.startedAt) / 1000);
      if (rec.ttftMs !== null) ttft.observe(labels, rec.ttftMs / 1000);
      if (rec.usage) {
        tokens.inc({ ...labels, type: "input" }, rec.usage.inputTokens);
        tokens.inc({ ...labels, type: "output" }, rec.usage.outputTokens);
        if (rec.usage.cachedInputTokens > 0) tokens.inc({ ...labels, type: "cached_input" }, rec.usage.cachedInputTokens);
        if (rec.costPico === null) unpriced.inc({ model: labels.model });
      }
      if (rec.costPico !== null) cost.inc(labels, rec.costPico / 1e12);
      if (rec.anonymous && rec.prompt !== null) anonymous.inc({ prompt: labels.prompt });
    },
  };
}
