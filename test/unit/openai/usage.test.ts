import { describe, expect, it } from "vitest";
import {
  MAX_TOKENS,
  readUsage,
  usageFromBody,
  usageObjectAt,
  usageObjectEnd,
  withCostUsd,
} from "../../../gateway/openai/usage.ts";

describe("usage", () => {
  it("reads chat and responses shapes, cached tokens included", () => {
    expect(readUsage({ prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 4 } })).toEqual(
      {
        inputTokens: 10,
        outputTokens: 5,
        cachedInputTokens: 4,
      },
    );
    expect(readUsage({ input_tokens: 7, output_tokens: 3, input_tokens_details: { cached_tokens: 2 } })).toEqual({
      inputTokens: 7,
      outputTokens: 3,
      cachedInputTokens: 2,
    });
    expect(readUsage(null)).toBeNull();
    expect(usageFromBody(Buffer.from('{"usage":{"prompt_tokens":1,"completion_tokens":2}}'))?.outputTokens).toBe(2);
    expect(usageFromBody(Buffer.from("not json"))).toBeNull();
  });

  it("treats counts that are not whole numbers in range as unknown usage", () => {
    for (const bad of [1.5, -1, 1e300, "12", MAX_TOKENS + 1]) {
      expect(readUsage({ prompt_tokens: bad, completion_tokens: 2 })).toBeNull();
      expect(readUsage({ input_tokens: 3, output_tokens: bad })).toBeNull();
      expect(
        readUsage({ prompt_tokens: 3, completion_tokens: 2, prompt_tokens_details: { cached_tokens: bad } }),
      ).toBeNull();
    }
    // Left out or null: 0.
    expect(readUsage({ prompt_tokens: 3, completion_tokens: null })).toEqual({
      inputTokens: 3,
      outputTokens: 0,
      cachedInputTokens: 0,
    });
    expect(readUsage({ prompt_tokens: MAX_TOKENS, completion_tokens: 0 })?.inputTokens).toBe(MAX_TOKENS);
  });

  it("finds usage after the choices without being fooled by the answer's text", () => {
    const body = JSON.stringify({
      choices: [{ message: { content: 'the "usage": {"prompt_tokens": 999} trap and a } brace' } }],
      usage: { prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } },
    });
    expect(usageFromBody(Buffer.from(body))).toEqual({ inputTokens: 12, outputTokens: 3, cachedInputTokens: 2 });
    expect(
      usageFromBody(Buffer.from('{"usage":{"prompt_tokens":4,"completion_tokens":1},"choices":[]}'))?.inputTokens,
    ).toBe(4);
    expect(usageFromBody(Buffer.from('{"choices":[]}'))).toBeNull();
  });

  it("finds the first usage object past any usage:null", () => {
    const text = '"usage":null,"x":{"usage": null},"usage":\t{"a":1}';
    expect(usageObjectAt(Buffer.from(text))).toBe(text.indexOf('"usage":\t{'));
    expect(usageObjectAt(Buffer.from('"usage":null'))).toBe(12);
    expect(usageObjectAt(Buffer.from(""))).toBe(0);
  });
});

describe("usage.cost_usd in the usage event", () => {
  const priced = (text: string, usd: string, depth = 1): string | undefined =>
    withCostUsd(Buffer.from(text), usd, depth)?.toString();

  it("adds the field as the last member of the root usage object, every other byte as it was", () => {
    const chunk =
      'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":200,"prompt_tokens_details":{"cached_tokens":400}}}\n\n';
    expect(priced(chunk, "0.00024")).toBe(chunk.replace("400}}}", '400},"cost_usd":0.00024}}'));
    // Spacing, CRLF, an empty usage object, a usage object that is not last.
    expect(priced('data: { "usage" : { "prompt_tokens": 1 } }\r\n\r\n', "1")).toBe(
      'data: { "usage" : { "prompt_tokens": 1 ,"cost_usd":1} }\r\n\r\n',
    );
    expect(priced('data: {"choices":[],"usage":{}}\n\n', "0")).toBe('data: {"choices":[],"usage":{"cost_usd":0}}\n\n');
    expect(priced('data: {"usage":{ },"x":1}\n\n', "0.5")).toBe('data: {"usage":{ "cost_usd":0.5},"x":1}\n\n');
  });

  it("finds only the usage object at the asked depth, never one in a string or deeper down", () => {
    const trap =
      'data: {"choices":[{"delta":{"content":"\\"usage\\":{\\"x\\":1} }"},"usage":{"a":1}}],"usage":{"prompt_tokens":2}}\n\n';
    expect(priced(trap, "2")).toBe(trap.replace('"prompt_tokens":2}', '"prompt_tokens":2,"cost_usd":2}'));
    // The Responses API: response.usage, after a tool whose schema has a `usage` property.
    const completed =
      'event: response.completed\ndata: {"type":"response.completed","response":{"tools":[{"parameters":{"properties":{"usage":{"type":"string"}}}}],"usage":{"input_tokens":9}}}\n\n';
    expect(priced(completed, "0.1", 2)).toBe(
      completed.replace('"input_tokens":9}', '"input_tokens":9,"cost_usd":0.1}'),
    );
    // No usage object there: nothing to add to.
    expect(priced('data: {"choices":[],"usage":null}\n\n', "1")).toBeUndefined();
    expect(priced('data: {"response":{"usage":{"input_tokens":1}}}\n\n', "1")).toBeUndefined();
    expect(priced('data: {"usage":{"prompt_tokens":1\n\n', "1")).toBeUndefined();
    expect(priced(": no data\n\n", "1")).toBeUndefined();
    const braceInString = 'data: {"usage":{"a":"}"}}';
    expect(usageObjectEnd(Buffer.from(braceInString), 1)).toBe(braceInString.length - 2);
  });
});
