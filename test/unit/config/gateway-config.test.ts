import { describe, expect, it } from "vitest";
import { ConfigError, parseGatewayConfig } from "../../../gateway/config/gateway-config.ts";
import { compileGlob } from "../../../gateway/config/glob.ts";
import { advertisedModels } from "../../../gateway/proxy/model-route.ts";
import { routeModel } from "../../../gateway/providers/model-route.ts";

const yaml = `
providers:
  openai: { base_url: https://api.openai.com/v1, api_key_env: OPENAI_API_KEY }
  local:  { base_url: "\${LOCAL_LLM_URL}", api_key_env: LOCAL_LLM_KEY }
routes:
  - { match: "mock/*", provider: mock }
  - { match: "local/*", provider: local, strip_prefix: true }
  - { match: "*", provider: openai, models: [gpt-4o-mini] }
gateway_keys_env: GATEWAY_KEYS
`;

describe("gateway.yaml", () => {
  it("parses providers, expands ${VAR}, reads keys and routes first match first", () => {
    const cfg = parseGatewayConfig(yaml, { LOCAL_LLM_URL: "http://10.0.0.5:8000/v1", OPENAI_API_KEY: "sk-1", GATEWAY_KEYS: "a, b" });
    const local = cfg.providers.get("local")!;
    expect(local).toMatchObject({ origin: "http://10.0.0.5:8000", basePath: "/v1", apiKey: null });
    expect(cfg.providers.get("openai")!.apiKey).toBe("sk-1");
    expect(cfg.gatewayKeys).toEqual(["a", "b"]);
    expect(routeModel(cfg.routes, "local/llama3")).toMatchObject({ provider: { name: "local" }, upstreamModel: "llama3" });
    expect(routeModel(cfg.routes, "mock/echo").provider.name).toBe("mock");
    expect(routeModel(cfg.routes, "gpt-4o").upstreamModel).toBe("gpt-4o");
    expect(advertisedModels(cfg.routes, ["mock/echo"])).toEqual(["mock/echo", "gpt-4o-mini"]);
    expect(cfg.limits.body_bytes).toBe(10 * 1024 * 1024);
    expect(cfg.limits).toMatchObject({ json_depth: 128, json_members: 100_000, json_containers: 100_000, linger_ms: 5_000, linger_bytes: 64 * 1024 * 1024 });
  });

  it("says which variable is missing and where", () => {
    expect(() => parseGatewayConfig(yaml, { GATEWAY_KEYS: "a" })).toThrow(/providers\.local\.base_url: environment variable LOCAL_LLM_URL is not set/);
    const withDefault = parseGatewayConfig(yaml.replace("${LOCAL_LLM_URL}", "${LOCAL_LLM_URL:-http://127.0.0.1:11434/v1}"), { GATEWAY_KEYS: "a" });
    expect(withDefault.providers.get("local")!.origin).toBe("http://127.0.0.1:11434");
  });

  it("names the field and the fix for invalid files", () => {
    const bad = (text: string): string => {
      try {
        parseGatewayConfig(text, {});
        return "no error";
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
    };
    expect(bad("providers: { x: { base_url: ftp://x } }\nroutes: [{ match: '*', provider: x }]")).toMatch(/providers\.x\.base_url: must be an http\(s\) URL/);
    expect(bad("routes: [{ match: '*', provider: nowhere }]")).toMatch(/routes\[0\]\.provider: unknown provider "nowhere" \(declared: mock\)/);
    expect(bad("routes: []")).toMatch(/routes: declare at least one route/);
    expect(bad("routes: [{ match: '*', provider: mock, typo: 1 }]")).toMatch(/routes\.0/);
    expect(bad("routes: [{ match: '*', provider: mock }]\ngateway_keys_env: EMPTY")).toMatch(/EMPTY, which is empty/);
  });
});

describe("a provider's organization and project", () => {
  it("become its OpenAI-Organization and OpenAI-Project headers, beside its own headers (names lowercased)", () => {
    const cfg = parseGatewayConfig(
      `providers:
  openai: { base_url: https://api.openai.com/v1, organization: org-1, project: proj-1, headers: { X-Team: blue } }
routes: [{ match: "*", provider: openai }]`,
      {},
    );
    expect(cfg.providers.get("openai")!.headers).toEqual({ "x-team": "blue", "openai-organization": "org-1", "openai-project": "proj-1" });
  });

  it("cannot also be set as a header", () => {
    expect(() =>
      parseGatewayConfig(
        `providers:
  openai: { base_url: https://api.openai.com/v1, organization: org-1, headers: { OpenAI-Organization: org-2 } }
routes: [{ match: "*", provider: openai }]`,
        {},
        "g.yaml",
      ),
    ).toThrow("g.yaml: providers.openai: set organization or headers.openai-organization, not both");
  });
});

describe("compileGlob", () => {
  it("matches * across slashes and ? as one character, literally otherwise", () => {
    expect(compileGlob("mock/*")("mock/slow-100")).toBe(true);
    expect(compileGlob("mock/*")("mocks/x")).toBe(false);
    expect(compileGlob("gpt-4o?")("gpt-4ox")).toBe(true);
    expect(compileGlob("a.b")("axb")).toBe(false);
    expect(compileGlob("*")("anything/at/all")).toBe(true);
  });
});
