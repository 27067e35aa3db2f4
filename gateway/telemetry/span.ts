// One SERVER span per request: the inbound `traceparent` is its parent, a `traceparent` goes upstream,
// and the attributes come from the request's record when it ends. Never a key or a header (every
// string is scrubbed of the configured secrets: a model name, an answer's id or a captured message
// may carry one), and no message unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true (see
// message-content.ts).
import {
  INVALID_SPANID,
  INVALID_TRACEID,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { IncomingHttpHeaders } from "node:http";
import type { Scrubber } from "../support/scrubber.ts";
import { formatUsd } from "./cost.ts";
import type { RequestRecord } from "./request-record.ts";
import { ATTR } from "./semconv.ts";

const propagator = new W3CTraceContextPropagator();

export function startRequestSpan(tracer: Tracer, headers: IncomingHttpHeaders, startedAt: number): Span {
  const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  return tracer.startSpan("request", { kind: SpanKind.SERVER, startTime: startedAt }, parent);
}

/**
 * `traceparent` (and `tracestate`) for the upstream call, continuing this span's trace: what the W3C
 * propagator injects, written from the span's context directly, without the context object and the
 * id checks that `propagator.inject` repeats on every request (span.test.ts compares the two).
 */
export function traceHeaders(span: Span): Record<string, string> {
  const ctx = span.spanContext();
  // No trace to continue (tracing off and no inbound traceparent). Ids come from the SDK or from a
  // traceparent the propagator already validated, so comparing with the invalid ids is enough.
  if (ctx.traceId === INVALID_TRACEID || ctx.spanId === INVALID_SPANID) return {};
  const flags = (ctx.traceFlags & 0xff).toString(16).padStart(2, "0");
  const out: Record<string, string> = { traceparent: `00-${ctx.traceId}-${ctx.spanId}-${flags}` };
  if (ctx.traceState) out["tracestate"] = ctx.traceState.serialize();
  return out;
}

export function finishRequestSpan(
  span: Span,
  rec: RequestRecord,
  status: number,
  endedAt: number,
  scrubber: Scrubber,
): void {
  if (!span.isRecording()) return; // tracing is off (a no-op span): no attributes to build
  const scrub = (text: string): string => (scrubber.active ? scrubber.text(text, "span") : text);
  if (rec.operation !== null) span.updateName(scrub(`${rec.operation} ${rec.model ?? "unknown"}`));
  const set = (key: string, value: string | number | boolean | null): void => {
    if (value !== null) span.setAttribute(key, typeof value === "string" ? scrub(value) : value);
  };
  set(ATTR.operationName, rec.operation);
  set(ATTR.providerName, rec.provider);
  set(ATTR.requestModel, rec.model);
  set(ATTR.promptName, rec.prompt);
  set(ATTR.promptVersion, rec.version);
  set(ATTR.promptVariant, rec.variant);
  set(ATTR.promptEnvironment, rec.environment);
  set(ATTR.userBucket, rec.bucket);
  set(ATTR.httpStatus, status);
  if (rec.response) {
    set(ATTR.responseId, rec.response.id);
    set(ATTR.responseModel, rec.response.model);
    if (rec.response.finishReasons.length > 0)
      span.setAttribute(ATTR.finishReasons, rec.response.finishReasons.map(scrub));
  }
  set(ATTR.inputMessages, rec.inputMessages);
  set(ATTR.outputMessages, rec.outputMessages);
  if (rec.usage) {
    set(ATTR.inputTokens, rec.usage.inputTokens);
    set(ATTR.outputTokens, rec.usage.outputTokens);
  }
  if (rec.operation !== null) set(ATTR.usageComplete, rec.usage !== null && status < 400);
  if (rec.costPico !== null) set(ATTR.costUsd, Number(formatUsd(rec.costPico)));
  if (rec.ttftMs !== null) set(ATTR.timeToFirstTokenMs, rec.ttftMs);
  // A stream the provider cut after its 200 is an error too (rec.errorType says which).
  if (status >= 400 || rec.errorType !== null) {
    set(ATTR.errorType, rec.errorType ?? String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end(endedAt);
}
