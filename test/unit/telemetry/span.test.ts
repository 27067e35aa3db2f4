import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace, type Span } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { REDACTED, Scrubber } from "../../../gateway/support/scrubber.ts";
import { newRecord } from "../../../gateway/telemetry/request-record.ts";
import { finishRequestSpan, startRequestSpan, traceHeaders } from "../../../gateway/telemetry/span.ts";

const propagator = new W3CTraceContextPropagator();
const exporter = new InMemorySpanExporter();
const sdkTracer = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
}).getTracer("t");
const noopTracer = trace.getTracer("noop"); // no global provider registered here: the API's no-op tracer

/** What the W3C propagator injects for `span`: the reference traceHeaders must match. */
function injected(span: Span): Record<string, string> {
  const out: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), out, defaultTextMapSetter);
  return out;
}

describe("traceHeaders", () => {
  const inbound = [
    {},
    { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", tracestate: "vendor=abc,other=x" },
    { traceparent: "not-a-traceparent" },
  ];

  it("sends what the W3C propagator would, for recording and no-op spans, with or without a caller's trace", () => {
    for (const headers of inbound) {
      for (const tracer of [sdkTracer, noopTracer]) {
        const span = startRequestSpan(tracer, headers, Date.now());
        expect(traceHeaders(span), JSON.stringify(headers)).toEqual(injected(span));
      }
    }
  });

  it("continues the caller's trace from a new span, and sends nothing when there is no trace at all", () => {
    const span = startRequestSpan(sdkTracer, inbound[2]!, Date.now());
    const sent = traceHeaders(span);
    expect(sent["traceparent"]).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(sent["traceparent"]).not.toContain("b7ad6b7169203331");
    expect(sent["tracestate"]).toBe("vendor=abc,other=x");
    expect(traceHeaders(startRequestSpan(noopTracer, {}, Date.now()))).toEqual({});
  });

  it("writes trace flags as two hex digits", () => {
    const parent = propagator.extract(
      ROOT_CONTEXT,
      { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff" },
      defaultTextMapGetter,
    );
    const span = noopTracer.startSpan("x", {}, parent);
    expect(traceHeaders(span)["traceparent"]).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff");
  });
});

describe("finishRequestSpan", () => {
  it("scrubs every configured secret from the span's name and string attributes", () => {
    const key = "gk-caller-0123456789abcdef";
    const span = startRequestSpan(sdkTracer, {}, Date.now());
    const rec = newRecord(Date.now());
    rec.operation = "chat";
    rec.model = `model-${key}`;
    rec.response = { id: `chatcmpl-${key}`, model: key, finishReasons: [key] };
    rec.inputMessages = JSON.stringify([{ role: "user", content: `my key is ${key}` }]);
    finishRequestSpan(span, rec, 200, Date.now(), new Scrubber([{ value: key }]));
    const done = exporter.getFinishedSpans().at(-1)!;
    expect(done.name).toBe(`chat model-${REDACTED}`);
    expect(done.attributes).toMatchObject({
      "gen_ai.request.model": `model-${REDACTED}`,
      "gen_ai.response.id": `chatcmpl-${REDACTED}`,
      "gen_ai.response.model": REDACTED,
      "gen_ai.response.finish_reasons": [REDACTED],
    });
    expect(JSON.stringify(done.attributes)).not.toContain(key);
  });
});
