// A client that goes away aborts its upstream call at once: before headers, mid-stream, non-streaming.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hang, stallAfterFirstChunk, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { metricSum, scrapeMetrics } from "./support/metrics.ts";

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

/** Sends a chat request and resolves once the provider has it; `onResponse` sees the gateway's answer. */
function send(stream: boolean, onResponse?: (res: IncomingMessage) => void): ClientRequest {
  const req = httpRequest(
    `${gw.url}/v1/chat/completions`,
    { method: "POST", headers: { "content-type": "application/json" } },
    (res) => onResponse?.(res),
  );
  req.on("error", () => undefined);
  req.end(JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "x" }], stream }));
  return req;
}

/** Resolves once the provider has the request. */
const received = (): Promise<void> =>
  vi.waitFor(() => expect(provider.received).toHaveLength(1), { timeout: 3_000, interval: 10 });

describe("client aborts", () => {
  it("before response headers: the upstream socket closes within 1 s", async () => {
    provider.handle(hang);
    const req = send(true);
    await received();
    const closed = provider.nextSocketClose();
    const t0 = Date.now();
    req.destroy();
    expect((await closed) - t0).toBeLessThan(1000);
  });

  it("mid-stream: the upstream socket closes within 1 s", async () => {
    provider.handle(stallAfterFirstChunk);
    let firstChunk!: () => void;
    const gotChunk = new Promise<void>((r) => (firstChunk = r));
    const req = send(true, (res) => res.once("data", () => firstChunk()));
    await gotChunk;
    const closed = provider.nextSocketClose();
    const t0 = Date.now();
    req.destroy();
    expect((await closed) - t0).toBeLessThan(1000);
  });

  it("on a non-streaming call: the upstream socket closes within 1 s", async () => {
    provider.handle(hang);
    const req = send(false);
    await received();
    const closed = provider.nextSocketClose();
    const t0 = Date.now();
    req.destroy();
    expect((await closed) - t0).toBeLessThan(1000);
  });

  it("counts every aborted call as 499 in the metrics, not as a client error", async () => {
    provider.handle(hang, stallAfterFirstChunk, hang);
    const before = send(true);
    await received();
    before.destroy();
    let firstChunk!: () => void;
    const gotChunk = new Promise<void>((r) => (firstChunk = r));
    const midStream = send(true, (res) => res.once("data", () => firstChunk()));
    await gotChunk;
    midStream.destroy();
    const buffered = send(false);
    await vi.waitFor(() => expect(provider.received).toHaveLength(3), { timeout: 3_000, interval: 10 });
    buffered.destroy();
    await vi.waitFor(
      async () =>
        expect(metricSum(await scrapeMetrics(gw.url), "promptgate_requests_total", { status: "499" })).toBe(3),
      { timeout: 3_000, interval: 20 },
    );
    const m = await scrapeMetrics(gw.url);
    expect(metricSum(m, "promptgate_requests_total", { model: "gpt-test" })).toBe(3);
    expect(metricSum(m, "promptgate_requests_total", { status: "4xx" })).toBe(0);
  });

  it("keeps serving after aborted calls", async () => {
    provider.handle(hang);
    const req = send(false);
    await received();
    req.destroy();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "still here" }] }),
    });
    expect(res.status).toBe(200);
  });
});
