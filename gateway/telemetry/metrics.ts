// Prometheus metrics (prom-client) labelled by prompt, version, variant, model and status class (and
// 499, a client that went away, apart from 4xx), with a guard against label explosion: past a limit,
// new prompts and models are counted as "other".
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { AggregateWriter } from "./aggregates.ts";
import type { SpanExportStats } from "./otel.ts";
import type { RequestRecord } from "./request-record.ts";
import {
  ScrapedCounter,
  ScrapedHistogram,
  newCells,
  observeCells,
  observedCounter,
  type HistogramCells,
} from "./scraped.ts";

const LABELS = ["prompt", "version", "variant", "model", "status"] as const;
type Labels = Record<(typeof LABELS)[number], string>;

// Standard `le` buckets (seconds) for dashboards, the same for both histograms so that their panels
// line up; a first token may take minutes too (reasoning models think before they answer). Each bucket
// is a series per label set, so they stay coarse: `promptgate stats` has the fine per-version ones.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TTFT_BUCKETS = DURATION_BUCKETS;
const STATUS_CLASSES = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];

/** The status label: the status class, but 499 (the client went away, as nginx counts it) on its own. */
const statusLabel = (status: number): string =>
  status === 499 ? "499" : (STATUS_CLASSES[Math.floor(status / 100)] ?? "other");

function* map<T, U>(items: Iterable<T>, f: (item: T) => U): Iterable<U> {
  for (const item of items) yield f(item);
}

function* flatMap<T, U>(items: Iterable<T>, f: (item: T) => readonly U[]): Iterable<U> {
  for (const item of items) yield* f(item);
}

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
  /** Counts an upstream call sent again, and why ("connection", "429", "503"). */
  readonly retried: (provider: string, reason: string) => void;
  readonly contentType: string;
}

export interface MetricsOptions {
  maxPrompts?: number;
  maxModels?: number;
  /** Read at scrape time: the count of refused canary hashes. */
  invalidWeights?: () => number;
  /** Read at scrape time: keys waiting to be written, requests dropped while the store was away. */
  aggregates?: Pick<AggregateWriter, "pendingKeys" | "droppedRequests" | "droppedFeedback">;
  /** Read at scrape time: spans exported, dropped (queue full) and lost in failed exports. */
  spans?: SpanExportStats;
  /** Read at scrape time: the registry keys skipped now, by key family and reason. */
  invalidKeys?: () => Iterable<{ readonly family: string; readonly reason: string }>;
  /** Read at scrape time: how bodies refused before they all arrived ended (http/lingering-close.ts). */
  lingering?: Readonly<Record<LingerOutcome, number> & { discardedBytes: number }>;
  /** Read at scrape time: whether the store is behind the registry snapshot served, and how often it fell behind. */
  registry?: () => { readonly behind: boolean; readonly regressions: number };
}

