// A provider's own error answer, relayed with its status; a body that is not already in OpenAI's
// error shape (an HTML page from a load balancer, say) is wrapped in it. Either way every configured
// secret is scrubbed first: a provider that echoes the request's headers in its error echoes its key.
import { GatewayError, errorBody } from "../errors/gateway-error.ts";
import type { Scrubber } from "../support/scrubber.ts";

const EXCERPT_CHARS = 200;
/** What is read for the excerpt: at least 1,024 characters, so a secret cut here starts past the excerpt. */
const EXCERPT_SOURCE_BYTES = 4096;

export function providerErrorBody(status: number, body: Buffer, provider: string, scrubber: Scrubber): Buffer {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as unknown;
    if (parsed !== null && typeof parsed === "object" && "error" in parsed) return scrubber.bytes(body, "response");
  } catch {
    // not JSON: wrapped below
  }
  // Scrubbed whole before the cut, so that no part of a secret straddling the cut is left.
  const text = scrubber.text(body.toString("utf8", 0, Math.min(body.length, EXCERPT_SOURCE_BYTES)), "response");
  const excerpt = text.slice(0, EXCERPT_CHARS).replace(/\s+/g, " ").trim();
  const err = new GatewayError(
    "upstream_error",
    `provider "${provider}" answered ${status}${excerpt ? `: ${excerpt}` : ""}`,
    { status },
  );
  return Buffer.from(JSON.stringify(errorBody(err)));
}
