import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakeUpstream, jsonFlagIsTrue } from "./fake-upstream.ts";

describe("jsonFlagIsTrue", () => {
  it("finds a key set to true, with or without spaces, and nothing else", () => {
    expect(jsonFlagIsTrue(Buffer.from('{"stream":true}'), "stream")).toBe(true);
    expect(jsonFlagIsTrue(Buffer.from('{ "stream" :\n true }'), "stream")).toBe(true);
    expect(jsonFlagIsTrue(Buffer.from('{"stream":false}'), "stream")).toBe(false);
    expect(jsonFlagIsTrue(Buffer.from('{"content":"stream","x":true}'), "stream")).toBe(false);
    expect(jsonFlagIsTrue(Buffer.from('{"content":"stream","stream":true}'), "stream")).toBe(true);
  });
});

describe("fake upstream", () => {
  const server = createFakeUpstream();
  let url = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  const post = (body: unknown): Promise<Response> =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("answers a chat.completion with usage", async () => {
    const res = await post({ model: "gpt-test", messages: [] });
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as { object: string; usage: { total_tokens: number } };
    expect(body.object).toBe("chat.completion");
    expect(body.usage.total_tokens).toBe(21);
  });

  it("streams events ending in [DONE], with the usage chunk only when asked", async () => {
    const plain = await (await post({ stream: true })).text();
    const withUsage = await (await post({ stream: true, stream_options: { include_usage: true } })).text();
    expect(plain.match(/^data: /gm)).toHaveLength(6);
    expect(plain).not.toContain('"total_tokens"');
    expect(withUsage.match(/^data: /gm)).toHaveLength(7);
    expect(withUsage).toContain('"choices":[],"usage":{"prompt_tokens":9');
    expect(withUsage.endsWith("data: [DONE]\n\n")).toBe(true);
  });
});
