// The in-process caller: a prompt version rendered, routed by gateway.yaml, sent through the upstream
// client (the built-in mock, or a real HTTP provider), read, priced; failures and deadlines as errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGatewayConfig } from "../../../gateway/config/gateway-config.ts";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";
import { answerText, createPromptCaller, versionsResolver } from "../../../gateway/evals/caller.ts";
import { createMockProvider } from "../../../gateway/providers/mock.ts";
import { createUpstream, type Upstream } from "../../../gateway/providers/upstream.ts";
import { parsePricing } from "../../../gateway/telemetry/pricing.ts";
import { chatJson, json, startFakeProvider, type FakeProvider } from "../../support/fake-provider.ts";
import { promptVersion } from "../../support/registry-fixtures.ts";

let fake: FakeProvider;
let upstream: Upstream;

const summarize = promptVersion("summarize", "1.0.0");
const pinned = { ...promptVersion("pinned", "2.0.0"), model: "remote/gpt-test" };

function caller(timeoutMs?: number) {
  const config = parseGatewayConfig(
    `
providers:
  remote: { base_url: "${fake.url}", api_key_env: REMOTE_KEY }
routes:
  - { match: "mock/*", provider: mock }
  - { match: "remote/*", provider: remote, strip_prefix: true }
`,
    { REMOTE_KEY: "sk-remote" },
  );
  return createPromptCaller({
    routes: config.routes,
    limits: config.limits,
    prices: parsePricing("models: { remote/gpt-test: { input: 1, output: 2 } }"),
    upstream,
    resolve: versionsResolver([summarize, pinned]),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

beforeAll(async () => {
  fake = await startFakeProvider();
  const config = parseGatewayConfig('routes: [{ match: "*", provider: mock }]', {});
  upstream = createUpstream(
    config.limits,
    createMockProvider(() => 0.99),
  );
});
afterAll(async () => {
  await upstream.close();
  await fake.close();
});

describe("createPromptCaller", () => {
  it("renders the version with the vars and calls the model on the mock, unpriced", async () => {
    const r = await caller().call("summarize@1.0.0", { text: "Ada met Charles." }, { model: "mock/echo" });
    expect(r.output).toBe("system: You are summarize v1.0.0.\nuser: Ada met Charles.");
    expect(r).toMatchObject({ model: "mock/echo", costUsd: null, costPico: null });
    expect(r.prompt).toEqual({ name: "summarize", version: "1.0.0", hash: summarize.hash });
    expect(r.usage).not.toBeNull();
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("sends a pinned model through its route with the provider's key and prices the usage", async () => {
    fake.handle(chatJson("a summary", { prompt_tokens: 1_000, completion_tokens: 500, total_tokens: 1_500 }));
    const r = await caller().call("pinned", { text: "t" }, { model: "mock/echo" });
    expect(r).toMatchObject({ output: "a summary", model: "remote/gpt-test" });
    // 1000 * $1/M + 500 * $2/M
    expect(r.costUsd).toBe(0.002);
    const sent = fake.received.at(-1)!;
    expect(sent.url).toBe("/v1/chat/completions");
    expect(sent.headers.authorization).toBe("Bearer sk-remote");
    expect(sent.json()).toMatchObject({ model: "gpt-test", stream: false, temperature: 0.2 });
  });

  it("fails with the provider's status and message", async () => {
    fake.handle(json(429, { error: { message: "slow down", type: "rate_limit", code: null } }));
    const err = await caller()
      .call("pinned@2.0.0", { text: "t" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).message).toMatch(/pinned@2.0.0: provider "remote" answered 429 \(slow down\)/);
  });

  it("refuses a version without a pinned model when no model is given, and bad variables", async () => {
    await expect(caller().call("summarize", { text: "t" })).rejects.toThrow(/pins no model/);
    await expect(caller().call("summarize", {}, { model: "mock/echo" })).rejects.toThrow(/missing required variable/);
    await expect(caller().call("summarize", { text: "t" }, { model: "nowhere/x" })).rejects.toThrow(/not routed/);
    await expect(caller().call("nope@1.0.0", {})).rejects.toThrow(/Unknown prompt version/);
  });

  it("ends a call at its deadline", async () => {
    const err = await caller(50)
      .call("summarize", { text: "t" }, { model: "mock/slow-60000" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe("upstream_timeout");
    expect((err as GatewayError).message).toMatch(/timed out after 50 ms/);
  });
});

describe("answerText", () => {
  it("reads chat, completions and responses answers, and null for anything else", () => {
    expect(answerText("chat", { choices: [{ message: { content: "x" } }] })).toBe("x");
    expect(answerText("completions", { choices: [{ text: "y" }] })).toBe("y");
    expect(
      answerText("responses", { output: [{ content: [{ type: "output_text", text: "a" }, { type: "x" }] }] }),
    ).toBe("a");
    expect(answerText("chat", { choices: [] })).toBeNull();
    expect(answerText("chat", "nope")).toBeNull();
  });
});
