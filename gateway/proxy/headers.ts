// Which headers cross the gateway: hop-by-hop headers (RFC 9110 §7.6.1) never do, credentials are
// replaced, and the gateway's own request headers stay here.
import type { IncomingHttpHeaders } from "node:http";
import type { HeaderValue } from "../providers/upstream.ts";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers that never go upstream as sent by the client. */
const NOT_FORWARDED = new Set([
  ...HOP_BY_HOP,
  "host",
  "authorization",
  "api-key",
  "content-length",
  "accept-encoding",
  "expect",
  "x-prompt-ref",
  "x-prompt-vars",
  "x-user-id",
  "cookie",
]);

/** Response headers the gateway sets itself. */
const NOT_RELAYED = new Set([...HOP_BY_HOP, "content-length", "content-encoding", "x-request-id", "date", "server"]);

const NO_TOKENS: ReadonlySet<string> = new Set();

/** Header names a `Connection` header lists as hop-by-hop; usually none, so that case allocates nothing. */
function connectionTokens(value: HeaderValue): ReadonlySet<string> {
  if (value === undefined || value === "keep-alive" || value === "close") return NO_TOKENS;
  const v = Array.isArray(value) ? value.join(",") : value;
  return new Set(
    v
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * The headers a provider receives: the client's forwardable ones, then the provider's fixed headers
 * and credentials (which win), then `overrides`.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  fixed: Readonly<Record<string, string>> = {},
  overrides: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const extra = connectionTokens(incoming.connection);
  const out: Record<string, string> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || NOT_FORWARDED.has(name) || extra.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  // The relay parses what comes back, so ask for it uncompressed.
  out["accept-encoding"] = "identity";
  for (const k in fixed) out[k] = fixed[k]!;
  for (const k in overrides) out[k] = overrides[k]!;
  return out;
}

export type ResponseHeaders = Record<string, string | string[]>;

export function relayedResponseHeaders(upstream: Readonly<Record<string, HeaderValue>>): ResponseHeaders {
  const extra = connectionTokens(upstream["connection"]);
  const out: ResponseHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || NOT_RELAYED.has(name) || extra.has(name)) continue;
    out[name] = value;
  }
  const providerId = upstream["x-request-id"];
  if (typeof providerId === "string") out["x-upstream-request-id"] = providerId;
  return out;
}
