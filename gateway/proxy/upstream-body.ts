// The body the provider receives: the (possibly prompt-rendered) request with the routed model name
// and, for streams, a request for the usage chunk. Untouched bodies go on as the original bytes.
import type { ParsedRequest } from "./request-schema.ts";

type Body = Record<string, unknown> & { model: string };

const USAGE_OPTION = Buffer.from(',"stream_options":{"include_usage":true}');

/** Where the closing brace of a JSON object's bytes is (trailing whitespace allowed), or -1. */
function lastBrace(raw: Buffer): number {
  let i = raw.length - 1;
  while (i >= 0 && (raw[i] === 0x20 || raw[i] === 0x0a || raw[i] === 0x0d || raw[i] === 0x09)) i--;
  return i >= 0 && raw[i] === 0x7d ? i : -1;
}

export function upstreamBody(req: ParsedRequest, raw: Buffer, body: Body, upstreamModel: string): Buffer {
  const needsUsage = req.stream && req.endpoint !== "responses" && !req.clientWantsUsage;
  const untouched = body === req.body && upstreamModel === body.model && !needsUsage && !("prompt_variables" in body);
  if (untouched) return raw;
  // The common stream case only lacks the usage request: splice it into the original bytes.
  if (
    body === req.body &&
    upstreamModel === body.model &&
    needsUsage &&
    body["stream_options"] === undefined &&
    !("prompt_variables" in body)
  ) {
    const end = lastBrace(raw);
    if (end !== -1) return Buffer.concat([raw.subarray(0, end), USAGE_OPTION, raw.subarray(end)]);
  }
  // A prompt-rendered body is already a new object without prompt_variables: it is serialised as it is
  // unless the model or the usage request changes it.
  const asIs = body !== req.body && upstreamModel === body.model && !needsUsage && !("prompt_variables" in body);
  if (asIs) return Buffer.from(JSON.stringify(body));
  const out: Record<string, unknown> = { ...body, model: upstreamModel };
  delete out["prompt_variables"];
  if (needsUsage) {
    const options = (body["stream_options"] ?? {}) as Record<string, unknown>;
    out["stream_options"] = { ...options, include_usage: true };
  }
  return Buffer.from(JSON.stringify(out));
}
