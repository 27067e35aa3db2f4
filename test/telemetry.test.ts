// One span per request, exported in memory: GenAI and promptgate attributes, traceparent continuity,
// and no secret anywhere in what is exported.
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { createLogger } from "../gateway/support/logger.ts";
import { chatJson, chatStream, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

let provider: FakeProvider;
let gw: TestGateway;
let exporter: InMemorySpanExporter;
const logs: string[] = [];

beforeEach(async () => {
  provider = await startFakeProvider();
  exporter = new InMemorySpanExporter();
  const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer("test");
  logs.length = 0;
  gw = await startTestGateway({
    providerUrl: provider.url,
    tracer,
    pricing: "models:\n  gpt-test: { input: 0.15, output: 0.60 }\n",
    logger: createLogger("debug", (line) => logs.push(line)),
  });
});
afterEach(async () => {
  await gw.close();
  await provider.close();
});

const SECRET = "sk-planted-secret-4242";

/** The finished spans, once there are `count` of them (a span ends after its answer has gone out). */
async function spans(count: number): Promise<ReturnType<InMemorySpanExporter["getFinishedSpans"]>> {
  await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(count), { timeout: 2_000, interval: 10 });
  return exporter.getFinishedSpans();
}

describe("request spans", () => {
  it("carries model, tokens, exact cost and status for a buffered call, and continues the caller's trace", async () => {
    provider.handle(chatJson("hi"));
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${SECRET}`,
        traceparent: `00-${traceId}-b7ad6b7169203331-01`,
      },
      body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe("chat gpt-test");
    expect(span!.kind).toBe(1); // SERVER
    expect(span!.spanContext().traceId).toBe(traceId);
    expect(span!.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    expect(span!.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "fake",
      "gen_ai.request.model": "gpt-test",
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 7,
      "promptgate.cost.usd": 0.00000585,
      "http.response.status_code": 200,
      "promptgate.usage.complete": true,
      "gen_ai.response.id": "chatcmpl-fake",
      "gen_ai.response.model": "gpt-test",
      "gen_ai.response.finish_reasons": ["stop"],
    });
    // The provider was called inside the same trace.
    expect(provider.received[0]!.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const exported = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({ a: s.attributes, n: s.name, e: s.events })),
    );
    expect(exported).not.toContain(SECRET);
    expect(logs.join("\n")).not.toContain(SECRET);
  });

  it("reads a stream's usage and time to first token; an aborted stream still yields one span", async () => {
    provider.handle(chatStream(["a", "b"]));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: SECRET, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    for await (const c of stream) void c;
    const [span] = await spans(1);
    expect(span!.attributes).toMatchObject({
      "gen_ai.usage.output_tokens": 2,
      "gen_ai.response.id": "chatcmpl-fake",
      "gen_ai.response.model": "gpt-test",
      "gen_ai.response.finish_reasons": ["stop"],
    });
    expect(typeof span!.attributes["promptgate.time_to_first_token_ms"]).toBe("number");

    provider.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    });
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      signal: ac.signal,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    await res.body!.getReader().read();
    ac.abort();
    const aborted = (await spans(2))[1]!;
    expect(aborted.attributes).toMatchObject({
      "http.response.status_code": 499,
      "error.type": "client_closed",
      "promptgate.usage.complete": false,
    });
    expect(JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes))).not.toContain(SECRET);
  });
});

describe("a stream the provider cuts", () => {
  it("is an error on the span, with what was known, though the client got a 200", async () => {
    let cut!: () => void;
    provider.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        'data: {"id":"c-cut","model":"gpt-test","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n',
      );
      cut = () => res.destroy();
    });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(res.status).toBe(200);
    // The provider cuts its stream once the client has its first event.
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      text += r.value;
      if (text.includes("c-cut")) cut();
    }
    expect(text).toContain('"code":"upstream_unreachable"');
    const [span] = await spans(1);
    expect(span!.attributes).toMatchObject({
      "http.response.status_code": 200,
      "error.type": "upstream_unreachable",
      "promptgate.usage.complete": false,
      "gen_ai.response.id": "c-cut",
    });
    expect(span!.status.code).toBe(2); // ERROR
  });
});

describe("prompt attributes", () => {
  it("name the prompt, version, variant, environment and user bucket that served, streaming or not", async () => {
    const registry = createRegistry(gw.deps.store, systemClock);
    await registry.register(
      parsePromptFile(
        "name: greet\nversion: 1.0.0\nvariables: {}\nmessages:\n  - { role: system, content: hi }\n",
        "greet/1.0.0.yaml",
      ),
      "t",
    );
    await registry.promote("greet", "1.0.0", "staging", { approvedBy: "t" });
    await registry.promote("greet", "1.0.0", "prod", { approvedBy: "t" });
    const onProd = (): string | undefined =>
      gw.deps.prompts.catalog()?.snapshot.prompts.get("greet")?.labels.get("prod");
    await vi.waitFor(() => expect(onProd()).toBe("1.0.0"), { timeout: 2_000, interval: 10 }); // the snapshot refresh
    for (const stream of [false, true]) {
      provider.handle(stream ? chatStream(["a"]) : chatJson("a"));
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-prompt-ref": "greet", "x-user-id": "user-7" },
        body: JSON.stringify({ model: "gpt-test", stream }),
      });
      expect(res.headers.get("x-prompt-version")).toBe("1.0.0");
      await res.text();
    }
    for (const span of await spans(2)) {
      expect(span.attributes).toMatchObject({
        "promptgate.prompt.name": "greet",
        "promptgate.prompt.version": "1.0.0",
        "promptgate.prompt.variant": "stable",
        "promptgate.prompt.environment": "prod",
        "gen_ai.request.model": "gpt-test",
      });
      expect(span.attributes["promptgate.user.bucket"]).toEqual(expect.any(Number));
      expect(span.attributes["promptgate.cost.usd"]).toBeGreaterThan(0);
    }
  });
});

describe("message contents", () => {
  const chat = (url: string, stream: boolean): Promise<string> =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "the secret plan" }], stream }),
    }).then((r) => r.text());

  it("are never on spans by default", async () => {
    provider.handle(chatJson("the answer"));
    await chat(gw.url, false);
    const exported = JSON.stringify((await spans(1)).map((s) => s.attributes));
    expect(exported).not.toContain("secret plan");
    expect(exported).not.toContain("the answer");
    expect(exported).not.toContain("gen_ai.input.messages");
  });

  it("are on spans with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true, streams included", async () => {
    const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer("test");
    const capturing = await startTestGateway({
      providerUrl: provider.url,
      tracer,
      env: { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true" },
    });
    try {
      provider.handle(chatJson("the answer"));
      await chat(capturing.url, false);
      provider.handle(chatStream(["the ", "streamed ", "answer"]));
      await chat(capturing.url, true);
      const [buffered, streamed] = (await spans(2)).map((s) => s.attributes);
      expect(JSON.parse(String(buffered!["gen_ai.input.messages"]))).toEqual([
        { role: "user", content: "the secret plan" },
      ]);
      expect(JSON.parse(String(buffered!["gen_ai.output.messages"]))).toEqual([
        { role: "assistant", content: "the answer", refusal: null },
      ]);
      expect(JSON.parse(String(streamed!["gen_ai.output.messages"]))).toEqual([
        { role: "assistant", content: "the streamed answer" },
      ]);
    } finally {
      await capturing.close();
    }
  });
});
