import { describe, expect, it } from "vitest";
import type { SseEvent } from "./sse.ts";
import { StreamMeter, readUsage, usageFromBody, usageObjectAt } from "./usage.ts";

const ev = (data: string, event: string | null = null): SseEvent => ({ event, data, hasData: true, raw: `data: ${data}\n\n` });

describe("usage", () => {
  it("reads chat and responses shapes, cached tokens included", () => {
    expect(readUsage({ prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 4 } })).toEqual({
      inputTokens: 10, outputTokens: 5, cachedInputTokens: 4,
    });
    expect(readUsage({ input_tokens: 7, output_tokens: 3, input_tokens_details: { cached_tokens: 2 } })).toEqual({
      inputTokens: 7, outputTokens: 3, cachedInputTokens: 2,
    });
    expect(readUsage(null)).toBeNull();
    expect(usageFromBody(Buffer.from('{"usage":{"prompt_tokens":1,"completion_tokens":2}}'))?.outputTokens).toBe(2);
    expect(usageFromBody(Buffer.from("not json"))).toBeNull();
  });

  it("finds usage after the choices without being fooled by the answer's text", () => {
    const body = JSON.stringify({
      choices: [{ message: { content: 'the "usage": {"prompt_tokens": 999} trap and a } brace' } }],
      usage: { prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } },
    });
    expect(usageFromBody(Buffer.from(body))).toEqual({ inputTokens: 12, outputTokens: 3, cachedInputTokens: 2 });
    expect(usageFromBody(Buffer.from('{"usage":{"prompt_tokens":4,"completion_tokens":1},"choices":[]}'))?.inputTokens).toBe(4);
    expect(usageFromBody(Buffer.from('{"choices":[]}'))).toBeNull();
  });

  it("drops the usage-only chunk unless the client asked for it, and records usage either way", () => {
    const usageChunk = ev('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}');
    const content = ev('{"choices":[{"delta":{"content":"hi"}}],"usage":null}');
    const quiet = new StreamMeter("chat", false);
    expect(quiet.observe(content)).toBe(true);
    expect(quiet.observe(usageChunk)).toBe(false);
    expect(quiet.usage).toEqual({ inputTokens: 3, outputTokens: 4, cachedInputTokens: 0 });
    const asked = new StreamMeter("chat", true);
    expect(asked.observe(usageChunk)).toBe(true);
    expect(asked.usage?.outputTokens).toBe(4);
  });

  it("keeps a final chunk that carries both choices and usage", () => {
    const m = new StreamMeter("chat", false);
    expect(m.observe(ev('{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'))).toBe(true);
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

  it("finds the first usage object past any usage:null", () => {
    const text = '"usage":null,"x":{"usage": null},"usage":\t{"a":1}';
    expect(usageObjectAt(Buffer.from(text))).toBe(text.indexOf('"usage":\t{'));
    expect(usageObjectAt(Buffer.from('"usage":null'))).toBe(12);
    expect(usageObjectAt(Buffer.from(""))).toBe(0);
  });

  it("reads usage from response.completed", () => {
    const m = new StreamMeter("responses", false);
    expect(m.observe(ev('{"type":"response.completed","response":{"usage":{"input_tokens":9,"output_tokens":8}}}', "response.completed"))).toBe(true);
    expect(m.usage?.inputTokens).toBe(9);
  });
});
