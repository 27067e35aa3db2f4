// A preload for `node loadtest/span-cost.ts`: `node --import ./loadtest/discard-exporter.ts gateway/main.ts serve`
// makes the gateway's `@opentelemetry/exporter-trace-otlp-http` this module, whose OTLPTraceExporter
// accepts every batch and sends nothing. The SDK still creates, fills, ends and batches every span as
// usual, so such a gateway costs what the span itself costs, without serialising or sending it.
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { registerHooks } from "node:module";

const REPLACED = "@opentelemetry/exporter-trace-otlp-http";
const SELF = import.meta.url;

registerHooks({
  resolve: (specifier, context, nextResolve) =>
    specifier === REPLACED ? { url: SELF, shortCircuit: true } : nextResolve(specifier, context),
});

export class OTLPTraceExporter implements SpanExporter {
  /** Batches handed over so far (what the gateway would have sent). */
  static batches = 0;

  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    OTLPTraceExporter.batches += 1;
    done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
