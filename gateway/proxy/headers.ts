// Which headers cross the gateway: allowlists both ways. A caller's other headers (credentials for
// other APIs, an organization to bill, forwarding and request-id headers) never reach the provider,
// and a provider's other headers (cookies, echoes of what it was sent, its infrastructure's) never
// reach the caller. Hop-by-hop headers (RFC 9110 §7.6.1) and names a `Connection` header lists never
// cross either way. docs/design.md lists both allowlists (HTTP interface, request and response headers).
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

/**
 * Response headers a caller receives from the provider: the content's type (and a download's file
 * name), what the OpenAI SDKs read to decide on retries (`retry-after`, `retry-after-ms`,
 * `x-should-retry`), and OpenAI's `openai-processing-ms`, `openai-version` and `x-ratelimit-*`.
 * The provider's `x-request-id` comes back as `x-upstream-request-id` (`x-request-id` is the
 * gateway's own); `openai-organization` is not relayed (it names the account behind the gateway's key).
 */
const RELAYED = new Set([
  "content-type",
  "content-disposition",
  "retry-after",
  "retry-after-ms",
  "x-should-retry",
  "openai-processing-ms",
  "openai-version",
]);
const RELAYED_PREFIX = "x-ratelimit-";

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

/** The provider's response headers the caller gets, each value passed through `scrub`. */
export function relayedResponseHeaders(
  upstream: Readonly<Record<string, HeaderValue>>,
  scrub: (value: string) => string,
): ResponseHeaders {
  const extra = connectionTokens(upstream["connection"]);
  const out: ResponseHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || extra.has(name)) continue;
    if (!RELAYED.has(name) && !name.startsWith(RELAYED_PREFIX)) continue;
    out[name] = Array.isArray(value) ? value.map(scrub) : scrub(value);
  }
  const providerId = upstream["x-request-id"];
  if (typeof providerId === "string") out["x-upstream-request-id"] = scrub(providerId);
  return out;
}
