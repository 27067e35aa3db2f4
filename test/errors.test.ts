// Every error status of the spine, in OpenAI's error shape.
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { chatJson, hang, json, reset, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

let provider: FakeProvider | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await provider?.close();
  gw = undefined;
  provider = undefined;
});

async function setup(
  yaml?: string,
  env: Record<string, string> = {},
): Promise<{ gw: TestGateway; provider: FakeProvider }> {
  provider = await startFakeProvider();
  gw = await startTestGateway({ providerUrl: provider.url, env, ...(yaml === undefined ? {} : { yaml }) });
  return { gw, provider };
}

const chat = { model: "gpt-test", messages: [{ role: "user", content: "hi" }] };

async function post(
  url: string,
  body: string | object,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { error: { message: string; type: string; code: string; param: string | null } } }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as never };
}

describe("client errors", () => {
  it("400 for malformed JSON", async () => {
    const { gw } = await setup();
    const r = await post(`${gw.url}/v1/chat/completions`, "{not json");
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
  });

  it("400 naming the field for a body that fails the schema", async () => {
    const { gw, provider } = await setup();
    const r = await post(`${gw.url}/v1/chat/completions`, { model: "gpt-test", messages: [{ role: 7 }] });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe("messages[0].role");
    expect(r.body.error.message).toContain("messages[0].role");
    const missing = await post(`${gw.url}/v1/chat/completions`, { messages: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe("model");
    expect(provider.received).toHaveLength(0);
  });

  it("401 without a valid gateway key, and the caller's key never goes upstream", async () => {
    const yaml = `
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "*", provider: fake }
gateway_keys_env: GATEWAY_KEYS
`;
    const { gw, provider } = await setup(yaml, { GATEWAY_KEYS: "gk-one, gk-two" });
    expect((await post(`${gw.url}/v1/chat/completions`, chat)).status).toBe(401);
    const wrong = await post(`${gw.url}/v1/chat/completions`, chat, { authorization: "Bearer gk-three" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.type).toBe("authentication_error");
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(401);
    provider.handle(chatJson("ok"));
    const ok = await post(`${gw.url}/v1/chat/completions`, chat, { authorization: "Bearer gk-two" });
    expect(ok.status).toBe(200);
    expect(provider.received[0]!.headers.authorization).toBeUndefined();
  });

  it("sends a provider's own key instead of the caller's", async () => {
    const yaml = `
providers:
  fake: { base_url: "\${PROVIDER_URL}", api_key_env: FAKE_KEY }
routes:
  - { match: "*", provider: fake }
`;
    const { gw, provider } = await setup(yaml, { FAKE_KEY: "sk-provider" });
    await post(`${gw.url}/v1/chat/completions`, chat, { authorization: "Bearer sk-caller" });
    expect(provider.received[0]!.headers.authorization).toBe("Bearer sk-provider");
  });

  it("404 for unknown routes and unrouted models", async () => {
    const yaml = `
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "gpt-*", provider: fake }
`;
    const { gw } = await setup(yaml);
    const route = await fetch(`${gw.url}/nope`);
    expect(route.status).toBe(404);
    expect(((await route.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const model = await post(`${gw.url}/v1/chat/completions`, { ...chat, model: "claude-x" });
    expect(model.status).toBe(404);
    expect(model.body.error).toMatchObject({ code: "model_not_found", param: "model" });
  });

  it("413 for a body over the limit, with or without Content-Length", async () => {
    const yaml = `
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "*", provider: fake }
limits: { body_bytes: 1024 }
`;
    const { gw, provider } = await setup(yaml);
    const big = JSON.stringify({ ...chat, messages: [{ role: "user", content: "x".repeat(4096) }] });
    const declared = await post(`${gw.url}/v1/chat/completions`, big);
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe("body_too_large");

    // Chunked: no Content-Length, so the limit is enforced while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${gw.url}/v1/chat/completions`,
        { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 8; i++) req.write(big.slice(i * 600, (i + 1) * 600));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: "body_too_large" } });
    expect(provider.received).toHaveLength(0);
  });
});

describe("provider failures", () => {
  it("relays a provider's own error with its status and message", async () => {
    const { gw, provider } = await setup();
    provider.handle(
      json(400, {
        error: {
          message: "Invalid 'temperature': too high",
          type: "invalid_request_error",
          param: "temperature",
          code: null,
        },
      }),
    );
    const r = await post(`${gw.url}/v1/chat/completions`, chat);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe("Invalid 'temperature': too high");
    provider.handle((_req, res) => {
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<html>upstream exploded</html>");
    });
    const wrapped = await post(`${gw.url}/v1/chat/completions`, chat);
    expect(wrapped.status).toBe(500);
    expect(wrapped.body.error.message).toContain("upstream exploded");
  });

  it("502 when the provider resets the connection", async () => {
    const { gw, provider } = await setup(`
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "*", provider: fake }
limits: { max_retries: 0 }
`);
    provider.handle(reset);
    const r = await post(`${gw.url}/v1/chat/completions`, chat);
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe("upstream_unreachable");
  });

  it("502 when nothing listens at the provider's address", async () => {
    provider = await startFakeProvider();
    const deadUrl = provider.url;
    await provider.close();
    provider = undefined;
    gw = await startTestGateway({ providerUrl: deadUrl });
    const r = await post(`${gw.url}/v1/chat/completions`, chat);
    expect(r.status).toBe(502);
  });

  it("504 when the provider sends no first byte in time", async () => {
    const { gw, provider } = await setup(`
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "*", provider: fake }
limits: { first_byte_timeout_ms: 300 }
`);
    provider.handle(hang);
    const r = await post(`${gw.url}/v1/chat/completions`, chat);
    expect(r.status).toBe(504);
    expect(r.body.error).toMatchObject({ type: "timeout_error", code: "upstream_timeout" });
  });

  it("ends a stream that goes idle with an error event instead of hanging", async () => {
    const { gw, provider } = await setup(`
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "*", provider: fake }
limits: { stream_idle_timeout_ms: 300 }
`);
    provider.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const text = await res.text();
    expect(text).toContain('"content":"a"');
    expect(text).toContain('"code":"upstream_timeout"');
  });

  it("retries a 503 once, honouring Retry-After", async () => {
    const { gw, provider } = await setup();
    provider.handle(
      json(503, { error: { message: "overloaded", type: "server_error", code: null } }, { "retry-after": "0" }),
      chatJson("second try"),
    );
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat),
    });
    expect(r.status).toBe(200);
    expect(provider.received).toHaveLength(2);
  });

  it("relays a 429 whose Retry-After is longer than the gateway will wait", async () => {
    const { gw, provider } = await setup();
    provider.handle(
      json(
        429,
        { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } },
        { "retry-after": "60" },
      ),
    );
    const r = await post(`${gw.url}/v1/chat/completions`, chat);
    expect(r.status).toBe(429);
    expect(r.body.error.message).toBe("Rate limit reached");
    expect(provider.received).toHaveLength(1);
  });
});
