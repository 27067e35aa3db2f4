// The body the provider receives: the client's, with the routed model name and, for streams, a
// request for the usage chunk. Untouched bodies are forwarded as the original bytes.
import type { ParsedRequest } from "./request-schema.ts";

export function upstreamBody(req: ParsedRequest, raw: Buffer, upstreamModel: string): Buffer {
  const body = req.body;
  const needsUsage = req.stream && req.endpoint !== "responses" && !req.clientWantsUsage;
  const renamed = upstreamModel !== body.model;
  const hasVariables = "prompt_variables" in body;
  if (!needsUsage && !renamed && !hasVariables) return raw;
  const out: Record<string, unknown> = { ...body, model: upstreamModel };
  delete out["prompt_variables"];
  if (needsUsage) {
    const options = (body["stream_options"] ?? {}) as Record<string, unknown>;
    out["stream_options"] = { ...options, include_usage: true };
  }
  return Buffer.from(JSON.stringify(out));
}
