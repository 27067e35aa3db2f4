// What a provider receives of a caller's headers: an allowlist (content type, accept, user agent,
// OpenAI-Beta, the SDKs' x-stainless-*), never another API's credentials, forwarding or request-id
// headers; the account billed is the provider's setting when the gateway holds the key, and the
// caller's own choice only with the caller's own key. The official openai SDK, unmodified, is the caller.
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chatJson, json, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

let provider: FakeProvider;
let gw: TestGateway | null = null;

beforeEach(async () => {
  provider = await startFakeProvider();
});
afterEach(async () => {
  await gw?.close();
  gw = null;
  await provider.close();
});

/** Headers a caller may send that must not reach the provider. */
const HOSTILE = {
  "x-api-key": "sk-ant-caller",
  "x-goog-api-key": "goog-caller",
  "x-forwarded-for": "203.0.113.7",
  "x-real-ip": "203.0.113.7",
  forwarded: "for=203.0.113.7",
  "x-request-id": "caller-chosen-id",
  cookie: "session=caller",
};

const sdk = (apiKey: string): OpenAI =>
  new OpenAI({
    baseURL: `${gw!.url}/v1`,
    apiKey,
    organization: "org-caller",
    project: "proj-caller",
    defaultHeaders: { ...HOSTILE, "OpenAI-Beta": "assistants=v2" },
    maxRetries: 0,
  });

const ask = { model: "gpt-test", messages: [{ role: "user" as const, content: "x" }] };

describe("request headers with the gateway's key", () => {
  const yaml = (account: string): string => `
providers:
  openai: { base_url: "\${PROVIDER_URL}", api_key_env: PROVIDER_KEY${account} }
routes:
  - { match: "*", provider: openai }
gateway_keys_env: GATEWAY_KEYS
`;

  it("forwards the allowlist, and bills the organization and project gateway.yaml names", async () => {
    gw = await startTestGateway({
      yaml: yaml(", organization: org-gateway, project: proj-gateway"),
      providerUrl: provider.url,
      env: { PROVIDER_KEY: "sk-gateway-0123456789", GATEWAY_KEYS: "gk-caller-0123456789" },
    });
    provider.handle(chatJson("ok"), json(200, { id: "gpt-test", object: "model" }));
    const answer = await sdk("gk-caller-0123456789").chat.completions.create(ask);
    expect(answer.choices[0]?.message.content).toBe("ok");
    // Passthrough sends the same headers.
    await sdk("gk-caller-0123456789").models.retrieve("gpt-test");

    expect(provider.received).toHaveLength(2);
    for (const { headers } of provider.received) {
      expect(headers).toMatchObject({
        authorization: "Bearer sk-gateway-0123456789",
        "openai-organization": "org-gateway",
        "openai-project": "proj-gateway",
        "openai-beta": "assistants=v2",
        "x-stainless-lang": "js",
        "x-stainless-retry-count": "0",
        accept: "application/json",
      });
      expect(headers["user-agent"]).toMatch(/^OpenAI\/JS /);
      for (const name of Object.keys(HOSTILE)) expect(headers[name], name).toBeUndefined();
    }
    expect(provider.received[0]!.headers["content-type"]).toBe("application/json");
  });

  it("sends no organization or project when gateway.yaml names none, whatever the caller asks", async () => {
    gw = await startTestGateway({
      yaml: yaml(""),
      providerUrl: provider.url,
      env: { PROVIDER_KEY: "sk-gateway-0123456789", GATEWAY_KEYS: "gk-caller-0123456789" },
    });
    provider.handle(chatJson("ok"));
    await sdk("gk-caller-0123456789").chat.completions.create(ask);
    const { headers } = provider.received[0]!;
    expect(headers.authorization).toBe("Bearer sk-gateway-0123456789");
    expect(headers["openai-organization"]).toBeUndefined();
    expect(headers["openai-project"]).toBeUndefined();
  });
});

describe("request headers with the caller's own key", () => {
  it("forwards the caller's key with the caller's organization and project, and nothing else hostile", async () => {
    gw = await startTestGateway({ providerUrl: provider.url });
    provider.handle(chatJson("ok"));
    await sdk("sk-caller-own").chat.completions.create(ask);
    const { headers } = provider.received[0]!;
    expect(headers).toMatchObject({
      authorization: "Bearer sk-caller-own",
      "openai-organization": "org-caller",
      "openai-project": "proj-caller",
    });
    for (const name of Object.keys(HOSTILE)) expect(headers[name], name).toBeUndefined();
  });
});
