import { describe, expect, it } from "vitest";
import { parseGatewayConfig } from "../../../gateway/config/gateway-config.ts";
import { configuredSecrets } from "../../../gateway/config/secrets.ts";
import { loadSettings } from "../../../gateway/config/settings.ts";

describe("configuredSecrets", () => {
  it("lists every key of REQUEST_ID_KEYS (they sign request ids and must never be printed)", () => {
    const config = parseGatewayConfig('routes: [{ match: "*", provider: mock }]', {});
    const keys = `${"a".repeat(32)}, ${"b".repeat(33)},`;
    expect(configuredSecrets({ adminToken: undefined, redisUrl: undefined, requestIdKeys: keys }, config)).toEqual([
      { source: "REQUEST_ID_KEYS", value: "a".repeat(32), scope: null },
      { source: "REQUEST_ID_KEYS", value: "b".repeat(33), scope: null },
    ]);
  });

  it("lists provider keys (scoped to their provider), credential headers, gateway keys, the admin token and the Redis password", () => {
    const config = parseGatewayConfig(
      `
providers:
  openai: { base_url: https://api.openai.com/v1, api_key_env: OPENAI_API_KEY, organization: org-not-secret }
  anthropic: { base_url: https://api.anthropic.com/v1, headers: { X-Api-Key: sk-ant-in-a-header, Accept: application/json } }
routes: [{ match: "*", provider: openai }]
gateway_keys_env: GATEWAY_KEYS
`,
      { OPENAI_API_KEY: "sk-openai", GATEWAY_KEYS: "gk-1, gk-2" },
    );
    const secrets = configuredSecrets(
      { adminToken: "admin-token", redisUrl: "redis://default:p%40ss@redis:6379/0" },
      config,
    );
    expect(secrets).toEqual([
      { source: "OPENAI_API_KEY", value: "sk-openai", scope: "openai" },
      { source: "providers.anthropic.headers.x-api-key", value: "sk-ant-in-a-header", scope: "anthropic" },
      { source: "GATEWAY_KEYS", value: "gk-1", scope: null },
      { source: "GATEWAY_KEYS", value: "gk-2", scope: null },
      { source: "ADMIN_TOKEN", value: "admin-token", scope: null },
      // As written in the URL and as Redis receives it.
      { source: "the password in REDIS_URL", value: "p%40ss", scope: null },
      { source: "the password in REDIS_URL", value: "p@ss", scope: null },
    ]);
  });

  it("lists nothing when nothing is configured", () => {
    const config = parseGatewayConfig(`routes: [{ match: "*", provider: mock }]`, {});
    expect(configuredSecrets({ adminToken: undefined, redisUrl: "redis://redis:6379" }, config)).toEqual([]);
  });

  it("lists ALERT_WEBHOOK_URL whole, its path and query (where chat webhooks keep their token) and its password", () => {
    const config = parseGatewayConfig(`routes: [{ match: "*", provider: mock }]`, {});
    const url = "https://alerts:hunter22@hooks.example.com/services/T00/B00/XXXXSECRET?sig=abc";
    expect(configuredSecrets({ adminToken: undefined, redisUrl: undefined, alertWebhookUrl: url }, config)).toEqual([
      { source: "ALERT_WEBHOOK_URL", value: url, scope: null },
      { source: "ALERT_WEBHOOK_URL", value: "/services/T00/B00/XXXXSECRET?sig=abc", scope: null },
      { source: "ALERT_WEBHOOK_URL", value: "hunter22", scope: null },
    ]);
  });
});

describe("ALERT_WEBHOOK_URL", () => {
  it("is read as an http(s) URL, refused otherwise without repeating the value", () => {
    expect(loadSettings({ ALERT_WEBHOOK_URL: "https://hooks.example.com/x" }).alertWebhookUrl).toBe(
      "https://hooks.example.com/x",
    );
    expect(loadSettings({ ALERT_WEBHOOK_URL: "" }).alertWebhookUrl).toBeUndefined();
    for (const bad of ["ftp://hooks.example.com/SECRET-TOKEN", "SECRET-TOKEN"]) {
      const err = (() => {
        try {
          loadSettings({ ALERT_WEBHOOK_URL: bad });
        } catch (e) {
          return e as Error;
        }
        throw new Error("accepted");
      })();
      expect(err.message).toBe("invalid environment: ALERT_WEBHOOK_URL: must be an http or https URL");
    }
  });
});
