// The spine end to end: the official openai SDK (baseURL swap only) -> gateway -> a real fake provider.
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  chatJson,
  chatStream,
  chunk,
  json,
  startFakeProvider,
  type FakeProvider,
  type Handler,
} from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { formatUsd } from "../gateway/telemetry/cost.ts";

let provider: FakeProvider;
let gw: TestGateway;

beforeEach(async () => {
  provider = await startFakeProvider();
  gw = await startTestGateway({ providerUrl: provider.url });
});
afterEach(async () => {
  await gw.close();
  await provider.close();
});

const client = (): OpenAI => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "sk-caller", maxRetries: 0 });

describe("chat completions through the openai SDK", () => {
  it("relays a non-streaming answer and forwards the request unchanged", async () => {
    provider.handle(chatJson("Hi there"));
    const { data, response } = await client()
      .chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "Hello" }], temperature: 0.2 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Hi there");
    expect(data.usage?.total_tokens).toBe(18);
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get("x-upstream-request-id")).toBe("req_fake_1");
    const sent = provider.received[0]!;
    expect(sent.url).toBe("/v1/chat/completions");
    expect(sent.json()).toEqual({
      model: "gpt-test",
      messages: [{ role: "user", content: "Hello" }],
      temperature: 0.2,
    });
    // No gateway keys and no provider key: the caller's own key goes upstream.
    expect(sent.headers.authorization).toBe("Bearer sk-caller");
  });

  it("streams, asks the provider for usage, and hides the usage chunk from a client that did not ask", async () => {
    provider.handle(chatStream(["Hel", "lo", "!"]));
    const stream = await client().chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content).join("")).toBe("Hello!");
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    expect(provider.received[0]!.json()["stream_options"]).toEqual({ include_usage: true });
  });

  it("passes the usage chunk to a client that asked for it", async () => {
    provider.handle(chatStream(["a", "b"]));
    const stream = await client().chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "x" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
  });

  it("relays each event before the provider sends the next", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    provider.handle(chatStream(["first", "second"], { between: (i) => (i === 1 ? released : Promise.resolve()) }));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    // The provider holds "second" back until we have seen "first": a buffering relay deadlocks here.
    let seen = "";
    while (!seen.includes('"first"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended early");
      seen += decoder.decode(value, { stream: true });
    }
    expect(seen).not.toContain('"second"');
    release();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
    }
    expect(rest).toContain('"second"');
    expect(rest.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("relays CRLF-framed streams intact", async () => {
    provider.handle(chatStream(["x", "y"], { eol: "\r\n" }));
    const stream = await client().chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    expect(text).toBe("xy");
  });

  it("holds back a fast provider while the client reads slowly, then relays every byte", async () => {
    const EVENT = `data: {"choices":[{"index":0,"delta":{"content":"${"x".repeat(64 * 1024)}"}}]}\n\n`;
    const EVENTS = 1_000; // about 64 MB on offer
    /** Writes `events` events as fast as the socket takes them, counting those written in `sent`. */
    const pumping =
      (events: number, progress: { sent: number }): Handler =>
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const pump = (): void => {
          while (progress.sent < events) {
            progress.sent += 1;
            if (!res.write(EVENT)) return void res.once("drain", pump);
          }
          res.end("data: [DONE]\n\n");
        };
        pump();
      };
    const slow = { sent: 0 };
    const other = { sent: 0 };
    provider.handle(pumping(EVENTS, slow), pumping(EVENTS / 2, other));
    const stream = (): Promise<Response> =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }], stream: true }),
      });
    const res = await stream();
    const reader = res.body!.getReader();
    await reader.read();
    // Meanwhile the gateway relays a whole stream half as long to a client that reads: time enough for
    // the slow reader's stream to have gone far past a quarter, had the gateway not held it back.
    expect((await (await stream()).arrayBuffer()).byteLength).toBeGreaterThan((EVENTS / 2) * EVENT.length);
    // The gateway stopped reading: the provider got only as far as the socket buffers let it.
    expect(slow.sent).toBeLessThan(EVENTS / 4);
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
    expect(slow.sent).toBe(EVENTS);
    expect(bytes).toBeGreaterThan(EVENTS * EVENT.length * 0.99);
  });
});

describe("trace context with tracing off", () => {
  it("passes the caller's traceparent upstream, and sends none when there is none", async () => {
    provider.handle(chatJson("ok"));
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await client().chat.completions.create(
      { model: "gpt-test", messages: [{ role: "user", content: "x" }] },
      { headers: { traceparent } },
    );
    await client().chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] });
    expect(provider.received[0]!.headers.traceparent).toBe(traceparent);
    expect(provider.received[1]!.headers.traceparent).toBeUndefined();
  });
});

