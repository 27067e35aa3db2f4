import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createFakeUpstream, jsonFlagIsTrue, PACED_PATH, pacedModel, pacedPlan } from "./fake-upstream.ts";

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

describe("pacedPlan", () => {
  it("reads paced/<events>x<gapMs>/<ending> and gives the same name back", () => {
    expect(pacedPlan("paced/10x5/done")).toEqual({ events: 10, gapMs: 5, ending: { kind: "done" } });
    expect(pacedPlan("paced/3x0/hold")).toEqual({ events: 3, gapMs: 0, ending: { kind: "hold" } });
    expect(pacedPlan("paced/10x5/reset-9")).toEqual({ events: 10, gapMs: 5, ending: { kind: "reset", after: 9 } });
    for (const name of ["paced/10x5/done", "paced/3x0/hold", "paced/10x5/reset-0"]) {
      const plan = pacedPlan(name);
      expect(plan !== null && pacedModel(plan)).toBe(name);
    }
  });

  it("is null for other models and for a reset past the last event", () => {
    for (const name of ["gpt-test", "paced/10x5/reset-10", "paced/0x5/done", "paced/10x5/stop", "xpaced/1x1/done"])
      expect(pacedPlan(name)).toBeNull();
  });
});

describe("fake upstream, paced streams", () => {
  const server = createFakeUpstream({ keepAliveMs: 5000 });
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  const stream = (model: string, signal?: AbortSignal, path = PACED_PATH): Promise<Response> =>
    fetch(base + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, stream: true, messages: [] }),
      ...(signal ? { signal } : {}),
    });

  it("keeps paced streams to their own path: the benchmark's route answers at once, whatever the model", async () => {
    const text = await (await stream("paced/4x1/hold", undefined, "/v1/chat/completions")).text();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const bad = await stream("gpt-test");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("bad_paced_request");
  });

  it("sends the events one by one, then the finish chunk and [DONE]", async () => {
    const text = await (await stream("paced/4x1/done")).text();
    expect(text.match(/^data: /gm)).toHaveLength(6);
    expect(text).toContain('"content":" w3"');
    expect(text.endsWith('"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')).toBe(true);
  });

  it("resets the socket after the given number of events", async () => {
    const res = await stream("paced/5x1/reset-2");
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          text += decoder.decode(value, { stream: true });
        }
      })(),
    ).rejects.toThrow();
    expect(text).not.toContain("[DONE]");
    expect(text).not.toContain(" w2");
  });

  it("holds the stream open after its events until the client leaves, then lets go of the response", async () => {
    let closed = false;
    server.once("request", (_req: IncomingMessage, res: ServerResponse) => res.once("close", () => (closed = true)));
    const ac = new AbortController();
    const res = await stream("paced/2x1/hold", ac.signal);
    const reader = res.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    while ((text.match(/^data: /gm) ?? []).length < 2) {
      const { done, value } = await reader.read();
      expect(done).toBe(false);
      text += decoder.decode(value, { stream: true });
    }
    expect(text).not.toContain("[DONE]");
    expect(closed).toBe(false);
    ac.abort();
    await vi.waitFor(() => expect(closed).toBe(true));
  });
});
