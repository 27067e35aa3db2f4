// /metrics scraped after real traffic through the gateway, and parsed.
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chatJson, chatStream, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

let provider: FakeProvider;
let gw: TestGateway;
beforeEach(async () => {
  provider = await startFakeProvider();
  gw = await startTestGateway({
    providerUrl: provider.url,
    pricing: "models:\n  gpt-test: { input: 0.15, output: 0.60 }\n",
  });
});
afterEach(async () => {
  await gw.close();
  await provider.close();
});

/** `name{labels} value` lines as a map from `name{labels}` to the value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe("GET /metrics", () => {
  it("counts requests, tokens, cost and time to first token by model and status", async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "k", maxRetries: 0 });
    provider.handle(chatJson("hi"));
    await client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] });
    provider.handle(chatStream(["a", "b", "c"]));
    const stream = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    for await (const chunk of stream) void chunk;
    await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", body: "{bad" });

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const m = parse(await res.text());
    const l = 'prompt="none",version="none",variant="none",model="gpt-test",status="2xx"';
    expect(m.get(`promptgate_requests_total{${l}}`)).toBe(2);
    // chatJson reports 11 in / 7 out; the stream's usage chunk 5 in / 3 out.
    expect(m.get(`promptgate_tokens_total{${l},type="input"}`)).toBe(16);
    expect(m.get(`promptgate_tokens_total{${l},type="output"}`)).toBe(10);
    expect(m.get(`promptgate_cost_usd_total{${l}}`)).toBeCloseTo((16 * 0.15 + 10 * 0.6) / 1e6, 12);
    expect(m.get(`promptgate_time_to_first_token_seconds_count{${l}}`)).toBe(1);
    expect(m.get(`promptgate_request_duration_seconds_count{${l}}`)).toBe(2);
    expect(
      m.get('promptgate_requests_total{prompt="none",version="none",variant="none",model="none",status="4xx"}'),
    ).toBe(1);
  });
});