const LINGER_OUTCOMES = ["complete", "client_closed", "cut"] as const;
type LingerOutcome = (typeof LINGER_OUTCOMES)[number];

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "promptgate_" });
  const prompt = boundedLabel(opts.maxPrompts ?? 200);
  const model = boundedLabel(opts.maxModels ?? 100);
  const version = boundedLabel(2000);

  // One set of cells per label combination, updated with plain arithmetic on the request path and read
  // by the metrics below only when /metrics is scraped (see scraped.ts).
  interface Series {
    readonly labels: Labels;
    requests: number;
    input: number;
    output: number;
    cached: number;
    /** Pico-dollars, summed as exact integers up to about $9,000 per series (Prometheus reads a float anyway). */
    costPico: number;
    readonly duration: HistogramCells;
    readonly ttft: HistogramCells;
  }
  const series = new Map<string, Series>();
  const all = (): Iterable<Series> => series.values();
  const seriesFor = (rec: RequestRecord, status: number): Series => {
    // Keyed by the bounded labels: every model past the limit shares the one "other" series.
    const labels: Labels = {
      prompt: prompt(rec.prompt),
      version: rec.version === null ? "none" : version(rec.version),
      variant: rec.variant ?? "none",
      model: model(rec.model),
      status: statusLabel(status),
    };
    const key = `${labels.prompt}\u0000${labels.version}\u0000${labels.variant}\u0000${labels.model}\u0000${labels.status}`;
    let s = series.get(key);
    if (!s) {
      s = {
        labels,
        requests: 0,
        input: 0,
        output: 0,
        cached: 0,
        costPico: 0,
        duration: newCells(DURATION_BUCKETS),
        ttft: newCells(TTFT_BUCKETS),
      };
      series.set(key, s);
    }
    return s;
  };

  new ScrapedCounter(
    {
      name: "promptgate_requests_total",
      help: "Requests by prompt, version, variant, model and status class (499: the client went away)",
      labelNames: LABELS,
      read: () => map(all(), (s) => ({ labels: s.labels, value: s.requests })),
    },
    registry,
  );
  new ScrapedCounter(
    {
      name: "promptgate_tokens_total",
      help: "Tokens by type (input, output, cached_input)",
      labelNames: [...LABELS, "type"],
      read: () =>
        flatMap(all(), (s) => [
          { labels: { ...s.labels, type: "input" }, value: s.input },
          { labels: { ...s.labels, type: "output" }, value: s.output },
          { labels: { ...s.labels, type: "cached_input" }, value: s.cached },
        ]),
    },
    registry,
  );
  new ScrapedCounter(
    {
      name: "promptgate_cost_usd_total",
      help: "Cost in USD from config/pricing.yaml",
      labelNames: LABELS,
      read: () => map(all(), (s) => ({ labels: s.labels, value: s.costPico / 1e12 })),
    },
    registry,
  );
  new ScrapedHistogram(
    {
      name: "promptgate_request_duration_seconds",
      help: "Request duration, streams included to their end",
      labelNames: LABELS,
      buckets: DURATION_BUCKETS,
      read: () => map(all(), (s) => [s.labels, s.duration] as const),
    },
    registry,
  );
  new ScrapedHistogram(
    {
      name: "promptgate_time_to_first_token_seconds",
      help: "Time to the first streamed event",
      labelNames: LABELS,
      buckets: TTFT_BUCKETS,
      read: () => flatMap(all(), (s) => (s.ttft.count === 0 ? [] : [[s.labels, s.ttft] as const])),
    },
    registry,
  );
  const unpriced = new Counter({
    name: "promptgate_unpriced_requests_total",
    help: "Answers with usage for models pricing.yaml does not price",
    labelNames: ["model"],
    registers: [registry],
  });
  const interrupted = new Counter({
    name: "promptgate_streams_interrupted_total",
    help: "Streams the provider cut after its 200 (counted as 2xx in promptgate_requests_total)",
    labelNames: ["prompt", "version", "model", "error_type"],
    registers: [registry],
  });
  const retries = new Counter({
    name: "promptgate_upstream_retries_total",
    help: "Upstream calls sent again: the connection was never made (or a GET was cut), or the provider answered 429/503",
    labelNames: ["provider", "reason"],
    registers: [registry],
  });
  const anonymous = new Counter({
    name: "promptgate_split_anonymous_total",
    help: "Prompt requests without a user id, served the label's version",
    labelNames: ["prompt"],
    registers: [registry],
  });

  // Counts kept elsewhere (the split, the aggregate writer, the span processor), read at scrape time.
  const observed = (name: string, help: string, read: () => number): void =>
    observedCounter(registry, name, help, read);
  const { invalidWeights, aggregates, spans, invalidKeys, registry: registryHealth } = opts;
  if (invalidKeys) registryInvalidKeys(registry, invalidKeys);
  if (invalidWeights)
    observed(
      "promptgate_weights_invalid_total",
      "Canary weight changes refused (the last good split stayed)",
      invalidWeights,
    );
  if (aggregates) {
    new Gauge({
      name: "promptgate_aggregates_pending_keys",
      help: "Per-version aggregate keys counted in memory, not yet written to the store",
      registers: [registry],
      collect() {
        this.set(aggregates.pendingKeys());
      },
    });
    observed(
      "promptgate_aggregates_dropped_total",
      "Requests left out of the per-version aggregates because the store stayed unreachable past max_pending_keys",
      () => aggregates.droppedRequests(),
    );
    observed(
      "promptgate_feedback_dropped_total",
      "Feedback accepted (200) but left out of the aggregates because the store stayed unreachable past max_pending_keys",
      () => aggregates.droppedFeedback(),
    );
  }
  if (spans) {
    observed("promptgate_spans_exported_total", "Spans the OTLP exporter delivered", () => spans.exported);
    observed(
      "promptgate_spans_dropped_total",
      "Spans dropped because the export queue was full (collector slow, down or unreachable)",
      () => spans.dropped,
    );
    observed("promptgate_spans_export_failed_total", "Spans lost in failed or timed-out exports", () => spans.failed);
  }
  const lingering = opts.lingering;
  if (lingering) {
    new Counter({
      name: "promptgate_lingering_closes_total",
      help: "Answers sent before the whole request body arrived (413, a JSON limit), by how the connection ended: the client sent the rest (complete), closed first (client_closed), or was cut at limits.linger_ms or linger_bytes (cut)",
      labelNames: ["outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const outcome of LINGER_OUTCOMES) this.inc({ outcome }, lingering[outcome]);
      },
    });
    observed(
      "promptgate_lingering_discarded_bytes_total",
      "Bytes of request bodies read and thrown away after an answer sent before they all arrived",
      () => lingering.discardedBytes,
    );
  }

  if (registryHealth) {
    new Gauge({
      name: "promptgate_registry_store_behind",
      help: "1 while the store has lost registry data this replica serves (it keeps its last good snapshot): run promptgate restore",
      registers: [registry],
      collect() {
        this.set(registryHealth().behind ? 1 : 0);
      },
    });
    observed(
      "promptgate_registry_regressions_total",
      "Times the store went backwards (lower revision, or versions or labels gone) behind the snapshot served",
      () => registryHealth().regressions,
    );
  }

  return {
    registry,
    contentType: registry.contentType,
    retried: (provider, reason) => retries.inc({ provider, reason }),
    record(rec, status, now) {
      const s = seriesFor(rec, status);
      s.requests += 1;
      observeCells(s.duration, DURATION_BUCKETS, (now - rec.startedAt) / 1000);
      if (rec.ttftMs !== null) observeCells(s.ttft, TTFT_BUCKETS, rec.ttftMs / 1000);
      if (rec.usage) {
        s.input += rec.usage.inputTokens;
        s.output += rec.usage.outputTokens;
        s.cached += rec.usage.cachedInputTokens;
        if (rec.costPico === null) unpriced.inc({ model: s.labels.model });
      }
      if (rec.costPico !== null) s.costPico += rec.costPico;
      if (rec.anonymous && rec.prompt !== null) anonymous.inc({ prompt: prompt(rec.prompt) });
      // error_type is a GatewayError code: a small fixed set.
      if (status < 400 && rec.errorType !== null)
        interrupted.inc({
          prompt: s.labels.prompt,
          version: s.labels.version,
          model: s.labels.model,
          error_type: rec.errorType,
        });
    },
  };
}

/**
 * `promptgate_registry_invalid_keys{family,reason}`: keys the registry refresh skips now. A combination
 * seen once stays at 0 after the key is fixed, so a dashboard shows the fix rather than no data.
 */
function registryInvalidKeys(
  registry: Registry,
  read: () => Iterable<{ readonly family: string; readonly reason: string }>,
): void {
  const seen = new Map<string, { family: string; reason: string }>();
  new Gauge({
    name: "promptgate_registry_invalid_keys",
    help: "Registry keys the background refresh skips now (wrong type, too large, unparsable, does not compile)",
    labelNames: ["family", "reason"],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>();
      for (const { family, reason } of read()) {
        const id = `${family}\u0000${reason}`;
        seen.set(id, { family, reason });
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      this.reset();
      for (const [id, labels] of seen) this.set(labels, counts.get(id) ?? 0);
    },
  });
}
