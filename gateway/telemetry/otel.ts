// OpenTelemetry tracing for `serve`, configured by the standard OTEL_* variables: export over
// OTLP/HTTP when an endpoint is set (or OTEL_TRACES_EXPORTER=otlp), otherwise a no-op tracer. Spans
// are batched in a bounded queue (OTEL_BSP_*), so a collector that is down or never answers neither
// slows requests nor grows memory: spans past the queue are dropped, and counted.
import { createNoopMeter, trace, type Counter, type Meter, type MeterProvider, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace";

/** What became of finished spans, read by /metrics. */
export interface SpanExportStats {
  exported: number;
  /** Dropped because the queue was full (the collector is slow, down or unreachable). */
  dropped: number;
  /** Lost in a failed or timed-out export. */
  failed: number;
}

export interface Tracing {
  readonly tracer: Tracer;
  readonly exporting: boolean;
  readonly stats: SpanExportStats;
  /** Flushes what is queued and stops. */
  shutdown(): Promise<void>;
}

export const newSpanExportStats = (): SpanExportStats => ({ exported: 0, dropped: 0, failed: 0 });

export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if (env["OTEL_SDK_DISABLED"] === "true" || env["OTEL_TRACES_EXPORTER"] === "none") return false;
  return (
    Boolean(env["OTEL_EXPORTER_OTLP_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) ||
    env["OTEL_TRACES_EXPORTER"] === "otlp"
  );
}

/**
 * What the environment asks of tracing that promptgate does not do, for the log at start. Traces go
 * over OTLP/HTTP as JSON (`@opentelemetry/exporter-trace-otlp-http`), whatever the protocol variables
 * say: a gateway pointed at a collector's gRPC port (4317) would otherwise only show failed exports.
 */
export function tracingWarnings(env: NodeJS.ProcessEnv): string[] {
  const warnings: string[] = [];
  const exporters = (env["OTEL_TRACES_EXPORTER"] ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => !["", "otlp", "none"].includes(e));
  if (exporters.length > 0)
    warnings.push(
      `OTEL_TRACES_EXPORTER names ${exporters.map((e) => `"${e}"`).join(", ")}: promptgate exports traces over OTLP only`,
    );
  if (!tracingEnabled(env)) return warnings;
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const value = env[name]?.trim();
    if (value === undefined || value === "") continue;
    if (value !== "http/json") {
      warnings.push(
        `${name} is "${value}", but promptgate exports traces as OTLP/HTTP JSON (http/json): point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP/HTTP port (4318 by default)`,
      );
    }
    break; // the traces-specific variable wins over the general one, as in the SDK
  }
  return warnings;
}

/** The batch processor's settings from the standard OTEL_BSP_* variables, with the SDK's defaults. */
export function batchSettings(env: NodeJS.ProcessEnv): {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
} {
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    const value = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  const maxQueueSize = num("OTEL_BSP_MAX_QUEUE_SIZE", 2048);
  return {
    maxQueueSize,
    maxExportBatchSize: Math.min(num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), maxQueueSize),
    scheduledDelayMillis: num("OTEL_BSP_SCHEDULE_DELAY", 5_000),
    exportTimeoutMillis: num("OTEL_BSP_EXPORT_TIMEOUT", 30_000),
  };
}

const PROCESSED = "otel.sdk.processor.span.processed";

/**
 * The batch processor reports on itself through a MeterProvider (`otel.sdk.processor.span.processed`,
 * with `error.type=queue_full` for drops). This one turns that counter into SpanExportStats and
 * ignores every other instrument.
 */
export function spanStatsMeterProvider(stats: SpanExportStats): MeterProvider {
  const noop = createNoopMeter();
  const processed: Counter = {
    add(value, attributes) {
      const error = attributes?.["error.type"];
      if (error === undefined) stats.exported += value;
      else if (error === "queue_full") stats.dropped += value;
      else stats.failed += value;
    },
  };
  const meter: Meter = {
    createCounter: (name, options) => (name === PROCESSED ? processed : noop.createCounter(name, options)),
    createGauge: (name, options) => noop.createGauge(name, options),
    createHistogram: (name, options) => noop.createHistogram(name, options),
    createUpDownCounter: (name, options) => noop.createUpDownCounter(name, options),
    createObservableGauge: (name, options) => noop.createObservableGauge(name, options),
    createObservableCounter: (name, options) => noop.createObservableCounter(name, options),
    createObservableUpDownCounter: (name, options) => noop.createObservableUpDownCounter(name, options),
    addBatchObservableCallback: (callback, observables) => noop.addBatchObservableCallback(callback, observables),
    removeBatchObservableCallback: (callback, observables) => noop.removeBatchObservableCallback(callback, observables),
  };
  return { getMeter: () => meter };
}

export function startTracing(env: NodeJS.ProcessEnv): Tracing {
  const stats = newSpanExportStats();
  if (!tracingEnabled(env))
    return { tracer: trace.getTracer("promptgate"), exporting: false, stats, shutdown: async () => undefined };
  const processor = new BatchSpanProcessor({
    exporter: new OTLPTraceExporter(),
    ...batchSettings(env),
    selfObsMeterProvider: spanStatsMeterProvider(stats),
  });
  const sdk = new NodeSDK({
    serviceName: env["OTEL_SERVICE_NAME"] || "promptgate",
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    spanProcessors: [processor],
  });
  sdk.start();
  return { tracer: trace.getTracer("promptgate"), exporting: true, stats, shutdown: () => sdk.shutdown() };
}
