import { describe, expect, it } from "vitest";
import { MOCK_PROVIDER } from "../../../gateway/config/gateway-config.ts";
import { readAll } from "../../../gateway/proxy/relay.ts";
import type { UpstreamResponse } from "../../../gateway/providers/upstream.ts";
import { countTokens, createMockProvider, mockBehaviour } from "../../../gateway/providers/mock.ts";

const call = (
  random: () => number,
  path: string,
  body: object,
  signal = new AbortController().signal,
): Promise<UpstreamResponse> =>
  createMockProvider(
    random,
    () => 0,
  )({ provider: MOCK_PROVIDER, method: "POST", path, headers: {}, body: Buffer.from(JSON.stringify(body)), signal });

const bodyOf = async (res: UpstreamResponse): Promise<string> => (await readAll(res.body, 1 << 20)).toString();

describe("mock provider", () => {
  it("knows echo, slow-<ms> and fail-<percent>", () => {
    expect(mockBehaviour("mock/echo")).toEqual({ kind: "echo" });
    expect(mockBehaviour("mock/slow-250")).toEqual({ kind: "slow", ms: 250 });
    expect(mockBehaviour("mock/fail-30")).toEqual({ kind: "fail", percent: 30 });
    expect(mockBehaviour("mock/fail-101")).toBeNull();
    expect(mockBehaviour("mock/other")).toBeNull();
  });

  it("fails exactly the configured share, decided by the injected random source", async () => {
    const msg = { model: "mock/fail-30", messages: [{ role: "user", content: "x" }] };
    expect((await call(() => 0.29, "/chat/completions", msg)).status).toBe(500);
    expect((await call(() => 0.3, "/chat/completions", msg)).status).toBe(200);
  });

  it("echoes deterministically with usage", async () => {
    const msg = {
      model: "mock/echo",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
    };
    const a = JSON.parse(await bodyOf(await call(Math.random, "/chat/completions", msg))) as {
      id: string;
      choices: { message: { content: string } }[];
      usage: { prompt_tokens: number };
    };
    const b = JSON.parse(await bodyOf(await call(Math.random, "/chat/completions", msg))) as typeof a;
    expect(a.choices[0]!.message.content).toBe("system: be brief\nuser: hi");
    expect(a.id).toBe(b.id);
    expect(a.usage.prompt_tokens).toBe(countTokens("system: be brief\nuser: hi"));
  });

  it("streams the responses API with a response.completed event carrying usage", async () => {
    const text = await bodyOf(
      await call(Math.random, "/responses", { model: "mock/echo", input: "hello there", stream: true }),
    );
    expect(text).toContain("event: response.output_text.delta");
    expect(text).toMatch(/event: response.completed\ndata: .*"usage":\{"input_tokens":3/);
  });

  it("waits for mock/slow and stops waiting when aborted", async () => {
    const ac = new AbortController();
    const pending = call(Math.random, "/chat/completions", { model: "mock/slow-60000", messages: [] }, ac.signal);
    ac.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });

  it("answers 404 for unknown mock models", async () => {
    expect((await call(Math.random, "/chat/completions", { model: "mock/nope", messages: [] })).status).toBe(404);
  });
});
