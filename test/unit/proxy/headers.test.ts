import { describe, expect, it } from "vitest";
import { relayedResponseHeaders, upstreamRequestHeaders } from "../../../gateway/proxy/headers.ts";

describe("upstreamRequestHeaders", () => {
  it("forwards only the allowlisted headers a client sends, then the provider's and the overrides", () => {
    const out = upstreamRequestHeaders(
      {
        host: "gw",
        connection: "keep-alive, x-secret-hop",
        "keep-alive": "timeout=5",
        "x-secret-hop": "1",
        authorization: "Bearer caller",
        "content-length": "12",
        "transfer-encoding": "chunked",
        "x-prompt-ref": "summarization",
        "x-user-id": "u1",
        accept: "application/json",
        "content-type": "application/json",
        "user-agent": "OpenAI/JS 6.0.0",
        "openai-beta": "assistants=v2",
        "x-stainless-lang": "js",
        "x-stainless-retry-count": "0",
        // Credentials for other APIs, the account to bill, forwarding and id headers: never.
        "x-api-key": "sk-ant-caller",
        "x-goog-api-key": "goog-caller",
        "api-key": "azure-caller",
        "openai-organization": "org-caller",
        "openai-project": "proj-caller",
        "x-forwarded-for": "10.0.0.1",
        "x-real-ip": "10.0.0.1",
        forwarded: "for=10.0.0.1",
        "x-request-id": "caller-id",
        cookie: "session=1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        baggage: "user=alice",
      },
      { "openai-organization": "org-gateway" },
      { authorization: "Bearer sk-gateway" },
    );
    expect(out).toEqual({
      accept: "application/json",
      "content-type": "application/json",
      "user-agent": "OpenAI/JS 6.0.0",
      "openai-beta": "assistants=v2",
      "x-stainless-lang": "js",
      "x-stainless-retry-count": "0",
      "accept-encoding": "identity",
      "openai-organization": "org-gateway",
      authorization: "Bearer sk-gateway",
    });
  });

  it("drops an allowlisted header the Connection header names as hop-by-hop", () => {
    expect(upstreamRequestHeaders({ connection: "user-agent", "user-agent": "x", accept: "a" })).toEqual({
      accept: "a",
      "accept-encoding": "identity",
    });
  });
});

describe("relayedResponseHeaders", () => {
  const none = (v: string): string => v;

  it("relays only the allowlisted provider headers and renames its request id", () => {
    const out = relayedResponseHeaders(
      {
        "content-type": "text/event-stream",
        "content-length": "10",
        "transfer-encoding": "chunked",
        "content-encoding": "gzip",
        connection: "keep-alive",
        "x-request-id": "req_abc",
        "x-ratelimit-remaining-requests": "99",
        "x-ratelimit-reset-tokens": "6m0s",
        "retry-after": "2",
        "retry-after-ms": "2000",
        "x-should-retry": "true",
        "openai-processing-ms": "120",
        "openai-version": "2020-10-01",
        "openai-organization": "org-of-the-gateway",
        "set-cookie": ["__cf_bm=abc; path=/"],
        "cf-ray": "8a1b",
        "x-echo-authorization": "Bearer sk-gateway",
        server: "cloudflare",
        date: "Mon, 01 Jan 2024 00:00:00 GMT",
      },
      none,
    );
    expect(out).toEqual({
      "content-type": "text/event-stream",
      "x-upstream-request-id": "req_abc",
      "x-ratelimit-remaining-requests": "99",
      "x-ratelimit-reset-tokens": "6m0s",
      "retry-after": "2",
      "retry-after-ms": "2000",
      "x-should-retry": "true",
      "openai-processing-ms": "120",
      "openai-version": "2020-10-01",
    });
  });

  it("passes every relayed value through the scrubber, the provider's request id included", () => {
    const scrub = (v: string): string => v.replaceAll("sk-gateway", "[redacted]");
    const out = relayedResponseHeaders(
      { "x-request-id": "Bearer sk-gateway", "x-ratelimit-limit-requests": "sk-gateway" },
      scrub,
    );
    expect(out).toEqual({ "x-upstream-request-id": "Bearer [redacted]", "x-ratelimit-limit-requests": "[redacted]" });
  });
});