describe("cost", () => {
  it("prices non-streaming answers from pricing.yaml in x-prompt-cost-usd, and leaves unpriced models without it", async () => {
    await gw.close();
    gw = await startTestGateway({
      providerUrl: provider.url,
      pricing: "models:\n  gpt-test: { input: 0.15, output: 0.60 }\n",
    });
    provider.handle(chatJson("priced"));
    const { response } = await client()
      .chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] })
      .withResponse();
    // 11 input x 0.15 + 7 output x 0.60 micro-dollars = 5.85 micro-dollars
    expect(response.headers.get("x-prompt-cost-usd")).toBe("0.00000585");
    const unpriced = await client()
      .chat.completions.create({ model: "other-model", messages: [{ role: "user", content: "x" }] })
      .withResponse();
    expect(unpriced.response.headers.get("x-prompt-cost-usd")).toBeNull();
  });

  it("relays an answer whose usage has impossible counts, unpriced", async () => {
    await gw.close();
    gw = await startTestGateway({
      providerUrl: provider.url,
      pricing: "models:\n  gpt-test: { input: 0.15, output: 0.60 }\n",
    });
    provider.handle(chatJson("odd", { prompt_tokens: 1.3, completion_tokens: 7, total_tokens: 8.3 }));
    const { data, response } = await client()
      .chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.choices[0]!.message.content).toBe("odd");
    expect(data.usage?.prompt_tokens).toBe(1.3);
    expect(response.headers.get("x-prompt-cost-usd")).toBeNull();
  });
});

describe("cost in the usage chunk of a stream", () => {
  const pricing = "models:\n  gpt-test: { input: 0.15, output: 0.60, cached_input: 0.075 }\n";
  const ask = { model: "gpt-test", messages: [{ role: "user" as const, content: "x" }], stream: true as const };

  it("adds usage.cost_usd to the usage chunk a client asked for, with x-prompt-cost-usd's exact digits", async () => {
    await gw.close();
    gw = await startTestGateway({ providerUrl: provider.url, pricing });
    // Through the parser (CRLF) and as raw slices (LF): the same answer.
    for (const eol of ["\n", "\r\n"]) {
      provider.handle(chatStream(["a", "b", "c"], { eol }));
      const stream = await client().chat.completions.create({ ...ask, stream_options: { include_usage: true } });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      // 5 input x 0.15 + 3 output x 0.60 micro-dollars = 2.55 micro-dollars
      expect(chunks.at(-1)!.usage).toEqual({
        prompt_tokens: 5,
        completion_tokens: 3,
        total_tokens: 8,
        cost_usd: 0.00000255,
      });
    }
    // The digits themselves, and every other byte of the chunk as the provider sent it.
    provider.handle(chatStream(["a", "b", "c"]));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...ask, stream_options: { include_usage: true } }),
    });
    const usageChunk = JSON.stringify(
      chunk(null, { usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }),
    );
    expect(await res.text()).toContain(
      `data: ${usageChunk.replace('"total_tokens":8}', '"total_tokens":8,"cost_usd":0.00000255}')}\n\n`,
    );
    // The same usage, not streamed: the header says the same.
    provider.handle(chatJson("x", { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }));
    const { response } = await client()
      .chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] })
      .withResponse();
    expect(response.headers.get("x-prompt-cost-usd")).toBe("0.00000255");
  });

  it("sends no usage chunk to a client that did not ask, and no cost_usd for an unpriced model", async () => {
    await gw.close();
    gw = await startTestGateway({ providerUrl: provider.url, pricing });
    provider.handle(chatStream(["a", "b"]));
    const quiet = [];
    for await (const c of await client().chat.completions.create(ask)) quiet.push(c);
    expect(quiet.length).toBeGreaterThan(0);
    expect(quiet.every((c) => c.choices.length > 0 && c.usage == null)).toBe(true);
    provider.handle(chatStream(["a", "b"]));
    const unpriced = [];
    for await (const c of await client().chat.completions.create({
      ...ask,
      model: "other-model",
      stream_options: { include_usage: true },
    }))
      unpriced.push(c);
    expect(unpriced.at(-1)!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
  });

  it("prices the usage chunk of a completions stream the same way (the built-in mock provider)", async () => {
    await gw.close();
    gw = await startTestGateway({
      providerUrl: provider.url,
      pricing: "models:\n  mock/echo: { input: 0.10, output: 0.20 }\n",
    });
    const chunks = [];
    for await (const c of await client().completions.create({
      model: "mock/echo",
      prompt: "four words in all",
      stream: true,
      stream_options: { include_usage: true },
    }))
      chunks.push(c);
    const usage = chunks.at(-1)!.usage as { prompt_tokens: number; completion_tokens: number; cost_usd?: number };
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    // 0.10 and 0.20 USD per million tokens: 100,000 and 200,000 pico-dollars per token.
    expect(usage.cost_usd).toBe(Number(formatUsd(usage.prompt_tokens * 100_000 + usage.completion_tokens * 200_000)));
  });

  it("adds cost_usd to response.usage in the Responses API's response.completed event", async () => {
    await gw.close();
    gw = await startTestGateway({ providerUrl: provider.url, pricing });
    const done = {
      id: "resp_1",
      object: "response",
      created_at: 1,
      model: "gpt-test",
      status: "completed",
      output: [],
      usage: {
        input_tokens: 1000,
        input_tokens_details: { cached_tokens: 400 },
        output_tokens: 200,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 1200,
      },
    };
    provider.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        `event: response.created\ndata: ${JSON.stringify({ type: "response.created", sequence_number: 0, response: { ...done, status: "in_progress", usage: null } })}\n\n`,
      );
      res.end(
        `event: response.completed\ndata: ${JSON.stringify({ type: "response.completed", sequence_number: 1, response: done })}\n\n`,
      );
    });
    const events = [];
    for await (const e of await client().responses.create({ model: "gpt-test", input: "hi", stream: true }))
      events.push(e);
    const completed = events.find((e) => e.type === "response.completed");
    // 600 x 0.15 + 400 cached x 0.075 + 200 x 0.60 micro-dollars = 240 micro-dollars
    expect(completed?.type === "response.completed" ? completed.response.usage : null).toEqual({
      ...done.usage,
      cost_usd: 0.00024,
    });
  });
});

