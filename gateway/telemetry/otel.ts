// OpenTelemetry tracing for `serve`, configured by the standard OTEL_* variables: export over
// OTLP/HTTP when an endpoint is set (or OTEL_TRACES_EXPORTER=otlp), otherwise a no-op tracer. Spans
// are batched in a bounded queue, so a collector that is down never slows requests or grows memory.
import { trace, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace";

export interface Tracing {
  readonly tracer: Tracer;
  readonly exporting: boolean;
  /** Flushes what is queued and stops. */
  shutdown(): Promise<void>;
}

export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if (env["OTEL_SDK_DISABLED"] === "true" || env["OTEL_TRACES_EXPORTER"] === "none") return false;
  return Boolean(env["OTEL_EXPORTER_OTLP_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) || env["OTEL_TRACES_EXPORTER"] === "otlp";
}

export function startTracing(env: NodeJS.ProcessEnv): Tracing {
  if (!tracingEnabled(env)) return { tracer: trace.getTracer("promptgate"), exporting: false, shutdown: async () => undefined };
  const sdk = new NodeSDK({
    serviceName: env["OTEL_SERVICE_NAME"] || "promptgate",
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    // maxQueueSize bounds memory while a collector is away; spans beyond it are dropped.
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), maxQueueSize: 2048 })],
  });
  sdk.start();
  return { tracer: trace.getTracer("promptgate"), exporting: true, shutdown: () => sdk.shutdown() };
}
