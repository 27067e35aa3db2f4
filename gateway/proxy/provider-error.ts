// A provider's own error answer, relayed with its status; a body that is not already in OpenAI's
// error shape (an HTML page from a load balancer, say) is wrapped in it.
import { GatewayError, errorBody } from "../errors/gateway-error.ts";

export function providerErrorBody(status: number, body: Buffer, provider: string): Buffer {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as unknown;
    if (parsed !== null && typeof parsed === "object" && "error" in parsed) return body;
  } catch {
    // not JSON: wrapped below
  }
  const excerpt = body.toString("utf8", 0, Math.min(body.length, 200)).replace(/\s+/g, " ").trim();
  const err = new GatewayError(
    "upstream_error",
    `provider "${provider}" answered ${status}${excerpt ? `: ${excerpt}` : ""}`,
    { status },
  );
  return Buffer.from(JSON.stringify(errorBody(err)));
}
