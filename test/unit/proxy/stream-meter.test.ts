// The stream meter: which events of a relayed stream the client sees, the usage it notes on the way,
// and the cost it adds to the usage event a client asked for.
import { describe, expect, it } from "vitest";
import type { SseEvent } from "../../../gateway/openai/sse.ts";
import type { Usage } from "../../../gateway/openai/usage.ts";
import { costUsd } from "../../../gateway/telemetry/cost.ts";
import { parsePricing } from "../../../gateway/telemetry/pricing.ts";
import { StreamMeter, type PriceOf } from "../../../gateway/proxy/stream-meter.ts";

const ev = (data: string, event: string | null = null): SseEvent => ({
  event,
  data,
  hasData: true,
  raw: `data: ${data}\n\n`,
});

describe("stream meter", () => {
  it("drops the usage-only chunk unless the client asked for it, and records usage either way", () => {
    const usageChunk = ev('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}');
    const content = ev('{"choices":[{"delta":{"content":"hi"}}],"usage":null}');
    const quiet = new StreamMeter("chat", false);
    expect(quiet.observe(content)).toBe(content.raw);
    expect(quiet.observe(usageChunk)).toBeNull();
    expect(quiet.usage).toEqual({ inputTokens: 3, outputTokens: 4, cachedInputTokens: 0 });
    const asked = new StreamMeter("chat", true);
    expect(asked.observe(usageChunk)).toBe(usageChunk.raw);
    expect(asked.usage?.outputTokens).toBe(4);
  });

  it("keeps a final chunk that carries both choices and usage", () => {
    const m = new StreamMeter("chat", false);
    const last = ev(
      '{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}',
    );
    expect(m.observe(last)).toBe(last.raw);
    expect(m.usage?.inputTokens).toBe(1);
  });

  it("takes whole events as they came, reads the usage event itself, and leaves the rest to the parser", () => {
    const a = 'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n';
    const u = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n';
    const done = "data: [DONE]\n\n";
    const run = (m: StreamMeter, text: string): [number, string] => {
      const out: Buffer[] = [];
      const n = m.consume(Buffer.from(text), out);
      return [n, Buffer.concat(out).toString()];
    };
    const hidden = new StreamMeter("chat", false);
    expect(run(hidden, a + a + u + done)).toEqual([(a + a + u + done).length, a + a + done]);
    expect(hidden.usage).toEqual({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 });
    const shown = new StreamMeter("chat", true);
    expect(run(shown, a + u + done)).toEqual([(a + u + done).length, a + u + done]);
    expect(shown.usage?.outputTokens).toBe(2);
    // A final chunk with both choices and usage always goes through.
    const both = 'data: {"choices":[{"delta":{},"finish_reason":"stop"}],"usage": {"prompt_tokens":3}}\n\n';
    expect(run(new StreamMeter("chat", false), both)).toEqual([both.length, both]);

    const m = new StreamMeter("chat", false);
    expect(run(m, a + 'data: {"partial')).toEqual([a.length, a]);
    expect(run(m, a + u.slice(0, 20))).toEqual([a.length, a]);
    expect(run(m, a + "event: x\n" + u)).toEqual([a.length, a]); // two lines: the parser's
    expect(run(m, a.replace("\n\n", "\r\n\r\n"))).toEqual([0, ""]);
    expect(run(new StreamMeter("responses", false), a)).toEqual([0, ""]);
    expect(m.usage).toBeNull();
  });
  it("reads usage from response.completed", () => {
    const m = new StreamMeter("responses", false);
    const done = ev(
      '{"type":"response.completed","response":{"usage":{"input_tokens":9,"output_tokens":8}}}',
      "response.completed",
    );
    expect(m.observe(done)).toBe(done.raw);
    expect(m.usage?.inputTokens).toBe(9);
  });
});

