import { describe, expect, it } from "vitest";
import { relayedResponseHeaders, upstreamRequestHeaders } from "./headers.ts";

describe("upstreamRequestHeaders", () => {
  it("drops hop-by-hop, credentials, gateway headers and Connection-listed names", () => {
    const out = upstreamRequestHeaders({
      host: "gw",
      connection: "keep-alive, x-secret-hop",
      "keep-alive": "timeout=5",
      "x-secret-hop": "1",
      authorization: "Bearer caller",
      "content-length": "12",
      "transfer-encoding": "chunked",
      "x-prompt-ref": "summarization",
      "x-user-id": "u1",
      "openai-organization": "org-1",
      accept: "application/json",
    });
    expect(out).toEqual({ "openai-organization": "org-1", accept: "application/json", "accept-encoding": "identity" });
  });
});

describe("relayedResponseHeaders", () => {
  it("keeps provider headers, renames its request id, drops framing headers", () => {
    const out = relayedResponseHeaders({
      "content-type": "text/event-stream",
      "content-length": "10",
      "transfer-encoding": "chunked",
      "x-request-id": "req_abc",
      "x-ratelimit-remaining-requests": "99",
      "content-encoding": "gzip",
    });
    expect(out).toEqual({
      "content-type": "text/event-stream",
      "x-upstream-request-id": "req_abc",
      "x-ratelimit-remaining-requests": "99",
    });
  });
});