describe("other endpoints", () => {
  it("forwards embeddings, completions and responses to their paths", async () => {
    provider.handle(
      json(200, {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.1] }],
        model: "e",
        usage: { prompt_tokens: 1, total_tokens: 1 },
      }),
    );
    const emb = await client().embeddings.create({ model: "text-embedding-3-small", input: "hi" });
    expect(emb.data[0]?.embedding).toEqual([0.1]);
    provider.handle(
      json(200, {
        id: "c",
        object: "text_completion",
        created: 1,
        model: "m",
        choices: [{ index: 0, text: "ok", logprobs: null, finish_reason: "stop" }],
      }),
    );
    const comp = await client().completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "Say ok" });
    expect(comp.choices[0]?.text).toBe("ok");
    provider.handle(
      json(200, {
        id: "resp_1",
        object: "response",
        created_at: 1,
        model: "m",
        status: "completed",
        output: [],
        usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
      }),
    );
    const resp = await client().responses.create({ model: "gpt-test", input: "hi" });
    expect(resp.id).toBe("resp_1");
    expect(provider.received.map((r) => r.url)).toEqual(["/v1/embeddings", "/v1/completions", "/v1/responses"]);
  });

  it("passes other /v1/* calls through with method, path and query", async () => {
    provider.handle(json(200, { object: "list", data: [{ id: "file-1" }] }));
    const res = await fetch(`${gw.url}/v1/files?purpose=batch&limit=2`, {
      headers: { authorization: "Bearer sk-caller" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ object: "list", data: [{ id: "file-1" }] });
    expect(provider.received[0]).toMatchObject({ method: "GET", url: "/v1/files?purpose=batch&limit=2" });
  });

  it("lists the routed models", async () => {
    const models = await client().models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain("mock/echo");
  });
});

describe("the mock provider", () => {
  it("echoes the messages it received, with usage, streaming or not", async () => {
    const res = await client().chat.completions.create({
      model: "mock/echo",
      messages: [{ role: "user", content: "ping" }],
    });
    expect(res.choices[0]?.message.content).toBe("user: ping");
    expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
    const stream = await client().chat.completions.create({
      model: "mock/echo",
      messages: [{ role: "user", content: "two words" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      usage = c.usage ?? usage;
    }
    expect(text).toBe("user: two words");
    expect(usage?.completion_tokens).toBe(4);
    expect(provider.received).toHaveLength(0);
  });
});
