import { describe, expect, it } from "vitest";
import { MOCK_PROVIDER, parseGatewayConfig, type ProviderConfig } from "../../../gateway/config/gateway-config.ts";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { callerBringsKey, checkPassthrough, passthroughTarget } from "../../../gateway/proxy/passthrough-target.ts";

describe("passthroughTarget", () => {
  it("collapses empty segments and keeps the segments as sent, and the query, for the provider", () => {
    expect(passthroughTarget("/v1//files///file-1/content?limit=2&after=%2e%2e")).toEqual({
      path: "/v1/files/file-1/content",
      upstreamPath: "/files/file-1/content?limit=2&after=%2e%2e",
    });
    expect(passthroughTarget("/v1/models/ft%3Agpt-4o%3Aacme")).toEqual({
      path: "/v1/models/ft:gpt-4o:acme",
      upstreamPath: "/models/ft%3Agpt-4o%3Aacme",
    });
    expect(passthroughTarget("/v1/files/").upstreamPath).toBe("/files/");
  });

  it.each([
    ["http://evil.example/v1/files", "absolute URL"],
    ["*", "absolute URL"],
    ["/v1/models/../files", "'..'"],
    ["/v1/./files", "'.'"],
    ["/v1/models/%2e%2e/files", "'..'"],
    ["/v1/models/%2E./files", "'..'"],
    ["/v1/models/a%2fb", "encoded '/'"],
    ["/v1/models/a%5Cb", "encoded '/'"],
    ["/v1/models/%252e%252e/files", "double-encoded"],
    ["/v1/models/a\\b", "backslash"],
    ["/v1/models/%zz", "malformed"],
    ["/v2/files", "only /v1"],
    ["/v%31/../admin", "'..'"],
  ])("refuses %s with a 400", (url, why) => {
    let caught: unknown;
    try {
      passthroughTarget(url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).status).toBe(400);
    expect((caught as GatewayError).message).toContain(why);
  });
});

describe("checkPassthrough", () => {
  const keyed: ProviderConfig = { ...MOCK_PROVIDER, name: "openai", builtin: null, apiKey: "sk-gw" };
  const callers: ProviderConfig = { ...keyed, apiKey: null };
  const config = (yaml = "", keys = "") =>
    parseGatewayConfig(
      `routes: [{ match: "*", provider: mock }]\n${keys ? "gateway_keys_env: KEYS\n" : ""}${yaml}`,
      keys ? { KEYS: keys } : {},
    );
  const status = (cfg: ReturnType<typeof config>, p: ProviderConfig, method: string, path: string): number => {
    try {
      checkPassthrough(cfg, p, method, path);
      return 200;
    } catch (err) {
      return (err as GatewayError).status;
    }
  };

  it("lets only GET /v1/models/{id} reach a provider the gateway holds the key of, by default", () => {
    const cfg = config();
    expect(status(cfg, keyed, "GET", "/v1/models/gpt-4o")).toBe(200);
    expect(status(cfg, keyed, "DELETE", "/v1/models/ft:gpt-4o:acme")).toBe(403);
    expect(status(cfg, keyed, "GET", "/v1/models/a/b")).toBe(403);
    expect(status(cfg, keyed, "GET", "/v1/files")).toBe(403);
    expect(status(cfg, keyed, "POST", "/v1/fine_tuning/jobs")).toBe(403);
  });

  it("follows passthrough.allow: * within a segment, a last ** for deeper paths, methods in any case", () => {
    const cfg = config(
      "passthrough:\n  allow:\n    - { methods: [get, POST], path: /v1/files }\n    - { methods: [GET], path: /v1/files/** }\n    - { methods: [POST], path: /v1/batches/batch_*/cancel }\n",
    );
    expect(status(cfg, keyed, "POST", "/v1/files")).toBe(200);
    expect(status(cfg, keyed, "GET", "/v1/files/file-1/content")).toBe(200);
    expect(status(cfg, keyed, "DELETE", "/v1/files/file-1")).toBe(403);
    expect(status(cfg, keyed, "POST", "/v1/batches/batch_1/cancel")).toBe(200);
    expect(status(cfg, keyed, "POST", "/v1/batches/x/cancel")).toBe(403);
    // The default rule is replaced, not added to.
    expect(status(cfg, keyed, "GET", "/v1/models/gpt-4o")).toBe(403);
  });

  it("lets everything through to a provider that gets the caller's own key", () => {
    expect(status(config(), callers, "DELETE", "/v1/files/file-1")).toBe(200);
    expect(callerBringsKey(callers, [])).toBe(true);
    // With gateway keys, the caller's Authorization never goes upstream: the gateway grants the access.
    expect(status(config("", "app-key"), callers, "DELETE", "/v1/files/file-1")).toBe(403);
    // A credential in the provider's fixed headers is the gateway's too.
    expect(callerBringsKey({ ...callers, headers: { "X-Api-Key": "k" } }, [])).toBe(false);
  });

  it("refuses patterns that could never match a normalised path", () => {
    for (const path of ["/v1/files/../admin", "files", "/v1//files", "/v1/%2e", "/v1/**/x", "/v2/x"]) {
      expect(() => config(`passthrough:\n  allow: [{ methods: [GET], path: "${path}" }]\n`)).toThrow(
        /passthrough\.allow\.0\.path: must be a path under \/v1\//,
      );
    }
    expect(() => config("passthrough:\n  allow: [{ methods: [], path: /v1/files }]\n")).toThrow(/at least one method/);
  });
});
