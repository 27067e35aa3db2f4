import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace";
import { describe, expect, it, vi } from "vitest";
import {
  batchSettings,
  newSpanExportStats,
  spanStatsMeterProvider,
  tracingEnabled,
  tracingWarnings,
} from "../../../gateway/telemetry/otel.ts";

/** An exporter that answers each export as `answer` says; "hang" never answers, like a stuck collector. */
function exporter(answer: "ok" | "fail" | "hang"): SpanExporter & { calls: number } {
  return {
    calls: 0,
    export(_spans: ReadableSpan[], done: (r: ExportResult) => void) {
      this.calls += 1;
      if (answer === "ok") done({ code: ExportResultCode.SUCCESS });
      if (answer === "fail") done({ code: ExportResultCode.FAILED, error: new Error("collector down") });
    },
    shutdown: async () => undefined,
  };
}

/** Ends `count` spans; resolves once each is exported, failed or dropped, or the collector hangs. */
async function endSpans(answer: "ok" | "fail" | "hang", count: number) {
  const stats = newSpanExportStats();
  const exp = exporter(answer);
  const processor = new BatchSpanProcessor({
    exporter: exp,
    maxQueueSize: 20,
    maxExportBatchSize: 5,
    scheduledDelayMillis: 5,
    exportTimeoutMillis: 60_000,
    selfObsMeterProvider: spanStatsMeterProvider(stats),
  });
  const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer("t");
  for (let i = 0; i < count; i++) tracer.startSpan(`s${i}`).end();
  // A hanging export never ends: once it started, what the full queue dropped is all there is to see.
  if (answer === "hang") await vi.waitFor(() => expect(exp.calls).toBe(1), { interval: 5 });
  else await vi.waitFor(() => expect(stats.exported + stats.failed + stats.dropped).toBe(count), { interval: 5 });
  return { stats, exp };
}

describe("span export accounting", () => {
  it("counts spans dropped while the collector never answers: the queue stays bounded", async () => {
    const { stats, exp } = await endSpans("hang", 200);
    expect(exp.calls).toBe(1); // one batch in flight, stuck
    // 5 in the stuck batch, 20 queued, everything else dropped.
    expect(stats).toEqual({ exported: 0, failed: 0, dropped: 175 });
  });

  it("counts spans lost to failed exports and spans delivered", async () => {
    expect((await endSpans("fail", 10)).stats).toMatchObject({ exported: 0, failed: 10, dropped: 0 });
    expect((await endSpans("ok", 12)).stats).toEqual({ exported: 12, failed: 0, dropped: 0 });
  });

  it("reads the standard OTEL_BSP_* variables, falling back to the SDK defaults", () => {
    expect(batchSettings({})).toEqual({
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 30000,
    });
    expect(
      batchSettings({ OTEL_BSP_MAX_QUEUE_SIZE: "100", OTEL_BSP_SCHEDULE_DELAY: "200", OTEL_BSP_EXPORT_TIMEOUT: "x" }),
    ).toEqual({
      maxQueueSize: 100,
      maxExportBatchSize: 100,
      scheduledDelayMillis: 200,
      exportTimeoutMillis: 30000,
    });
  });

  it("exports only when an endpoint or the otlp exporter is configured", () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(tracingEnabled({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
  });

  it("warns at start about exporters it does not have and protocols it does not speak", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317" };
    expect(tracingWarnings({ ...endpoint })).toEqual([]);
    expect(
      tracingWarnings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_TRACES_EXPORTER: "otlp" }),
    ).toEqual([]);
    const [grpc] = tracingWarnings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" });
    expect(grpc).toMatch(
      /^OTEL_EXPORTER_OTLP_PROTOCOL is "grpc", but promptgate exports traces as OTLP\/HTTP JSON \(http\/json\).*4318/,
    );
    // The traces-specific variable decides, as in the SDK.
    expect(
      tracingWarnings({
        ...endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      }),
    ).toEqual([]);
    expect(tracingWarnings({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" })[0]).toContain(
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is "http/protobuf"',
    );
    expect(tracingWarnings({ ...endpoint, OTEL_TRACES_EXPORTER: "otlp, console" })).toEqual([
      'OTEL_TRACES_EXPORTER names "console": promptgate exports traces over OTLP only',
    ]);
    expect(tracingWarnings({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toEqual([]); // not exporting: no protocol to speak
    expect(tracingWarnings({ OTEL_TRACES_EXPORTER: "console" })).toHaveLength(1); // asked for spans it will not get
    expect(tracingWarnings({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toEqual([]);
  });
});