describe("usage.cost_usd in the usage event a client sees", () => {
  const prices = parsePricing("models:\n  gpt-4o-mini: { input: 0.15, output: 0.60, cached_input: 0.075 }\n");
  /** Prices like the gateway does for `model`, counting the calls. */
  const pricer = (model: string): PriceOf & { calls: number } => {
    const f = Object.assign(
      (u: Usage) => {
        f.calls++;
        return costUsd(prices, model, u);
      },
      { calls: 0 },
    );
    return f;
  };

  it("treats a usage chunk with impossible counts as unknown usage, still hidden from a client that did not ask", () => {
    const content = 'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n';
    const odd = 'data: {"choices":[],"usage":{"prompt_tokens":1.5,"completion_tokens":2}}\n\n';
    const stream = content + odd + "data: [DONE]\n\n";
    for (const [wants, expected] of [
      [false, content + "data: [DONE]\n\n"],
      [true, stream],
    ] as const) {
      const raw = new StreamMeter("chat", wants, null, pricer("gpt-4o-mini"));
      const out: Buffer[] = [];
      raw.consume(Buffer.from(stream), out);
      expect(Buffer.concat(out).toString()).toBe(expected);
      expect(raw.usage).toBeNull();
      const parsed = new StreamMeter("chat", wants, null, pricer("gpt-4o-mini"));
      expect(parsed.observe(ev('{"choices":[],"usage":{"prompt_tokens":1.5,"completion_tokens":2}}'))).toBe(
        wants ? `data: {"choices":[],"usage":{"prompt_tokens":1.5,"completion_tokens":2}}\n\n` : null,
      );
      expect(parsed.usage).toBeNull();
    }
  });

  it("prices the usage chunk a client asked for, in both the raw and the parsed path", () => {
    const content = 'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n';
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":0}}\n\n';
    const pricedUsage = usage.replace('"completion_tokens":0}', '"completion_tokens":0,"cost_usd":0.00000165}');
    const m = new StreamMeter("chat", true, null, pricer("gpt-4o-mini"));
    const out: Buffer[] = [];
    expect(m.consume(Buffer.from(content + usage + "data: [DONE]\n\n"), out)).toBe(
      (content + usage + "data: [DONE]\n\n").length,
    );
    expect(Buffer.concat(out).toString()).toBe(content + pricedUsage + "data: [DONE]\n\n");
    expect(m.usage).toEqual({ inputTokens: 11, outputTokens: 0, cachedInputTokens: 0 });
    const crlf = usage.replace("\n\n", "\r\n\r\n");
    expect(
      new StreamMeter("chat", true, null, pricer("gpt-4o-mini")).observe({
        ...ev('{"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":0}}'),
        raw: crlf,
      }),
    ).toBe(pricedUsage.replace("\n\n", "\r\n\r\n"));
  });

  it("leaves unpriced models, chunks without usage and clients that did not ask as they were, and does not price for them", () => {
    const usage = ev('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}');
    const unpriced = pricer("some-other-model");
    expect(new StreamMeter("chat", true, null, unpriced).observe(usage)).toBe(usage.raw);
    expect(unpriced.calls).toBe(1);
    const quiet = pricer("gpt-4o-mini");
    const q = new StreamMeter("chat", false, null, quiet);
    const both = ev(
      '{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}',
    );
    expect(q.observe(usage)).toBeNull();
    expect(q.observe(both)).toBe(both.raw);
    const out: Buffer[] = [];
    q.consume(Buffer.from(usage.raw + both.raw), out);
    expect(Buffer.concat(out).toString()).toBe(both.raw);
    expect(quiet.calls).toBe(0);
    expect(q.usage?.outputTokens).toBe(4);
    const noUsage = pricer("gpt-4o-mini");
    const n = new StreamMeter("chat", true, null, noUsage);
    const plain = ev('{"choices":[{"delta":{"content":"the \\"usage\\": {} word"}}],"usage":null}');
    expect(n.observe(plain)).toBe(plain.raw);
    expect(n.usage).toBeNull();
    expect(noUsage.calls).toBe(0);
  });

  it("prices response.completed for every Responses API client", () => {
    const m = new StreamMeter("responses", false, null, pricer("gpt-4o-mini"));
    const data =
      '{"type":"response.completed","response":{"id":"r","output":[{"content":[{"text":"é 😀 \\"usage\\":{}"}]}],"usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":400},"output_tokens":200}}}';
    const done = {
      event: "response.completed",
      data,
      hasData: true,
      raw: `event: response.completed\ndata: ${data}\n\n`,
    };
    expect(m.observe(done)).toBe(done.raw.replace('"output_tokens":200}', '"output_tokens":200,"cost_usd":0.00024}'));
    expect(m.usage).toEqual({ inputTokens: 1000, outputTokens: 200, cachedInputTokens: 400 });
    const created = ev('{"type":"response.created","response":{"usage":null}}', "response.created");
    expect(m.observe(created)).toBe(created.raw);
    expect(new StreamMeter("responses", false, null, pricer("unpriced")).observe(done)).toBe(done.raw);
  });
});
