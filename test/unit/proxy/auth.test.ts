import { describe, expect, it } from "vitest";
import { MOCK_PROVIDER, type ProviderConfig } from "../../../gateway/config/gateway-config.ts";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { bearerToken, createAuthenticator } from "../../../gateway/proxy/auth.ts";

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
    const caller = { authorization: "Bearer sk-caller" };
    expect(auth.upstreamAuth(provider(), caller)).toEqual({ authorization: "Bearer sk-caller" });
    expect(auth.upstreamAuth(provider({ apiKey: "sk-own" }), caller)).toEqual({
      authorization: "Bearer sk-own",
    });
    expect(auth.upstreamAuth(provider({ auth: "api-key" }), caller)).toEqual({ "api-key": "sk-caller" });
  });

  it("sends the caller's organization and project with the caller's own key, never with the provider's", () => {
    const auth = createAuthenticator({ gatewayKeys: [] });
    const caller = { authorization: "Bearer sk-caller", "openai-organization": "org-c", "openai-project": "proj-c" };
    expect(auth.upstreamAuth(provider(), caller)).toEqual(caller);
    // The provider's own setting wins over the caller's.
    expect(auth.upstreamAuth(provider({ headers: { "openai-organization": "org-p" } }), caller)).toEqual({
      authorization: "Bearer sk-caller",
      "openai-project": "proj-c",
    });
    expect(auth.upstreamAuth(provider({ apiKey: "sk-own" }), caller)).toEqual({ authorization: "Bearer sk-own" });
    const keyed = createAuthenticator({ gatewayKeys: ["gk-1"] });
    expect(keyed.upstreamAuth(provider(), { ...caller, authorization: "Bearer gk-1" })).toEqual({});
  });

  it("requires one of the gateway keys and then never forwards the caller's header", () => {
    const auth = createAuthenticator({ gatewayKeys: ["gk-1", "gk-2"] });
    expect(() => auth.check("Bearer gk-2")).not.toThrow();
    for (const bad of [undefined, "Bearer gk-3", "Basic Z2s=", "Bearer gk-1x"]) {
      expect(() => auth.check(bad)).toThrow(GatewayError);
    }
    expect(auth.upstreamAuth(provider(), { authorization: "Bearer gk-2" })).toEqual({});
    expect(
      auth.upstreamAuth(provider({ apiKey: "sk-own", auth: "api-key" }), { authorization: "Bearer gk-2" }),
    ).toEqual({
      "api-key": "sk-own",
    });
  });

  it("reads bearer tokens", () => {
    expect(bearerToken("Bearer  abc ")).toBe("abc");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Token abc")).toBeNull();
  });
});
