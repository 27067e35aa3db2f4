// Which headers cross the gateway. A caller's headers reach the provider only from an allowlist (no
// credentials for other APIs, no organization to bill, no forwarding or request-id headers); of the
// provider's, hop-by-hop headers (RFC 9110 §7.6.1) and the gateway's own are not relayed. Names a
// `Connection` header lists never cross either way.
import type { IncomingHttpHeaders } from "node:http";
import type { HeaderValue } from "../providers/upstream.ts";

/**
 * Request headers a provider receives from the caller. `content-type`, `accept` and `user-agent`
 * describe the call; `openai-beta` opts into beta APIs (Assistants v2); the official SDKs'
 * `x-stainless-*` headers (language, runtime, retry count, timeout) are accepted by OpenAI as they are.
 * The credential and the account it bills come from the gateway (auth.ts), `traceparent` from the
 * request's span, `accept-encoding` from the relay.
 */
const FORWARDED = new Set(["content-type", "accept", "user-agent", "openai-beta"]);
const FORWARDED_PREFIX = "x-stainless-";

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
    if (value === undefined || extra.has(name)) continue;
    if (!FORWARDED.has(name) && !name.startsWith(FORWARDED_PREFIX)) continue;
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
