import { describe, expect, it } from "vitest";
import { GatewayError, errorBody } from "../../../gateway/errors/gateway-error.ts";

describe("GatewayError", () => {
  it("maps codes to statuses and renders OpenAI's shape", () => {
    const err = new GatewayError("invalid_request", "messages: Required", { param: "messages" });
    expect(err.status).toBe(400);
    expect(errorBody(err)).toEqual({
      error: {
        message: "messages: Required",
        type: "invalid_request_error",
        param: "messages",
        code: "invalid_request",
      },
    });
    expect(new GatewayError("upstream_timeout", "t").status).toBe(504);
    expect(new GatewayError("body_too_large", "t").status).toBe(413);
  });

  it("keeps a provider's own status when given", () => {
    expect(new GatewayError("upstream_error", "rate limited", { status: 429 }).status).toBe(429);
  });
});
