import { describe, expect, it } from "vitest";
import { GatewayError, errorBody } from "../../../gateway/errors/gateway-error.ts";
import { RegistryError } from "../../../gateway/registry/registry-error.ts";
import { toGatewayError } from "../../../gateway/http/error-response.ts";

describe("toGatewayError", () => {
  it("keeps the gateway's own errors as they are", () => {
    const err = new GatewayError("upstream_timeout", "slow");
    expect(toGatewayError(err)).toBe(err);
  });

  it("answers the registry's rules by kind: conflict 409, not found 404, invalid 400, message and field kept", () => {
    const answers = [
      new RegistryError("conflict", "label prod of p changed concurrently, retry"),
      new RegistryError("not_found", 'unknown prompt "p": push it first', { field: "name" }),
      new RegistryError("invalid", "refused weights", { field: "weights" }),
    ].map((err) => {
      const e = toGatewayError(err);
      return [e.status, errorBody(e).error, e.cause === err];
    });
    expect(answers).toEqual([
      [
        409,
        {
          message: "label prod of p changed concurrently, retry",
          type: "invalid_request_error",
          param: null,
          code: "invalid_request",
        },
        true,
      ],
      [
        404,
        {
          message: 'unknown prompt "p": push it first',
          type: "invalid_request_error",
          param: "name",
          code: "not_found",
        },
        true,
      ],
      [
        400,
        { message: "refused weights", type: "invalid_request_error", param: "weights", code: "invalid_request" },
        true,
      ],
    ]);
  });

  it("hides the message of unknown failures", () => {
    const err = toGatewayError(new Error("Bearer sk-secret leaked"));
    expect(err.status).toBe(500);
    expect(err.message).not.toContain("sk-secret");
  });
});
