// The body the provider receives: the (possibly prompt-rendered) request with the routed model name
// and, for streams, a request for the usage chunk. Untouched bodies go on as the original bytes.
import type { ParsedRequest } from "./request-schema.ts";

type Body = Record<string, unknown> & { model: string };

export function upstreamBody(req: ParsedRequest, raw: Buffer, body: Body, upstreamModel: string): Buffer {
  const needsUsage = req.stream && req.endpoint !== "responses" && !req.clientWantsUsage;
  const untouched = body === req.body && upstreamModel === body.model && !needsUsage && !("prompt_variables" in body);
  if (untouched) return raw;
  const out: Record<string, unknown> = { ...body, model: upstreamModel };
  delete out["prompt_variables"];
  if (needsUsage) {
    const options = (body["stream_options"] ?? {}) as Record<string, unknown>;
    out["stream_options"] = { ...options, include_usage: true };
  }
  return Buffer.from(JSON.stringify(out));
}
