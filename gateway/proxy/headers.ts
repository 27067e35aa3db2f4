// Which headers cross the gateway: hop-by-hop headers (RFC 9110 §7.6.1) never do, credentials are
// replaced, and the gateway's own request headers stay here.
import type { IncomingHttpHeaders } from "node:http";
import type { HeaderValue } from "./upstream.ts";

const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
  "te", "trailer", "transfer-encoding", "upgrade",
]);

/** Request headers that never go upstream as sent by the client. */
const NOT_FORWARDED = new Set([
  ...HOP_BY_HOP, "host", "authorization", "api-key", "content-length", "accept-encoding", "expect",
  "x-prompt-ref", "x-prompt-vars", "x-user-id", "cookie",
]);

/** Response headers the gateway sets itself. */
const NOT_RELAYED = new Set([...HOP_BY_HOP, "content-length", "content-encoding", "x-request-id", "date", "server"]);

function connectionTokens(value: HeaderValue): Set<string> {
  const v = Array.isArray(value) ? value.join(",") : value ?? "";
  return new Set(v.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
}

export function upstreamRequestHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const extra = connectionTokens(incoming.connection);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || NOT_FORWARDED.has(name) || extra.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  // The relay parses what comes back, so ask for it uncompressed.
  out["accept-encoding"] = "identity";
  return out;
}

export type ResponseHeaders = Record<string, string | string[]>;

export function relayedResponseHeaders(upstream: Readonly<Record<string, HeaderValue>>): ResponseHeaders {
  const extra = connectionTokens(upstream["connection"]);
  const out: ResponseHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || NOT_RELAYED.has(name) || extra.has(name)) continue;
    out[name] = value;
  }
  const providerId = upstream["x-request-id"];
  if (typeof providerId === "string") out["x-upstream-request-id"] = providerId;
  return out;
}
