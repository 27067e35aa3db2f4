import { describe, expect, it } from "vitest";
import { MOCK_PROVIDER, type ProviderConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { bearerToken, createAuthenticator } from "./auth.ts";

const provider = (over: Partial<ProviderConfig> = {}): ProviderConfig => ({
  ...MOCK_PROVIDER,
  name: "p",
  builtin: null,
  ...over,
});

describe("authenticator", () => {
  it("admits anyone without gateway keys and forwards the caller's key to key-less providers", () => {
    const auth = createAuthenticator({ gatewayKeys: [] });
    expect(() => auth.check(undefined)).not.toThrow();
    expect(auth.upstreamAuth(provider(), "Bearer sk-caller")).toEqual({ authorization: "Bearer sk-caller" });
    expect(auth.upstreamAuth(provider({ apiKey: "sk-own" }), "Bearer sk-caller")).toEqual({
      authorization: "Bearer sk-own",
    });
    expect(auth.upstreamAuth(provider({ auth: "api-key" }), "Bearer sk-caller")).toEqual({ "api-key": "sk-caller" });
  });

  it("requires one of the gateway keys and then never forwards the caller's header", () => {
    const auth = createAuthenticator({ gatewayKeys: ["gk-1", "gk-2"] });
    expect(() => auth.check("Bearer gk-2")).not.toThrow();
    for (const bad of [undefined, "Bearer gk-3", "Basic Z2s=", "Bearer gk-1x"]) {
      expect(() => auth.check(bad)).toThrow(GatewayError);
    }
    expect(auth.upstreamAuth(provider(), "Bearer gk-2")).toEqual({});
    expect(auth.upstreamAuth(provider({ apiKey: "sk-own", auth: "api-key" }), "Bearer gk-2")).toEqual({
      "api-key": "sk-own",
    });
  });

  it("reads bearer tokens", () => {
    expect(bearerToken("Bearer  abc ")).toBe("abc");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Token abc")).toBeNull();
  });
});
